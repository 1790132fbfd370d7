"""Every reliance on Bokeh's internals in memviz, checked against the installed Bokeh by `check()`.

Written against Bokeh 3.9.2. `refuse_unsendable_files` wraps BokehJS's private
`FileInputView.load_files` (the method that reads a chosen file and sets the model's value), so a
file too large for one websocket message is never read or sent. `lazy_freeze` uses only public
methods of the document's model
manager (`freeze`, `invalidate`, `recompute`), but relies on how Bokeh calls them: a property set
that adds or drops models calls `invalidate`, and the end of the outermost `freeze` calls
`recompute`. `check()` tries both on a small document. What Bokeh would need to offer publicly
instead: docs/upstream.md.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import bokeh
import panel as pn
from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.models import Column, Div

from .private_api import missing, require

TESTED = "3.9.2"
LAZY_FREEZE = "skip Bokeh's model-graph walk after a change that added or dropped no model"
LOST_CONNECTION = "end a served page's connection quietly when Bokeh's keep-alive ping already let it go"
UPLOAD_CHECK = "refuse an empty or oversized upload in the browser, before its bytes are read or sent"
WIDGETS_JS = Path(bokeh.__file__).parent / "server" / "static" / "js" / "bokeh-widgets.js"
# What the upload check relies on in BokehJS's FileInput (bokeh-widgets.js).
FILE_INPUT_SOURCE = ("class FileInputView", "async load_files(files)",
                     "this.model.setv({ value, filename, mime_type });", "_a.prototype.default_view = FileInputView;")
# The mime type the check sets instead of sending a file: `memviz-unread;size=N;n=K` (K counts refusals,
# so refusing the same file twice is still a change the server hears of).
UNREAD = "memviz-unread"
_REFUSE_JS = """
if (cb_obj === upload && cb_obj.value === "" && cb_obj.filename && !String(cb_obj.mime_type).startsWith(unread)) {
  // an empty file read before the check below was in place (the static site's status is live from the start)
  cb_obj.setv({mime_type: `${unread};size=0;n=${Date.now()}`})
}
const view = upload.constructor.prototype.default_view.prototype  // BokehJS's FileInputView
if (view.memvizChecked) { return }
view.memvizChecked = true
const load = view.load_files
let refusals = 0
view.load_files = async function (files) {
  const file = files.length == 1 ? files[0] : null
  if (file != null && (file.size == 0 || file.size > max_bytes)) {
    this.input_el.value = ""  // choosing the same file again is a change again
    refusals += 1
    this.model.setv({value: "", filename: file.name, mime_type: `${unread};size=${file.size};n=${refusals}`})
    return
  }
  return load.call(this, files)
}
"""


def refuse_unsendable_files(upload: pn.widgets.FileInput, trigger: pn.pane.HTML, max_bytes: int) -> None:
    """Once `trigger`'s `object` first changes in the browser (the page going live), make every FileInput
    refuse an empty file or one over `max_bytes` there: it sends only the name and size, as the mime type
    `UNREAD;size=N;n=K`, which `unread_size` reads. A 20 MiB file would otherwise exceed the websocket's
    message limit and silently end the session."""
    # `text`: the Bokeh property of an HTML pane's markup (a callback on `object` is never connected)
    args = {"upload": upload, "max_bytes": max_bytes, "unread": UNREAD}
    trigger.jscallback(args=args, text=_REFUSE_JS)
    upload.jscallback(args=args, mime_type=_REFUSE_JS)  # where `trigger` never changes in the browser


def unread_size(mime_type: str | None) -> int | None:
    """The size of a file the browser refused to send, or None for a file that was sent."""
    if not mime_type or not mime_type.startswith(UNREAD + ";"):
        return None
    fields = dict(part.split("=", 1) for part in mime_type.split(";")[1:] if "=" in part)
    return int(fields.get("size", "0"))


@contextlib.contextmanager
def lazy_freeze(doc: Document) -> Iterator[None]:
    """Defer Bokeh's model-graph recompute to the end, and skip it if nothing asked for one."""
    models = doc.models
    if "recompute" in vars(models):  # nested: the outer freeze decides
        yield
        return
    roots = list(doc.roots)
    dirty = False

    def invalidate() -> None:  # Bokeh calls this when a property set adds or drops models
        nonlocal dirty
        dirty = True

    def recompute() -> None:  # Bokeh calls this when the outermost freeze ends
        if dirty or list(doc.roots) != roots:
            DocumentModelManager.recompute(models)

    models.invalidate, models.recompute = invalidate, recompute
    frozen = models.freeze()
    frozen.__enter__()
    try:
        yield
    finally:
        del models.invalidate
        try:
            frozen.__exit__(None, None, None)  # thaws even after an error (Bokeh's own exit would not)
        finally:
            del models.recompute


def end_lost_connections_quietly() -> None:
    """A served page's websocket that Bokeh already let go of is closed without a traceback.

    Bokeh's keep-alive job pings every client; a ping to a tab that is closing raises, and the job
    detaches the connection from its session. Tornado then reports the close, and Bokeh's `on_close`
    asks the detached connection for its session: an AssertionError traceback in the log ("Uncaught
    exception GET /ws"), as does any message the tab sent meanwhile ("error handling message").
    Such a connection has nothing left to do: its close is logged as Bokeh logs any, and its last
    messages are dropped.
    """
    from bokeh.server.connection import ServerConnection
    from bokeh.server.views.ws import WSHandler

    on_close = require(WSHandler, "on_close", "bokeh", TESTED, LOST_CONNECTION)
    on_message = require(WSHandler, "on_message", "bokeh", TESTED, LOST_CONNECTION)
    if "self._session = None" not in inspect.getsource(require(ServerConnection, "detach_session", "bokeh", TESTED,
                                                                  LOST_CONNECTION)):
        raise missing("bokeh", TESTED, "ServerConnection._session (cleared by detach_session)", LOST_CONNECTION)
    if getattr(on_close, "memviz_quiet", False):
        return

    def lost(handler: WSHandler) -> bool:
        return handler.connection is not None and handler.connection._session is None

    def quiet_on_close(self: WSHandler) -> None:
        if not lost(self):
            on_close(self)
            return
        logging.getLogger(WSHandler.__module__).info(
            "WebSocket connection closed: code=%s, reason=%r", self.close_code, self.close_reason)

    async def quiet_on_message(self: WSHandler, fragment: str | bytes) -> None:
        if not lost(self):
            await on_message(self, fragment)

    quiet_on_close.memviz_quiet = True
    WSHandler.on_close, WSHandler.on_message = quiet_on_close, quiet_on_message


def check() -> None:
    """Raise PrivateAPIMissing if the installed Bokeh no longer works the way `lazy_freeze` and the upload
    check need."""
    # BokehJS ships with the Python package; the static site's Pyodide copy leaves it out (the page
    # loads its own copy, the one the build checked here).
    source = WIDGETS_JS.read_text(encoding="utf-8") if WIDGETS_JS.exists() else None
    for needed in FILE_INPUT_SOURCE if source is not None else ():
        if needed not in source:
            raise missing("bokeh", TESTED, f"BokehJS FileInput: {needed}", UPLOAD_CHECK)
    for name in ("freeze", "invalidate", "recompute"):
        require(DocumentModelManager, name, "bokeh", TESTED, LAZY_FREEZE)
    doc = Document()
    column = Column(children=[])
    doc.add_root(column)
    models, calls = doc.models, []
    models.invalidate, models.recompute = (lambda: calls.append("invalidate")), (lambda: calls.append("recompute"))
    try:
        column.children = [Div()]
        with models.freeze():
            pass
    finally:
        del models.invalidate, models.recompute
    for call, when in (("invalidate", "when a property set adds a model"), ("recompute", "when a freeze ends")):
        if call not in calls:
            raise missing("bokeh", TESTED, f"call of DocumentModelManager.{call} {when}", LAZY_FREEZE)
