"""Model states per parameter: weights, gradients, optimizer states, accumulation buffer; ZeRO.

Mixed precision keeps 2-byte weights and fp32 master weights inside the optimizer state
(Micikevicius et al. 2018); Adam adds two fp32 moments, so with fp32 gradients a parameter costs
2 + 4 + 12 = 18 bytes (Korthikanti et al. 2022 section 5; Megatron-LM theoretical_memory_usage.py).
ZeRO stages 1/2/3 shard optimizer states / + gradients / + weights over the data-parallel group
(Rajbhandari et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainingConfig
from .options import AnalyticOptions

# bitsandbytes' blockwise 8-bit optimizers: one byte per state plus an fp32 absmax per 256 values
# (Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization").
ADAM_8BIT_BYTES = 2 * (1 + 4 / 256)
OPTIMIZER_MOMENT_BYTES = {"adam": 8.0, "adamw": 8.0, "sgd_momentum": 4.0, "adam_8bit": ADAM_8BIT_BYTES, "none": 0.0}
PARTS = ("parameter", "gradient", "optimizer", "grad_accumulate")


@dataclass(frozen=True)
class BytesPerParam:
    """Bytes each parameter costs in each model-state part, after sharding; `why` per part."""

    parameter: float
    gradient: float
    optimizer: float
    grad_accumulate: float
    why: dict

    def part(self, name: str) -> float:
        return getattr(self, name)

    @property
    def total(self) -> float:
        return sum(self.part(p) for p in PARTS)


def fsdp2_fp32_params(config: TrainingConfig, options: AnalyticOptions) -> bool:
    """FSDP2 keeps fp32 parameters (the master weights themselves) and casts when gathering."""
    return options.fp32_sharded_params and config.mixed_precision


def weight_bytes(config: TrainingConfig, options: AnalyticOptions | None = None) -> float:
    """The weights kept: bf16/fp16 under mixed precision, fp32 in fp32 training or FSDP2 style."""
    if not config.mixed_precision or (options is not None and fsdp2_fp32_params(config, options)):
        return 4.0
    return 2.0


def gradient_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """fp32 main_grad (Megatron) or half-precision gradients; fp32 training has fp32 gradients."""
    if not config.mixed_precision or options.grad_dtype == "fp32":
        return 4.0
    return 2.0


def grad_accumulate_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """A separate fp32 buffer summing half gradients over micro-batches (Galvatron/DeepSpeed style)."""
    separate = config.mixed_precision and options.grad_dtype == "bf16+fp32_accumulation"
    return 4.0 if separate and config.chunks > 1 else 0.0


def optimizer_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """fp32 master weights (mixed precision, unless they are the parameters) plus the moments."""
    master = 4.0 if config.mixed_precision and not fsdp2_fp32_params(config, options) else 0.0
    return master + OPTIMIZER_MOMENT_BYTES[options.optimizer]


def zero_shard_degree(config: TrainingConfig, options: AnalyticOptions) -> int:
    """GPUs a ZeRO/FSDP shard spans: dp, times cp when the framework shards over it."""
    return config.dp * (options.context_parallel if options.zero_shards_over_cp else 1)


def bytes_per_param(config: TrainingConfig, options: AnalyticOptions) -> BytesPerParam:
    """Per-GPU bytes per parameter of each part, ZeRO sharding applied."""
    shards = zero_shard_degree(config, options)
    zero = config.zero_stage
    raw = {
        "parameter": weight_bytes(config, options),
        "gradient": gradient_bytes(config, options),
        "optimizer": optimizer_bytes(config, options),
        "grad_accumulate": grad_accumulate_bytes(config, options),
    }
    sharded_from = {"optimizer": 1, "gradient": 2, "grad_accumulate": 2, "parameter": 3}
    values, why = {}, {}
    for part, value in raw.items():
        sharded = zero >= sharded_from[part] and shards > 1 and value
        values[part] = value / shards if sharded else value
        why[part] = f"{value:g} B" + (f" / ZeRO-{zero} shards {shards}" if sharded else "")
    why["optimizer"] = f"({_optimizer_text(config, options)}) " + why["optimizer"]
    return BytesPerParam(**values, why=why)


def _optimizer_text(config: TrainingConfig, options: AnalyticOptions) -> str:
    master = "fp32 master 4 B + " if config.mixed_precision and not fsdp2_fp32_params(config, options) else ""
    return f"{master}{options.optimizer} {OPTIMIZER_MOMENT_BYTES[options.optimizer]:g} B"
