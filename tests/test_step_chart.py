"""The chart of one stage's memory over a training step (plots/step.py)."""

from __future__ import annotations

import holoviews as hv
import pytest

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig
from viz_app.model.units import format_memory
from viz_app.plots import step_chart

hv.extension("bokeh", logo=False)


def _estimate():
    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "tp": 2, "pp": 4, "total_gpus": 8, "global_batch_size": 16,
                    "micro_batch_size": 1})
    return estimate_analytic(config, arch, AnalyticOptions(gradient_allocation="autograd"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_column_per_phase_stacked_to_its_total_and_the_peak_marked(lang):
    estimate = _estimate()
    stage = estimate.stages[3]
    chart = step_chart(estimate, lang, "MiB", stage=3)
    columns, marker, label = (chart.get(i) for i in range(3))
    tops = {}
    for row in columns.dframe().itertuples():
        tops[row.x0] = max(tops.get(row.x0, 0.0), row.y1)
    assert len(tops) == len(stage.timeline)
    assert [tops[i - 0.5] for i in range(len(tops))] == pytest.approx([p.total_mib for p in stage.timeline])
    peak = next(i for i, p in enumerate(stage.timeline) if p.name == stage.peak_phase)
    assert marker.dframe().x0.tolist() == [peak]
    text = label.dframe().text[0]
    assert format_memory(stage.total_mib, "MiB") in text
    assert ("Loss 2" if lang == "en" else "损失 2") in text
    # hovering a column names the phase and what is alive in it, by category
    tip = columns.dframe().tip[0]
    assert ("Forward 1" if lang == "en" else "前向 1") in tip
    assert format_memory(stage.timeline[0].category_mib("model_states"), "MiB") in tip


def test_an_estimate_without_a_timeline_says_so():
    estimate = _estimate()
    bare = type(estimate)(estimate.mode, tuple(type(s)(s.stage, s.layers, s.blocks) for s in estimate.stages))
    chart = step_chart(bare, "en", "GiB", stage=0)
    assert isinstance(chart, hv.Overlay)
    assert chart.get(2).dframe().text[0] == "Galvatron mode has no step timeline"
