"""The explorer card in process: it searches the session's model, a row or a point loads its strategy,
and moving through strategies does not search again."""

from __future__ import annotations

import panel as pn
import pytest

from viz_app.app import configure_process
from viz_app.model.analytic import estimate_analytic
from viz_app.session import Session
from viz_app.ui.explorer import CHART_POINTS, TABLE_ROWS, ExplorerCard
from viz_app.view import View


@pytest.fixture
def card():
    configure_process()
    session, view = Session(mode="analytic"), View()
    view.explore.param.update(shown=True, gpus=16, global_batch_size=32, seq_length=2048)
    card = ExplorerCard(session, view)
    card.__panel__()
    return card


def test_a_table_row_and_a_chart_point_load_their_strategy(card):
    session, exploration = card.session, card.exploration
    assert session.mode == "analytic" and exploration.mode == "analytic"
    assert len(card.table.value) == min(TABLE_ROWS, len(exploration))
    rows = exploration.rows(40)
    card.table.selection = [7]
    assert session.estimate.peak_stage.total_mib == rows[7]["peak_mib"]
    assert (session.config.tp, session.config.pp, session.config.dp, session.options.context_parallel,
            session.options.recompute, session.config.global_batch_size, session.config.seq_length) == (
        rows[7]["tp"], rows[7]["pp"], rows[7]["dp"], rows[7]["context_parallel"], rows[7]["recompute"], 32, 2048)
    assert session.problem == "" and session.config.constraint_notices() == []
    searched = card.exploration
    positions = searched.sample_positions(CHART_POINTS)
    assert set(searched.column("fits")[positions]) == {True, False}  # the chart shows both
    card.chart_selection.event(index=[len(positions) - 1])  # the last point: a strategy that does not fit
    row = searched.rows(positions=positions[-1:])[0]
    assert not row["fits"] and session.estimate.peak_stage.total_mib == row["peak_mib"]
    card.chart_selection.event(index=[31])
    assert session.estimate.peak_stage.total_mib == rows[31]["peak_mib"]
    assert card.exploration is searched  # loading a strategy does not search again
    assert estimate_analytic(session.config, session.arch, session.options).peak_stage.total_mib == rows[31]["peak_mib"]


def test_it_searches_only_while_open_and_builds_its_table_when_first_opened():
    configure_process()
    session, view = Session(mode="analytic"), View()
    card = ExplorerCard(session, view)
    card.__panel__()
    assert card.exploration is None and not hasattr(card, "table")  # closed by default: no search, no table
    view.explore.param.update(gpus=16, global_batch_size=32, seq_length=2048)
    session.model = "mixtral-8x7b"
    assert card.exploration is None
    view.explore.shown = True  # the inputs and model chosen while it was closed
    searched = card.exploration
    assert searched.mode == "analytic" and len(card.table.value) == min(TABLE_ROWS, len(searched))
    assert searched.column("ep").max() > 1  # mixtral's experts: the model chosen while closed
    view.explore.shown = False
    session.model = "llama-3-8b"
    assert card.exploration is searched  # closed: the new model is not searched
    view.explore.shown = True
    assert card.exploration is not searched and card.exploration.column("ep").max() == 1
    reopened = card.exploration
    view.explore.shown = False
    view.explore.shown = True
    assert card.exploration is reopened  # nothing changed while closed: no new search


def test_inputs_and_the_model_search_again(card):
    first = len(card.exploration)
    card.view.explore.gpus = 32
    assert len(card.exploration) > first
    card.session.preset = "llama2-7b"  # a Galvatron profile
    assert card.exploration.mode == "galvatron"
    row = card.exploration.rows(5)[4]
    card.load(4)
    assert card.session.estimate.peak_stage.total_mib == row["peak_mib"]
    assert card.session.config.checkpoint == (row["recompute"] == "full")


def test_inputs_that_cannot_be_searched_keep_the_last_search(card):
    card.session.preset = "llama2-7b"
    searched = card.exploration
    card.session.config.sequence_parallel = False  # the profile has no measurements without SP
    assert card.problem and card.exploration is searched


def test_the_tables_option_cells_are_named_in_the_pages_language():
    """Recompute and schedule codes ('none', 'interleaved') show as the catalog's names."""
    from viz_app.i18n import t
    from viz_app.model.analytic.explore import explore_analytic
    from viz_app.model.analytic.model_presets import load_model_preset
    from viz_app.model.analytic.options import AnalyticOptions
    from viz_app.model.config import TrainingConfig
    from viz_app.ui.explorer import _frame

    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "global_batch_size": 32, "seq_length": 2048})
    exploration = explore_analytic(arch, config, AnalyticOptions(), 16, 40960)
    rows = exploration.rows(TABLE_ROWS)
    frame = _frame(exploration, "zh", "MiB")
    assert list(frame[t("explore.col.recompute", "zh")]) == [t(f"formula.recompute.{r['recompute']}", "zh")
                                                            for r in rows]
    assert list(frame[t("explore.col.schedule", "zh")]) == [t(f"opt.schedule.{r['schedule']}", "zh") for r in rows]
    assert "none" not in set(frame[t("explore.col.recompute", "zh")])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_table_column_is_as_wide_as_its_title_and_cells(card, lang):
    """Titles are not cut to a few letters: the table scrolls sideways instead."""
    from viz_app.ui.explorer import _column_widths, _frame, _text_px

    frame = _frame(card.exploration, lang, "GiB")
    widths = _column_widths(frame)
    assert set(widths) == set(frame.columns) and len(widths) == 22
    for name in frame.columns:
        assert widths[name] > _text_px(name) and widths[name] > max(_text_px(str(v)) for v in frame[name])
    assert _text_px("TP") == 14 and _text_px("峰值") == 26
    assert _column_widths(frame.iloc[:0]) == {name: 16 + _text_px(name) for name in frame.columns}  # no rows


def test_the_card_downloads_its_strategies_as_csv_and_saves_its_chart(card):
    from viz_app.model.csv_export import EXPLORATION_COLUMNS, exploration_csv
    from viz_app.ui.explorer import CSV_ROWS

    download = next(iter(card.__panel__().select(pn.widgets.FileDownload)))
    assert download.filename == "memviz-explore.csv"
    document = download.callback().getvalue()
    assert document == exploration_csv(card.exploration, CSV_ROWS)
    lines = document.splitlines()
    assert lines[0] == ",".join(EXPLORATION_COLUMNS) and len(lines) == 1 + min(CSV_ROWS, len(card.exploration))
    first = card.exploration.rows(1)[0]
    assert lines[1].split(",")[:3] == [str(first["tp"]), str(first["pp"]), str(first["dp"])]
    buttons = [b for b in card.__panel__().select(pn.widgets.Button) if "memviz-png-memviz-explorer" in b.css_classes]
    assert len(buttons) == 1
