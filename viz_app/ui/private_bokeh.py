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
