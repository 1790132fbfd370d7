"""One patch per redraw (viz_app/browser/patches.py): fewer events, the same page state."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from bokeh.core.serialization import Serializer
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, DocumentPatchedEvent, ModelChangedEvent
from bokeh.document.json import PatchJson
from bokeh.models import ColumnDataSource, Markup, Range1d

from viz_app.app import configure_process, create_app
from viz_app.browser.patches import coalesce
from viz_app.session import Session
from viz_app.ui.batching import batch
from viz_app.view import View


def _as_bokehjs(doc: Document, event: ColumnDataChangedEvent) -> None:
    """BokehJS's rule for a column-data change (Bokeh's Python side ignores `cols`): the named
    columns replace the source's, the others stay."""
    data = dict(getattr(event.model, event.attr)) if event.cols is not None else {}
    event.model.set_from_json(event.attr, {**data, **event.data}, setter=event.setter)


@pytest.fixture(scope="module", autouse=True)
def app_process():
    configure_process()


@pytest.fixture(autouse=True)
def page_rules(monkeypatch):
    monkeypatch.setattr(ColumnDataChangedEvent, "_handle_event", staticmethod(_as_bokehjs))


def _page_after(before: dict, events: list) -> Document:
    """A copy of the document as the page had it, with `events` applied as one patch."""
    page = Document.from_json(before)
    page.apply_json_patch(PatchJson(events=Serializer(deferred=False).encode(events)))
    return page


def _state(doc: Document) -> dict:
    """Every data source's columns and every HTML model's text, comparable across documents."""
    state = {}
    for model in doc.models:
        if isinstance(model, ColumnDataSource):
            state[model.id] = {k: np.asarray(v).tolist() for k, v in model.data.items()}
        elif isinstance(model, Markup):
            state[model.id] = model.text
    return state


def _recorded(doc: Document) -> list:
    events = []
    doc.on_change(events.append)
    return events


def test_repeated_updates_of_a_source_and_a_property_become_one_each():
    doc = Document()
    source, x_range = ColumnDataSource({"x0": [0.0, 1.0], "tip": ["a", "b"], "color": ["#fff", "#000"]}), Range1d(0, 1)
    doc.add_root(source)
    doc.add_root(x_range)
    before = doc.to_json()
    events = _recorded(doc)
    # What HoloViews does to the treemap's source on a redraw, then its style-mapped columns again.
    source.data.update(x0=[2.0, 3.0, 4.0], tip=["c", "d", "e"], color=["#111", "#222", "#333"])
    source.data["tip"] = ["f", "g", "h"]
    source.data["color"] = ["#444", "#555", "#666"]
    x_range.end = 5
    x_range.end = 6
    merged = coalesce(list(events))
    assert [type(e) for e in merged] == [ColumnDataChangedEvent, ModelChangedEvent]
    assert set(merged[0].cols) == {"x0", "tip", "color"} and merged[1].new == 6
    assert _state(_page_after(before, merged)) == _state(_page_after(before, events)) == _state(doc)
    assert _state(doc)[source.id]["tip"] == ["f", "g", "h"]


@pytest.fixture
def linked_doc(monkeypatch) -> Document:
    """The current document, as in a linked page on one thread (else Panel defers or drops a hold's
    events); Panel's state is restored after the test."""
    doc = Document()
    monkeypatch.setattr(pn.state, "curdoc", doc)
    monkeypatch.setattr(pn.state, "_thread_id", pn.state._current_thread)
    monkeypatch.setitem(pn.state._connected, doc, True)
    return doc


def test_a_tp_change_in_the_app_reaches_the_same_page_state(linked_doc):
    doc = linked_doc
    session = Session()
    create_app(session, View()).server_doc(doc)
    before = doc.to_json()
    events = _recorded(doc)
    with batch(doc):
        session.config.tp = 4
    events = [e for e in events if isinstance(e, DocumentPatchedEvent)]
    merged = coalesce(list(events))
    assert any(isinstance(e, ColumnDataChangedEvent) for e in merged)
    assert _state(_page_after(before, merged)) == _state(_page_after(before, events)) == _state(doc)


def test_streamed_sources_keep_every_update_in_order():
    doc = Document()
    source = ColumnDataSource({"x": [1]})
    doc.add_root(source)
    events = _recorded(doc)
    source.data.update(x=[2])
    source.stream({"x": [3]})
    source.data.update(x=[4])
    assert coalesce(list(events)) == events


def test_the_linked_document_does_not_outlive_its_test():
    # Runs after the test that links one: Panel's current document is back to none.
    assert pn.state.curdoc is None
