"""Pinned configurations side by side: the comparison's figures, the pins' link form, the table."""

from __future__ import annotations

import pytest

from viz_app import url_state
from viz_app.model.compare import comparison_rows
from viz_app.model.gpus import DEFAULT_GPU
from viz_app.pins import MAX_PINS, Pins, decode_pins
from viz_app.session import Session
from viz_app.ui.compare import comparison_html
from viz_app.view import View

from .conftest import DATA


def session_with(**values) -> Session:
    session = Session()
    session.config.apply(**values)
    return session


def test_rows_hold_each_estimates_figures_and_the_differences_from_the_first(cli_json):
    base = cli_json("--preset", "llama3-8b")
    split = cli_json("--preset", "llama3-8b", "--tp", "2", "--pp", "2", "--gpus", "8")
    rows = {(r.key, r.stage): r for r in comparison_rows(
        [session_with().estimate, session_with(tp=2, pp=2, total_gpus=8).estimate])}
    peak = rows[("peak", None)]
    assert peak.mib == (base["peak_total_mib"], split["peak_total_mib"])
    assert peak.deltas() == (None, pytest.approx(split["peak_total_mib"] - base["peak_total_mib"]))
    assert peak.differs() == (False, True)
    assert rows[("activation", None)].mib[1] == split["stages"][split["peak_stage"]]["activation_mib"]
    assert rows[("model_states.gradient", None)].differs() == (False, False)  # 0 in both: kept in the buffer
    assert ("overhead", None) not in rows  # Galvatron mode has none
    assert rows[("stage", 1)].mib == (None, split["stages"][1]["total_mib"])
    assert rows[("stage", 1)].differs() == (False, False)  # nothing to compare with


def test_at_most_four_pins_and_removal():
    pins = Pins()
    for tp in (8, 4, 2, 1):
        assert pins.add(session_with(tp=tp))
    assert not pins.add(session_with(tp=8))
    assert len(pins.pins) == MAX_PINS
    pins.remove(1)
    assert [p.document["config"]["tp"] for p in pins.pins] == [8, 2, 1]


def test_the_link_carries_the_pins_and_restores_the_same_documents():
    pins = Pins()
    pins.add(session_with(tp=2, pp=2, total_gpus=16, zero_stage=1, checkpoint=True))
    analytic = Session(mode="analytic", model="llama-3-70b")
    analytic.options.param.update(recompute="selective", optimizer="adam_8bit")
    analytic.config.apply(tp=8, pp=4, total_gpus=64, zero_stage=3)
    pins.add(analytic)
    assert pins.link.count(";") == 1 and "recompute:selective" in pins.link and "optimizer:adam_8bit" in pins.link
    restored = Pins()
    ignored = url_state.restore(Session(), View(), {"pins": pins.link}, restored)
    assert ignored == []
    assert [p.document for p in restored.pins] == [p.document for p in pins.pins]
    assert [p.label for p in restored.pins] == [
        "llama3-8b · tp 2 · pp 2 · dp 4 · mbs 1 · ZeRO 1 · ckpt",
        "llama-3-70b · tp 8 · pp 4 · dp 2 · mbs 1 · ZeRO 3 · selective"]


def test_pins_of_uploaded_files_stay_out_of_the_link():
    uploaded = Session()
    assert uploaded.load_upload((DATA / "v2_bf16_qwen2.5-32b.json").read_bytes(), "v2.json")
    pins = Pins()
    pins.add(uploaded)
    pins.add(session_with(tp=4))
    assert len(pins.pins) == 2 and pins.link.count("preset:") == 1 and "v2.json" not in pins.link


def test_a_pin_the_link_cannot_apply_is_reported():
    pins, ignored = decode_pins("preset:llama3-8b,tp:3;preset:nonesuch,tp:2")
    assert [p.document["config"]["tp"] for p in pins] == [2]
    assert ignored[0] == "pins=preset:llama3-8b,tp:3"
    assert ignored[1].startswith("pins: preset=nonesuch (expected one of llama2-70b") and len(ignored) == 2


def test_the_table_marks_only_the_differences():
    pins = Pins()
    pins.add(session_with())
    pins.add(session_with())
    assert "memviz-compare-diff" not in comparison_html(pins.pins, "en", "MiB", DEFAULT_GPU, 64)
    pins.add(session_with(tp=4, total_gpus=8))
    markup = comparison_html(pins.pins, "en", "GiB", DEFAULT_GPU, 64)
    # tp 4 (dp 2) against tp 8: all but the gradients (kept in the accumulation buffer in both) differ: peak,
    # activation, model states, parameters, optimizer, accumulation and stage 0
    assert markup.count("memviz-compare-diff") == 7
    assert "Fits" in markup and "<b>C</b>" in markup
    assert "固定" in comparison_html([], "zh", "MiB", DEFAULT_GPU, 64)
