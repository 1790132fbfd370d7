"""Galvatron's model states of one unit (a layer, or the "other" modules), per GPU, in MiB.

Mixed precision: bf16 weights and grads (P/2 each), fp32 master + Adam m, v (3P), an fp32
gradient accumulation buffer (P) when there is more than one micro-batch; fp32 training: P, P,
2P and no buffer. P is the unit's fp32 size per GPU (its measured size / tp). ZeRO then shards
over dp (viz_app/model/sharding.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Text
from ..config import TrainingConfig
from ..sharding import MODEL_STATE_PARTS, zero_sharded
from ..terms import Term

# Each part as a multiple of P, with its label.
MIXED_PRECISION_SHARES = {"parameter": (0.5, "P/2"), "gradient": (0.5, "P/2"), "optimizer": (3, "3P"),
                          "grad_accumulate": (1, "P")}
FP32_SHARES = {"parameter": (1, "P"), "gradient": (1, "P"), "optimizer": (2, "2P"), "grad_accumulate": (0, "0")}
NO_BUFFER = (0, "0")


@dataclass(frozen=True)
class States:
    """Per-GPU model states of one unit (a layer, or the "other" modules), MiB."""

    parameter: float
    gradient: float
    optimizer: float
    grad_accumulate: float

    @classmethod
    def of(cls, terms: dict[str, Term]) -> States:
        return cls(*(terms[part].value for part in MODEL_STATE_PARTS))

    def scaled(self, factor: float) -> States:
        return States(*(v * factor for v in (self.parameter, self.gradient, self.optimizer, self.grad_accumulate)))

    def plus(self, other: States) -> States:
        return States(
            self.parameter + other.parameter, self.gradient + other.gradient,
            self.optimizer + other.optimizer, self.grad_accumulate + other.grad_accumulate,
        )


def gradient_in_accumulation_buffer(config: TrainingConfig) -> bool:
    """Whether the gradients live only in the fp32 accumulation buffer, with no bf16 copy of their own.

    Galvatron's rule for several micro-batches under ZeRO-0/1. Galvatron also applies it in fp32,
    where no such buffer exists (its UI never reaches fp32): that would make ZeRO-2 cost more than
    ZeRO-1, so the rule is kept to mixed precision.
    """
    return config.chunks > 1 and config.zero_stage <= 1 and config.mixed_precision


def state_terms(fp32_mib: float, config: TrainingConfig, dp: int) -> dict[str, Term]:
    """Each model-state part of a unit whose fp32 size per GPU is `fp32_mib`, labelled in P."""
    shares = dict(MIXED_PRECISION_SHARES if config.mixed_precision else FP32_SHARES)
    if config.chunks == 1:  # one micro-batch: nothing to accumulate
        shares["grad_accumulate"] = NO_BUFFER
    terms = {}
    for part in MODEL_STATE_PARTS:
        share, label = shares[part]
        terms[part] = zero_sharded(Term(fp32_mib * share, label), part, config.zero_stage, Term(dp, f"dp {dp}"))
    if gradient_in_accumulation_buffer(config):
        terms["gradient"] = Term(0.0, Text("formula.in_accumulation_buffer"))
    return terms


def split_states(fp32_mib: float, config: TrainingConfig, dp: int) -> States:
    """Split the fp32-equivalent size of some weights into parameter/gradient/optimizer/accumulation."""
    return States.of(state_terms(fp32_mib, config, dp))
