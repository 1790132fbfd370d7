"""One change, one message: hold the page's events while a change fans out to every chart.

Panel's `hold(freeze=True)` makes Bokeh re-walk the page's whole model graph when it exits,
and HoloViews does the same after each plot update (`hold_render`). That walk (~35 ms for the
~440 models here, ~2x that under Pyodide) is needed only when a model reference changed; a
redraw that only swaps data changes none. `lazy_freeze` (private_bokeh) recomputes only if
Bokeh asked for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import panel as pn
from bokeh.document import Document
from panel.reactive import Reactive

from .private_bokeh import lazy_freeze
from .private_panel import handle_changes_at_once


@contextlib.contextmanager
def batch(doc: Document | None = None) -> Iterator[None]:
    """Panel's hold (one message to the browser) around a lazy freeze of the (current) document."""
    doc = doc or pn.state.curdoc
    if doc is None:
        yield
        return
    with pn.io.hold(doc), lazy_freeze(doc):
        yield


def respond_at_once(widget: Reactive) -> Reactive:
    """Handle the widget's browser changes at once and as one batch; returns the widget.

    `panel serve` waits 50 ms (Panel's debounce) before it handles a widget change, then sends
    each resulting model change in its own message, so the sidebar's coupled values and warnings
    flicker through intermediate states. Composite widgets' inner parts are covered too.
    """
    for part in widget.select(Reactive):
        handle_changes_at_once(part, batch)
    return widget
