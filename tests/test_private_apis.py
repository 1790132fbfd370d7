"""The private APIs memviz uses: all there in the installed versions, each wrapper failing loudly
(naming what is gone and the version) when an upgrade drops it, and no use outside the wrappers.

viz_app/ui/private_panel.py, private_bokeh.py, private_holoviews.py; the Pyodide and emscripten
internals in the marked section of viz_app/browser/templates/snapshot.js.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import holoviews as hv
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.events import DocumentReady
from bokeh.model import Model
from bokeh.models import Column, ColumnDataSource, Div
from panel.io.state import set_curdoc, state
from panel.pane.markup import HTMLBasePane
from panel.reactive import Syncable

from viz_app.site import fetch, pins
from viz_app.ui import private_bokeh, private_holoviews, private_panel
from viz_app.ui.batching import batch, respond_at_once
from viz_app.ui.private_api import PrivateAPIMissing

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "viz_app"
SNAPSHOT_JS = PACKAGE / "browser" / "templates" / "snapshot.js"
INTERNALS_START = "PYODIDE 0.27.7 / EMSCRIPTEN 3.1.58 INTERNALS"
INTERNALS_END = "END OF INTERNALS"


def _loudly(dependency: str, what: str) -> str:
    """The start of the error a wrapper raises when `what` is gone from the installed `dependency`."""
    version = __import__(dependency).__version__
    return re.escape(f"{dependency} {version} has no {what}")


# --- (a) every wrapped attribute exists in the installed versions, and the wrappers work


def test_the_installed_panel_and_bokeh_have_every_private_api_memviz_uses():
    private_panel.check()
    private_bokeh.check()


def test_lazy_freeze_walks_the_model_graph_only_when_a_reference_changed(monkeypatch):
    walks = []
    recompute = DocumentModelManager.recompute
    monkeypatch.setattr(DocumentModelManager, "recompute", lambda self: walks.append(1) or recompute(self))
    doc, source = Document(), ColumnDataSource({"x": [1]})
    column = Column(children=[])
    doc.add_root(column)
    doc.add_root(source)
    walks.clear()
    with private_bokeh.lazy_freeze(doc):
        source.data = {"x": [2]}
    assert walks == []
    added = Div()
    with private_bokeh.lazy_freeze(doc), private_bokeh.lazy_freeze(doc):  # nested: the outer one decides
        column.children = [added]
    assert walks == [1] and doc.get_model_by_id(added.id) is added
    with pytest.raises(RuntimeError), private_bokeh.lazy_freeze(doc):
        column.children = []
        raise RuntimeError("a failed change")
    assert doc.get_model_by_id(added.id) is None  # thawed and walked even after an error
    assert "invalidate" not in vars(doc.models) and "recompute" not in vars(doc.models)


def test_live_html_updates_the_markup_and_keeps_its_stylesheets():
    pane = private_panel.LiveHTML("<b>a</b>", stylesheets=[".x {}"])
    model = pane.get_root()
    sheets = list(model.stylesheets)
    pane.object = "<b>b</b>"
    assert html.unescape(model.text) == "<b>b</b>" and list(model.stylesheets) == sheets
    streaming = private_panel.LiveHTML("a", enable_streaming=True)  # Panel's own streaming update
    streamed = streaming.get_root()
    streaming.object = "ab"
    assert streamed.text.endswith("ab")


def test_a_widget_responds_at_once_inside_one_batch(monkeypatch):
    batches = []
    monkeypatch.setattr("viz_app.ui.batching.batch", lambda doc: batches.append(doc) or batch(doc))
    widget = respond_at_once(pn.widgets.IntInput(value=1))
    assert widget._debounce == 0
    doc = Document()
    widget._events = {"value": 2}
    widget._change_event(doc)
    assert widget.value == 2 and batches == [doc]


def _unloaded_document(monkeypatch) -> Document:
    """A document whose page has not loaded yet: Panel holds its onload callbacks."""
    doc = Document()
    monkeypatch.setitem(state._loaded, doc, False)
    return doc


def test_onload_callbacks_run_when_the_page_reports_the_document_ready(monkeypatch):
    doc, ran = _unloaded_document(monkeypatch), []
    with set_curdoc(doc):
        pn.state.onload(lambda: ran.append(True))
    private_panel.run_onload_when_ready(doc)
    assert ran == []
    doc.callbacks.trigger_event(DocumentReady())
    assert ran == [True]


@pytest.fixture
def onload_runner_restored():
    yield
    vars(state).pop("_on_load", None)  # prerender_without_onload replaces it on Panel's state object


def test_prerendering_runs_no_onload_callback(monkeypatch, onload_runner_restored):
    private_panel.prerender_without_onload()
    doc, ran = _unloaded_document(monkeypatch), []
    with set_curdoc(doc):
        pn.state.onload(lambda: ran.append(True))
        state._on_load(None)
    assert ran == []


def _fake_browser(monkeypatch, worker: types.ModuleType) -> None:
    """Panel's worker module and Pyodide's `js` and `pyodide.ffi` as the browser has them, simplified."""
    js = types.ModuleType("js")
    js.Map = types.SimpleNamespace(new=lambda entries: dict(entries))
    js.Object = types.SimpleNamespace(entries=lambda obj: list(obj.items()))
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda value, dict_converter=None: value if dict_converter is None else ("js", value, dict_converter)
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi
    for name, module in (("js", js), ("pyodide", pyodide), ("pyodide.ffi", ffi), (private_panel.WORKER_MODULE, worker)):
        monkeypatch.setitem(sys.modules, name, module)


def _fake_worker_module() -> types.ModuleType:
    worker = types.ModuleType(private_panel.WORKER_MODULE)
    worker._process_document_events = lambda doc, events: ({"events": events}, {"b1": "buffer"})
    worker._dict_converter = "undefinedToNull"
    return worker


def test_the_worker_patch_goes_through_panels_serializer(monkeypatch):
    _fake_browser(monkeypatch, _fake_worker_module())
    patch, buffers = private_panel.worker_patch(Document(), ["event"])
    assert patch == ("js", {"events": ["event"]}, "undefinedToNull")
    assert buffers == {"b1": "buffer"}  # a JS Map of the buffers


def test_the_treemap_hook_finds_the_source_holoviews_drew():
    hv.extension("bokeh", logo=False)
    found = []
    rectangles = hv.Rectangles([(0, 0, 1, 1), (1, 0, 2, 2)]).opts(
        hooks=[lambda plot, _element: found.append(private_holoviews.drawn_source(plot))])
    figure = hv.render(rectangles)
    assert len(found) == 1 and isinstance(found[0], ColumnDataSource)
    assert found[0] is figure.renderers[0].data_source


def test_an_update_to_a_tab_that_closed_between_frames_stops_without_raising(monkeypatch):
    import panel.io.document as document
    from bokeh.protocol import Protocol

    monkeypatch.setattr(document, "dispatch_tornado", document.dispatch_tornado)  # restored afterwards
    private_panel.write_until_the_tab_closes()

    class TornadoConnection:  # what a tornado WebSocketHandler writes through
        closing, written = False, []

        def is_closing(self) -> bool:
            return self.closing

        def write_message(self, frame, binary=False):
            self.written.append(frame)
            self.closing = True  # the tab closed during the first frame
            return "future of the first frame"

    socket = TornadoConnection()
    message = Protocol().create("ACK")
    sent = document.dispatch_tornado(types.SimpleNamespace(_socket=types.SimpleNamespace(ws_connection=socket)),
                                     msg=message)
    assert sent == ["future of the first frame"]  # Panel awaits it (and logs one line if it failed)
    assert socket.written == [message.header_json]


def test_a_link_value_beyond_pythons_int_digits_reaches_the_app_as_text(monkeypatch):
    import panel.io.location as location

    monkeypatch.setattr(location, "parse_query", location.parse_query)  # restored afterwards
    private_panel.read_long_numbers_in_links()
    long = "9" * (sys.get_int_max_str_digits() + 1)
    assert location.Location(search=f"?a=1&tp={long}&b=x").query_params == {"a": 1, "tp": long, "b": "x"}


def test_a_connection_bokehs_keep_alive_let_go_closes_without_raising(monkeypatch):
    from bokeh.server.views.ws import WSHandler

    for name in ("on_close", "on_message"):
        monkeypatch.setattr(WSHandler, name, getattr(WSHandler, name))  # restored afterwards
    private_bokeh.end_lost_connections_quietly()
    lost = types.SimpleNamespace(connection=types.SimpleNamespace(_session=None), close_code=None, close_reason=None)
    WSHandler.on_close(lost)  # Bokeh's own asserted that the connection still had its session
    asyncio.run(WSHandler.on_message(lost, "a patch sent as the tab closed"))  # dropped, not handled
    closed = []
    session = types.SimpleNamespace(notify_connection_lost=lambda: closed.append("session told"))
    live = types.SimpleNamespace(connection=types.SimpleNamespace(_session=session, session=session),
                                 close_code=1001, close_reason=None,
                                 application=types.SimpleNamespace(client_lost=lambda _: closed.append("client lost")))
    WSHandler.on_close(live)
    assert closed == ["session told", "client lost"]


# --- (b) each wrapper fails loudly when an upgrade drops what it uses


@pytest.mark.parametrize("name", ["_debounce", "_change_event"])
def test_a_widget_without_panels_change_handling_fails_loudly(monkeypatch, name):
    monkeypatch.delattr(Syncable, name)
    for call in (private_panel.check, lambda: respond_at_once(pn.widgets.IntInput())):
        with pytest.raises(PrivateAPIMissing, match=_loudly("panel", f"panel.reactive.Syncable.{name}")):
            call()


@pytest.mark.parametrize(("owner", "name"), [(HTMLBasePane, "_update"), (Syncable, "_get_properties")])
def test_live_html_without_panels_update_fails_loudly(monkeypatch, owner, name):
    monkeypatch.delattr(owner, name)
    with pytest.raises(PrivateAPIMissing, match=_loudly("panel", f"{owner.__module__}.{owner.__qualname__}.{name}")):
        private_panel.check()


@pytest.mark.parametrize(("name", "use"), [
    ("_on_load", private_panel.prerender_without_onload),
    ("_schedule_on_load", lambda: private_panel.run_onload_when_ready(Document())),
])
def test_the_onload_wrappers_fail_loudly_without_panels_onload_runners(monkeypatch, name, use):
    monkeypatch.delattr(type(state), name)
    for call in (private_panel.check, use):
        with pytest.raises(PrivateAPIMissing, match=_loudly("panel", f"panel.io.state._state.{name}")):
            call()


def test_prerendering_fails_loudly_when_panel_convert_stops_running_onload_there(monkeypatch):
    from panel.io import convert

    monkeypatch.setattr(convert, "script_to_html", lambda *args, **kwargs: None)
    with pytest.raises(PrivateAPIMissing, match=_loudly("panel", "call of state._on_load")):
        private_panel.prerender_without_onload()


@pytest.mark.parametrize(("module", "name", "use"), [
    ("panel.io.location", "parse_query", private_panel.read_long_numbers_in_links),
    ("panel.io.document", "dispatch_tornado", private_panel.write_until_the_tab_closes),
])
def test_the_link_and_websocket_wrappers_fail_loudly_without_panels_functions(monkeypatch, module, name, use):
    monkeypatch.delattr(sys.modules[module], name)
    for call in (private_panel.check, use):
        with pytest.raises(PrivateAPIMissing, match=_loudly("panel", f"{module}.{name}")):
            call()


def test_the_lost_connection_wrapper_fails_loudly_when_bokeh_stops_clearing_the_session(monkeypatch):
    from bokeh.server.connection import ServerConnection

    monkeypatch.setattr(ServerConnection, "detach_session", lambda self: None)
    with pytest.raises(PrivateAPIMissing, match=_loudly("bokeh", "ServerConnection._session")):
        private_bokeh.end_lost_connections_quietly()


@pytest.mark.parametrize("name", ["_process_document_events", "_dict_converter"])
def test_the_worker_link_without_panels_serializer_fails_loudly(monkeypatch, name):
    worker = _fake_worker_module()
    _fake_browser(monkeypatch, worker)
    monkeypatch.delattr(worker, name)
    for call in (private_panel.check, lambda: private_panel.worker_patch(Document(), [])):
        with pytest.raises(PrivateAPIMissing, match=_loudly("panel", f"{private_panel.WORKER_MODULE}.{name}")):
            call()


@pytest.mark.parametrize("name", ["freeze", "invalidate", "recompute"])
def test_lazy_freeze_without_bokehs_model_manager_methods_fails_loudly(monkeypatch, name):
    monkeypatch.delattr(DocumentModelManager, name)
    with pytest.raises(PrivateAPIMissing, match=_loudly("bokeh", f"bokeh.document.models.DocumentModelManager.{name}")):
        private_bokeh.check()


def test_lazy_freeze_fails_loudly_when_bokeh_stops_reporting_new_references(monkeypatch):
    # A property set that no longer calls `invalidate`: without the check, models would go stale.
    monkeypatch.setattr(Model, "trigger", lambda self, attr, old, new, hint=None, setter=None:
                        super(Model, self).trigger(self.lookup(attr).name, old, new, hint=hint, setter=setter))
    with pytest.raises(PrivateAPIMissing, match=_loudly("bokeh", "call of DocumentModelManager.invalidate")):
        private_bokeh.check()


@pytest.mark.parametrize(("plot", "what"), [(types.SimpleNamespace(), "handles"),
                                            (types.SimpleNamespace(handles={"cds": None}), 'handles["source"]')])
def test_the_treemap_hook_without_holoviews_source_handle_fails_loudly(plot, what):
    with pytest.raises(PrivateAPIMissing, match=_loudly("holoviews", f"types.SimpleNamespace.{what}")):
        private_holoviews.drawn_source(plot)


# --- the Pyodide and emscripten internals of the snapshot (JavaScript)


def _snapshot_sections() -> tuple[str, str]:
    """snapshot.js split into its internals section and the rest."""
    source = SNAPSHOT_JS.read_text(encoding="utf-8")
    start, end = source.index(INTERNALS_START), source.index(INTERNALS_END)
    return source[start:end], source[:start] + source[end:]


def _snapshot_internals(table: str = "SNAP_INTERNALS") -> list[tuple[str, str]]:
    """The (path, type) pairs of one of the check's tables."""
    internals, _rest = _snapshot_sections()
    start = internals.index(f"const {table} = ")
    return re.findall(r'\["([\w.]+)", "(\w+)"\]', internals[start:internals.index("];", start)])


INTERNAL_NAMES = ("Mod.", "LDSO", "wasmTable", "HEAP8", "HEAPU32", "_createPyodideModule", "_makeSnapshot",
                  "_loadSnapshot", "_snapshotDeserializer", "makeMemorySnapshot", "loadedPackages", "GOT.mem",
                  "__memory_base", "__table_base", "Suspending", ".API.", "usedBytes", "loadDynamicLibrary")


def test_the_snapshot_uses_pyodide_internals_only_in_its_marked_section():
    internals, rest = _snapshot_sections()
    worker_start = (PACKAGE / "browser" / "templates" / "worker_start.js").read_text(encoding="utf-8")
    for name in INTERNAL_NAMES:
        assert name in internals, name  # the list is still about this code
        assert name not in rest, f"snapshot.js uses {name} outside its internals section"
        assert name not in worker_start, f"worker_start.js uses {name}: move it into snapshot.js's internals section"


def test_the_snapshot_internals_are_written_for_the_pinned_pyodide():
    internals, _rest = _snapshot_sections()
    assert f'const SNAP_PYODIDE = "{pins.PYODIDE_VERSION}";' in internals
    assert INTERNALS_START.startswith(f"PYODIDE {pins.PYODIDE_VERSION} ")


NODE_BOOT = """
const vm = require("vm"), path = require("path");
const [source, core] = process.argv.slice(1);
globalThis.self = globalThis;
vm.runInThisContext("const MEMVIZ_SNAPSHOT_KEY = 'test';\\n" + source + `
(async () => {
  const {loadPyodide} = require(path.join(core, "pyodide.js"));
  require(path.join(core, "pyodide.asm.js"));
  snapInstallFactoryHook();  // checks the module as the worker does
  await loadPyodide(snapBootOptions({indexURL: core + "/"}));
  if (!SNAP.unusable) snapCheckInternals(SNAP.Mod, true);
  console.log(SNAP.unusable ? SNAP.unusable.message : "ok");
})().catch((e) => { console.log(String(e)); });
`);
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node (the static build's npm brings it)")
    return node


def test_the_pinned_pyodide_has_every_internal_the_snapshot_checks():
    cache = ROOT / "build_cache"
    with fetch.cache_lock(cache):  # the pinned core, as `memviz build` fetches it (once, into build_cache/)
        core = fetch.pyodide_core(cache)
    source = SNAPSHOT_JS.read_text(encoding="utf-8")
    done = subprocess.run([_node(), "-e", NODE_BOOT, source, str(core)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1:] == ["ok"], done.stdout + done.stderr


NODE_CHECK = """
const vm = require("vm");
vm.runInThisContext("const MEMVIZ_SNAPSHOT_KEY = 'test'; globalThis.self = globalThis;\\n" + process.argv[1]);
const typed = {string: "0.27.7", function: () => {}, object: {}};
function fakeModule(drop) {
  const Mod = {};
  for (const [path, type] of SNAP_INTERNALS.concat(SNAP_INTERNALS_BOOTED)) {
    if (path === drop) continue;
    const keys = path.split("."), last = keys.pop();
    let at = Mod;
    for (const key of keys) at = at[key] = at[key] || {};
    at[last] = typed[type];
  }
  return Mod;
}
const outcome = (Mod, booted) => {
  try { snapCheckInternals(Mod, booted); return "ok"; } catch (e) { return e.message; }
};
const results = {complete: outcome(fakeModule(null), false), booted: outcome(fakeModule(null), true)};
for (const [path] of SNAP_INTERNALS) results[path] = outcome(fakeModule(path), false);
for (const [path] of SNAP_INTERNALS_BOOTED) results[path] = outcome(fakeModule(path), true);
const older = fakeModule(null);
older.API.version = "0.26.4";
results.version = outcome(older);
console.log(JSON.stringify(results));
"""


def test_the_snapshot_check_names_each_missing_internal_and_the_version():
    source = SNAPSHOT_JS.read_text(encoding="utf-8")
    done = subprocess.run([_node(), "-e", NODE_CHECK, source], capture_output=True, text=True, check=True, timeout=60)
    results = json.loads(done.stdout)
    assert results.pop("complete") == results.pop("booted") == "ok"
    assert "Pyodide 0.26.4 lacks the version the snapshot code was written for (0.27.7)" in results.pop("version")
    every = _snapshot_internals() + _snapshot_internals("SNAP_INTERNALS_BOOTED")
    assert set(results) == {path for path, _type in every}
    for path, message in results.items():
        assert message.startswith("memviz snapshot: Pyodide") and f"Module.{path}" in message, (path, message)


# --- no private API outside the wrappers

# (pattern, where it may appear): Panel's, Bokeh's, HoloViews' and param's private names memviz used.
PRIVATE_USES = [
    (r"\._debounce\b", "private_panel.py"), (r"\._change_event\b", "private_panel.py"),
    (r"def _update\(", "private_panel.py"), (r"\._get_properties\(", "private_panel.py"),
    (r"\b_on_load\b", "private_panel.py"), (r"\b_schedule_on_load\b", "private_panel.py"),
    (r"\b_dict_converter\b", "private_panel.py"), (r"\b_process_document_events\b", "private_panel.py"),
    (r"\b_push_freeze\b|\b_pop_freeze\b|\b_freeze_count\b", None), (r"\.invalidate\b", "private_bokeh.py"),
    (r"\.handles\b", "private_holoviews.py"), (r"\._validate\b", None),
]


def test_no_private_api_is_used_outside_its_wrapper():
    sources = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    assert PACKAGE / "browser" / "templates" / "link.py" in sources
    found = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for pattern, home in PRIVATE_USES:
            if path.name != home and re.search(pattern, text):
                found.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert found == []
