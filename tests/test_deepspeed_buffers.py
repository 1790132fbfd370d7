"""DeepSpeed ZeRO's own buffers (model/analytic/deepspeed_buffers.py): their sizes for hand-computed
cases, the deepspeed preset switching them on, and the step phases they are alive in."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import estimate_analytic
from viz_app.model.analytic.deepspeed_buffers import small_layer_tensors
from viz_app.model.analytic.frameworks import apply_options, options_for
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig
from viz_app.session import Session
from viz_app.url_state import restore
from viz_app.view import View

MIB = 1 << 20
H, F = 4096, 14336  # Llama-3-8B's hidden and MLP widths
LAYER, HEAD = 218_112_000, 525_336_576  # Llama-3-8B: one decoder layer's parameters, the output head's
BUCKET = "model_states.reduce_bucket"
UNREDUCED = "model_states.unreduced_gradients"
PREFETCH = "model_states.parameter.prefetch"
PERSISTENT = "model_states.parameter.persistent"


def stage0(options: dict, zero: int = 3, model: str = "llama-3-8b"):
    arch = load_model_preset(model)
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "tp": 1, "pp": 1, "total_gpus": 4, "zero_stage": zero,
                    "micro_batch_size": 1, "global_batch_size": 8, "seq_length": 4096})
    return estimate_analytic(config, arch, options_for(options)).stages[0]


def phase(stage, name: str):
    return next(p for p in stage.timeline if p.name == name)


def test_zero3_reduce_bucket_is_hidden_squared_bf16_and_alive_all_step():
    stage = stage0({"framework": "deepspeed"})
    bucket_mib = H * H * 2 / MIB  # 'auto' = 4096^2 elements x 2 B = 32 MiB
    assert bucket_mib == 32
    for name in ("forward 1", "loss 1", "backward 1, layer 32", "optimizer step"):
        assert phase(stage, name).blocks[BUCKET] == bucket_mib


def test_zero3_gradients_awaiting_reduction_are_the_largest_weight_in_backward_only():
    stage = stage0({"framework": "deepspeed"})
    # an MLP projection (4096 x 14336 = 58.7M elements) is larger than the 16.8M-element bucket
    assert phase(stage, "backward 1, layer 32").blocks[UNREDUCED] == H * F * 2 / MIB == 112
    assert phase(stage, "forward 1").blocks[UNREDUCED] == 0
    assert phase(stage, "optimizer step").blocks[UNREDUCED] == 0
    # a bucket larger than any weight: the bucket's interleaved copy for the reduce-scatter
    big = stage0({"framework": "deepspeed", "zero_reduce_bucket_size": 500_000_000})
    assert phase(big, "backward 1, layer 32").blocks[UNREDUCED] * MIB == 500_000_000 * 2


def test_zero3_prefetch_is_nine_tenths_of_hidden_squared_capped_by_max_live_parameters():
    stage = stage0({"framework": "deepspeed"})
    prefetch = int(0.9 * H * H)  # 15,099,494 elements
    assert phase(stage, "loss 1").blocks[PREFETCH] * MIB == prefetch * 2
    assert phase(stage, "optimizer step").blocks[PREFETCH] == 0
    # gathered: the last layer (reused within 1e9) and the head = 743,448,576; room up to max live
    capped = stage0({"framework": "deepspeed", "zero3_max_live_parameters": 750_000_000})
    assert phase(capped, "loss 1").blocks[PREFETCH] * MIB == (750_000_000 - LAYER - HEAD) * 2
    none = stage0({"framework": "deepspeed", "zero3_max_live_parameters": 700_000_000})
    assert PREFETCH not in phase(none, "loss 1").blocks


def test_zero3_persistent_parameters_are_the_norms_under_ten_hidden():
    stage = stage0({"framework": "deepspeed"})
    assert small_layer_tensors(load_model_preset("llama-3-8b")) == [H, H]  # two RMSNorm weights, no biases
    # 32 layers x 2 norms + the final norm, each 4096 <= 10 x 4096; 2 B each, gathered for good
    assert stage.mib(PERSISTENT) * MIB == (32 * 2 + 1) * H * 2
    assert phase(stage, "optimizer step").blocks[PERSISTENT] == stage.mib(PERSISTENT)
    # Qwen2's q/k/v biases (3584, 512, 512) are under 10 h as well
    qwen = load_model_preset("qwen2.5-7b")
    assert small_layer_tensors(qwen) == [3584, 3584, 3584, 512, 512]
    assert stage0({"framework": "deepspeed", "zero3_param_persistence_threshold": 1000}, model="qwen2.5-7b").mib(
        PERSISTENT) * MIB == 28 * (512 + 512) * 2


def test_zero12_bucket_lives_in_backward_only_and_doubles_with_overlap_comm():
    stage = stage0({"framework": "deepspeed", "zero_overlap_comm": True}, zero=2)
    assert phase(stage, "backward 1, layer 32").blocks[BUCKET] == 2 * 32
    # ZeRO-2 flattens the bucket's slices to all-reduce them: an MLP projection's gradient is larger
    assert phase(stage, "backward 1, layer 32").blocks[UNREDUCED] == H * F * 2 / MIB == 112
    assert phase(stage, "loss 1").blocks[UNREDUCED] == 0
    for name in ("forward 1", "loss 1", "optimizer step"):
        assert phase(stage, name).blocks[BUCKET] == 0
    single = stage0({"framework": "deepspeed"}, zero=1)
    assert phase(single, "backward 1, layer 1").blocks[BUCKET] == 32
    assert UNREDUCED not in phase(single, "backward 1, layer 1").blocks  # ZeRO-1 keeps whole gradients
    assert PREFETCH not in phase(single, "loss 1").blocks and PERSISTENT not in phase(single, "loss 1").blocks


def test_other_frameworks_and_contiguous_gradients_off_have_no_bucket():
    for framework in ("custom", "megatron", "torchtitan", "torchtune"):
        keys = set(phase(stage0({"framework": framework}), "loss 1").blocks)
        assert not keys & {BUCKET, UNREDUCED, PREFETCH, PERSISTENT}, framework
    # from the deepspeed preset to megatron: the DeepSpeed buffers go
    options = options_for({"framework": "deepspeed"})
    apply_options(options, {"framework": "megatron"})
    assert options.zero_reduce_bucket_size == 0 and not options.zero_contiguous_gradients
    off = stage0({"framework": "deepspeed", "zero_contiguous_gradients": False})
    assert BUCKET not in off.timeline[0].blocks and UNREDUCED in off.timeline[0].blocks


def test_the_deepspeed_buffers_add_to_the_peak():
    with_buffers = stage0({"framework": "deepspeed"})
    without = stage0({"framework": "deepspeed", "zero_reduce_bucket_size": 0, "zero3_prefetch_bucket_size": 0,
                      "zero3_param_persistence_threshold": 0})
    assert with_buffers.peak_phase == without.peak_phase == "loss 1"
    added = 32 + int(0.9 * H * H) * 2 / MIB + (32 * 2 + 1) * H * 2 / MIB  # bucket, prefetch, persistent
    assert with_buffers.total_mib - without.total_mib == pytest.approx(added * 1.05)  # + fragmentation 5%


def test_cli_flags_and_link_keys_set_the_buffers(cli_json):
    base = ["--model", "llama-3-8b", "--tp", "1", "--gpus", "4", "--zero", "3", "--gbs", "8", "--framework",
            "deepspeed"]
    out = cli_json(*base, "--zero-reduce-bucket-size", "500000000", "--no-zero-contiguous-gradients",
                   "--zero3-max-live-parameters", "5", "--zero3-param-persistence-threshold", "0")
    assert out["options"]["zero_reduce_bucket_size"] == 500_000_000
    assert out["options"]["zero_contiguous_gradients"] is False
    assert (out["options"]["zero3_max_live_parameters"], out["options"]["zero3_param_persistence_threshold"]) == (5, 0)
    assert cli_json(*base)["options"]["zero3_prefetch_bucket_size"] == -1  # 'auto'
    session, view = Session(), View()
    session.mode = "analytic"
    assert restore(session, view, {"framework": "deepspeed", "zero3_prefetch_bucket_size": "1000",
                                   "zero_overlap_comm": "true"}) == []
    assert (session.options.zero3_prefetch_bucket_size, session.options.zero_overlap_comm) == (1000, True)
    assert session.options.zero_reduce_bucket_size == -1
