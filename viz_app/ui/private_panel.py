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
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import panel as pn
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


def check() -> None:
    """Raise PrivateAPIMissing if the installed Panel lacks a private API this module uses."""
    _require(Syncable, "_debounce", NO_DEBOUNCE)
    _require(Syncable, "_change_event", ONE_BATCH)
    _require_defined_on(HTMLBasePane, "_update", NO_STYLESHEETS)
    _require(Syncable, "_get_properties", NO_STYLESHEETS)
    _require(state, "_on_load", NO_PRERENDER_ONLOAD)
    _require(state, "_schedule_on_load", WORKER_ONLOAD)
    names = worker_module_names()
    for name in ("_process_document_events", "_dict_converter"):
        if name not in names:
            raise missing("panel", TESTED, f"{WORKER_MODULE}.{name}", WORKER_PATCH)
