"""Memory through one training step (model/analytic/step.py): phases, peak, blocks at the peak, JSON."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig

MIB = 1 << 20


def run(options=None, model="llama-3-8b", **config_values):
    arch = load_model_preset(model)
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), **config_values})
    return estimate_analytic(config, arch, options or AnalyticOptions())


def test_each_stage_reports_its_timeline_maximum_and_the_blocks_alive_then():
    estimate = run(tp=2, pp=4, total_gpus=8, global_batch_size=16, micro_batch_size=1)
    for stage in estimate.stages:
        peak = max(stage.timeline, key=lambda phase: phase.total_mib)
        assert stage.total_mib == pytest.approx(peak.total_mib)
        assert stage.peak_phase == peak.name
        for block in stage.blocks:
            assert block.mib == pytest.approx(peak.blocks[block.key])


def test_phases_follow_the_1f1b_schedule():
    estimate = run(tp=2, pp=4, total_gpus=8, global_batch_size=16, micro_batch_size=1)
    first, last = estimate.stages[0], estimate.stages[-1]
    names = [phase.name for phase in first.timeline]
    # stage 0 runs pp = 4 forwards before its first backward, then the steady state, then the step
    assert names[:5] == ["forward 1", "forward 2", "forward 3", "forward 4", "backward 1, layer 8"]
    assert names[-1] == "optimizer step" and "forward 5" in names
    assert [p.name for p in last.timeline][:3] == ["forward 1", "loss 1", "backward 1, layer 8"]
    per_pass = first.mib("activation.layers")  # 8 layers of one micro-batch
    forwards = [p.category_mib("activation") for p in first.timeline[:4]]
    assert forwards[1] - forwards[0] == pytest.approx(per_pass)
    assert forwards[3] - forwards[2] == pytest.approx(per_pass)
    optimizer = first.timeline[-1]
    assert optimizer.category_mib("activation") == 0
    assert optimizer.category_mib("model_states") == pytest.approx(first.model_states_mib)


def test_the_loss_is_the_peak_when_its_logits_outweigh_a_layers_backward():
    stage = run(tp=1, pp=1, total_gpus=1, micro_batch_size=1).stages[0]
    assert stage.peak_phase == "loss 1"
    assert stage.mib("activation.backward_gradients") == 0 and stage.mib("activation.logits") > 0
    # a fused linear + loss never forms the logits: the last layer's backward is the peak instead
    fused = run(AnalyticOptions(cross_entropy_fp32_copies=0), tp=1, pp=1, total_gpus=1, micro_batch_size=1)
    assert fused.stages[0].peak_phase == "backward 1, layer 32"
    s, h, f = 4096, 4096, 14336
    assert fused.stages[0].mib("activation.backward_gradients") * MIB == 2 * s * (h + 3 * f)


def test_autograd_gradients_appear_layer_by_layer_in_the_first_backward():
    values = dict(tp=1, pp=1, total_gpus=1, micro_batch_size=1, global_batch_size=1)
    options = dict(cross_entropy_fp32_copies=0, cuda_context_mib=0, allocator_fragmentation=0)
    lazy = run(AnalyticOptions(gradient_allocation="autograd", **options), **values).stages[0]
    buffered = run(AnalyticOptions(**options), **values).stages[0]
    grads = {p.name: p.blocks["model_states.gradient.layers"] for p in lazy.timeline}
    full = buffered.mib("model_states.gradient.layers")
    assert grads["forward 1"] == 0 and grads["backward 1, layer 32"] == 0
    assert grads["backward 1, layer 1"] == pytest.approx(full * 31 / 32)
    assert grads["optimizer step"] == pytest.approx(full)
    # one micro-batch: the activations are gone before the last gradient arrives, so the optimizer
    # step, with every gradient and no activation, is the peak
    assert lazy.peak_phase == "optimizer step" and lazy.activation_mib == 0
    assert lazy.total_mib == pytest.approx(buffered.model_states_mib)
    assert lazy.total_mib < buffered.total_mib
    # with a second micro-batch, its backward runs with every gradient allocated
    accumulated = run(AnalyticOptions(gradient_allocation="autograd", **options), **{**values, "global_batch_size": 2})
    assert accumulated.stages[0].peak_phase == "backward 2, layer 32"
    assert accumulated.stages[0].total_mib == pytest.approx(buffered.total_mib)


def test_cli_json_adds_peak_phase_and_timeline():
    estimate = run(tp=1, pp=2, total_gpus=2)
    out = estimate.to_json()
    assert out["peak_phase"] == estimate.peak_stage.peak_phase
    stage = out["stages"][0]
    assert stage["peak_phase"] == estimate.stages[0].peak_phase
    phase = stage["timeline"][0]
    assert set(phase) == {"phase", "kind", "total_mib", "activation_mib", "model_states_mib", "overhead_mib"}
    assert max(p["total_mib"] for p in stage["timeline"]) == pytest.approx(stage["total_mib"])


def _phase(stage, name):
    return next(p for p in stage.timeline if p.name == name)


def test_foreach_adamw_holds_one_moment_per_parameter_during_the_step_only():
    from viz_app.model.analytic.frameworks import options_for

    values = dict(tp=1, pp=1, total_gpus=8, zero_stage=3, micro_batch_size=1, global_batch_size=8)
    stage = run(options_for({"framework": "torchtitan"}), **values).stages[0]
    step = _phase(stage, "optimizer step")
    temporaries = 8_030_261_248 / 8 * 4 / MIB  # fp32 sqrt(exp_avg_sq) of the rank's shard
    assert step.blocks["model_states.optimizer_step"] == pytest.approx(temporaries)
    assert _phase(stage, "loss 1").blocks["model_states.optimizer_step"] == 0
    fused = run(options_for({"framework": "torchtitan", "optimizer_implementation": "fused"}), **values).stages[0]
    assert "model_states.optimizer_step" not in {b.key for b in fused.blocks}


def test_deepspeed_zero3_casts_one_sub_group_of_gradients_to_fp32_at_the_step():
    from viz_app.model.analytic.frameworks import options_for

    values = dict(tp=1, pp=1, total_gpus=4, zero_stage=3, micro_batch_size=1, global_batch_size=4)
    stage = run(options_for({"framework": "deepspeed"}), **values).stages[0]
    shard = 8_030_261_248 / 4  # 2.0e9 parameters per rank: the 1e9 sub-group is the smaller
    assert _phase(stage, "optimizer step").blocks["model_states.optimizer_step"] * MIB == 1e9 * 4
    small = run(options_for({"framework": "deepspeed", "optimizer_sub_group_size": 10**10}), **values).stages[0]
    assert _phase(small, "optimizer step").blocks["model_states.optimizer_step"] * MIB == pytest.approx(shard * 4)


def test_fsdp2_reduce_scatter_buffers_are_alive_in_backward_only():
    from viz_app.model.analytic.frameworks import options_for

    values = dict(tp=1, pp=1, total_gpus=8, zero_stage=3, micro_batch_size=1, global_batch_size=8)
    stage = run(options_for({"framework": "torchtitan"}), **values).stages[0]
    layer_params = 218_112_000  # one Llama-3-8B decoder layer
    expected = layer_params * (2 + 4) / MIB  # bf16 unsharded gradient + fp32 reduce-scatter input
    assert _phase(stage, "backward 1, layer 32").blocks["model_states.reduce_scatter"] == pytest.approx(expected)
    assert _phase(stage, "forward 1").blocks["model_states.reduce_scatter"] == 0
    assert _phase(stage, "optimizer step").blocks["model_states.reduce_scatter"] == 0


def test_deepspeed_zero3_keeps_the_layers_reused_within_max_reuse_distance_gathered():
    from viz_app.model.analytic.estimate import reuse_kept_layers
    from viz_app.model.analytic.frameworks import options_for

    per_layer, head = 218_112_000, 525_336_576  # Llama-3-8B: one layer, the output head
    # the last layer comes back after the head's forward and backward: 2 x 525M > 1e9, only it is kept
    assert reuse_kept_layers(10**9, per_layer, head, 32) == 1
    # 2 x (j x 218M + 525M) < 3e9 for j = 0 to 4 (2.79e9 at j = 4), not at j = 5: 5 layers
    assert reuse_kept_layers(3 * 10**9, per_layer, head, 32) == 5
    assert reuse_kept_layers(10**12, per_layer, head, 32) == 32
    values = dict(tp=1, pp=1, total_gpus=4, zero_stage=3, micro_batch_size=1, global_batch_size=4)
    stage = run(options_for({"framework": "deepspeed", "zero3_max_reuse_distance": 3 * 10**9}), **values).stages[0]
    gathered = _phase(stage, "loss 1").blocks["model_states.parameter.gathered"]
    assert gathered * MIB == (5 * per_layer + head) * 2
    assert _phase(stage, "optimizer step").blocks["model_states.parameter.gathered"] == 0


def test_deepspeed_zero2_casts_the_whole_partition_of_gradients_to_fp32_at_the_step():
    from viz_app.model.analytic.frameworks import options_for

    values = dict(tp=1, pp=1, total_gpus=4, zero_stage=2, micro_batch_size=1, global_batch_size=4)
    stage = run(options_for({"framework": "deepspeed"}), **values).stages[0]
    assert _phase(stage, "optimizer step").blocks["model_states.optimizer_step"] * MIB == \
        pytest.approx(8_030_261_248 / 4 * 4)


def test_galvatron_estimates_have_no_timeline_and_keep_their_keys():
    from viz_app.model.galvatron.estimate import estimate_galvatron
    from viz_app.model.galvatron.presets import DEFAULT_PRESET, load_preset

    profile = load_preset(DEFAULT_PRESET)
    config = TrainingConfig()
    config.apply(**profile.config_defaults(), pp=2, total_gpus=16)
    out = estimate_galvatron(config, profile).to_json()
    assert "peak_phase" not in out and all("timeline" not in s and "peak_phase" not in s for s in out["stages"])


def test_foreach_adamw_under_zero3_sub_groups_holds_one_sub_groups_sqrt():
    from viz_app.model.analytic.frameworks import options_for

    # Llama-3-8B (8,030,261,248 params) over 4 ranks: 2,007,565,312 per rank, stepped as sub-groups of
    # 1e9: the fp32 gradient copy and foreach's fp32 sqrt(exp_avg_sq) of one sub-group, 2 x 4e9 B.
    values = dict(tp=1, pp=1, total_gpus=4, zero_stage=3, micro_batch_size=1, global_batch_size=4)
    stage = run(options_for({"framework": "deepspeed", "optimizer_implementation": "foreach"}), **values).stages[0]
    assert _phase(stage, "optimizer step").blocks["model_states.optimizer_step"] * MIB == 2 * 4e9
    # ZeRO-1/2 steps the whole partition in one call: foreach's sqrt covers all of it
    zero2 = run(options_for({"framework": "deepspeed", "optimizer_implementation": "foreach"}),
                **{**values, "zero_stage": 2}).stages[0]
    assert _phase(zero2, "optimizer step").blocks["model_states.optimizer_step"] * MIB == pytest.approx(
        8_030_261_248 / 4 * (4 + 4))
