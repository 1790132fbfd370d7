"""Every use of Panel's private API in memviz, each checked against the installed Panel by `check()`.

Written against Panel 1.9.4. What Panel would need to offer publicly instead: docs/upstream.md.
The app, the static-site build (`prerender_without_onload`) and the browser worker
(`worker_patch`, `run_onload_when_ready`, from browser/templates/link.py) all go through here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import json
import sys
import urllib.parse
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import panel as pn
import panel.io.document
import panel.io.location
from bokeh.document import Document
from panel.io.state import state
from panel.pane.markup import HTMLBasePane
from panel.reactive import Syncable

from .private_api import missing, require

TESTED = "1.9.4"
# Panel's worker-side link; it imports `js`, so outside the browser it is read, not imported.
WORKER_MODULE = "panel.io.pyodide"

NO_DEBOUNCE = "handle a widget's browser change without Panel's 50 ms debounce"
ONE_BATCH = "handle a widget's browser change inside one batch (one message, no model-graph walk)"
NO_STYLESHEETS = "update an HTML pane without re-sending its stylesheets"
NO_PRERENDER_ONLOAD = "pre-render the static site's page as it is before onload callbacks run"
WORKER_ONLOAD = "run the app's onload callbacks in the browser worker once the page is ready"
WORKER_PATCH = "post one patch per Python task from the browser worker to the page"
CLOSED_TAB = "send a served page's update without a traceback when its tab has just closed"
LONG_LINK_VALUES = "read a link with a value of more digits than Python converts to an int"


def _require(owner: Any, name: str, purpose: str) -> Any:
    return require(owner, name, "panel", TESTED, purpose)


def _require_defined_on(owner: type, name: str, purpose: str) -> None:
    # An override only takes effect while Panel still defines (and so calls) the method there.
    if name not in vars(owner):
        raise missing("panel", TESTED, f"{owner.__module__}.{owner.__qualname__}.{name}", purpose)


def handle_changes_at_once(component: Syncable, around: Callable[[Document], AbstractContextManager]) -> None:
    """Panel handles `component`'s browser changes with no debounce, each inside `around(doc)`."""
    # Set on an instance, a renamed class attribute would be created silently: check the class.
    _require(Syncable, "_debounce", NO_DEBOUNCE)
    _require(Syncable, "_change_event", ONE_BATCH)
    handle = component._change_event
    component._debounce = 0  # events arriving while one is handled still merge (Panel's queue)

    def held(doc: Document) -> None:
        with around(doc):
            handle(doc)

    component._change_event = held


class LiveHTML(pn.pane.HTML):
    """An HTML pane whose updates send only the new markup.

    Panel's HTML pane re-sends its stylesheets with every new object; they are Bokeh models, so
    every update made Bokeh re-walk the page's whole model graph (~35 ms here, several times per
    change). Stylesheet changes still arrive through the `stylesheets` parameter itself.
    """

    def _update(self, ref: str, model) -> None:  # Panel's HTMLBasePane._update without the stylesheets
        if self.enable_streaming:  # Panel's streaming branch sends a text patch event: Panel's own
            super()._update(ref, model)
            return
        props = self._get_properties(model.document)
        props.pop("stylesheets", None)
        model.update(**props)


def prerender_without_onload() -> None:
    """Make `panel convert` pre-render the document as it is before onload callbacks run.

    For the build's conversion process only: onload callbacks then never run in this process.
    """
    from panel.io import convert

    _require(state, "_on_load", NO_PRERENDER_ONLOAD)
    if "state._on_load(" not in inspect.getsource(convert.script_to_html):
        raise missing("panel", TESTED, "call of state._on_load in panel.io.convert.script_to_html", NO_PRERENDER_ONLOAD)
    state._on_load = lambda *args, **kwargs: None


def run_onload_when_ready(doc: Document) -> None:
    """Run the app's onload callbacks when the page reports `doc` ready, as Panel's worker link does."""
    doc.on_event("document_ready", functools.partial(_require(state, "_schedule_on_load", WORKER_ONLOAD), doc))


def worker_patch(doc: Document, events: list) -> tuple[Any, Any]:
    """`events` as Panel's worker link posts them to the page: (patch, buffers), as JS objects. Browser only."""
    import js
    import pyodide.ffi

    worker = importlib.import_module(WORKER_MODULE)
    serialize = _require(worker, "_process_document_events", WORKER_PATCH)
    undefined_to_null = _require(worker, "_dict_converter", WORKER_PATCH)
    patch, buffer_map = serialize(doc, events)
    buffers = js.Map.new(js.Object.entries(pyodide.ffi.to_js(buffer_map)))
    return pyodide.ffi.to_js(patch, dict_converter=undefined_to_null), buffers


def worker_module_names() -> set[str]:
    """The top-level names of Panel's worker module: from the module where it is loaded, else its source."""
    module = sys.modules.get(WORKER_MODULE)
    if module is None and sys.platform == "emscripten":
        module = importlib.import_module(WORKER_MODULE)
    if module is not None:
        return set(vars(module))
    tree = ast.parse(Path(importlib.util.find_spec(WORKER_MODULE).origin).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def read_long_numbers_in_links() -> None:
    """Panel's Location keeps a link value of more digits than Python's int() takes as text.

    Panel parses the query on every change of the link (each read of `query_params`) and turns
    each all-digit value into an int; Python refuses 4300+ digits (a guard against slow
    conversions), so a link such as `?tp=<5000 digits>` raised in Panel before the app could
    refuse the value by name: the served page showed nothing useful, and under Pyodide the link
    never reached the app and every later change of the link raised. Kept as text, the value
    reaches url_state, which refuses it with the key's name.
    """
    parse = _require(panel.io.location, "parse_query", LONG_LINK_VALUES)
    if getattr(parse, "memviz_reads_long_numbers", False):
        return

    def parse_keeping_long_numbers(query: str) -> dict[str, Any]:
        limit = sys.get_int_max_str_digits()
        values = dict(urllib.parse.parse_qsl(query[1:]))
        long = {k: v for k, v in values.items() if limit and len(v) > limit}
        if not long:
            return parse(query)
        rest = {k: v for k, v in values.items() if k not in long}
        return {**parse("?" + urllib.parse.urlencode(rest)), **long}

    parse_keeping_long_numbers.memviz_reads_long_numbers = True
    panel.io.location.parse_query = parse_keeping_long_numbers


def write_until_the_tab_closes() -> None:
    """Panel sends a served page's updates frame by frame, and stops quietly when the tab closed meanwhile.

    Panel's `dispatch_tornado` checks once that the websocket is open, then writes a message's
    3+ frames in one expression. When the tab closes during an update (the first write finds the
    stream closed), the next write raises WebSocketClosedError: the futures already made are lost
    (asyncio logs "Task exception was never retrieved" with a traceback for each) and the error
    escapes Panel's write task (another traceback). Written one at a time, the frames stop at the
    first refusal, and Panel awaits those already written, logging its one-line "Failed sending
    message as connection was closed" as Bokeh itself does.
    """
    from tornado.websocket import WebSocketClosedError, WebSocketHandler

    _require(panel.io.document, "dispatch_tornado", CLOSED_TAB)

    def dispatch(conn, events=None, msg=None) -> list:
        socket = conn._socket
        websocket = getattr(socket, "ws_connection", None)
        if not websocket or websocket.is_closing() or (msg is None and not events):
            return []
        msg = msg or conn.protocol.create("PATCH-DOC", events)
        frames = [(msg.header_json, False), (msg.metadata_json, False), (msg.content_json, False)]
        for buffer in msg.buffers:
            frames += [(json.dumps(buffer.ref), False), (buffer.to_bytes(), True)]
        futures = []
        for frame, binary in frames:
            try:
                futures.append(WebSocketHandler.write_message(socket, frame, binary=binary))
            except WebSocketClosedError:  # closed between two frames: the rest cannot arrive either
                break
        return futures

    panel.io.document.dispatch_tornado = dispatch


def check() -> None:
    """Raise PrivateAPIMissing if the installed Panel lacks a private API this module uses."""
    _require(Syncable, "_debounce", NO_DEBOUNCE)
    _require(Syncable, "_change_event", ONE_BATCH)
    _require_defined_on(HTMLBasePane, "_update", NO_STYLESHEETS)
    _require(Syncable, "_get_properties", NO_STYLESHEETS)
    _require(state, "_on_load", NO_PRERENDER_ONLOAD)
    _require(state, "_schedule_on_load", WORKER_ONLOAD)
    _require(panel.io.location, "parse_query", LONG_LINK_VALUES)
    _require(panel.io.document, "dispatch_tornado", CLOSED_TAB)
    names = worker_module_names()
    for name in ("_process_document_events", "_dict_converter"):
        if name not in names:
            raise missing("panel", TESTED, f"{WORKER_MODULE}.{name}", WORKER_PATCH)
