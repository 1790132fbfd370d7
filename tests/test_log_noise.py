"""The page's Bokeh document validates cleanly: no warning in the server log on every page load."""

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
