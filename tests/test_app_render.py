"""The app builds and renders to Bokeh models without a browser, and reacts to its parameters."""

import html
import json
import re

import panel as pn
import pytest
from bokeh.models import ColumnDataSource, Glyph, GlyphRenderer, Markup, Model, Plot

from viz_app.app import configure_process, create_app
from viz_app.i18n import t
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.model.units import format_memory
from viz_app.session import Session
from viz_app.ui.results import Results
from viz_app.ui.sidebar import Sidebar
from viz_app.view import View

from .latin_text import latin_words

pytestmark = pytest.mark.slow  # minutes of work: collected first (conftest.py)

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
    view = View()
    template = create_app(session, view)
    roots = [pn.panel(item).get_root() for area in (template.sidebar, template.main, template.header) for item in area]
    assert _charts(*roots) == sorted([TREEMAP, STAGES, *TAB_CHARTS["bars"]])  # the explorer closed: no search
    assert {plot.output_backend for root in roots for plot in root.select({"type": Plot})} == {"canvas"}
    markup = _markup(*roots)
    sections = {t(key, "en") for key in ("section.model", "section.strategy", "section.batch", "section.training")}
    assert _card_titles(markup) == sections | {t("treemap.title", "en", stage=0), t("analysis.title", "en", stage=0),
                                               t("stages.title", "en"), t("compare.title", "en"),
                                               t("explore.title", "en", gpus=64)}
    assert _total_mib(markup) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], abs=1e-6)
    assert 'class="memviz-status" data-live="1"' in markup  # no served page: Panel runs onload at once
    view.explore.shown = True
    assert _charts(*roots) == sorted([TREEMAP, STAGES, EXPLORER, *TAB_CHARTS["bars"]])
    assert re.search(r'class="memviz-text" data-count="[1-9][0-9]*"', _markup(*roots))


def test_views_render_every_tab_and_language(session):
    view = View()
    root = Results(session, view).__panel__().get_root()
    for lang in ("zh", "en"):
        view.lang = lang
        for tab, charts in TAB_CHARTS.items():
            view.tab = tab
            assert _charts(root) == sorted([TREEMAP, STAGES, *charts]), (lang, tab)
            markup = _markup(root)
            assert ('class="memviz-formulas"' in markup) == (tab == "formulas")
            assert ('class="memviz-legend"' in markup) == (tab == "proportion")
            assert 'class="memviz-legend-groups"' in markup  # the treemap's colour legend, on every tab
        assert _card_titles(markup) == {t("treemap.title", lang, stage=0), t("analysis.title", lang, stage=0),
                                        t("stages.title", lang), t("explore.title", lang, gpus=64)}
        view.tab, view.drill = "donut", True  # the donut's model-states ring
        assert _charts(root) == sorted([TREEMAP, STAGES, ("MultiPolygons", "Text")])
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
        assert _charts(root) == sorted([TREEMAP, STAGES, *charts]), tab
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


# Every text a Bokeh model of the page shows: HTML panes, chart labels and hover tips, axis and
# plot titles, widgets' titles, labels and options. Tags and escapes are taken off HTML.
SHOWN_PROPERTIES = ("text", "title", "label", "labels", "options", "axis_label", "placeholder")
TAG = re.compile(r"<[^>]+>")


def _shown_texts(*roots) -> list[str]:
    texts = []
    for root in roots:
        for model in root.select({"type": Model}):
            if isinstance(model, Glyph):  # its `text` names a data column
                continue
            for name in SHOWN_PROPERTIES:
                value = getattr(model, name, None) if name in model.properties() else None
                if isinstance(value, str):
                    texts.append(value)
                elif isinstance(value, list | tuple):
                    texts += [v if isinstance(v, str) else str(v[-1]) for v in value if isinstance(v, str | tuple)]
            if isinstance(model, ColumnDataSource):  # labels drawn in charts and hover tips
                texts += [v for key in ("text", "tip") for v in model.data.get(key, []) if isinstance(v, str)]
    # Panel escapes an HTML pane's markup once more than the page shows it.
    return [" ".join(TAG.sub(" ", html.unescape(html.unescape(text))).split()) for text in texts]


# MoE models in the analytic mode: DeepSeek-V3 (MLA, MoE with shared experts, MTP, dense first layers;
# EP 64, PP 16 with an uneven first stage, ZeRO-3 reuse and an eager, foreach, offloading optimizer
# so every MoE/MLA, ZeRO-3 and optimizer-step term shows) and Mixtral (MoE, no shared experts; a compiled
# loss, so its term and source show).
MOE_PAGES = {
    "deepseek-v3": ({"tp": 8, "pp": 16, "total_gpus": 1024, "ep": 64, "seq_length": 4096, "global_batch_size": 1024,
                     "zero_stage": 3},
                    {"framework": "deepspeed", "first_stage_layers": 1, "zero3_max_reuse_distance": 10**9,
                     "optimizer_implementation": "foreach", "optimizer_offload_fraction": 0.5,
                     "gradient_allocation": "autograd"}),
    "mixtral-8x7b": ({"tp": 4, "pp": 4, "total_gpus": 64, "ep": 4, "seq_length": 4096, "global_batch_size": 64},
                     {"kernels": "eager", "recompute": "selective", "recompute_modules": ["moe_act", "core_attn"],
                      "compiled_loss": True}),
}


STAGE_NAMING_TABS = ("formulas", "step")


@pytest.mark.parametrize("model", MOE_PAGES)
def test_chinese_page_of_a_moe_model_shows_no_english(model):
    """Every stage, every tab (the formulas table and the step chart too): only names, units and symbols are Latin."""
    session, view = Session(), View(lang="zh")
    view.explore.shown = True  # its table and chart are read too
    template = create_app(session, view)
    roots = [pn.panel(item).get_root() for area in (template.sidebar, template.main, template.header) for item in area]
    config, options = MOE_PAGES[model]
    session.model = model
    session.config.param.update(**config)
    for name, value in options.items():  # the framework first: it sets options of its own
        setattr(session.options, name, value)
    assert session.mode == "analytic" and session.problem == "", session.problem
    texts, formulas = [], ""
    peak = session.estimate.peak_stage.stage
    for stage in sorted({0, peak, session.config.pp - 1}):
        session.config.stage = stage
        # Every tab on the peak stage. The first and last stages add blocks of their own (embedding,
        # loss, MTP heads): each is named in the treemap and the formulas table, and its phases in the
        # step chart; the other tabs' charts draw the same names.
        for tab in View.param.tab.objects if stage == peak else STAGE_NAMING_TABS:
            view.tab = tab
            texts += _shown_texts(*roots)
        formulas += _markup(*roots)
    # the terms of the options above are on the page (so the check reads their texts)
    for key in ("block.activation.experts", "block.model_states.parameter.experts", "block.activation.logits"):
        assert t(key, "zh") in formulas, key
    if options.get("compiled_loss"):  # the Formulas tab shows the compiled loss's term
        assert t("tensor.logits_compiled_loss", "zh", bytes=2) in " ".join(texts)
    assert latin_words(texts) == set()


def _step_plot(root) -> Plot:
    """The step chart in the page (the one plot whose x axis is the step's phases)."""
    plots = [p for p in root.select({"type": Plot}) if p.xaxis and p.xaxis[0].axis_label == t("axis.phase", "en")]
    assert len(plots) == 1
    return plots[0]


def _glyph_data(plot: Plot, glyph: str) -> dict:
    (renderer,) = [r for r in plot.select({"type": GlyphRenderer}) if type(r.glyph).__name__ == glyph]
    return renderer.data_source.data


def test_step_tab_draws_the_analytic_estimates_phases_and_its_peak(session):
    """After a mode change made on another tab, the step chart shows the new estimate: one column per
    phase stacked to its total, the peak marked and named at the estimate's peak phase and value."""
    view = View()
    root = Results(session, view).__panel__().get_root()
    view.tab = "step"
    assert list(_glyph_data(_step_plot(root), "Text")["text"]) == [t("step.none", "en")]  # Galvatron mode
    view.tab = "bars"
    session.model = "llama-3-8b"
    session.mode = "analytic"
    session.config.param.update(pp=4, total_gpus=8, tp=2, global_batch_size=16, stage=3)
    view.tab = "step"
    stage = session.estimate.stages[3]
    plot = _step_plot(root)
    columns = _glyph_data(plot, "Quad")
    tops: dict[float, float] = {}
    for left, top in zip(columns["left"], columns["top"], strict=True):
        tops[left] = max(tops.get(left, 0.0), top)
    assert len(stage.timeline) > 4
    assert [tops[i - 0.5] for i in range(len(tops))] == pytest.approx([p.total_mib for p in stage.timeline])
    peak = next(i for i, p in enumerate(stage.timeline) if p.name == stage.peak_phase)
    assert list(_glyph_data(plot, "Segment")["x0"]) == [peak]
    phase = stage.timeline[peak]
    assert max(tops.values()) == pytest.approx(stage.total_mib)  # the stage's estimate is its peak phase
    caption = t("step.peak", "en", phase=t(f"phase.{phase.kind}", "en", number=phase.number, layer=phase.layer),
                memory=format_memory(stage.total_mib, "MiB"))
    assert list(_glyph_data(plot, "Text")["text"]) == [caption]
