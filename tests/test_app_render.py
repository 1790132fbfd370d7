"""The app builds and renders to Bokeh models without a browser, and reacts to its parameters."""

import html
import json
import re

import panel as pn
import pytest
from bokeh.models import GlyphRenderer, Markup, Plot

from viz_app.app import configure_process, create_app
from viz_app.i18n import t
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.session import Session
from viz_app.ui.results import Results
from viz_app.ui.sidebar import Sidebar
from viz_app.view import View

# Each chart by the glyphs it draws: the treemap's rectangles and labels, the stages' bars with
# the GPU's capacity line, and each analysis tab's own chart.
TREEMAP = ("Quad", "Text")
STAGES = ("Quad", "Segment", "Text")
EXPLORER = ("Scatter",)  # the strategy explorer's points (its capacity line is a Span, not a glyph)
TAB_CHARTS = {"bars": [("HBar",)], "proportion": [("Quad", "Text")], "donut": [("MultiPolygons", "Text")],
              "formulas": [], "step": [("Quad", "Segment", "Text")]}


@pytest.fixture(scope="module", autouse=True)
def app_process():
    configure_process()


@pytest.fixture
def session() -> Session:
    return Session()


def _charts(*roots) -> list[tuple[str, ...]]:
    """The glyph types of each Bokeh plot under `roots`, sorted (a plot's fingerprint)."""
    return sorted(tuple(sorted({type(r.glyph).__name__ for r in plot.select({"type": GlyphRenderer})}))
                  for root in roots for plot in root.select({"type": Plot}))


def _markup(*roots) -> str:
    """The text of every HTML pane under `roots`, unescaped."""
    return "\n".join(html.unescape(m.text) for root in roots for m in root.select({"type": Markup}))


def _card_titles(markup: str) -> set[str]:
    return set(re.findall(r'class="memviz-card-title">([^<]*)<', markup))


def _total_mib(markup: str) -> float:
    return float(re.search(r'class="memviz-total" data-mib="([0-9.]+)"', markup).group(1))


def test_whole_page_renders(session, cli_json):
    template = create_app(session, View())
    roots = [pn.panel(item).get_root() for area in (template.sidebar, template.main, template.header) for item in area]
    assert _charts(*roots) == sorted([TREEMAP, STAGES, EXPLORER, *TAB_CHARTS["bars"]])
    assert {plot.output_backend for root in roots for plot in root.select({"type": Plot})} == {"canvas"}
    markup = _markup(*roots)
    sections = {t(key, "en") for key in ("section.model", "section.strategy", "section.batch", "section.training")}
    assert _card_titles(markup) == sections | {t("treemap.title", "en", stage=0), t("analysis.title", "en", stage=0),
                                               t("stages.title", "en"), t("compare.title", "en"),
                                               t("explore.title", "en", gpus=64)}
    assert _total_mib(markup) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], abs=1e-6)
    assert 'class="memviz-status" data-live="1"' in markup  # no served page: Panel runs onload at once


def test_views_render_every_tab_and_language(session):
    view = View()
    root = Results(session, view).__panel__().get_root()
    for lang in ("zh", "en"):
        view.lang = lang
        for tab, charts in TAB_CHARTS.items():
            view.tab = tab
            assert _charts(root) == sorted([TREEMAP, STAGES, EXPLORER, *charts]), (lang, tab)
            markup = _markup(root)
            assert ('class="memviz-formulas"' in markup) == (tab == "formulas")
            assert ('class="memviz-legend"' in markup) == (tab == "proportion")
            assert 'class="memviz-legend-groups"' in markup  # the treemap's colour legend, on every tab
        assert _card_titles(markup) == {t("treemap.title", lang, stage=0), t("analysis.title", lang, stage=0),
                                        t("stages.title", lang), t("explore.title", lang, gpus=64)}
        view.tab, view.drill = "donut", True  # the donut's model-states ring
        assert _charts(root) == sorted([TREEMAP, STAGES, EXPLORER, ("MultiPolygons", "Text")])
        view.unit, view.drill = "GiB", False
        assert re.search(r'class="memviz-total"[^>]*>[0-9.]+ GiB<', _markup(root))
        view.unit = "MiB"
    sidebar = Sidebar(session, view.param.lang).__panel__().get_root()
    assert {t(key, "en") for key in ("section.model", "section.strategy")} <= _card_titles(_markup(sidebar))


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
    pn.Column(Sidebar(session, View().param.lang)).get_root()
    before = session.estimate
    session.config.sequence_parallel = False
    assert "sequence parallel only" in session.problem
    assert session.estimate is before and session.config.tp == 8
    session.config.sequence_parallel = True
    assert session.problem == ""


def test_analytic_mode_renders_every_view_with_the_cli_numbers(session, capsys):
    from viz_app.cli import main

    view = View()
    root = pn.panel(Results(session, view)).get_root()
    Sidebar(session, view.param.lang).__panel__().get_root()
    session.model = "qwen2.5-7b"
    assert session.mode == "analytic" and session.problem == ""
    for tab, charts in TAB_CHARTS.items():
        view.tab = tab
        assert _charts(root) == sorted([TREEMAP, STAGES, EXPLORER, *charts]), tab
    assert main(["estimate", "--model", "qwen2.5-7b", "--tp", str(session.config.tp), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["peak_total_mib"]
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected, rel=1e-12)
    assert _total_mib(_markup(root)) == pytest.approx(expected, abs=1e-6)
    session.arch.num_attention_heads = 27  # no longer divisible by TP 4: reported, last estimate kept
    assert "does not divide" in session.problem
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected, rel=1e-12)
    assert _total_mib(_markup(root)) == pytest.approx(expected, abs=1e-6)


def test_formulas_table_lists_every_block_with_its_source(session):
    from viz_app.ui.results import _formulas_html

    table = _formulas_html(session.estimate, 0, "en", "MiB")
    for block in session.estimate.stages[0].blocks:
        assert block.source.split(",")[0] in table
    assert table.count("<tr>") == 1 + len([b for b in session.estimate.stages[0].blocks if b.mib > 0 or b.formula])


def test_the_entry_script_sets_up_the_process_before_it_builds_the_app():
    from pathlib import Path

    from viz_app.site.page import app_code

    entry = (Path(__file__).resolve().parent.parent / "viz_app" / "main.py").read_text(encoding="utf-8")
    assert entry.index("configure_process()") < entry.index("create_app()")
    # The static site's worker runs the entry, then freezes the built app's objects too.
    worker = app_code(entry)
    assert worker.index("configure_process()") < worker.index("create_app()") < worker.index("gc.freeze()")


def test_the_page_document_is_panels_own_built_with_one_graph_walk():
    """OwnOriginTemplate.server_doc defers Bokeh's model-graph walks to the end: the document has the
    same roots and models as Panel's own server_doc gives, and its graph is walked once, not once per
    JS callback."""
    from bokeh.document import Document
    from bokeh.document.models import DocumentModelManager

    def build(server_doc) -> tuple[Document, int]:
        walks = 0
        original = DocumentModelManager.recompute

        def counted(self):
            nonlocal walks
            walks += 1
            return original(self)

        DocumentModelManager.recompute = counted
        try:
            doc = server_doc(create_app(Session(), View()), Document())
        finally:
            DocumentModelManager.recompute = original
        return doc, walks

    ours, our_walks = build(lambda template, doc: template.server_doc(doc))
    stock, stock_walks = build(lambda template, doc: pn.template.VanillaTemplate.server_doc(template, doc))
    assert [type(r).__name__ for r in ours.roots] == [type(r).__name__ for r in stock.roots]
    assert sorted(type(m).__name__ for m in ours.models) == sorted(type(m).__name__ for m in stock.models)
    assert stock_walks > 10 and our_walks <= 2
