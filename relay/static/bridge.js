/* Confab webview bridge, loaded by the relay's full-screen page /c/SITE_KEY before widget.js.
 * It forwards the widget's events to the native app as JSON strings:
 *   iOS (WKWebView):     window.webkit.messageHandlers.confab.postMessage(json)
 *   Android (WebView):   window.ConfabAndroid.postMessage(json)   (an @JavascriptInterface)
 * Events: {"type":"ready"}, {"type":"open"}, {"type":"close"}, {"type":"unread","count":N},
 *         {"type":"message","text":"…","author":"advisor|bot|system","name":"…"},
 *         {"type":"identify","verified":true|false} or {"type":"identify","error":"…"}.
 * The app may call window.Confab(…) too (evaluateJavaScript / evaluateJavascript): docs/EMBEDDING.md. */
(function (w) {
  var C = w.Confab = w.Confab || function () { (C.q = C.q || []).push(arguments); };

  function post(event) {
    var json = JSON.stringify(event);
    var ios = w.webkit && w.webkit.messageHandlers && w.webkit.messageHandlers.confab;
    if (ios) ios.postMessage(json);
    if (w.ConfabAndroid && w.ConfabAndroid.postMessage) w.ConfabAndroid.postMessage(json);
  }

  ['ready', 'open', 'close'].forEach(function (type) {
    C('on', type, function () { post({ type: type }); });
  });
  C('on', 'unread', function (count) { post({ type: 'unread', count: count }); });
  C('on', 'message', function (m) { post({ type: 'message', text: m.text, author: m.author, name: m.name }); });
  C('on', 'identify', function (r) {
    post(r.error ? { type: 'identify', error: r.error } : { type: 'identify', verified: r.verified });
  });
})(window);
