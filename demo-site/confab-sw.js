// Confab's service worker: shows the relay's Web Push notifications (an advisor replied while the
// visitor was away) and opens the conversation when one is clicked. A site that wants "Notify me in
// this browser" hosts this file on its own origin (a service worker must come from the page's
// origin), e.g. at https://shop.example/confab-sw.js, and names it on the widget's script tag:
//   <script src="https://RELAY/widget.js" data-site="KEY" data-push="/confab-sw.js" async></script>
// The relay must run with --web-push. See docs/NOTIFY.md.
self.addEventListener('push', function (event) {
  var data = {};
  try { data = event.data.json(); } catch (e) { /* not ours */ }
  event.waitUntil(self.registration.showNotification(data.title || 'New reply', {
    body: data.body || '',
    tag: data.tag,
    data: { url: data.url }
  }));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(clients.openWindow(url));
});
