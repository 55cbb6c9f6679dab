// The e-ticket pages' service worker: a ticket page opened once can be opened again without a connection
// (at the door, in a basement). It looks after the order pages only (registered with the scopes /orders/
// and /account/orders/, see tickets-offline.js), and only ever answers from its cache when the network
// fails: online, every page and file comes fresh from the server.
const CACHE = "encore-tickets-v1";
const TICKET_PAGE = /^\/(account\/)?orders\/[^/]+\/tickets$/;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function freshThenCached(request, keep) {
  return fetch(request).then((response) => {
    if (keep && response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => caches.match(request).then((hit) => hit || Response.error()));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const ticketPage = TICKET_PAGE.test(url.pathname);
  if (!ticketPage && !url.pathname.startsWith("/static/")) return;
  event.respondWith(freshThenCached(request, true));
});
