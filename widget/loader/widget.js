/* Confab widget loader. The host page includes only this script:
 *   <script src="https://RELAY/widget.js" data-site="SITE_KEY" async></script>
 * It draws the launcher at once inside a Shadow DOM and loads the wasm app (app.js + app_bg.wasm +
 * widget.css) on the first open or when the browser is idle. The relay fills in the asset paths.
 * Contract: docs/ARCHITECTURE.md, "Widget: loader <-> wasm contract". */
(function () {
  var d = document, w = window;
  var me = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
  if (!me || w.__confab || d.getElementById('confab-widget')) return;
  w.__confab = 1;

  var base = me.src.replace(/\/widget\.js([?#].*)?$/, '');
  var site = me.getAttribute('data-site') || '';
  var full = me.getAttribute('data-mode') == 'fullscreen';
  var JS = '__CONFAB_APP_JS__', WASM = '__CONFAB_APP_WASM__', CSS = '__CONFAB_APP_CSS__';
  var ICON = '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" ';

  var root, launcher, badge, panel, handle, loading, isOpen = full;

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
        relay: base, site: site, fullscreen: full,
        onUnread: function (n) {
          badge.textContent = n > 9 ? '9+' : n;
          badge.hidden = !n;
        },
        onClose: function () { toggle(false); launcher && launcher.focus(); }
      });
      handle.set_open(isOpen);
    }, function (e) {
      loading = 0;
      panel.innerHTML = '<div class="confab-loading">Chat could not load. <button type="button">Try again</button></div>';
      panel.querySelector('button').onclick = load;
      w.console && console.warn('Confab:', e);
    }));
  }

  function toggle(open) {
    isOpen = open;
    panel.hidden = !open;
    if (launcher) {
      launcher.setAttribute('aria-expanded', open);
      launcher.className = 'confab-launcher' + (open ? ' confab-open' : '');
    }
    if (handle) handle.set_open(open);
    else if (open) load();
  }

  function start() {
    var host = d.createElement('div');
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
      '.confab-full{inset:0;width:auto;height:auto;max-height:none;border-radius:0;box-shadow:none}' +
      '.confab-loading{margin:auto;color:#4b5563;text-align:center;padding:24px}' +
      '.confab-loading button{font:inherit;color:inherit;text-decoration:underline;background:none;border:0;cursor:pointer}' +
      '@media (max-width:480px){.confab-panel{inset:0;width:auto;height:auto;max-height:none;border-radius:0}.confab-open{display:none}}' +
      '@media (prefers-reduced-motion:reduce){.confab-launcher{transition:none}}' +
      '</style>' +
      '<div class="confab-panel' + (full ? ' confab-full' : '') + '" role="dialog" aria-label="Chat"' + (full ? '' : ' hidden') + '>' +
      '<div class="confab-loading" role="status">Loading chat…</div></div>' +
      (full ? '' : '<button type="button" class="confab-launcher" aria-label="Open chat" aria-expanded="false">' +
        ICON + 'class="c"><path d="M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-4-.9L3 20l1.1-4A8 8 0 0 1 3 11.5 8.4 8.4 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z"/></svg>' +
        ICON + 'class="x"><path d="M6 6l12 12M18 6 6 18"/></svg>' +
        '<span class="confab-badge" hidden></span></button>');
    panel = root.querySelector('.confab-panel');
    launcher = root.querySelector('.confab-launcher');
    badge = root.querySelector('.confab-badge') || {};
    try {
      var theme = localStorage.getItem('confab:' + site + ':theme').split('|');
      host.style.setProperty('--confab-brand', theme[0]);
      host.style.setProperty('--confab-on-brand', theme[1]);
    } catch (e) { /* first visit, or no storage */ }
    d.body.appendChild(host);
    root.addEventListener('keydown', function (e) {
      if (e.key == 'Escape' && isOpen && !full) { toggle(false); launcher.focus(); }
    });
    if (full) return load();
    launcher.onclick = function () { toggle(!isOpen); };
    function idle() { w.requestIdleCallback ? requestIdleCallback(load, { timeout: 5000 }) : setTimeout(load, 3000); }
    d.readyState == 'complete' ? idle() : w.addEventListener('load', idle);
  }

  d.body ? start() : d.addEventListener('DOMContentLoaded', start);
})();
