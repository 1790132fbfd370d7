// memviz offline cache: precaches the whole site on install; a new build (new VERSION) replaces it.
const VERSION = "__VERSION__";
const CACHE = "memviz-" + VERSION;
// Site path -> its SRI hash (sha256 from memviz-manifest.json).
const FILES = __FILES__;

// The copy the page just downloaded (HTTP cache) when it is this build's file, else the network.
async function fetchChecked(path, integrity) {
  try {
    const cached = await fetch(path, {cache: "force-cache", integrity: integrity});
    if (cached.ok) return cached;
  } catch (error) { /* not in the HTTP cache, or an older build's copy: fetch it anew */ }
  const fresh = await fetch(path, {cache: "reload", integrity: integrity});
  if (!fresh.ok) throw new Error(`${path}: HTTP ${fresh.status}`);
  return fresh;
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(Object.entries(FILES).map(async ([path, integrity]) => {
      await cache.put(path, await fetchChecked(path, integrity));
    }));
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
