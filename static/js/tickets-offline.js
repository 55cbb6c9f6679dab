// Keeps this e-ticket page for offline use: the page and its styles and scripts go into the cache that the
// service worker (static/js/ticket-worker.js) answers from when the network fails. Without service workers
// (an old browser, some private windows) the page simply works online only.
(function () {
  if (!("serviceWorker" in navigator) || !window.caches) return;
  const scope = location.pathname.startsWith("/account/") ? "/account/orders/" : "/orders/";
  const files = [location.pathname].concat(
    Array.from(document.querySelectorAll("link[rel=stylesheet][href], script[src]"), (e) => e.href || e.src));
  navigator.serviceWorker.register("/ticket-worker.js", { scope: scope })
    .then(() => caches.open("encore-tickets-v1"))
    .then((cache) => cache.addAll(files))
    .then(() => document.documentElement.setAttribute("data-offline-ready", ""))
    .catch(() => {});
})();
