// memviz offline cache: precaches the whole site on install; a new build (new VERSION) replaces it.
const VERSION = "__VERSION__";
const CACHE = "memviz-" + VERSION;
const FILES = __FILES__;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // no-cache: revalidate what the page already downloaded (a 304), never keep a stale file.
    await cache.addAll(FILES.map((file) => new Request(file, {cache: "no-cache"})));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("memviz-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    let hit = await cache.match(request, {ignoreSearch: true});
    if (!hit && request.mode === "navigate") hit = await cache.match(new URL("index.html", self.registration.scope));
    return hit || fetch(request);
  })());
});
