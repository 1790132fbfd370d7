"""Time from a parameter change in the browser to the redrawn plot, against `panel serve` (memviz serve).

    python benchmarks/redraw.py [--changes 15] [--no-breakdown] [--entry variant_main.py]

Starts the app with the same command `memviz serve` runs, opens it in Debian's Chromium and makes
`--changes` changes (TP picked in its select, micro-batch size typed in its box), each timed in
the page from the change event to:
  visible  the total (`.memviz-total[data-mib]`) AND the treemap's Bokeh data both changed, and the
           next frame painted (target: < 150 ms);
  reply    the first websocket message back from the server;
  settled  the last websocket message of the update (every other chart patched too).
Then (unless --no-breakdown) it replays the same changes in this process on the app rendered to a
Bokeh Document (every chart redrawn at once, as under Pyodide), to show where the Python time goes:
Bokeh's model-graph recompute, HoloViews' plot refresh, memviz's own plot functions, the cost model.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import RECORD_MESSAGES_JS, TREEMAP_LABELS_JS, chromium, free_port, server_process  # noqa: E402
from viz_app.serve import ENTRY, serve_command  # noqa: E402

TARGET_MS = 150
WARMUP = (("tp", 4), ("tp", 8))
TP_VALUES = (4, 2, 8, 1, 4, 2, 8, 1)
MBS_VALUES = (2, 3, 4, 1, 2, 3, 1)
CONTROLS = {"tp": ".memviz-tp select", "mbs": ".memviz-micro-batch-size input"}
PLOT_FUNCTIONS = ("treemap", "bar_chart", "proportion_chart", "donut", "stage_chart")

# One change, timed in the page. The total's pane is re-rendered on every update, so it is found
# again from its shadow root each frame, the treemap's labels from its data source.
CHANGE_JS = """async ([control, totalElement, value]) => {
  const root = totalElement.getRootNode();
  const total = () => root.querySelector(".memviz-total").getAttribute("data-mib");
  const treemap = TREEMAP_LABELS_JS;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (const doc of Bokeh.documents)
    if (!doc.__memvizTimed) {  // time BokehJS applying the server's patches (main-thread work)
      const apply = doc.apply_json_patch.bind(doc);
      doc.apply_json_patch = (...args) => {
        const t0 = performance.now();
        try { return apply(...args); } finally { window.__memvizPatchMs += performance.now() - t0; }
      };
      doc.__memvizTimed = true;
    }
  window.__memvizPatchMs = 0;
  const total0 = total(), treemap0 = treemap(), messages = window.__memvizMessages;
  const start = performance.now();
  control.value = String(value);
  control.dispatchEvent(new Event("change", {bubbles: true}));
  let totalAt = null, treemapAt = null;
  while (totalAt === null || treemapAt === null) {
    await frame();
    const now = performance.now();
    if (now - start > 30000) throw new Error("no redraw within 30 s");
    if (totalAt === null && total() !== total0) totalAt = now;
    if (treemapAt === null && treemap() !== treemap0) treemapAt = now;
  }
  await frame();
  const visible = performance.now() - start;
  while (performance.now() - Math.max(start, messages[messages.length - 1]) < 400) await frame();
  const mine = messages.filter((t) => t > start);
  return {visible, total: totalAt - start, treemap: treemapAt - start, reply: mine[0] - start,
          settled: mine[mine.length - 1] - start, messages: mine.length, patch: window.__memvizPatchMs};
}""".replace("TREEMAP_LABELS_JS", TREEMAP_LABELS_JS)


def changes(count: int) -> list[tuple[str, int]]:
    plan = [("tp", v) for v in TP_VALUES] + [("mbs", v) for v in MBS_VALUES]
    return (plan * (count // len(plan) + 1))[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_browser(plan: list[tuple[str, int]], entry: Path | None = None) -> list[dict]:
    port = free_port()
    url = f"http://localhost:{port}/"
    command = serve_command(port)
    if entry:  # an experimental variant of viz_app/main.py, same server flags
        command = [str(entry) if part == str(ENTRY) else part for part in command]
    with server_process(command, f"{url}static/js/bokeh.min.js"), chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.add_init_script(RECORD_MESSAGES_JS)
        page.goto(url)
        page.wait_for_selector('.memviz-status[data-live="1"]', state="attached", timeout=60_000)
        page.wait_for_timeout(1000)  # let the first layout settle
        results = []
        for i, (control, value) in enumerate([*WARMUP, *plan]):
            handles = [page.locator(CONTROLS[control]).first.element_handle(),
                       page.locator(".memviz-total").element_handle()]
            result = page.evaluate(CHANGE_JS, [*handles, value])
            if i >= len(WARMUP):
                results.append({"change": f"{control}={value}", **result})
        return results


def report_browser(results: list[dict]) -> None:
    print(f"browser, {len(results)} changes (TP select, micro-batch box), ms from the change event:")
    for key, what in (("visible", "total + treemap redrawn and painted"), ("total", "total text updated"),
                      ("treemap", "treemap data updated"), ("reply", "first server message"),
                      ("settled", "last server message (all charts)"),
                      ("patch", "BokehJS applying the patches (main thread, summed)")):
        values = [r[key] for r in results]
        print(f"  {key:8s} median {statistics.median(values):6.0f}   p90 {percentile(values, 0.9):6.0f}   "
              f"max {max(values):6.0f}   {what}")
    median = statistics.median(r["visible"] for r in results)
    verdict = "meets" if median < TARGET_MS else "MISSES"
    print(f"redraw (visible) median {median:.0f} ms, p90 {percentile([r['visible'] for r in results], 0.9):.0f} ms: "
          f"{verdict} the target of < {TARGET_MS} ms")
    print("  per change: " + ", ".join(f"{r['change']} {r['visible']:.0f}" for r in results))


def _timed(totals: dict, counts: collections.Counter, name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start
            counts[name] += 1

    return wrapper


def _replay(session, plan: list[tuple[str, int]], around) -> list[float]:
    """Apply each change to the session inside `around()`; milliseconds per change."""
    names = {"tp": "tp", "mbs": "micro_batch_size"}
    each_ms = []
    for control, value in plan:
        start = time.perf_counter()
        with around():
            setattr(session.config, names[control], value)
        each_ms.append(1000 * (time.perf_counter() - start))
    return each_ms


def server_breakdown(plan: list[tuple[str, int]]) -> None:
    """Replay the changes on the app rendered into a Document, timing the server-side parts."""
    import holoviews.plotting.plot as hv_plot
    from bokeh.document import Document
    from bokeh.document import models as document_models

    import viz_app.plots as plots
    import viz_app.session as session_module

    totals, counts = collections.defaultdict(float), collections.Counter()
    patches = [
        (document_models.DocumentModelManager, "recompute", "Bokeh model-graph recompute"),
        (hv_plot.DimensionedPlot, "refresh", "HoloViews plot refresh (includes the recomputes)"),
        (session_module, "estimate_galvatron", "cost model (estimate_galvatron)"),
        *((plots, name, f"memviz plots.{name}") for name in PLOT_FUNCTIONS),
    ]
    with contextlib.ExitStack() as undo:
        for owner, attribute, name in patches:
            original = getattr(owner, attribute)
            setattr(owner, attribute, _timed(totals, counts, name, original))
            undo.callback(setattr, owner, attribute, original)
        from viz_app.app import configure_process, create_app
        from viz_app.session import Session
        from viz_app.view import View

        configure_process()  # as main.py does: no WebGL, imports frozen out of the collector's view
        session = Session()
        document = Document()
        create_app(session, View()).server_doc(document)
        from viz_app.ui.batching import batch

        # As the app does: each change inside one batch (Panel's hold, Bokeh's graph walk only if needed).
        _replay(session, WARMUP, lambda: batch(document))
        totals.clear()
        counts.clear()
        each_ms = _replay(session, plan, lambda: batch(document))
        plain = (dict(totals), dict(counts))
        totals.clear()
        import panel as pn

        # For comparison, Panel's own hold(freeze=True): one graph walk per change, always.
        frozen_ms = _replay(session, plan, lambda: pn.io.hold(document, freeze=True))
        frozen_recompute = totals["Bokeh model-graph recompute"]
        totals, counts = plain
    n = len(plan)
    print(f"server side (in process, no network), {len(document.models)} Bokeh models in the page:")
    print(f"  whole change median {statistics.median(each_ms):.0f} ms, p90 {percentile(each_ms, 0.9):.0f} ms")
    for name in sorted(totals, key=lambda k: -totals[k]):
        print(f"  {1000 * totals[name] / n:6.1f} ms per change, {counts[name] / n:.1f} calls: {name}")
    print(f"  the same changes in pn.io.hold(doc, freeze=True) instead: median {statistics.median(frozen_ms):.0f} ms, "
          f"p90 {percentile(frozen_ms, 0.9):.0f} ms (recompute {1000 * frozen_recompute / n:.1f} ms per change)")
    kinds = collections.Counter(type(m).__name__ for m in document.models).most_common(4)
    print("  most common models: " + ", ".join(f"{kind} {count}" for kind, count in kinds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=15)
    parser.add_argument("--no-breakdown", action="store_true", help="skip the in-process server breakdown")
    parser.add_argument("--entry", type=Path, help="serve this script instead of viz_app/main.py (A/B experiments)")
    args = parser.parse_args()
    plan = changes(args.changes)
    report_browser(measure_browser(plan, args.entry))
    if not args.no_breakdown:
        server_breakdown(plan)


if __name__ == "__main__":
    main()
