"""The worker's side of the page link (run in the browser): one patch per Python task.

Panel's `_link_docs_worker` posts every document change to the page as its own patch, so one
redraw arrived as ~15 messages over ~80 ms and BokehJS re-rendered after each. Here the changes
made by one task (a widget event, a deferred chart update) are collected and posted together
when it finishes, as `panel serve` does with a held document, without repeats (browser/patches.py).
"""

import asyncio

from bokeh.events import DocumentReady

from viz_app.browser.patches import coalesce
from viz_app.ui.private_panel import run_onload_when_ready, worker_patch


def memviz_link_docs(doc, dispatch_fn, setter="js"):
    """Link `doc` to the page: its changes go to `dispatch_fn` as one patch per task."""
    pending = []

    def flush():
        events = coalesce(pending)
        pending.clear()
        patch, buffers = worker_patch(doc, events)
        dispatch_fn(patch, buffers, None)

    def collect(event):
        if getattr(event, "setter", None) == setter:  # the page's own change, echoed back
            return
        if not pending:
            asyncio.get_event_loop().call_soon(flush)
        pending.append(event)

    doc.on_change(collect)
    doc.unhold()
    run_onload_when_ready(doc)
    doc.callbacks.trigger_event(DocumentReady())
