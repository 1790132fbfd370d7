"""Model states per parameter: weights, gradients, optimizer states, accumulation buffer; ZeRO.

Mixed precision keeps 2-byte weights and fp32 master weights inside the optimizer state
(Micikevicius et al. 2018); Adam adds two fp32 moments, so with fp32 gradients a parameter costs
2 + 4 + 12 = 18 bytes (Korthikanti et al. 2022 section 5; Megatron-LM theoretical_memory_usage.py).
ZeRO stages 1/2/3 shard optimizer states / + gradients / + weights over the data-parallel group
(Rajbhandari et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Joined, Text
from ..config import TrainingConfig
from ..precision import FP32_BYTES, compute_dtype_bytes
from ..sharding import MODEL_STATE_PARTS, zero_shard_degree, zero_sharded
from ..terms import Term
from .options import AnalyticOptions

# bitsandbytes' blockwise 8-bit optimizers: one byte per state plus an fp32 absmax per 256 values
# (Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization").
ADAM_8BIT_BYTES = 2 * (1 + 4 / 256)
OPTIMIZER_MOMENT_BYTES = {"adam": 8.0, "adamw": 8.0, "sgd_momentum": 4.0, "adam_8bit": ADAM_8BIT_BYTES, "none": 0.0}


@dataclass(frozen=True)
class BytesPerParam:
    """Bytes each parameter costs in each model-state part, after sharding; `terms` has each with its formula."""

    parameter: float
    gradient: float
    optimizer: float
    grad_accumulate: float
    terms: dict[str, Term]

    @classmethod
    def of(cls, terms: dict[str, Term]) -> BytesPerParam:
        return cls(**{part: terms[part].value for part in MODEL_STATE_PARTS}, terms=terms)

    def part(self, name: str) -> float:
        return getattr(self, name)

    @property
    def total(self) -> float:
        return sum(self.part(p) for p in MODEL_STATE_PARTS)


def fsdp2_fp32_params(config: TrainingConfig, options: AnalyticOptions) -> bool:
    """FSDP2 keeps fp32 parameters (the master weights themselves) and casts when gathering."""
    return options.fp32_sharded_params and config.mixed_precision


def weight_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """The weights kept: in the compute dtype, except FSDP2 style keeps them in fp32."""
    return float(FP32_BYTES if fsdp2_fp32_params(config, options) else compute_dtype_bytes(config))


def gradient_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """fp32 main_grad (Megatron) or half-precision gradients; fp32 training has fp32 gradients."""
    if not config.mixed_precision or options.grad_dtype == "fp32":
        return 4.0
    return 2.0


def grad_accumulate_bytes(config: TrainingConfig, options: AnalyticOptions) -> float:
    """A separate fp32 buffer summing half gradients over micro-batches (Galvatron/DeepSpeed style)."""
    separate = config.mixed_precision and options.grad_dtype == "bf16+fp32_accumulation"
    return 4.0 if separate and config.chunks > 1 else 0.0


def moment_bytes(options: AnalyticOptions) -> float:
    """Bytes of the optimizer's moments per parameter: fp32, or half that in bf16 (8-bit states stay 8-bit)."""
    fp32_bytes = OPTIMIZER_MOMENT_BYTES[options.optimizer]
    if options.optimizer_state_dtype == "bf16" and options.optimizer != "adam_8bit":
        return fp32_bytes / 2
    return fp32_bytes


def optimizer_term(config: TrainingConfig, options: AnalyticOptions) -> Term:
    """fp32 master weights (mixed precision, unless they are the parameters or there are none) plus the moments."""
    moments = moment_bytes(options)
    dtype = Text("formula.bf16_moments") if moments != OPTIMIZER_MOMENT_BYTES[options.optimizer] else ""
    kept = Term(moments, Joined(options.optimizer, dtype, f" {moments:g} B"))
    if config.mixed_precision and options.master_weights == "fp32" and not fsdp2_fp32_params(config, options):
        kept = Term(4.0, Text("formula.fp32_master")).plus(kept)
    kept = kept.worded("(", f") {kept.value:g} B")
    if options.optimizer_offload_fraction:
        # the offloaded share lives in host memory (Megatron HybridDeviceOptimizer, DeepSpeed offload_optimizer)
        on_gpu = 1 - options.optimizer_offload_fraction
        kept = kept.times(Term(on_gpu, Text("formula.offloaded", {"on_gpu": on_gpu,
                                                                  "offloaded": options.optimizer_offload_fraction})))
    return kept


def _bytes(value: float) -> Term:
    return Term(value, f"{value:g} B")


def bytes_per_param(config: TrainingConfig, options: AnalyticOptions, shard_count: int | None = None,
                    group: str = "") -> BytesPerParam:
    """Per-GPU bytes per parameter of each part, ZeRO sharding applied over `shard_count` GPUs (default
    the data-parallel group; routed experts pass their expert-data-parallel group, named by `group`)."""
    zero = config.zero_stage
    if shard_count is None:
        shard_count = zero_shard_degree(config.dp, options.context_parallel, options.zero_shards_over_cp)
    shards = Term(shard_count, Joined(Text("formula.zero_shards", {"zero": zero, "shards": shard_count}), group))
    unsharded = {
        "parameter": _bytes(weight_bytes(config, options)),
        "gradient": _bytes(gradient_bytes(config, options)),
        "optimizer": optimizer_term(config, options),
        "grad_accumulate": _bytes(grad_accumulate_bytes(config, options)),
    }
    return BytesPerParam.of({part: zero_sharded(term, part, zero, shards) for part, term in unsharded.items()})
