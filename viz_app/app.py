"""The memviz Panel app: configuration on the side, results in the main area.

The same module runs under `panel serve` and, compiled by `panel convert`, in the browser under
Pyodide, so it uses no threads, no network and no files outside the package.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import holoviews as hv
import panel as pn
import param

from . import plots, url_state
from .i18n import t
from .model.json_input import MAX_PROFILE_BYTES
from .pins import Pins
from .session import ANALYTIC, Message, Session
from .ui import private_bokeh, private_panel
from .ui.batching import batch
from .ui.compare import CompareCard
from .ui.results import Results
from .ui.sidebar import Sidebar
from .ui.theme import CSS, OwnOriginTemplate, text
from .ui.widgets import label
from .view import View

LANGUAGE_OPTIONS = {"EN": "en", "中文": "zh"}
# Every change keeps the link current without a history entry (the script says why).
REPLACE_HISTORY_JS = (Path(__file__).resolve().parent / "assets" / "replace_history.js").read_text(encoding="utf-8")
_configured = False


def configure_process() -> None:
    """Set up this process for the app, once: main.py calls it, and so do tests that build the app.

    Checks the private APIs of Panel and Bokeh the app relies on (loudly, naming what is gone),
    selects HoloViews' Bokeh backend, draws plots without WebGL, and takes the objects imported so
    far out of the collector's view.
    """
    global _configured
    if _configured:  # `panel serve` runs main.py once per browser session
        return
    private_panel.check()
    private_bokeh.check()
    private_panel.read_long_numbers_in_links()
    if sys.platform != "emscripten":  # the served app's websocket (the static site has none)
        private_panel.write_until_the_tab_closes()
        private_bokeh.end_lost_connections_quietly()
    hv.extension("bokeh", logo=False)
    plots.draw_without_webgl()
    # Panel, HoloViews, Bokeh and pandas leave ~250k long-lived objects; a full collection walks
    # them all (~0.1 s in CPython, more under Pyodide) in the middle of some redraw. Modules and
    # classes live as long as the process anyway.
    gc.freeze()
    _configured = True


def _status_html(live: bool) -> str:
    # Tests and the static site's loader wait for data-live="1": Python is running and bound.
    return f'<span class="memviz-status" data-live="{int(live)}"></span>'


def connect_location(session: Session, view: View, pins: Pins | None = None) -> None:
    """Restore a shared link's state once the page is up, then keep the link current."""
    location = pn.state.location
    if location is None:
        return

    def restore() -> None:
        query = url_state.parse_query(location.search)
        refused = url_state.restore(session, view, query, pins)
        if refused:
            session.message = Message("error", "msg.url_ignored", {"keys": refused})
            location.search = url_state.accepted_search(query, refused)

    def restore_then_follow() -> None:
        restore()
        for obj, keys in url_state.link_targets(session, view, pins):
            key_of = {name: key for key, name in keys.items()}
            obj.param.watch(lambda *events, key_of=key_of: location.update_query(
                **{key_of[e.name]: url_state.serialize(e.new) for e in events}), list(key_of))

    if sys.platform == "emscripten":
        # Under Pyodide, Panel runs onload callbacks at once, while the app is built: the page's
        # URL reaches Python later, once the page is linked, as one change of `search`.
        def restore_once(event: param.parameterized.Event) -> None:
            location.param.unwatch(watcher)
            restore()

        watcher = location.param.watch(restore_once, "search")
    pn.state.onload(restore_then_follow)


def create_app(session: Session | None = None, view: View | None = None) -> OwnOriginTemplate:
    """Build the whole page for one browser session."""
    hv.extension("bokeh", logo=False)
    session = session or Session()
    # One message per change, and no Bokeh model-graph walk when only data changed.
    session.batch = batch
    view = view or View()
    lang = view.param.lang
    language = pn.widgets.RadioButtonGroup.from_param(
        view.param.lang, name="", options=LANGUAGE_OPTIONS, color="light", variant="outline",
        css_classes=["memviz-lang"], width=110, margin=(12, 10),
    )
    tagline = text(label("app.tagline", lang), "memviz-tagline", margin=(22, 10, 0, 0))
    status = pn.pane.HTML(_status_html(False), width=0, height=0, margin=0)
    pn.state.onload(lambda: setattr(status, "object", _status_html(True)))
    results = Results(session, view)
    pins = Pins()
    sidebar = Sidebar(session, lang)
    private_bokeh.refuse_unsendable_files(sidebar.upload, status, MAX_PROFILE_BYTES)
    status.jscallback(text=REPLACE_HISTORY_JS)  # once the page is live (`text`: the HTML model's markup)
    connect_location(session, view, pins)
    footer = text(pn.bind(lambda mode, lng: t("app.footer_analytic" if mode == ANALYTIC else "app.footer", lng),
                          session.param.mode, lang), "memviz-footer")
    template = OwnOriginTemplate(
        title="memviz", header=[tagline, pn.layout.HSpacer(), language],
        # The status sits inside a layout: `panel convert` drops a top-level item that onload updates.
        sidebar=[sidebar],
        main=[pn.Column(results, CompareCard(session, view, pins), footer, status, sizing_mode="stretch_width")],
        sidebar_width=360, header_background="#1e4f9a", raw_css=[CSS],
        busy_indicator=None,  # updates take ~0.1 s; a spinner flashing on every change only costs messages
        meta_description="Per-GPU memory of distributed LLM training (Galvatron-compatible)",
    )
    return template
