"""Framework presets: each sets the options its framework fixes, every option stays overridable,
and the behaviours they switch on add the memory their framework's code allocates."""

from __future__ import annotations

import pytest

from viz_app.i18n import localize
from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.frameworks import FRAMEWORK_PRESETS, apply_options, framework_values, options_for
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.analytic.options import FRAMEWORKS
from viz_app.model.analytic.parameters import layer_parameter_count
from viz_app.model.analytic.validation import load_measurements, validate_rows
from viz_app.model.config import TrainingConfig
from viz_app.model.result import Block
from viz_app.session import Session
from viz_app.url_state import restore
from viz_app.view import View

MIB = 2**20


def test_every_framework_has_a_preset_and_every_setting_a_source():
    assert set(FRAMEWORK_PRESETS) == set(FRAMEWORKS)
    names = set(AnalyticOptions.param)
    for framework in FRAMEWORK_PRESETS.values():
        for option, setting in framework.settings.items():
            assert option in names, (framework.key, option)
            assert setting.source, (framework.key, option)
            AnalyticOptions(**{option: setting.value})  # a valid value of that option


def test_custom_changes_nothing_and_a_preset_sets_its_values():
    options = options_for({"kernels": "eager", "vocab_pad_multiple": 7})
    apply_options(options, {"framework": "custom"})
    assert (options.kernels, options.vocab_pad_multiple) == ("eager", 7)
    apply_options(options, {"framework": "megatron"})
    assert (options.kernels, options.vocab_pad_multiple, options.grad_dtype) == ("fused", 128, "fp32")
    apply_options(options, {"framework": "torchtitan"})
    assert options.fp32_sharded_params and options.fsdp_unsharded_under_pp and options.cross_entropy_fp32_copies == 3
    assert options.vocab_pad_multiple == 1 and options.kernels == "eager"


def test_picking_a_framework_in_the_app_applies_its_preset_and_keeps_later_edits():
    session = Session()
    session.mode = "analytic"
    session.options.framework = "torchtitan"  # as the selector does
    assert session.options.fp32_sharded_params and session.options.cross_entropy_fp32_copies == 3
    session.options.kernels = "fused"
    assert session.options.kernels == "fused" and session.options.framework == "torchtitan"


def test_explicit_values_win_over_the_preset_whatever_their_order():
    options = options_for({"kernels": "fused", "framework": "torchtitan", "cross_entropy_fp32_copies": 0})
    assert (options.framework, options.kernels, options.cross_entropy_fp32_copies) == ("torchtitan", "fused", 0)
    assert options.fp32_sharded_params  # the rest of the preset still applies
    later = AnalyticOptions()
    apply_options(later, {"framework": "deepspeed", "grad_dtype": "fp32"})
    assert (later.grad_dtype, later.kernels) == ("fp32", "eager")


def test_the_cli_applies_the_preset_then_the_flags(cli_json):
    base = ["--model", "llama-3-70b", "--tp", "8", "--pp", "4", "--gpus", "64", "--zero", "3", "--gbs", "32"]
    titan = cli_json(*base, "--framework", "torchtitan")
    assert titan["options"]["framework"] == "torchtitan" and titan["options"]["fp32_sharded_params"] is True
    overridden = cli_json(*base, "--framework", "torchtitan", "--kernels", "fused", "--no-zero-over-cp")
    assert overridden["options"]["kernels"] == "fused" and overridden["options"]["zero_shards_over_cp"] is False
    assert overridden["options"]["cross_entropy_fp32_copies"] == 3


def test_a_link_applies_the_framework_before_its_other_options():
    session, view = Session(), View()
    session.mode = "analytic"
    assert restore(session, view, {"framework": "torchtitan", "kernels": "fused"}) == []
    assert (session.options.framework, session.options.kernels) == ("torchtitan", "fused")
    assert session.options.fp32_sharded_params


def _stage_blocks(options: AnalyticOptions, **training) -> dict[str, float]:
    arch = load_model_preset("llama-3-70b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), **training})
    estimate = estimate_analytic(config, arch, options)
    return {b.key: b.mib for b in estimate.stages[1].blocks}


def test_fsdp2_under_pp_keeps_the_stage_unsharded():
    training = dict(tp=8, pp=4, total_gpus=64, zero_stage=3, global_batch_size=32, seq_length=8192)
    blocks = _stage_blocks(options_for({"framework": "torchtitan"}), **training)
    stage_params = 20 * layer_parameter_count(load_model_preset("llama-3-70b"), 8)  # 80 layers / 4 stages
    assert blocks["model_states.parameter.unsharded"] == stage_params * 2 / MIB  # bf16 when gathered
    assert blocks["model_states.gradient.unsharded"] == stage_params * 4 / MIB  # fp32 reduce dtype
    assert "model_states.parameter.gathered" not in blocks  # part of the unsharded parameters
    # one micro-batch: nothing accumulates before the gradient sync
    single = _stage_blocks(options_for({"framework": "torchtitan"}), **{**training, "global_batch_size": 2})
    assert "model_states.gradient.unsharded" not in single
    # without PP, or without the behaviour, FSDP gathers a few layers at a time as before
    assert "model_states.parameter.unsharded" not in _stage_blocks(
        options_for({"framework": "torchtitan", "fsdp_unsharded_under_pp": False}), **training)


def test_bf16_moments_halve_adams_states():
    training = dict(tp=8, pp=1, total_gpus=8, zero_stage=1)
    fp32 = _blocks_stage0(options_for({"framework": "megatron"}), training)
    bf16 = _blocks_stage0(options_for({"framework": "megatron", "optimizer_state_dtype": "bf16"}), training)
    params = fp32["model_states.parameter.layers"] / 2  # bf16 weights: 2 B per parameter
    # fp32 master 4 B + moments 8 B (fp32) or 4 B (bf16), sharded over dp 1
    assert fp32["model_states.optimizer.layers"] == pytest.approx(params * 12)
    assert bf16["model_states.optimizer.layers"] == pytest.approx(params * 8)


def test_no_master_weights_leave_the_moments_alone():
    training = dict(tp=1, pp=1, total_gpus=1, zero_stage=0)
    tune = _blocks_stage0(options_for({"framework": "torchtune"}), training)
    params = tune["model_states.parameter.layers"] / 2  # bf16 weights
    # pure bf16 (torchtune): AdamW's two moments in bf16, 2 + 2 B, and no fp32 copy; bf16 gradients
    assert tune["model_states.optimizer.layers"] == pytest.approx(params * 4)
    assert tune["model_states.gradient.layers"] == pytest.approx(params * 2)
    with_master = _blocks_stage0(options_for({"framework": "torchtune", "master_weights": "fp32"}), training)
    assert with_master["model_states.optimizer.layers"] == pytest.approx(params * 8)


def test_offloaded_optimizer_leaves_its_share_on_the_cpu():
    training = dict(tp=8, pp=1, total_gpus=8, zero_stage=1)
    on_gpu = _blocks_stage0(options_for({"framework": "megatron"}), training)
    half = _blocks_stage0(options_for({"framework": "megatron", "optimizer_offload_fraction": 0.5}), training)
    whole = _blocks_stage0(options_for({"framework": "megatron", "optimizer_offload_fraction": 1.0}), training)
    params = on_gpu["model_states.parameter.layers"] / 2
    assert on_gpu["model_states.optimizer.layers"] == pytest.approx(params * 12)  # fp32 master + fp32 Adam
    assert half["model_states.optimizer.layers"] == pytest.approx(params * 6)
    assert whole["model_states.optimizer.layers"] == 0
    # the gradient buffer stays on the GPU
    assert whole["model_states.gradient.layers"] == on_gpu["model_states.gradient.layers"] == pytest.approx(params * 4)


def _blocks_stage0(options, training) -> dict[str, float]:
    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), **training})
    return {b.key: b.mib for b in estimate_analytic(config, arch, options).stages[0].blocks}


def test_validation_rows_name_a_framework_and_are_reported_by_it():
    results = validate_rows(load_measurements())
    presets = {r.framework_preset for r in results.rows}
    assert presets == {"megatron", "torchtitan", "deepspeed", "torchtune"}
    summary = results.to_json()["by_framework"]
    assert sum(s["rows"] for s in summary.values()) == len(results.rows)
    for name, s in summary.items():
        errors = [abs(r.error_pct) for r in results.rows if r.framework_preset == name]
        assert s["max_abs_error_pct"] == max(errors)
    # no row carries an option its preset already sets to the same value
    for measurement in load_measurements():
        preset = framework_values(measurement.options["framework"])
        assert not {k for k, v in measurement.options.items() if preset.get(k, object()) == v}, measurement.id


def test_msswift_ulysses_loss_holds_three_bf16_logits_buffers_per_sequence_shard():
    # llama-3-70b, seq 8192 over context parallel 4: each rank's logits are 2048 x 128256 = 262,668,288
    # = 250.5 MiB per byte of a logit. The deepspeed preset's loss under CP is ms-swift's Ulysses loss:
    # bf16 log-probs, their gradient and the logits' gradient, 6 B = 1503 MiB; the HF loss without CP
    # (logits.float()) holds 3 fp32 buffers, 12 B = 3006 MiB.
    training = dict(tp=8, pp=4, total_gpus=128, zero_stage=3, global_batch_size=32, seq_length=8192)

    def logits_mib(values: dict) -> float:
        arch = load_model_preset("llama-3-70b")
        config = TrainingConfig()
        config.apply(**{**arch.config_defaults(), **training})
        estimate = estimate_analytic(config, arch, options_for({"context_parallel": 4, **values}))
        return max(phase.blocks.get("activation.logits", 0.0) for phase in estimate.stages[-1].timeline)

    ulysses = logits_mib({"framework": "deepspeed"})
    upcast = logits_mib({"framework": "deepspeed", "cp_cross_entropy_fp32_copies": -1})
    # tp 8 splits the vocabulary too: 1503 / 8 and 3006 / 8
    assert upcast - ulysses == pytest.approx(1503 / 8)
    assert logits_mib({"framework": "torchtitan"}) == pytest.approx(upcast)  # the same loss on the shard
    assert options_for({"framework": "megatron"}).cp_cross_entropy_fp32_copies == -1
    # without context parallelism the preset's HF loss applies
    assert options_for({"framework": "deepspeed"}).cross_entropy_fp32_copies == 3


def test_the_cp_loss_count_is_a_flag_and_a_link_key(cli_json):
    base = ["--model", "llama-3-70b", "--tp", "8", "--gpus", "64", "--zero", "3", "--gbs", "32", "--cp", "2"]
    assert cli_json(*base, "--framework", "deepspeed")["options"]["cp_cross_entropy_fp32_copies"] == 1.5
    flagged = cli_json(*base, "--framework", "deepspeed", "--cp-ce-fp32-copies", "-1")
    assert flagged["options"]["cp_cross_entropy_fp32_copies"] == -1
    session, view = Session(), View()
    session.mode = "analytic"
    assert restore(session, view, {"framework": "deepspeed", "cp_cross_entropy_fp32_copies": "0.5"}) == []
    assert session.options.cp_cross_entropy_fp32_copies == 0.5


def _loss_block(values: dict, **training) -> Block:
    """The last stage's loss block (activation.logits) for llama-3-8b, mbs 1, seq 8192 on 8 GPUs, FSDP."""
    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), **dict(tp=1, pp=1, total_gpus=8, zero_stage=3, micro_batch_size=1,
                                                     global_batch_size=8, seq_length=8192), **training})
    estimate = estimate_analytic(config, arch, options_for(values))
    return next(b for b in estimate.stages[-1].blocks if b.key == "activation.logits")  # the peak is the loss's


def test_a_compiled_loss_holds_the_logits_and_their_gradient_in_the_compute_dtype():
    # 8192 x 128256 logits = 1002 MiB per byte of a logit. torchtitan's eager cross_entropy(logits.float())
    # holds 3 fp32 buffers at its peak (12 B: 12024 MiB); compiled (benchmarks/compiled_loss.py) the bf16
    # logits its backward keeps and their bf16 gradient (2 x 2 B: 4008 MiB), 8016 MiB less.
    eager = _loss_block({"framework": "torchtitan"})
    compiled = _loss_block({"framework": "torchtitan", "compiled_loss": True})
    assert eager.mib - compiled.mib == pytest.approx(8016)
    assert "2x2sbV/t" in localize(compiled.formula) and "3x4sbV/t" in localize(eager.formula)
    assert "min_cut_rematerialization_partition" in localize(compiled.source)
    assert "min_cut_rematerialization_partition" not in localize(eager.source)
    # pure fp32 training: the logits and their gradient are fp32, 2 x 4 B = 8016 MiB against 12024
    fp32 = _loss_block({"framework": "torchtitan", "compiled_loss": True}, mixed_precision=False)
    assert _loss_block({"framework": "torchtitan"}, mixed_precision=False).mib - fp32.mib == pytest.approx(4008)
    # every preset leaves it off: torchtitan's Dec 2024 commit and torchtune's recipe run the loss eagerly
    assert not any(options_for({"framework": key}).compiled_loss for key in FRAMEWORK_PRESETS)


def test_the_compiled_loss_is_a_flag_and_a_link_key(cli_json):
    base = ["--model", "llama-3-8b", "--gpus", "8", "--zero", "3", "--framework", "torchtitan"]
    assert cli_json(*base)["options"]["compiled_loss"] is False
    assert cli_json(*base, "--compiled-loss")["options"]["compiled_loss"] is True
    session, view = Session(), View()
    session.mode = "analytic"
    assert restore(session, view, {"framework": "torchtitan", "compiled_loss": "true"}) == []
    assert session.options.compiled_loss
