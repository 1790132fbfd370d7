"""Properties of the Galvatron cost model over the whole valid domain (hypothesis)."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import list_presets, load_preset

PROFILES = {name: load_preset(name) for name in list_presets()}


@st.composite
def valid_inputs(draw):
    name = draw(st.sampled_from(sorted(PROFILES)))
    profile = PROFILES[name]
    layers = draw(st.integers(1, 128))
    values = {
        "num_layers": layers,
        "tp": draw(st.sampled_from([t for t, _ in profile.tp_choices(True)])),
        "pp": draw(st.integers(1, min(layers, 32))),
        "seq_length": draw(st.integers(1, 65536)),
        "micro_batch_size": draw(st.integers(1, 64)),
        "chunks": draw(st.integers(1, 64)),
        "zero_stage": draw(st.integers(0, 3)),
        "checkpoint": draw(st.booleans()),
        "mixed_precision": draw(st.booleans()),
    }
    values["dp"] = draw(st.integers(1, 64))
    values["total_gpus"] = values["tp"] * values["pp"] * values["dp"]
    config = TrainingConfig()
    config.apply(**values)
    return config, profile


def stage_tuples(estimate):
    return [(s.stage, s.total_mib, s.activation_mib, s.model_states_mib) for s in estimate.stages]


@settings(max_examples=300, deadline=None)
@given(valid_inputs())
def test_totals_are_sums_and_values_are_finite_non_negative(inputs):
    config, profile = inputs
    estimate = estimate_galvatron(config, profile)
    assert [s.stage for s in estimate.stages] == list(range(config.pp))
    for s in estimate.stages:
        parts = (s.parameter_mib, s.gradient_mib, s.optimizer_mib, s.grad_accumulate_mib)
        assert math.isclose(s.model_states_mib, sum(parts), rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(s.total_mib, s.activation_mib + s.model_states_mib, rel_tol=1e-12, abs_tol=1e-9)
        for block in s.blocks:
            assert math.isfinite(block.mib) and block.mib >= 0, block


@settings(max_examples=200, deadline=None)
@given(valid_inputs(), st.integers(0, 2))
def test_higher_zero_never_increases_model_states_with_dp_2_or_more(inputs, lower):
    config, profile = inputs
    if config.dp < 2:
        config.apply(dp=2, total_gpus=config.tp * config.pp * 2)
    config.zero_stage = lower
    before = [s.model_states_mib for s in estimate_galvatron(config, profile).stages]
    config.zero_stage = lower + 1
    after = [s.model_states_mib for s in estimate_galvatron(config, profile).stages]
    for b, a in zip(before, after, strict=True):
        assert a <= b + 1e-9


@settings(max_examples=200, deadline=None)
@given(valid_inputs())
def test_checkpointing_never_increases_activation(inputs):
    config, profile = inputs
    config.checkpoint = False
    without = [s.activation_mib for s in estimate_galvatron(config, profile).stages]
    config.checkpoint = True
    with_ckpt = [s.activation_mib for s in estimate_galvatron(config, profile).stages]
    for w, c in zip(without, with_ckpt, strict=True):
        assert c <= w + 1e-9
