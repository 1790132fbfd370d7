"""Every reliance on Bokeh's internals in memviz, checked against the installed Bokeh by `check()`.

Written against Bokeh 3.9.2. `lazy_freeze` uses only public methods of the document's model
manager (`freeze`, `invalidate`, `recompute`), but relies on how Bokeh calls them: a property set
that adds or drops models calls `invalidate`, and the end of the outermost `freeze` calls
`recompute`. `check()` tries both on a small document. What Bokeh would need to offer publicly
instead: docs/upstream.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.models import Column, Div

from .private_api import missing, require

TESTED = "3.9.2"
LAZY_FREEZE = "skip Bokeh's model-graph walk after a change that added or dropped no model"


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
    """Raise PrivateAPIMissing if the installed Bokeh no longer works the way `lazy_freeze` needs."""
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
