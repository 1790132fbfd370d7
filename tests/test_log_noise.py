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


def test_a_link_value_of_5000_digits_is_refused_by_name_and_nothing_applies():
    """Panel turns every all-digit link value into an int, and Python refuses 4300+ digits: Panel's
    Location raised on reading such a link (served) or on each change of it (Pyodide), before the
    app could name the value. configure_process makes Panel keep it as text."""
    from panel.io.location import Location
    from panel.util import parse_query

    from viz_app.app import configure_process
    from viz_app.url_state import parse_query as parse_link
    from viz_app.url_state import restore
    from viz_app.view import View

    with pytest.raises(ValueError, match="4300 digits"):
        parse_query("?tp=" + "9" * 5000)
    configure_process()
    search = "?pp=2&tp=" + "9" * 5000
    location = Location(search=search)  # Panel parses it as it does a served page's request
    assert location.query_params == {"pp": 2, "tp": "9" * 5000}
    location.update_query(dp=2)  # what each later change of the page does
    assert location.query_params == {"pp": 2, "tp": "9" * 5000, "dp": 2}
    session = Session()
    before = session.config.values()
    refused = restore(session, View(), {"tp": "9" * 5000})
    assert [r.values["name"] for r in refused] == ["tp"]
    assert session.config.values() == before
    assert parse_link(search)["tp"] == "9" * 5000
