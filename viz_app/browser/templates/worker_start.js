importScripts("../pyodide/pyodide.js");  // this worker lives in static/

// memviz static site: Pyodide and every package load from this site, nothing from elsewhere.
const MEMVIZ_PACKAGES = __PACKAGES__;
const MEMVIZ_COMPAT = __COMPAT__;
const MEMVIZ_LINK = __LINK__;
const MEMVIZ_WARMUP = __WARMUP__;  // run after a restore: browser/templates/warmup.py
const MEMVIZ_APP = __APP__;  // the app's code up to `write_doc()`, from `panel convert`
const MEMVIZ_SNAPSHOT_KEY = __SNAPSHOT_KEY__;  // the packages (their sha256) and this worker
// Built with --ship-snapshot: the site has snapshot/ (a memory snapshot made at build time).
const MEMVIZ_SHIPS_SNAPSHOT = __SHIPS_SNAPSHOT__;
__SNAPSHOT__

// Start-up milestones for benchmarks/load.py and the tests (window.memvizMarks on the page).
function memvizMark(name) {
  self.postMessage({type: "memviz-mark", name: name, at: performance.timeOrigin + performance.now()});
}

// Boot Pyodide, load the packages and build the app: from the snapshot of an earlier visit when
// there is one (snapshot.js), else normally, taking a snapshot for the next visit.
async function memvizLoad() {
  memvizMark("worker-started");
  const base = new URL("../", self.location.href).href;
  let snapshots = typeof navigator.storage?.getDirectory === "function";
  if (MEMVIZ_SHIPS_SNAPSHOT) snapHideStackSwitching();  // the build's snapshot then fits every engine
  if (snapshots) {
    try {
      snapPrepare(base);
    } catch (e) {
      console.error(e);
      snapshots = false;
    }
  }
  const options = {
    indexURL: base + "pyodide/",
    // Panel points the CSS of worker-rendered documents at this root instead of its CDN. Relative
    // to the page (index.html at the site's root), as in the pre-rendered page: a snapshot made at
    // build time holds these URLs, so they must not name the origin that made it.
    env: {PANEL_CDN_ROOT: "./static/panel/"},
  };
  if (!(snapshots && await memvizRestore(options, base))) await memvizBoot(options, snapshots);
  // After the snapshot: a JS function held by Python could not be in it.
  self.pyodide.globals.set("sendPatch", sendPatch);
}

// The copy an earlier visit stored, else the site's own (--ship-snapshot), else none.
async function memvizRestore(options, base) {
  const stored = await snapLoadStored() || (MEMVIZ_SHIPS_SNAPSHOT && await snapLoadShipped(base));
  if (!stored) return false;
  memvizMark("snapshot-read");
  try {
    self.pyodide = await loadPyodide(snapRestoreOptions(stored, options));
    snapAfterRestore(stored, self.pyodide);
    memvizMark("snapshot-restored");
    self.memvizWarmUp = true;
    if (stored.shipped) {
      memvizMark("snapshot-restored-shipped");
      self.memvizSnapshot = snapKeepShipped(stored);
    }
    return true;
  } catch (e) {
    console.warn("memviz snapshot: restore failed, booting normally", e);
    snapReset();
    if (!stored.shipped) await snapForget();
    return false;
  }
}

async function memvizBoot(options, snapshots) {
  self.pyodide = await loadPyodide(snapshots ? snapBootOptions(options) : options);
  memvizMark("pyodide-ready");
  self.postMessage({type: "status", msg: "Loading packages"});
  // One call: the wheels download in parallel, listed (with sha256) in the extended pyodide-lock.json.
  await self.pyodide.loadPackage(MEMVIZ_PACKAGES, {messageCallback: () => {}, checkIntegrity: true});
  memvizMark("packages-loaded");
  if (snapshots) snapStoreFiles();
  // Shims for Panel 1.9 on Pyodide 0.27 (pyodide.ffi.jsnull, nh3): viz_app/browser/templates/compat.py.
  self.pyodide.runPython(MEMVIZ_COMPAT);
  // Changes go to the page as one patch per Python task: viz_app/browser/templates/link.py.
  self.pyodide.runPython(MEMVIZ_LINK);
  self.postMessage({type: "status", msg: "Executing code"});
  await self.pyodide.runPythonAsync(MEMVIZ_APP);
  memvizMark("app-built");
  if (snapshots) {
    try {
      self.memvizSnapshot = snapMake(self.pyodide);  // completed once the app is live
    } catch (e) {
      console.warn("memviz snapshot: not taken", e);
    }
  }
}

// Called when the page has rendered the app: the snapshot's last file is written off the critical
// path, and a restored worker warms up once the page is idle.
function memvizStoreSnapshot() {
  if (self.memvizWarmUp) {
    self.memvizWarmUp = false;
    setTimeout(() => {
      self.pyodide.runPython(MEMVIZ_WARMUP);
      memvizMark("warmed-up");
    }, 300);
  }
  const made = self.memvizSnapshot;
  self.memvizSnapshot = null;
  if (made) {
    snapFinish(made).then(() => memvizMark("snapshot-stored"),
                          (e) => console.warn("memviz snapshot: not stored", e));
  }
}
