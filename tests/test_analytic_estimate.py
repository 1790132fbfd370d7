"""The assembled analytic estimate: stages, schedules, blocks, overheads, errors, labels."""

from __future__ import annotations

import pytest

from viz_app.i18n import en, zh
from viz_app.model.analytic import AnalyticOptions, estimate_analytic, layer_activation_bytes
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.analytic.schedule import first_chunk_microbatches, inflight_chunk_passes
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import StrategyError

MIB = 1 << 20


def run(model="llama-3-8b", options=None, **config_values):
    arch = load_model_preset(model)
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), **config_values})
    return estimate_analytic(config, arch, options or AnalyticOptions()), arch, config


def test_schedules():
    assert [inflight_chunk_passes("1f1b", s, 4, 8) for s in range(4)] == [4, 3, 2, 1]
    assert [inflight_chunk_passes("1f1b", s, 4, 2) for s in range(4)] == [2, 2, 2, 1]
    assert [inflight_chunk_passes("gpipe", s, 4, 8) for s in range(4)] == [8] * 4
    # Megatron interleaved warm-up: (p - r - 1) * 2 + (v - 1) * p + 1 chunk-passes
    assert [inflight_chunk_passes("interleaved", s, 4, 8, 2) for s in range(4)] == [11, 9, 7, 5]
    # passes run in groups of pp per model chunk: on stage 0, passes 0-3 and 8-10 are chunk 0's
    assert first_chunk_microbatches("interleaved", 0, 4, 8, 2) == 7
    assert first_chunk_microbatches("1f1b", 1, 4, 8) == 3


def test_stage_blocks_and_inflight_activation():
    estimate, arch, config = run(tp=2, pp=4, total_gpus=8, global_batch_size=16, micro_batch_size=1)
    assert estimate.mode == "analytic" and len(estimate.stages) == 4
    per_layer = layer_activation_bytes(arch, config.seq_length, 1, tp=2, sequence_parallel=True) / MIB
    for stage in estimate.stages:
        assert stage.layers == 8
        assert stage.mib("activation.layers") == pytest.approx(8 * per_layer)
        assert stage.mib("activation.inflight") == pytest.approx((3 - stage.stage) * 8 * per_layer)
    first, last = estimate.stages[0], estimate.stages[-1]
    assert first.mib("model_states.parameter.embedding") > 0 and "model_states.parameter.head" not in _keys(first)
    assert last.mib("model_states.parameter.head") > 0 and "activation.logits" in _keys(last)
    assert "activation.embedding" not in _keys(last)
    assert estimate.peak_stage.stage == 0


def test_logits_block_is_vocab_parallel_fp32():
    estimate, arch, config = run(tp=4, pp=1, total_gpus=4, micro_batch_size=2)
    x_sbh = 2 * config.seq_length * 2 * arch.hidden_size / 4
    logits = 1.5 * config.seq_length * 2 * 128256 * 4 / 4  # default: Megatron's cross entropy
    assert estimate.stages[0].mib("activation.logits") == pytest.approx((2 * x_sbh + logits) / MIB)


def test_parameter_parts_add_up_to_the_model():
    estimate, arch, _ = run(tp=1, pp=4, total_gpus=4)
    total_bytes = sum(s.parameter_mib for s in estimate.stages) * MIB
    assert total_bytes == 2 * 8_030_261_248


def test_zero3_shards_weights_and_holds_gathered_layers():
    estimate, arch, _ = run(tp=1, pp=1, total_gpus=8, zero_stage=3)
    stage = estimate.stages[0]
    assert stage.mib("model_states.parameter.layers") * MIB == pytest.approx(32 * 218_112_000 * 2 / 8)
    # two layers (current + prefetch) and, on the last stage, the output head at the loss
    assert stage.mib("model_states.parameter.gathered") * MIB == (2 * 218_112_000 + 128256 * 4096) * 2


def test_overheads_are_labelled_and_controlled():
    options = AnalyticOptions(cuda_context_mib=600, allocator_fragmentation=0.1, nccl_buffer_mib_per_group=100)
    estimate, _, _ = run(options=options, tp=2, pp=2, total_gpus=8)
    stage = estimate.stages[0]
    allocated = stage.activation_mib + stage.model_states_mib
    assert stage.mib("overhead.cuda_context") == 600
    assert stage.mib("overhead.fragmentation") == pytest.approx(0.1 * allocated)
    assert stage.mib("overhead.comm_buffers") == 300  # tp, pp and dp groups
    bare = AnalyticOptions(cuda_context_mib=0, allocator_fragmentation=0, nccl_buffer_mib_per_group=0)
    assert run(options=bare, tp=2, pp=2, total_gpus=8)[0].stages[0].overhead_mib == 0


def test_checkpoint_forces_full_recompute():
    plain, arch, config = run(tp=1, pp=1, total_gpus=1, checkpoint=True)
    assert plain.stages[0].mib("activation.layers") * MIB == 32 * 2 * config.seq_length * arch.hidden_size


def test_every_block_has_formula_source_and_labels():
    options = AnalyticOptions(schedule="interleaved", virtual_stages=2)
    estimate, _, _ = run(options=options, tp=2, pp=2, total_gpus=8, zero_stage=3)
    keys = set()
    for stage in estimate.stages:
        for block in stage.blocks:
            assert block.formula and block.source, block.key
            keys.add(block.key)
    assert "model_states.parameter.gathered" in keys
    for catalog in (en.CATALOG, zh.CATALOG):
        assert {f"block.{k}" for k in keys} <= set(catalog)


def test_formula_shows_the_users_numbers():
    estimate, _, _ = run(tp=2, pp=1, total_gpus=2, micro_batch_size=3)
    formula = estimate.stages[0].blocks[0].formula
    assert "32 layers" in formula and "b 3" in formula and "t 2" in formula


@pytest.mark.parametrize(("values", "options", "message"), [
    ({"tp": 16, "total_gpus": 16}, {}, "TP 16 does not divide the model's 8 KV heads"),
    ({"tp": 1, "total_gpus": 1}, {"context_parallel": 3}, "CP 3 does not divide the sequence length 4096"),
    ({"pp": 4, "total_gpus": 4, "tp": 1}, {"pp_division": [8, 8, 8]}, "must have 4 positive entries"),
    ({"pp": 4, "total_gpus": 4, "tp": 1}, {"virtual_stages": 2}, "need the interleaved schedule"),
    ({"pp": 4, "total_gpus": 4, "tp": 1}, {"schedule": "interleaved", "virtual_stages": 3}, "do not divide"),
])
def test_impossible_strategies_are_explained(values, options, message):
    with pytest.raises(StrategyError, match=message):
        run(options=AnalyticOptions(**options), **values)


def _keys(stage):
    return {b.key for b in stage.blocks}


def test_recomputed_layer_is_a_transient_block():
    options = AnalyticOptions(cross_entropy_fp32_copies=0)
    estimate, arch, config = run(options=options, tp=1, pp=2, total_gpus=2, checkpoint=True)
    kwargs = dict(tp=1, sequence_parallel=False, dtype_bytes=2)
    full = layer_activation_bytes(arch, config.seq_length, 1, **kwargs)
    kept = layer_activation_bytes(arch, config.seq_length, 1, recompute="full", **kwargs)
    first, last = estimate.stages
    assert first.mib("activation.recompute") * MIB == full - kept
    # on the last stage the loss's buffers (final norm + head input here) are freed before the last
    # layer is recomputed: the stage's peak is in backward, without them
    assert last.mib("activation.recompute") * MIB == full - kept
    assert last.peak_phase == "backward 1, layer 16" and last.mib("activation.logits") == 0
    assert "activation.recompute" not in _keys(run(tp=1, pp=1, total_gpus=1)[0].stages[0])
