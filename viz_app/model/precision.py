"""Bytes per element of the dtypes a training run computes in."""

from __future__ import annotations

from .config import TrainingConfig

FP32_BYTES = 4
HALF_BYTES = 2  # bf16 / fp16


def compute_dtype_bytes(config: TrainingConfig) -> int:
    """Activations and gathered weights: bf16/fp16 under mixed precision, fp32 otherwise."""
    return HALF_BYTES if config.mixed_precision else FP32_BYTES
