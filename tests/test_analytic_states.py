"""Bytes per parameter by precision, gradient dtype, optimizer and ZeRO stage."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import AnalyticOptions
from viz_app.model.analytic.states import bytes_per_param
from viz_app.model.config import TrainingConfig


def per_param(*, dp=8, zero=0, chunks=4, mixed=True, cp=1, over_cp=True, **options):
    config = TrainingConfig()
    config.apply(tp=1, pp=1, dp=dp, total_gpus=dp, micro_batch_size=1, chunks=chunks, zero_stage=zero,
                 mixed_precision=mixed)
    return bytes_per_param(config, AnalyticOptions(context_parallel=cp, zero_shards_over_cp=over_cp, **options))


def parts(b):
    return (b.parameter, b.gradient, b.optimizer, b.grad_accumulate)


def test_megatron_18_bytes():
    assert parts(per_param(optimizer="adam", grad_dtype="fp32")) == (2, 4, 12, 0)
    assert per_param(optimizer="adam", grad_dtype="fp32").total == 18


@pytest.mark.parametrize(("optimizer", "optimizer_bytes"), [
    ("adamw", 12), ("sgd_momentum", 8), ("adam_8bit", 4 + 2 * (1 + 4 / 256)), ("none", 4),
])
def test_optimizers_keep_fp32_master_weights(optimizer, optimizer_bytes):
    assert per_param(optimizer=optimizer).optimizer == pytest.approx(optimizer_bytes)


def test_gradient_dtypes():
    assert parts(per_param(grad_dtype="bf16")) == (2, 2, 12, 0)
    assert parts(per_param(grad_dtype="bf16+fp32_accumulation")) == (2, 2, 12, 4)
    assert parts(per_param(grad_dtype="bf16+fp32_accumulation", chunks=1)) == (2, 2, 12, 0)


def test_pure_fp32_has_no_master_copy():
    assert parts(per_param(mixed=False, grad_dtype="bf16")) == (4, 4, 8, 0)


@pytest.mark.parametrize(("zero", "expected"), [
    (0, (2, 2, 12, 4)), (1, (2, 2, 1.5, 4)), (2, (2, 0.25, 1.5, 0.5)), (3, (0.25, 0.25, 1.5, 0.5)),
])
def test_zero_stages_shard_over_dp(zero, expected):
    assert parts(per_param(zero=zero, grad_dtype="bf16+fp32_accumulation")) == expected


def test_zero_shards_over_dp_times_cp_when_the_framework_does():
    assert per_param(zero=1, dp=2, cp=4).optimizer == 12 / 8
    assert per_param(zero=1, dp=2, cp=4, over_cp=False).optimizer == 12 / 2


def test_fsdp2_fp32_sharded_params_are_the_master_weights():
    assert parts(per_param(zero=3, dp=4, fp32_sharded_params=True)) == (1, 1, 2, 0)
    assert parts(per_param(zero=3, dp=4)) == (0.5, 1, 3, 0)
    assert parts(per_param(mixed=False, fp32_sharded_params=True)) == (4, 4, 8, 0)
