"""Galvatron mode: the Memory Visualizer's cost model (MemoryCostModel.js), for every stage at once.

Formulas are the original's (spec section 3, PKU-DAIR/Hetu-Galvatron branch
`galvatron-visualizer`, src/models/MemoryCostModel.js) so the numbers match it exactly; its
failure modes are replaced by clear errors or flagged extrapolation (spec section 4).
All values are MiB per GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import TrainingConfig
from ..errors import StrategyError
from ..result import (
    ACTIVATION,
    GRAD_ACCUMULATE,
    GRADIENT,
    MODEL_STATES,
    OPTIMIZER,
    PARAMETER,
    Block,
    Estimate,
    Notice,
    StageEstimate,
)
from .profile import ByTp, GalvatronProfile, ProfileVariant

SOURCE = "Galvatron Memory Visualizer, MemoryCostModel.js (PKU-DAIR/Hetu-Galvatron)"

# Share of the measured "other" activation held on a stage: its profiler measured it with a
# different number of micro-batches in flight than the visualizer assumes; kept for exactness.
OTHER_ACTIVATION_FACTOR = {"pp_off": 2 / 3, "pp_on_first": 1.0, "pp_on_last": 1 / 2}


@dataclass(frozen=True)
class States:
    """Per-GPU model states of one unit (a layer, or the "other" modules), MiB."""

    parameter: float
    gradient: float
    optimizer: float
    grad_accumulate: float

    def scaled(self, factor: float) -> States:
        return States(*(v * factor for v in (self.parameter, self.gradient, self.optimizer, self.grad_accumulate)))

    def plus(self, other: States) -> States:
        return States(
            self.parameter + other.parameter, self.gradient + other.gradient,
            self.optimizer + other.optimizer, self.grad_accumulate + other.grad_accumulate,
        )


def split_states(fp32_mib: float, config: TrainingConfig, dp: int) -> States:
    """Split the fp32-equivalent size of some weights into parameter/gradient/optimizer/accumulation.

    Mixed precision: bf16 weights and grads (P/2 each), fp32 master + Adam m, v (3P), an fp32
    gradient accumulation buffer (P) when there is more than one micro-batch. ZeRO shards over dp
    (Rajbhandari et al. 2020): stage 1 the optimizer, 2 also gradients, 3 also parameters.
    """
    p = fp32_mib
    accumulating = config.chunks > 1
    if config.mixed_precision:
        parameter, gradient, optimizer = p / 2, p / 2, 3 * p
        grad_accumulate = p if accumulating else 0.0
    else:
        parameter, gradient, optimizer, grad_accumulate = p, p, 2 * p, 0.0
    zero = config.zero_stage
    if zero >= 1:
        optimizer /= dp
    if zero >= 2:
        gradient /= dp
        grad_accumulate /= dp
    if zero >= 3:
        parameter /= dp
    if accumulating and zero <= 1 and config.mixed_precision:
        # Gradients then live only in the fp32 accumulation buffer. Galvatron also zeroes them in
        # fp32, where no such buffer exists (its UI never reaches fp32): that would make ZeRO-2
        # cost more than ZeRO-1, so the rule is kept to mixed precision.
        gradient = 0.0
    return States(parameter, gradient, optimizer, grad_accumulate)


def other_placement(stage: int, pp: int) -> str | None:
    """Which measured "other" memory a stage holds: embedding on the first, head on the last."""
    if pp == 1:
        return "pp_off"
    if stage == 0:
        return "pp_on_first"
    if stage == pp - 1:
        return "pp_on_last"
    return None


class _Lookup:
    """Reads TP-dependent profile values, recording which ones were extrapolated."""

    def __init__(self, profile: GalvatronProfile, variant: ProfileVariant, sequence_parallel: bool):
        self.profile, self.variant, self.halving = profile, variant, sequence_parallel
        self.extrapolated = False

    def at(self, values: ByTp, tp: int) -> float:
        try:
            value, extrapolated = values.at(tp, halving=self.halving)
        except KeyError:
            degrees = ", ".join(map(str, self.variant.tp_degrees()))
            raise StrategyError(key="error.no_tp" if self.halving else "error.no_tp_without_sp",
                                name=self.profile.name, tp=tp, available=degrees) from None
        self.extrapolated |= extrapolated
        return value


def _validate(config: TrainingConfig) -> None:
    if config.pp > config.num_layers:
        raise StrategyError(key="error.pp_over_layers", pp=config.pp, layers=config.num_layers)


def estimate_galvatron(config: TrainingConfig, profile: GalvatronProfile) -> Estimate:
    """Per-GPU memory of every pipeline stage, as Galvatron's visualizer computes it."""
    _validate(config)
    variant = profile.variant(config.sequence_parallel)
    lookup = _Lookup(profile, variant, config.sequence_parallel)
    tp, pp, dp, mbs = config.tp, config.pp, config.dp, config.micro_batch_size
    seq_ratio = config.seq_length / variant.seq_length
    layers_per_stage = math.ceil(config.num_layers / pp)

    layer_fp32_mib = variant.parameter_mib / tp
    layer_states = split_states(layer_fp32_mib, config, dp)
    if config.checkpoint:
        layer_activation_mib = variant.checkpoint_mib * seq_ratio * mbs / (tp if config.sequence_parallel else 1)
        act_formula = f"checkpoint {variant.checkpoint_mib:g} x r {seq_ratio:g} x mbs {mbs}" + (
            f" / tp {tp}" if config.sequence_parallel else ""
        )
    else:
        layer_activation_mib = lookup.at(variant.layer_activation, tp) * seq_ratio * mbs
        act_formula = f"act[tp={tp}] x r {seq_ratio:g} x mbs {mbs}"

    stages = []
    for stage in range(pp):
        placement = other_placement(stage, pp)
        inflight = pp - stage  # 1F1B: stage s holds pp - s micro-batches (Narayanan et al. 2021)
        states = layer_states.scaled(layers_per_stage)
        other_activation_mib = 0.0
        if placement:
            other = variant.other[placement]
            other_states = split_states(lookup.at(other.model_states, tp) * seq_ratio / 4, config, dp)
            states = states.plus(other_states)
            other_activation_mib = lookup.at(other.activation, tp) * seq_ratio * OTHER_ACTIVATION_FACTOR[placement]
        blocks = [
            Block("activation.layers", ACTIVATION, layers_per_stage * layer_activation_mib, layers_per_stage,
                  f"{layers_per_stage} layers x {act_formula}", SOURCE),
            Block("activation.inflight", ACTIVATION, (inflight - 1) * layers_per_stage * layer_activation_mib,
                  (inflight - 1) * layers_per_stage,
                  f"{inflight - 1} more micro-batches in flight x {layers_per_stage} layers x per-layer activation",
                  SOURCE),
            Block("activation.other", ACTIVATION, other_activation_mib, 1,
                  f"other activation[tp={tp}] x r {seq_ratio:g} x {OTHER_ACTIVATION_FACTOR.get(placement, 0):g}"
                  if placement else "middle stage: no embedding or head", SOURCE),
            Block(PARAMETER, MODEL_STATES, states.parameter, 1, _states_formula("parameter", config), SOURCE),
            Block(GRADIENT, MODEL_STATES, states.gradient, 1, _states_formula("gradient", config), SOURCE),
            Block(OPTIMIZER, MODEL_STATES, states.optimizer, 1, _states_formula("optimizer", config), SOURCE),
            Block(GRAD_ACCUMULATE, MODEL_STATES, states.grad_accumulate, 1,
                  _states_formula("grad_accumulate", config), SOURCE),
        ]
        stages.append(StageEstimate(stage, layers_per_stage, tuple(blocks)))

    notices = list(config.constraint_notices())
    if lookup.extrapolated:
        notices.append(Notice(
            "tp_extrapolated",
            f"TP {tp} was not profiled; its values are extrapolated from the profiled degrees "
            f"({', '.join(map(str, variant.tp_degrees()))}) by Galvatron's halving rule",
            {"tp": tp, "profiled": list(variant.tp_degrees())},
        ))
    if profile.layer_types > 1:
        notices.append(Notice(
            "multiple_layer_types",
            f"profile has {profile.layer_types} layer types; like Galvatron's visualizer, only the first is used",
            {"layer_types": profile.layer_types},
        ))
    return Estimate("galvatron", tuple(stages), tuple(notices))


def _states_formula(part: str, config: TrainingConfig) -> str:
    """The per-layer rule for one model-state part, P = fp32 layer size / tp."""
    d, zero, acc = config.dp, config.zero_stage, config.chunks > 1
    if config.mixed_precision:
        base = {"parameter": "P/2", "gradient": "P/2", "optimizer": "3P", "grad_accumulate": "P" if acc else "0"}
    else:
        base = {"parameter": "P", "gradient": "P", "optimizer": "2P", "grad_accumulate": "0"}
    text = base[part]
    sharded = {"optimizer": zero >= 1, "gradient": zero >= 2, "grad_accumulate": zero >= 2, "parameter": zero >= 3}
    if sharded[part] and text != "0":
        text += f" / dp {d}"
    if part == "gradient" and acc and zero <= 1 and config.mixed_precision:
        text = "0 (kept in the fp32 accumulation buffer)"
    return f"{text} per layer, summed over the stage's layers and its embedding/head share"
