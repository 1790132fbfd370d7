// memviz static site: a Pyodide memory snapshot of the built app, kept in the browser (OPFS).
//
// The first visit boots normally, builds the app and copies the interpreter's heap; once the app
// is live the copy is written to the Origin Private File System. Later visits restore it instead
// of loading packages, importing and building (~2 s instead of ~8 s on the reference machine).
// Any problem (no OPFS, another browser build, a layout check failing) means a normal boot.
//
// Pyodide 0.27.7 restores only the heap: side modules (numpy/pandas .so) loaded by loadPackage are
// re-instantiated here at the memory and table bases recorded on the first visit, before the heap
// copy overwrites their data (the approach of Cloudflare's workerd), and the files of site-packages
// (MEMFS lives in JS, not in the heap) are packed on the first visit and unpacked before restore.
// Every use of Pyodide's and emscripten's internals is in the first section below, checked by
// `snapCheckInternals`; the second section only stores and fetches bytes with web APIs.
"use strict";

const SNAP = {
  Mod: null,            // emscripten Module, captured when pyodide.js creates it
  current: null,        // side module being loaded (first visit: records its bases)
  libs: [],             // [{name, global, instances: [{memoryBase, tableBase}], tableEnd}]
  beforeRestore: null,  // async (Mod) => {...}: after the runtime exists, before the heap is restored
  restoring: false,
  precompiled: null,    // Map name -> Promise<WebAssembly.Module>
  restoringLib: null,
  unusable: null,       // the Error of a failed `snapCheckInternals`: no snapshot is made
};
const SNAP_PREFIX = "memviz-snapshot-";

// ============================================================================================
// PYODIDE 0.27.7 / EMSCRIPTEN 3.1.58 INTERNALS: everything that depends on them is in this
// section. Re-check it on any Pyodide upgrade: `snapCheckInternals` refuses another version and
// names what is missing (a normal boot follows, with the error in the console);
// tests/test_private_apis.py runs it against the pinned Pyodide's names.
// Relied on beyond what the check sees:
// - loadPyodide's private options `_makeSnapshot`, `_loadSnapshot`, `_snapshotDeserializer`, and
//   the `_createPyodideModule` factory pyodide.asm.js defines;
// - emscripten's dynamic linking: side modules instantiated with a "GOT.mem" import and
//   env.__memory_base / env.__table_base, `loadDynamicLibrary`'s handle argument, and the
//   `struct dso` layout (loaded flag at +8, memoryBase at +12, tableBase at +20);
// - MEMFS nodes (`contents`, `usedBytes`, `timestamp`);
// - Pyodide choosing its set-up by `WebAssembly.Suspending` (stack switching, JSPI);
// - the source text of Panel's `_dict_converter` (panel/io/pyodide.py), held by Python.
// ============================================================================================

const SNAP_PYODIDE = "0.27.7";
// [path on the emscripten Module, typeof it must have]: once the module is created ...
const SNAP_INTERNALS = [
  ["API.version", "string"], ["API.makeSnapshot", "function"], ["API.restoreSnapshot", "function"],
  ["loadDynamicLibrary", "function"], ["LDSO.loadedLibsByName", "object"], ["LDSO.loadedLibsByHandle", "object"],
  ["wasmTable", "object"], ["HEAP8", "object"], ["HEAPU32", "object"], ["FS.findObject", "function"],
  ["FS.readFile", "function"], ["FS.analyzePath", "function"], ["FS.isDir", "function"], ["FS.isFile", "function"],
  ["FS.mkdirTree", "function"], ["FS.writeFile", "function"], ["FS.utime", "function"],
];
// ... and once Pyodide has booted (its Python side sets these).
const SNAP_INTERNALS_BOOTED = [["API.sitepackages", "string"]];

// Throws an Error naming every internal the running Pyodide lacks (`booted`: those set by its
// boot), and its version.
function snapCheckInternals(Mod, booted = false) {
  const typeAt = (path) => typeof path.split(".").reduce((obj, key) => (obj == null ? undefined : obj[key]), Mod);
  const missing = (booted ? SNAP_INTERNALS_BOOTED : SNAP_INTERNALS)
    .filter(([path, type]) => typeAt(path) !== type).map(([path]) => `Module.${path}`);
  const version = Mod && Mod.API ? Mod.API.version : undefined;
  if (version !== SNAP_PYODIDE) missing.unshift(`the version the snapshot code was written for (${SNAP_PYODIDE})`);
  if (missing.length) {
    throw new Error(`memviz snapshot: Pyodide ${version} lacks ${missing.join(", ")}; ` +
                    `snapshot.js relies on Pyodide ${SNAP_PYODIDE} / emscripten 3.1.58 internals`);
  }
}

// Pyodide sets its runtime up differently where the engine has stack switching (JSPI), and a
// snapshot holds that set-up: hidden everywhere, a snapshot made at build time fits every engine.
function snapHideStackSwitching() {
  delete WebAssembly.Suspending;
  delete WebAssembly.Suspender;
}

// Before loadPyodide: compile the runtime early, load pyodide.asm.js and wrap its module factory.
function snapPrepare(base) {
  snapPrecompileRuntime(base + "pyodide/pyodide.asm.wasm");
  importScripts(base + "pyodide/pyodide.asm.js");
  if (typeof self._createPyodideModule !== "function") {
    throw new Error(`memviz snapshot: pyodide.asm.js defines no _createPyodideModule (written for Pyodide ${SNAP_PYODIDE})`);
  }
  snapInstallFactoryHook();
}

// A normal boot's options, asking Pyodide to allow a snapshot later.
function snapBootOptions(options) {
  return {...options, _makeSnapshot: true};
}

// Record where each side module is placed; on restore, hand emscripten the module compiled early.
(function hookInstantiate() {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = function (bin, imports) {
    const early = SNAP.restoringLib && SNAP.precompiled && SNAP.precompiled.get(SNAP.restoringLib);
    if (early && imports && imports["GOT.mem"]) {
      SNAP.restoringLib = null;
      return early.then((module) => instantiate.call(WebAssembly, module, imports).then((instance) => ({module, instance})));
    }
    if (imports && imports["GOT.mem"] && SNAP.current) {
      SNAP.current.instances.push({memoryBase: imports.env.__memory_base, tableBase: imports.env.__table_base});
    }
    return instantiate.apply(this, arguments);
  };
})();

function snapWrapLoadDynlib(Mod) {
  const load = Mod.loadDynamicLibrary;
  Mod.loadDynamicLibrary = function (name, flags) {
    if (Mod.LDSO.loadedLibsByName[name] || SNAP.restoring) return load.apply(this, arguments);
    const record = {name, global: !!(flags && flags.global), instances: []};
    SNAP.current = record;
    return Promise.resolve(load.apply(this, arguments)).then((result) => {
      record.tableEnd = Mod.wasmTable.length;
      SNAP.libs.push(record);
      SNAP.current = null;
      return result;
    });
  };
}

// pyodide.asm.js must be loaded before this (importScripts): its module factory is wrapped. A
// failed check refuses a restore (normal boot follows) and, on a normal boot, any snapshot.
function snapInstallFactoryHook() {
  const create = self._createPyodideModule;
  self._createPyodideModule = async function (settings) {
    const Mod = await create(settings);
    SNAP.Mod = Mod;
    try {
      snapCheckInternals(Mod);
      SNAP.unusable = null;
    } catch (e) {
      SNAP.unusable = e;
      console.error(e);
      if (SNAP.beforeRestore) throw e;
      return Mod;
    }
    snapWrapLoadDynlib(Mod);
    if (SNAP.beforeRestore) await SNAP.beforeRestore(Mod);
    return Mod;
  };
}

// Side modules back at their recorded bases: a scratch `struct dso` whose "loaded" flag (+8) is
// set makes emscripten take memoryBase (+12) and tableBase (+20) from it, as for a library another
// thread loaded, instead of allocating. The heap copy that follows overwrites their data.
async function snapReloadDynlibs(Mod, meta) {
  SNAP.restoring = true;
  const H = Mod.HEAP8.length - 256;
  const fs = {findObject: (p) => Mod.FS.findObject(p), readFile: (p) => Mod.FS.readFile(p)};
  for (const record of meta.libs) {
    if (record.instances.length !== 1) throw new Error(`${record.name}: ${record.instances.length} instances`);
    const {memoryBase, tableBase} = record.instances[0];
    if (Mod.wasmTable.length > tableBase) throw new Error(`table at ${Mod.wasmTable.length}, ${record.name} was at ${tableBase}`);
    SNAP.restoringLib = record.name;
    Mod.HEAP8.fill(0, H, H + 64);
    Mod.HEAP8[H + 8] = 1;
    Mod.HEAPU32[(H + 12) >> 2] = memoryBase;
    Mod.HEAPU32[(H + 20) >> 2] = tableBase;
    await Mod.loadDynamicLibrary(record.name, {loadAsync: true, nodelete: true, allowUndefined: true,
                                               global: record.global, fs}, record.global ? null : {}, H);
    delete Mod.LDSO.loadedLibsByHandle[H];
    const base = record.name.slice(record.name.lastIndexOf("/") + 1);
    if (record.name.startsWith("/") && !Mod.LDSO.loadedLibsByName[base]) {
      Mod.LDSO.loadedLibsByName[base] = Mod.LDSO.loadedLibsByName[record.name];
    }
    if (Mod.wasmTable.length !== record.tableEnd) {
      throw new Error(`table ${Mod.wasmTable.length} after ${record.name}, recorded ${record.tableEnd}`);
    }
  }
  SNAP.restoring = false;
}

function snapPrecompileDynlibs(stored) {
  const index = new Map(stored.meta.files.map((entry) => [entry[0], entry]));
  SNAP.precompiled = new Map();
  for (const record of stored.meta.libs) {
    const entry = index.get(record.name);
    if (!entry) continue;
    const compiled = WebAssembly.compile(stored.files.subarray(entry[1], entry[1] + entry[2]));
    compiled.catch(() => {});
    SNAP.precompiled.set(record.name, compiled);
  }
}

// site-packages as one blob, read straight from the MEMFS nodes (FS.readFile per file is slower).
function snapPackFiles(FS, roots) {
  const entries = [], chunks = [];
  let offset = 0;
  const walk = (dirNode, dir) => {
    for (const [name, node] of Object.entries(dirNode.contents)) {
      const path = dir + "/" + name;
      if (FS.isDir(node.mode)) {
        entries.push([path, -1, 0, 0]);
        walk(node, path);
      } else if (FS.isFile(node.mode)) {
        const data = node.contents ? node.contents.subarray(0, node.usedBytes) : new Uint8Array(0);
        entries.push([path, offset, data.length, node.timestamp]);
        chunks.push(data);
        offset += data.length;
      }
    }
  };
  for (const root of roots) {
    const found = FS.analyzePath(root);
    if (found.exists) { entries.push([root, -1, 0, 0]); walk(found.object, root); }
  }
  const blob = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) { blob.set(chunk, at); at += chunk.length; }
  return {entries, blob};
}

function snapUnpackFiles(FS, entries, blob) {
  for (const [path, offset, length, mtime] of entries) {
    if (offset < 0) { FS.mkdirTree(path); continue; }
    FS.writeFile(path, blob.subarray(offset, offset + length), {canOwn: true});
    FS.utime(path, mtime, mtime);
  }
}

// Compile pyodide.asm.wasm while the snapshot is read; loadPyodide gets the compiled module.
function snapPrecompileRuntime(url) {
  const compiled = WebAssembly.compileStreaming(fetch(url));
  compiled.catch(() => {});
  const instantiateStreaming = WebAssembly.instantiateStreaming;
  WebAssembly.instantiateStreaming = async function (source, imports) {
    if (String((await source).url).endsWith("pyodide.asm.wasm")) {
      WebAssembly.instantiateStreaming = instantiateStreaming;
      const module = await compiled;
      return {module, instance: await WebAssembly.instantiate(module, imports)};
    }
    return instantiateStreaming.apply(this, arguments);
  };
}

// JS objects Python holds (hiwire) that are not reachable from globalThis. Only known ones are
// accepted, re-created by this code (no eval); anything else makes the snapshot fail (normal boots).
const SNAP_KNOWN_FUNCTIONS = {
  // Panel's `_dict_converter` (panel/io/pyodide.py): entries -> object, undefined -> null.
  undefinedToNull: (entries) => {
    for (const entry of entries) if (entry[1] === undefined) entry[1] = null;
    return Object.fromEntries(entries);
  },
};

function snapSerializer(obj) {
  const source = typeof obj === "function" ? String(obj) : "";
  if (source.includes("entry[1] = null") && source.includes("Object.fromEntries(entries)")) {
    return {known: "undefinedToNull"};
  }
  throw new Error(`a JS object held by Python cannot be snapshotted: ${Object.prototype.toString.call(obj)}`);
}

function snapDeserializer(serialized) {
  const known = serialized && SNAP_KNOWN_FUNCTIONS[serialized.known];
  if (!known) throw new Error(`unknown snapshot entry ${JSON.stringify(serialized)}`);
  return known;
}

// First visit, right after loadPackage: pack site-packages and start writing it.
function snapStoreFiles() {
  const Mod = SNAP.Mod;
  try {
    if (!SNAP.unusable) snapCheckInternals(Mod, true);
  } catch (e) {
    SNAP.unusable = e;
    console.error(e);
  }
  if (SNAP.unusable) return;
  const {entries, blob} = snapPackFiles(Mod.FS, [Mod.API.sitepackages, "/usr/lib"]);
  SNAP.files = {entries, bytes: blob.length};
  SNAP.filesStored = snapStorePart("files.bin", blob);
}

// First visit, app built: copy the heap and start writing it. Returns what `snapFinish` needs.
function snapMake(pyodide) {
  if (SNAP.unusable) throw SNAP.unusable;
  const Mod = SNAP.Mod;
  // Pyodide checks that its own JS references are as at boot: loadedPackages must look empty.
  const loaded = Object.assign({}, pyodide.loadedPackages);
  for (const key of Object.keys(loaded)) delete pyodide.loadedPackages[key];
  let heap;
  try { heap = pyodide.makeMemorySnapshot({serializer: snapSerializer}); }
  finally { Object.assign(pyodide.loadedPackages, loaded); }
  const handles = Object.entries(Mod.LDSO.loadedLibsByHandle).filter(([h]) => +h !== 0).map(([h, dso]) => [+h, dso.name]);
  const heapStored = snapStorePart("heap.bin", heap);
  return {heapStored, meta: {key: MEMVIZ_SNAPSHOT_KEY, loadedPackages: loaded, libs: SNAP.libs.slice(), handles, files: SNAP.files.entries,
                             heapBytes: heap.length, filesBytes: SNAP.files.bytes, tableLength: Mod.wasmTable.length}};
}

function snapRestoreOptions(stored, options) {
  snapPrecompileDynlibs(stored);
  SNAP.beforeRestore = (Mod) => snapReloadDynlibs(Mod, stored.meta);
  return {...options, _loadSnapshot: stored.heap, _snapshotDeserializer: snapDeserializer,
          fsInit: (FS) => snapUnpackFiles(FS, stored.meta.files, stored.files)};
}

function snapAfterRestore(stored, pyodide) {
  const Mod = SNAP.Mod;
  Object.assign(pyodide.loadedPackages, stored.meta.loadedPackages);
  // dlopen handles the C side keeps (in the heap) must name the same libraries again.
  for (const [handle, name] of stored.meta.handles) {
    if (!Mod.LDSO.loadedLibsByName[name]) throw new Error(`no library ${name} for handle ${handle}`);
    Mod.LDSO.loadedLibsByHandle[handle] = Mod.LDSO.loadedLibsByName[name];
  }
  if (Mod.wasmTable.length < stored.meta.tableLength) Mod.wasmTable.grow(stored.meta.tableLength - Mod.wasmTable.length);
}

function snapReset() {  // after a failed restore: the next loadPyodide is a normal boot
  SNAP.beforeRestore = null;
  SNAP.restoring = false;
  SNAP.libs = [];
  SNAP.precompiled = null;
}

// ============================================================================================
// END OF INTERNALS. Below: storing and fetching the snapshot's bytes with web APIs only.
// ============================================================================================

// A snapshot the site ships (`memviz build --ship-snapshot`, viz_app/site/ship.py): made once at
// build time, so a first visit restores it too. Gzipped, unzipped while it downloads; gzip's CRC-32
// and the exact size catch a damaged file (fetch's `integrity` would hold the whole body back
// until its hash is known: ~0.5 s slower). The service worker checks its copy's sha256.
async function snapFetchGzip(url, bytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new DecompressionStream("gzip")).getReader();
  const out = new Uint8Array(bytes);
  let at = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    if (at + value.length > bytes) throw new Error(`${url}: more than ${bytes} bytes`);
    out.set(value, at);
    at += value.length;
  }
  if (at !== bytes) throw new Error(`${url}: ${at} bytes, expected ${bytes}`);
  return out;
}

async function snapLoadShipped(base) {
  try {
    const response = await fetch(base + "snapshot/meta.json", {cache: "no-cache"});
    if (response.status === 404) return null;  // `memviz build --ship-snapshot` is making it
    if (!response.ok) throw new Error(`snapshot/meta.json: HTTP ${response.status}`);
    const meta = await response.json();
    if (meta.key !== MEMVIZ_SNAPSHOT_KEY) throw new Error("made for another build of the site");
    const [heap, files] = await Promise.all([
      snapFetchGzip(base + "snapshot/" + meta.shipped.heap, meta.heapBytes),
      snapFetchGzip(base + "snapshot/" + meta.shipped.files, meta.filesBytes)]);
    return {meta, heap, files, shipped: true};
  } catch (e) {
    console.warn("memviz snapshot: the site's snapshot is unusable, booting normally", e);
    return null;
  }
}

// One OPFS directory per build and browser: a snapshot is only valid for the exact packages, app
// and engine that made it.
function snapDirName() {
  let h = 0;
  for (const c of [MEMVIZ_SNAPSHOT_KEY, navigator.userAgent, self.location.pathname].join("|")) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
  return SNAP_PREFIX + (h >>> 0).toString(16);
}

async function snapDir(create) {
  return await (await navigator.storage.getDirectory()).getDirectoryHandle(snapDirName(), {create});
}

async function snapRead(dir, name) {
  const handle = await (await dir.getFileHandle(name)).createSyncAccessHandle();
  try {
    const bytes = new Uint8Array(handle.getSize());
    if (handle.read(bytes, {at: 0}) !== bytes.length) throw new Error(`short read of ${name}`);
    return bytes;
  } finally { handle.close(); }
}

async function snapWrite(dir, name, bytes) {  // createWritable: the bytes leave this thread
  const writable = await (await dir.getFileHandle(name, {create: true})).createWritable();
  await writable.write(bytes);
  await writable.close();
}

async function snapLoadStored() {
  try {
    const dir = await snapDir(false);
    const meta = JSON.parse(new TextDecoder().decode(await snapRead(dir, "meta.json")));
    const heap = await snapRead(dir, "heap.bin");
    const files = await snapRead(dir, "files.bin");
    if (heap.length !== meta.heapBytes || files.length !== meta.filesBytes) throw new Error("size mismatch");
    return {meta, heap, files};
  } catch (e) {
    if (e && e.name !== "NotFoundError") console.warn("memviz snapshot: stored copy unusable", e);
    return null;
  }
}

async function snapForget() {
  try { await (await navigator.storage.getDirectory()).removeEntry(snapDirName(), {recursive: true}); }
  catch (e) { /* nothing stored */ }
}

async function snapDropOthers() {  // earlier builds' snapshots
  const root = await navigator.storage.getDirectory();
  for await (const name of root.keys()) {
    if (name.startsWith(SNAP_PREFIX) && name !== snapDirName()) await root.removeEntry(name, {recursive: true});
  }
}

// The stored copy is written in parts as they become available; files.bin first drops meta.json
// (its presence means complete), which `snapFinish` writes last.
function snapStorePart(name, bytes) {
  const stored = (async () => {
    const dir = await snapDir(true);
    if (name === "files.bin") {
      try { await dir.removeEntry("meta.json"); } catch (e) { /* none yet */ }
    }
    await snapWrite(dir, name, bytes);
  })();
  stored.catch(() => {});
  return stored;
}

// Restored from the site's snapshot: keep a copy in OPFS too, so later visits read it from there
// instead of fetching and unzipping the site's files again.
function snapKeepShipped(stored) {
  const {shipped, ...meta} = stored.meta;
  SNAP.filesStored = snapStorePart("files.bin", stored.files);
  return {heapStored: snapStorePart("heap.bin", stored.heap), meta};
}

// First visit, app live: complete the stored copy (meta.json last: its presence means complete).
async function snapFinish(made) {
  await SNAP.filesStored;
  await made.heapStored;
  await snapWrite(await snapDir(true), "meta.json", new TextEncoder().encode(JSON.stringify(made.meta)));
  await snapDropOthers();
}
