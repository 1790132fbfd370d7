importScripts("../pyodide/pyodide.js");  // this worker lives in static/

// memviz static site: Pyodide and every package load from this site, nothing from elsewhere.
const MEMVIZ_PACKAGES = __PACKAGES__;
const MEMVIZ_COMPAT = __COMPAT__;
const MEMVIZ_LINK = __LINK__;

// Start-up milestones for benchmarks/load.py (window.memvizMarks on the page, ms since navigation).
function memvizMark(name) {
  self.postMessage({type: "memviz-mark", name: name, at: performance.timeOrigin + performance.now()});
}

async function memvizLoad() {
  memvizMark("worker-started");
  const base = new URL("../", self.location.href).href;
  self.pyodide = await loadPyodide({
    indexURL: base + "pyodide/",
    // Panel points the CSS of worker-rendered documents at this root instead of its CDN.
    env: {PANEL_CDN_ROOT: base + "static/panel/"},
  });
  memvizMark("pyodide-ready");
  self.pyodide.globals.set("sendPatch", sendPatch);
  self.postMessage({type: "status", msg: "Loading packages"});
  // One call: the wheels download in parallel, listed (with sha256) in the extended pyodide-lock.json.
  await self.pyodide.loadPackage(MEMVIZ_PACKAGES, {messageCallback: () => {}, checkIntegrity: true});
  memvizMark("packages-loaded");
  // Shims for Panel 1.9 on Pyodide 0.27 (pyodide.ffi.jsnull, nh3): viz_app/build/templates/compat.py.
  self.pyodide.runPython(MEMVIZ_COMPAT);
  // Changes go to the page as one patch per Python task: viz_app/build/templates/link.py.
  self.pyodide.runPython(MEMVIZ_LINK);
}
