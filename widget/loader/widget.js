/* Confab widget loader. The host page includes only this script:
 *   <script src="https://RELAY/widget.js" data-site="SITE_KEY" async></script>
 * It draws the launcher at once inside a Shadow DOM and loads the wasm app (app.js + app_bg.wasm +
 * widget.css) on the first open or when the browser is idle. The relay fills in the asset paths.
 * Contract: docs/ARCHITECTURE.md, "Widget: loader <-> wasm contract".
 * JS API: window.Confab(...), queued before load; README "The JavaScript API". */
(function () {
  var d = document, w = window;
  var me = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
  if (!me || w.__confab || d.getElementById('confab-widget')) return;
  w.__confab = 1;

  var base = me.src.replace(/\/widget\.js([?#].*)?$/, '');
  var site = me.getAttribute('data-site') || '';
  var full = me.getAttribute('data-mode') == 'fullscreen';
  var locale = me.getAttribute('data-locale');
  var JS = '__CONFAB_APP_JS__', WASM = '__CONFAB_APP_WASM__', CSS = '__CONFAB_APP_CSS__';
  var ICON = '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" ';
  var ICONS = {
    chat: '<path d="M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-4-.9L3 20l1.1-4A8 8 0 0 1 3 11.5 8.4 8.4 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z"/>',
    help: '<circle cx="12" cy="12" r="9"/><path d="M9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3M12 17h.01"/>',
    message: '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 7 9 6 9-6"/>'
  };
  // [open chat, chat, loading, could not load, try again, a link's conversation (% = whose), keep mine, open it]
  var WORDS = {
    en: ['Open chat', 'Chat', 'Loading chat…', 'Chat could not load.', 'Try again',
      'This link continues the conversation of %. This browser already has a conversation of yours.', 'Keep mine', 'Open the linked one'],
    fr: ['Ouvrir la discussion', 'Discussion', 'Chargement de la discussion…', 'La discussion n’a pas pu se charger.', 'Réessayer',
      'Ce lien reprend la discussion de %. Ce navigateur a déjà une discussion à vous.', 'Garder la mienne', 'Ouvrir celle du lien']
  };

  var queue = (w.Confab && w.Confab.q) || [];
  var handlers = {}, user, host, root, launcher, badge, panel, handle, loading, isOpen = full;

  w.Confab = function () {
    root ? api.apply(null, arguments) : queue.push(arguments);
  };

  function key(what) { return 'confab:' + site + ':' + what; }

  function words() {
    var tags = [locale].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < tags.length; i++) {
      var t = WORDS[String(tags[i] || '').toLowerCase().split(/[-_]/)[0]];
      if (t) return t;
    }
    return WORDS.en;
  }

  function emit(type, detail) {
    (handlers[type] || []).forEach(function (f) {
      try { f(detail); } catch (e) { w.console && console.warn('Confab: a "' + type + '" handler failed:', e); }
    });
  }

  // "colour|on-colour|position|icon", cached or from the relay
  function theme(t, save) {
    var p = t.split('|'), icon = root.querySelector('.c');
    host.style.setProperty('--confab-brand', p[0]);
    host.style.setProperty('--confab-on-brand', p[1]);
    host.className = p[2] == 'left' ? 'confab-left' : '';
    if (icon && ICONS[p[3]]) icon.innerHTML = ICONS[p[3]];
    if (save) try { localStorage.setItem(key('theme'), t); } catch (e) { /* no storage */ }
  }

  function label() {
    var t = words(), l = panel.querySelector('[role=status]');
    panel.setAttribute('aria-label', t[1]);
    if (launcher) launcher.setAttribute('aria-label', t[0]);
    if (l) l.textContent = t[2];
  }

  // Web Push when the site hosts the service worker (data-push="/confab-sw.js") and the browser can.
  var sw = me.getAttribute('data-push'), nav = navigator;
  sw = sw && nav.serviceWorker && w.PushManager && sw;

  function subscribe() {
    return Notification.requestPermission().then(function (p) {
      if (p != 'granted') throw p;
      return Promise.all([fetch(base + '/api/v1/push/key').then(function (r) { return r.json(); }), nav.serviceWorker.register(sw)]);
    }).then(function (r) {
      return r[1].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: r[0].public_key });
    }).then(function (s) { return JSON.stringify(s); });
  }

  function load() {
    return loading || (loading = Promise.all([
      import(base + JS).then(function (m) {
        return m.default({ module_or_path: base + WASM }).then(function () { return m; });
      }),
      new Promise(function (ok) {
        var l = d.createElement('link');
        l.rel = 'stylesheet';
        l.href = base + CSS;
        l.onload = l.onerror = ok;
        root.appendChild(l);
      })
    ]).then(function (r) {
      panel.textContent = '';
      handle = r[0].mount(panel, {
        relay: base, site: site, fullscreen: full, locale: locale, push: sw && subscribe,
        onUnread: function (n) {
          badge.textContent = n > 9 ? '9+' : n;
          badge.hidden = !n;
          emit('unread', n);
        },
        onClose: function () { toggle(false); launcher && launcher.focus(); },
        onEvent: function (type, a, b) {
          if (type == 'theme') theme(a, 1);
          else if (type == 'message') emit('message', { text: a, author: b });
          else if (type == 'identify') emit('identify', a ? { verified: a == '1' } : { verified: false, error: b });
        }
      });
      handle.set_open(isOpen);
      if (user) handle.identify(user);
      emit('ready');
    }, function (e) {
      var t = words();
      loading = 0;
      panel.innerHTML = '<div class="confab-loading"><span></span> <button type="button"></button></div>';
      panel.querySelector('span').textContent = t[3];
      panel.querySelector('button').textContent = t[4];
      panel.querySelector('button').onclick = load;
      w.console && console.warn('Confab:', e);
    }));
  }

  function toggle(open) {
    if (open != isOpen) emit(open ? 'open' : 'close');
    isOpen = open;
    panel.hidden = !open;
    if (launcher) {
      launcher.setAttribute('aria-expanded', open);
      launcher.className = 'confab-launcher' + (open ? ' confab-open' : '');
    }
    if (handle) handle.set_open(open);
    else if (open) load();
  }

  function api(cmd, a, b) {
    if (cmd == 'on') {
      if (typeof b == 'function') (handlers[a] = handlers[a] || []).push(b);
    } else if (cmd == 'open' || cmd == 'close' || cmd == 'toggle') {
      if (!full) toggle(cmd == 'toggle' ? !isOpen : cmd == 'open');
    } else if (cmd == 'setLocale') {
      locale = a;
      label();
      if (handle) handle.set_locale(String(a));
    } else if (cmd == 'identify') {
      user = a || 0;
      if (handle) handle.identify(user);
      else load();
    } else if (cmd == 'shutdown') {
      user = 0;
      try {
        ['token', 'outbox', 'theme'].forEach(function (k) { localStorage.removeItem(key(k)); });
      } catch (e) { /* no storage */ }
      if (handle) handle.shutdown();
      if (!full) toggle(false);
      badge.hidden = true;
    } else {
      w.console && console.warn('Confab: unknown command', cmd);
    }
  }

  function start() {
    host = d.createElement('div');
    host.id = 'confab-widget';
    root = host.attachShadow({ mode: 'open' });
    root.innerHTML = '<style>' +
      ':host{all:initial!important;--confab-brand:#4f46e5;--confab-on-brand:#fff}' +
      '@media print{:host{display:none!important}}' +
      '.confab-launcher,.confab-panel{position:fixed;z-index:2147483000;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
      '.confab-launcher{right:20px;bottom:20px;width:60px;height:60px;border:0;border-radius:50%;padding:0;cursor:pointer;display:grid;place-items:center;' +
      'background:var(--confab-brand);color:var(--confab-on-brand);box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s}' +
      '.confab-launcher:hover{transform:scale(1.06)}' +
      '.confab-launcher:focus-visible{outline:3px solid #1d4ed8;outline-offset:3px}' +
      '.confab-launcher svg{grid-area:1/1}.confab-launcher .x,.confab-open .c{display:none}.confab-open .x{display:block}' +
      '.confab-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;border-radius:10px;' +
      'background:#dc2626;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;border:2px solid #fff}' +
      '.confab-badge[hidden],.confab-panel[hidden]{display:none}' +
      '.confab-panel{right:20px;bottom:92px;width:380px;height:600px;max-height:calc(100vh - 112px);background:#fff;color:#111827;' +
      'border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.22);overflow:hidden;display:flex;flex-direction:column}' +
      ':host(.confab-left) .confab-launcher,:host(.confab-left) .confab-panel{right:auto;left:20px}' +
      '.confab-full{inset:0;width:auto;height:auto;max-height:none;border-radius:0;box-shadow:none}' +
      '.confab-loading{margin:auto;color:#4b5563;text-align:center;padding:24px}' +
      '.confab-loading button{font:inherit;color:inherit;text-decoration:underline;background:none;border:0;cursor:pointer}' +
      '@media (max-width:480px){.confab-panel{inset:0;width:auto;height:auto;max-height:none;border-radius:0}.confab-open{display:none}}' +
      '@media (prefers-reduced-motion:reduce){.confab-launcher{transition:none}}' +
      '</style>' +
      '<div class="confab-panel' + (full ? ' confab-full' : '') + '" role="dialog"' + (full ? '' : ' hidden') + '>' +
      '<div class="confab-loading" role="status"></div></div>' +
      (full ? '' : '<button type="button" class="confab-launcher" aria-expanded="false">' +
        ICON + 'class="c">' + ICONS.chat + '</svg>' +
        ICON + 'class="x"><path d="M6 6l12 12M18 6 6 18"/></svg>' +
        '<span class="confab-badge" hidden></span></button>');
    panel = root.querySelector('.confab-panel');
    launcher = root.querySelector('.confab-launcher');
    badge = root.querySelector('.confab-badge') || {};
    label();
    try {
      theme(localStorage.getItem(key('theme')));
    } catch (e) { /* first visit, or no storage */ }
    d.body.appendChild(host);
    root.addEventListener('keydown', function (e) {
      if (e.key == 'Escape' && isOpen && !full) { toggle(false); launcher.focus(); }
      // Tab and Shift+Tab go round the open panel's controls, the launcher included (it closes it),
      // and the thread (Chromium makes a scroller focusable, so keyboard users can scroll it).
      if (e.key == 'Tab' && isOpen) {
        var all = [].filter.call(root.querySelectorAll('button,textarea,input,select,a[href],[tabindex]:not([tabindex="-1"]),.confab-thread'), function (el) {
          return !el.disabled && el.getClientRects().length;
        });
        var n = all.length, at = all.indexOf(root.activeElement);
        var next = at < 0 ? (e.shiftKey ? n - 1 : 0) : at + (e.shiftKey ? -1 : 1);
        if (n && (at < 0 || next < 0 || next >= n)) {
          e.preventDefault();
          all[(next + n) % n].focus();
        }
      }
    });
    // An e-mail's link: its code for a token, then open (docs/NOTIFY.md).
    var resume = /confab-resume=([\w-]+)/.exec(location.hash);
    function replay() {
      queue.forEach(function (args) { api.apply(null, args); });
      queue = 0;
    }
    function go() { toggle(true); replay(); }
    // Sends this browser's own token along: a link never silently replaces a thread the person has
    // written in (the relay answers resume_conflict, and they choose).
    function redeem() {
      var mine;
      try { mine = localStorage.getItem(key('token')); } catch (e) { /* no storage */ }
      fetch(base + '/api/v1/sites/' + site + '/resume', { method: 'POST', body: JSON.stringify({ code: resume[1], token: mine || undefined }) })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.code == 'resume_conflict') return choose(j.email);
          j.token && localStorage.setItem(key('token'), j.token);
          go();
        })
        .catch(go);
    }
    function choose(who) {
      var t = words(), b;
      isOpen = true;
      panel.hidden = false;
      if (launcher) launcher.className = 'confab-launcher confab-open';
      panel.innerHTML = '<div class="confab-loading confab-resume"><p></p><button type="button"></button> <button type="button"></button></div>';
      panel.querySelector('p').textContent = t[5].replace('%', who || '…');
      b = panel.querySelectorAll('button');
      b[0].textContent = t[6];
      b[1].textContent = t[7];
      function busy() { panel.innerHTML = '<div class="confab-loading" role="status"></div>'; label(); }
      b[0].onclick = function () { busy(); go(); };
      b[1].onclick = function () {
        busy();
        try { ['token', 'outbox'].forEach(function (k) { localStorage.removeItem(key(k)); }); } catch (e) { /* no storage */ }
        redeem();
      };
      b[0].focus();
    }
    // The site's queued calls wait for the exchange: they may load the chat, which needs the token.
    if (resume) {
      history.replaceState(history.state, '', location.pathname + location.search);
      redeem();
    } else replay();
    if (full) return resume || load();
    launcher.onclick = function () { toggle(!isOpen); };
    function idle() { w.requestIdleCallback ? requestIdleCallback(load, { timeout: 5000 }) : setTimeout(load, 3000); }
    resume || (d.readyState == 'complete' ? idle() : w.addEventListener('load', idle));
  }

  d.body ? start() : d.addEventListener('DOMContentLoaded', start);
})();
