"""Load the static site in Debian's Chromium, cold and warm, against a stock `panel convert`.

    python benchmarks/load.py [--site pyodide_dist] [--runs 3] [--no-stock] [--no-shipped]

Builds the site twice (`memviz build` and `memviz build --ship-snapshot`, reusing build_cache/)
unless --site names a built one (--no-shipped: the first only), serves each
on 127.0.0.1 from a server that counts the bytes it sends, and loads it `--runs` times cold (a
fresh browser profile) and warm (a second visit in that profile). Prints the medians of:
pre-rendered paint (BokehJS drew the pre-rendered document), live (Python rendered the document
in the worker; for memviz also `data-live="1"`), and redraw (TP changed in the page until the new
total and treemap are painted; timed on the settled app, 1 s after start-up's background work,
for both variants), plus site size and bytes transferred, and how many visits restored the memory
snapshot (an earlier visit's copy, or the one the site ships). Targets on the 2-core reference machine:
live in 4 s cold and 2 s warm, redraw under 150 ms.

The comparison ("stock") is `panel convert --to pyodide-worker` of the same app made offline only
by rewriting URLs: BokehJS, Panel's dist, Pyodide 0.27.7 and unmodified PyPI wheels served
locally and installed by micropip. Two things beyond URLs are unavoidable on Pyodide 0.27.7 and
are the same as in the site: `deps=False` (else micropip asks PyPI for nh3 and panel-material-ui)
and viz_app/browser/templates/compat.py (without nh3 no Panel template renders at all).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from tests.browser_support import CHROMIUM_FLAGS, TREEMAP_LABELS_JS, chromium_path  # noqa: E402
from viz_app.site import build_site, fetch, pins, wheels  # noqa: E402

# Any host but 127.0.0.1 fails at once (a stray CDN URL must not stall a run).
FLAGS = [*CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
TP_SEQUENCE = (4, 2, 8, 1, 4, 2)
SETTLE_MS = 1000
TIMEOUT_MS = 180_000
FIND_JS = """(selector) => {
  const deep = (root) => {
    const hit = root.querySelector(selector);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) { const f = deep(el.shadowRoot); if (f) return f; }
    return null;
  };
  return deep(document);
}"""
REDRAW_JS = """async (tp) => {
  const find = FIND_JS;
  const host = find(".memviz-tp");
  const select = (host.shadowRoot && host.shadowRoot.querySelector("select")) || host.querySelector("select");
  const treemap = TREEMAP_LABELS_JS;
  const total = () => find(".memviz-total") && find(".memviz-total").getAttribute("data-mib");
  const before = [total(), treemap()];
  const start = performance.now();
  select.value = String(tp);
  select.dispatchEvent(new Event("change", {bubbles: true}));
  while (total() === before[0] || treemap() === before[1])  // the total and the treemap both redrawn
    await new Promise((r) => requestAnimationFrame(r));
  await new Promise((r) => requestAnimationFrame(r));  // the frame that paints it
  return performance.now() - start;
}""".replace("FIND_JS", FIND_JS).replace("TREEMAP_LABELS_JS", TREEMAP_LABELS_JS)


# When the page receives Python's rendered document from the worker (both variants use Panel's protocol).
RENDER_HOOK_JS = """(() => {
  const Original = window.Worker;
  window.Worker = function (...args) {
    const worker = new Original(...args);
    worker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "render" && window.memvizRenderAt === undefined)
        window.memvizRenderAt = performance.now();
    });
    return worker;
  };
  window.Worker.prototype = Original.prototype;
})();"""
NAN = float("nan")


class CountingHandler(SimpleHTTPRequestHandler):
    sent = 0
    lock = threading.Lock()

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data)
        with CountingHandler.lock:
            CountingHandler.sent += len(data)

    def log_message(self, *args):
        pass


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(CountingHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def tree_bytes(directory: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(directory, followlinks=True)
               for f in files)


def visit(context, url: str, memviz: bool) -> dict:
    page = context.new_page()
    painted = []
    page.on("console", lambda m: painted.append(float(re.search(r"idle at ([\d.]+) ms", m.text).group(1)))
            if "document idle at" in m.text else None)
    page.add_init_script(RENDER_HOOK_JS)
    page.goto(url, wait_until="commit")
    page.wait_for_function("window.memvizRenderAt !== undefined", timeout=TIMEOUT_MS, polling=20)
    result = {"python": page.evaluate("window.memvizRenderAt"), "paint": painted[0] if painted else NAN,
              "live": NAN, "redraw": NAN}
    try:  # live: Python's document is in the page and the app reacts (memviz: its onload ran)
        live = '.memviz-status[data-live="1"]' if memviz else "body:not(.pn-loading)"
        page.wait_for_selector(live, state="attached", timeout=30_000)
        result["live"] = page.evaluate("performance.now()")
    except PlaywrightTimeout:
        page.close()
        return result
    page.wait_for_selector(".memviz-total[data-mib]", timeout=TIMEOUT_MS)
    if memviz:  # the offline cache and the memory snapshot are stored once the app is live: part of
        # the first visit's cost (a warm visit restores the snapshot, see browser/templates/snapshot.js)
        page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
        marks = page.evaluate("window.memvizMarks")
        result["restored"] = "snapshot-restored" in marks
        result["shipped"] = "snapshot-restored-shipped" in marks  # the site's own (--ship-snapshot)
        if not result["restored"] or result["shipped"]:  # then a copy is stored for the next visit
            page.wait_for_function("window.memvizMarks['snapshot-stored'] !== undefined", timeout=TIMEOUT_MS)
    # Redraw is timed on a settled app, for both variants: not racing start-up's background work.
    page.wait_for_timeout(SETTLE_MS)
    result["redraw"] = statistics.median(page.evaluate(REDRAW_JS, tp) for tp in TP_SEQUENCE)
    page.close()
    return result


def measure(playwright, directory: Path, runs: int, memviz: bool) -> dict:
    server, url = serve(directory)
    cold, warm, cold_bytes, warm_bytes = [], [], [], []
    try:
        for _ in range(runs):
            # A new on-disk profile: a first visit as a real browser makes it (incognito contexts
            # keep a small in-memory HTTP cache that drops multi-MB files).
            profile = tempfile.mkdtemp(prefix="memviz-profile-")
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), args=FLAGS, viewport={"width": 1280, "height": 1400})
            CountingHandler.sent = 0
            cold.append(visit(context, url, memviz))
            cold_bytes.append(CountingHandler.sent)
            CountingHandler.sent = 0
            warm.append(visit(context, url, memviz))
            warm_bytes.append(CountingHandler.sent)
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
    finally:
        server.shutdown()
    return {"cold": cold, "warm": warm, "cold_bytes": statistics.median(cold_bytes),
            "warm_bytes": statistics.median(warm_bytes), "site_bytes": tree_bytes(directory)}


def build_stock(out: Path, cache: Path) -> Path:
    """`panel convert` of the app, made to load from 127.0.0.1 by rewriting its URLs."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "panel", "convert", str(ROOT / "viz_app" / "main.py"), "--to",
                    "pyodide-worker", "--out", str(out), "--disable-http-patch"], check=True, capture_output=True)
    import bokeh
    import panel

    bokeh_js = Path(bokeh.__file__).parent / "server" / "static" / "js"
    (out / "cdn" / "bokeh").mkdir(parents=True)
    for js in bokeh_js.glob("bokeh*.min.js"):
        shutil.copy(js, out / "cdn" / "bokeh" / js.name.replace(".min.js", f"-{bokeh.__version__}.min.js"))
    (out / "cdn" / "panel" / panel.__version__).mkdir(parents=True)
    (out / "cdn" / "panel" / panel.__version__ / "dist").symlink_to(Path(panel.__file__).parent / "dist")
    (out / "cdn" / "fonts.css").write_text("")
    html = (out / "main.html").read_text(encoding="utf-8")
    html = (html.replace("https://cdn.bokeh.org/bokeh/release/", "./cdn/bokeh/")
            .replace("https://cdn.holoviz.org/panel/", "./cdn/panel/")
            .replace("https://fonts.googleapis.com/css?family=Lato&amp;subset=latin,latin-ext", "./cdn/fonts.css")
            .replace("https://fonts.googleapis.com/css?family=Lato&subset=latin,latin-ext", "./cdn/fonts.css"))
    (out / "index.html").write_text(html, encoding="utf-8")

    core = fetch.pyodide_core(cache)
    lock = fetch.read_lock(core)
    (out / "pyodide").mkdir()
    for name in ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"):
        shutil.copy(core / name, out / "pyodide" / name)
    official = fetch.lock_closure(["numpy", "pandas", "micropip"], lock)
    for path in fetch.official_packages(cache, lock, official).values():
        shutil.copy(path, out / "pyodide" / path.name)
    (out / "wheels").mkdir()
    local = []
    for path in fetch.pypi_files(cache, pins.PURE_WHEELS).values():
        shutil.copy(path, out / "wheels" / path.name)
        local.append(f"./wheels/{path.name}")
    with tempfile.TemporaryDirectory() as tmp:
        for made in wheels.fallback_only_wheels(cache, Path(tmp)).values():
            shutil.copy(made, out / "wheels" / made.name)
            local.append(f"./wheels/{made.name}")
        own, _digest = wheels.project_wheel(ROOT / "viz_app", Path(tmp))
        shutil.copy(own, out / "wheels" / own.name)
        local.append(f"./wheels/{own.name}")
    requirements = ", ".join(repr(r) for r in [*local, "numpy", "pandas"])
    compat = (ROOT / "viz_app" / "browser" / "templates" / "compat.py").read_text(encoding="utf-8")
    worker = (out / "main.js").read_text(encoding="utf-8")
    worker = re.sub(r'importScripts\("[^"]+"\)', 'importScripts("./pyodide/pyodide.js")', worker)
    worker = re.sub(r"await micropip\.install\(\[.*?\]\);",
                    f"await micropip.install([{requirements}], deps=False)", worker, flags=re.S)
    worker = worker.replace('console.log("Environment loaded!");',
                            f'self.pyodide.runPython({json.dumps(compat)}); console.log("Environment loaded!");')
    (out / "main.js").write_text(worker, encoding="utf-8")
    return out


def report(label: str, result: dict) -> None:
    def med(kind: str, key: str) -> str:
        values = [r[key] for r in result[kind] if r[key] == r[key]]
        return f"{statistics.median(values):.0f} ms" if values else "never"

    print(f"{label}: site {result['site_bytes'] / 2**20:.1f} MiB, first visit {result['cold_bytes'] / 2**20:.1f} MiB"
          f" transferred, second visit {result['warm_bytes'] / 2**20:.2f} MiB")
    for kind, target in (("cold", 4000), ("warm", 2000)):
        restored = sum(bool(r.get("restored")) for r in result[kind])
        shipped = sum(bool(r.get("shipped")) for r in result[kind])
        snapshot = (f", {restored}/{len(result[kind])} from the memory snapshot ({shipped} the site's own)"
                    if "restored" in result[kind][0] else "")
        print(f"  {kind}: pre-rendered paint {med(kind, 'paint')}, Python rendered {med(kind, 'python')},"
              f" live {med(kind, 'live')} (target {target} ms), redraw {med(kind, 'redraw')} (target 150 ms)"
              f"{snapshot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-stock", action="store_true", help="skip the stock `panel convert` comparison")
    parser.add_argument("--no-shipped", action="store_true", help="skip the `--ship-snapshot` build")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="memviz-load-") as tmp:
        sites = {"memviz build": args.site}
        if args.site is None:
            variants = {"memviz build": False} if args.no_shipped else {"memviz build": False,
                                                                        "memviz build --ship-snapshot": True}
            for number, (label, ship_snapshot) in enumerate(variants.items()):
                started = time.monotonic()
                sites[label] = Path(tmp) / f"site-{number}"
                build_site(sites[label], cache=ROOT / "build_cache", ship_snapshot=ship_snapshot)
                print(f"{label}: built in {time.monotonic() - started:.1f} s")
        with sync_playwright() as p:
            for label, site in sites.items():
                report(label, measure(p, site, args.runs, memviz=True))
            if not args.no_stock:
                stock = build_stock(Path(tmp) / "stock", ROOT / "build_cache")
                report("stock panel convert, URLs rewritten", measure(p, stock, args.runs, memviz=False))


if __name__ == "__main__":
    main()
