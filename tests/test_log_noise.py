"""The page loads without noise in the server log: no Bokeh validation warning, no traceback for a hostile link."""

from __future__ import annotations

import pytest
from bokeh.core.validation import check_integrity
from bokeh.document import Document

from viz_app.app import configure_process, create_app
from viz_app.session import ANALYTIC, GALVATRON, Session


@pytest.mark.parametrize("mode", [GALVATRON, ANALYTIC])
def test_no_bokeh_validation_warning(mode):
    """W-1005 FIXED_SIZING_MODE (a fixed-size pane without a height) was logged on every page load."""
    configure_process()
    doc = Document()
    create_app(Session(mode=mode)).server_doc(doc)
    issues = check_integrity(list(doc.models))
    assert [(w.code, w.name) for w in issues.warning + issues.error] == []


def test_a_link_panel_cannot_parse_gets_a_message_and_the_defaults(monkeypatch):
    """Panel turns every all-digit link value into an int; Python refuses 4300+ digits, so reading
    `pn.state.location` raises for such a link, and the page would never go live."""
    import panel as pn
    from panel.util import parse_query

    from viz_app.app import connect_location
    from viz_app.view import View

    with pytest.raises(ValueError, match="4300 digits"):
        parse_query("?seq=" + "9" * 5000)

    def unreadable(_state):
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    monkeypatch.setattr(type(pn.state), "location", property(unreadable))
    session = Session()
    before = session.config.values()
    connect_location(session, View())
    assert (session.message.kind, session.message.key) == ("error", "msg.url_unreadable")
    assert session.config.values() == before
