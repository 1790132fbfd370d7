"""The app builds and renders to Bokeh models without a browser, and reacts to its parameters."""

import panel as pn
import pytest

from viz_app.app import create_app
from viz_app.session import Session
from viz_app.ui.results import Results
from viz_app.ui.sidebar import Sidebar
from viz_app.view import View


@pytest.fixture
def session() -> Session:
    return Session()


def test_whole_page_renders(session):
    template = create_app(session, View())
    for area in (template.sidebar, template.main, template.header):
        for item in area:
            pn.panel(item).get_root()


def test_views_render_every_tab_and_language(session):
    view = View()
    root = Results(session, view).__panel__()
    root.get_root()
    for lang in ("zh", "en"):
        view.lang = lang
        for tab in ("bars", "proportion", "donut"):
            view.tab = tab
        view.drill = True
        view.unit = "GiB"
    Sidebar(session, view.param.lang).__panel__().get_root()


def test_pipeline_and_tp_changes_keep_a_valid_estimate(session):
    pn.panel(Results(session, View())).get_root()
    session.config.pp = 4
    assert len(session.estimate.stages) == 4
    session.config.stage = 3
    session.config.pp = 2
    assert session.config.stage == 1
    session.config.tp = 4
    assert session.problem == ""
    assert session.estimate.peak_stage.total_mib > 0


def test_sequence_parallel_off_with_an_sp_only_profile_reports_and_keeps_the_estimate(session):
    from viz_app.ui.sidebar import Sidebar

    pn.Column(Sidebar(session, View().param.lang)).get_root()
    before = session.estimate
    session.config.sequence_parallel = False
    assert "sequence parallel only" in session.problem
    assert session.estimate is before and session.config.tp == 8
    session.config.sequence_parallel = True
    assert session.problem == ""


def test_analytic_mode_renders_every_view_with_the_cli_numbers(session, capsys):
    import json

    from viz_app.cli import main

    view = View()
    pn.panel(Results(session, view)).get_root()
    Sidebar(session, view.param.lang).__panel__().get_root()
    session.model = "qwen2.5-7b"
    assert session.mode == "analytic" and session.problem == ""
    for tab in ("bars", "proportion", "donut", "formulas"):
        view.tab = tab
    assert main(["estimate", "--model", "qwen2.5-7b", "--tp", str(session.config.tp), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["peak_total_mib"]
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected, rel=1e-12)
    session.arch.num_attention_heads = 27  # no longer divisible by TP 4: reported, last estimate kept
    assert "does not divide" in session.problem
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected, rel=1e-12)


def test_formulas_table_lists_every_block_with_its_source(session):
    from viz_app.ui.results import _formulas_html

    table = _formulas_html(session.estimate, 0, "en", "MiB")
    for block in session.estimate.stages[0].blocks:
        assert block.source.split(",")[0] in table
    assert table.count("<tr>") == 1 + len([b for b in session.estimate.stages[0].blocks if b.mib > 0 or b.formula])
