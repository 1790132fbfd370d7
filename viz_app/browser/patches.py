"""One patch per redraw: drop the document events a patch would carry twice.

HoloViews updates a chart's data source, then sets each style-mapped column again (the treemap's
colours and tooltips, the labels' ink, size and weight), and flips `hold_render` on and off. Each
of those is an event; sent as they are, the page applies the treemap's data three times and its
labels four times per change (measured in the static site, where the worker serializes them too).
"""

from __future__ import annotations

from bokeh.document.events import (
    ColumnDataChangedEvent,
    ColumnsPatchedEvent,
    ColumnsStreamedEvent,
    DocumentChangedEvent,
    ModelChangedEvent,
)


def coalesce(events: list[DocumentChangedEvent]) -> list[DocumentChangedEvent]:
    """`events` without repeats, in order: what the page needs to reach the same state.

    A column-data change that carries no data of its own is serialized from the source's current
    columns, so one per source covers every column any of them named. Not when the same source
    also streams or patches in the batch: there the order of the updates matters.
    """
    appended = {id(e.model) for e in events if isinstance(e, (ColumnsStreamedEvent, ColumnsPatchedEvent))}
    kept: list[DocumentChangedEvent] = []
    columns: dict[tuple[int, str], ColumnDataChangedEvent] = {}
    changes: dict[tuple[int, str], ModelChangedEvent] = {}
    for event in events:
        if isinstance(event, ColumnDataChangedEvent) and event.data is None and id(event.model) not in appended:
            first = columns.setdefault((id(event.model), event.attr), event)
            if first is not event:
                first.cols = None if first.cols is None or event.cols is None else \
                    first.cols + [c for c in event.cols if c not in first.cols]
                continue
        elif isinstance(event, ModelChangedEvent):
            first = changes.setdefault((id(event.model), event.attr), event)
            if first is not event and first.combine(event):  # Bokeh's own rule: the last value wins
                continue
        kept.append(event)
    return kept
