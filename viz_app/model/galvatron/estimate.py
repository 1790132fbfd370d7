"""Galvatron mode: the Memory Visualizer's cost model (MemoryCostModel.js), for every stage at once.

Formulas are the original's (spec section 3, PKU-DAIR/Hetu-Galvatron branch
`galvatron-visualizer`, src/models/MemoryCostModel.js) so the numbers match it exactly; its
failure modes are replaced by clear errors or flagged extrapolation (spec section 4).
All values are MiB per GPU.
"""

from __future__ import annotations

import math

from ...i18n import Text
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
from ..terms import Term
from .profile import ByTp, GalvatronProfile, ProfileVariant
from .states import States, split_states, state_terms

SOURCE = Text("source.galvatron")

# Share of the measured "other" activation held on a stage: its profiler measured it with a
# different number of micro-batches in flight than the visualizer assumes; kept for exactness.
OTHER_ACTIVATION_FACTOR = {"pp_off": 2 / 3, "pp_on_first": 1.0, "pp_on_last": 1 / 2}
STATE_KEYS = {"parameter": PARAMETER, "gradient": GRADIENT, "optimizer": OPTIMIZER, "grad_accumulate": GRAD_ACCUMULATE}


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
    tp, pp, dp = config.tp, config.pp, config.dp
    seq_ratio = config.seq_length / variant.seq_length
    layers_per_stage = math.ceil(config.num_layers / pp)

    layer_state_terms = state_terms(variant.parameter_mib / tp, config, dp)
    layer_states = States.of(layer_state_terms)
    layer_activation = _layer_activation(config, variant, lookup, seq_ratio)
    layers = Term(layers_per_stage, Text("formula.layers", {"n": layers_per_stage}))

    stages = []
    for stage in range(pp):
        placement = other_placement(stage, pp)
        inflight = pp - stage  # 1F1B: stage s holds pp - s micro-batches (Narayanan et al. 2021)
        states = layer_states.scaled(layers_per_stage)
        other_activation = Term(0.0, Text("formula.middle_stage"))
        if placement:
            other = variant.other[placement]
            states = states.plus(split_states(lookup.at(other.model_states, tp) * seq_ratio / 4, config, dp))
            share = OTHER_ACTIVATION_FACTOR[placement]
            other_activation = (Term(lookup.at(other.activation, tp), Text("formula.other_activation", {"tp": tp}))
                                .times(Term(seq_ratio, f"r {seq_ratio:g}")).times(Term(share, f"{share:g}")))
        layers_activation = layers.times(layer_activation)
        inflight_activation = (Term(inflight - 1, Text("formula.more_in_flight", {"n": inflight - 1})).times(layers)
                               .times(layer_activation.phrased("formula.per_layer_activation")))
        blocks = [
            Block("activation.layers", ACTIVATION, layers_activation.value, layers_per_stage, layers_activation.text,
                  SOURCE),
            Block("activation.inflight", ACTIVATION, inflight_activation.value, (inflight - 1) * layers_per_stage,
                  inflight_activation.text, SOURCE),
            Block("activation.other", ACTIVATION, other_activation.value, 1, other_activation.text, SOURCE),
        ]
        blocks += [Block(key, MODEL_STATES, getattr(states, part), 1, _per_layer_rule(layer_state_terms[part]), SOURCE)
                   for part, key in STATE_KEYS.items()]
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


def _layer_activation(config: TrainingConfig, variant: ProfileVariant, lookup: _Lookup, seq_ratio: float) -> Term:
    """One layer's activation for one micro-batch: the checkpointed input, or the profiled activation."""
    tp, mbs = config.tp, config.micro_batch_size
    if config.checkpoint:
        activation = (Term(variant.checkpoint_mib, Text("formula.checkpoint", {"mib": variant.checkpoint_mib}))
                      .times(Term(seq_ratio, f"r {seq_ratio:g}")).times(Term(mbs, f"mbs {mbs}")))
        return activation.over(Term(tp, f"tp {tp}")) if config.sequence_parallel else activation
    return (Term(lookup.at(variant.layer_activation, tp), f"act[tp={tp}]").times(Term(seq_ratio, f"r {seq_ratio:g}"))
            .times(Term(mbs, f"mbs {mbs}")))


def _per_layer_rule(part: Term) -> str:
    """A model-state block's formula: the per-layer rule, in multiples of P = fp32 layer size / tp."""
    return Text("formula.per_layer_rule", {"term": part.text})
