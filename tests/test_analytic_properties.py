"""Properties of the analytic cost model over random architectures and strategies (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viz_app.model.analytic import AnalyticOptions, estimate_analytic, layer_activation_bytes, parameter_counts
from viz_app.model.analytic.architecture import Architecture
from viz_app.model.analytic.parameters import layer_parameter_count
from viz_app.model.config import TrainingConfig

MIB = 1 << 20


@st.composite
def architectures(draw):
    kv_heads = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv_heads * draw(st.sampled_from([1, 2, 4]))
    head_dim = draw(st.sampled_from([16, 64, 128]))
    return Architecture(
        hidden_size=heads * head_dim, num_layers=draw(st.integers(1, 48)), num_attention_heads=heads,
        num_kv_heads=kv_heads, ffn_hidden_size=8 * draw(st.integers(1, 4096)), gated_mlp=draw(st.booleans()),
        vocab_size=draw(st.integers(1000, 200_000)), tie_embeddings=draw(st.booleans()),
        norm_type=draw(st.sampled_from(["rmsnorm", "layernorm", "nonparametric"])),
        linear_bias=draw(st.booleans()), qkv_bias=draw(st.booleans()),
        position_embedding=draw(st.sampled_from(["rope", "learned"])),
        attention_dropout=draw(st.sampled_from([0.0, 0.1])), hidden_dropout=draw(st.sampled_from([0.0, 0.1])),
        parallel_residual=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None)
@given(arch=architectures(), tp=st.sampled_from([1, 2, 4, 8]), seq=st.integers(1, 8192), mbs=st.integers(1, 8),
       kernels=st.sampled_from(["fused", "eager"]), flash=st.booleans())
def test_recompute_and_sequence_parallel_only_ever_save_memory(arch, tp, seq, mbs, kernels, flash):
    if arch.kv_heads % tp or arch.ffn_hidden_size % tp:
        tp = 1
    kwargs = dict(tp=tp, kernels=kernels, flash_attention=flash)
    none, selective, full, op_sac = (layer_activation_bytes(arch, seq, mbs, recompute=r, **kwargs)
                                     for r in ("none", "selective", "full", "op_sac"))
    assert none >= selective >= full > 0 and op_sac >= full
    if arch.ffn_hidden_size // tp >= arch.hidden_size:
        # torchtitan's policy saves matmul outputs backward would not need (the down projection's, h
        # wide on every GPU without sequence parallelism): with an MLP whose per-GPU width f/t is
        # narrower than h (a tiny model on many GPUs) that can exceed no recompute.
        assert none >= op_sac
    assert layer_activation_bytes(arch, seq, mbs, sequence_parallel=True, **kwargs) <= none
    if kernels == "fused":  # eager HF softmax is fp32 either way, plus a bf16 copy: fp32 can save less there
        assert layer_activation_bytes(arch, seq, mbs, dtype_bytes=4, **kwargs) > none


@settings(max_examples=40, deadline=None)
@given(arch=architectures(), pp=st.integers(1, 8), zero=st.integers(0, 3), dp=st.sampled_from([1, 2, 8]))
def test_stages_hold_every_parameter_once(arch, pp, zero, dp):
    pp = min(pp, arch.num_layers)
    config = TrainingConfig()
    config.apply(num_layers=arch.num_layers, seq_length=128, tp=1, pp=pp, dp=dp, total_gpus=pp * dp, chunks=4,
                 zero_stage=zero, mixed_precision=True)
    options = AnalyticOptions(grad_dtype="fp32", zero3_prefetch_layers=0)
    estimate = estimate_analytic(config, arch, options)
    assert sum(s.layers for s in estimate.stages) == arch.num_layers
    layers_mib = sum(s.mib("model_states.parameter.layers") for s in estimate.stages)
    shards = dp if zero == 3 else 1
    assert layers_mib * MIB == pytest.approx(arch.num_layers * layer_parameter_count(arch) * 2 / shards)
    if not (arch.tie_embeddings and pp > 1):  # Megatron's tied copy on the last stage counts twice
        total = sum(s.parameter_mib for s in estimate.stages) * MIB - sum(
            s.mib("model_states.parameter.gathered") for s in estimate.stages) * MIB
        assert total == pytest.approx(parameter_counts(arch)["total"] * 2 / shards)
    # a higher ZeRO stage never keeps more sharded state (ZeRO-3's gathered weights are a transient)
    more_zero = TrainingConfig()
    more_zero.apply(**{**config.values(), "zero_stage": min(zero + 1, 3)})
    after = estimate_analytic(more_zero, arch, options).stages
    for stage, sharded in zip(estimate.stages, after, strict=True):
        kept = sharded.model_states_mib - sharded.mib("model_states.parameter.gathered")
        assert kept <= stage.model_states_mib - stage.mib("model_states.parameter.gathered") + 1e-9
