"""Galvatron mode: the Memory Visualizer's cost model (MemoryCostModel.js), for every stage at once.

Formulas are the original's (spec section 3, PKU-DAIR/Hetu-Galvatron branch
`galvatron-visualizer`, src/models/MemoryCostModel.js) so the numbers match it exactly; its
failure modes are replaced by clear errors or flagged extrapolation (spec section 4).
All values are MiB per GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


class Lookup:
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


def check_pipeline(pp: int, num_layers: int) -> None:
    """Every pipeline stage needs at least one layer (the explorer applies the same check)."""
    if pp > num_layers:
        raise StrategyError(key="error.pp_over_layers", pp=pp, layers=num_layers)


@dataclass(frozen=True)
class LayerGroup:
    """Consecutive layers of one stage that share one strategy.

    `config` holds the strategy (its tp is the Megatron degree, 1 under Ulysses; zero_stage,
    checkpoint, micro_batch_size, chunks, precision); `shards` is the number of GPUs its ZeRO
    shards over (dp, times the Ulysses degree, as in Galvatron's sdp_size).
    """

    first: int  # 1-based index of the group's first layer in the model
    count: int
    config: TrainingConfig
    shards: int
    ulysses: int = 1  # Ulysses sequence-parallel degree (Galvatron's use_sp); 1: off

    @property
    def tp_sp(self) -> int:
        """The degree activations are split by (Galvatron's tp_sp_size)."""
        return self.config.tp * self.ulysses


@dataclass(frozen=True)
class OtherStrategy:
    """How the embedding and head (Galvatron's "other" memory) are parallelised."""

    config: TrainingConfig
    shards: int
    tp_states: int  # degree the model states are looked up at (the vocab tp, 1 under Ulysses)
    tp_activation: int  # degree the activation is looked up at (the vocab tp or sp)


@dataclass(frozen=True)
class StagePlan:
    """One pipeline stage: its layer groups and its in-flight micro-batches."""

    groups: tuple[LayerGroup, ...]
    inflight: int

    @property
    def layers(self) -> int:
        return sum(g.count for g in self.groups)


def estimate_galvatron(config: TrainingConfig, profile: GalvatronProfile) -> Estimate:
    """Per-GPU memory of every pipeline stage, as Galvatron's visualizer computes it."""
    check_pipeline(config.pp, config.num_layers)
    pp, dp = config.pp, config.dp
    layers_per_stage = math.ceil(config.num_layers / pp)
    # 1F1B: stage s holds pp - s micro-batches (Narayanan et al. 2021)
    plans = [StagePlan((LayerGroup(stage * layers_per_stage + 1, layers_per_stage, config, dp),), pp - stage)
             for stage in range(pp)]
    other = OtherStrategy(config, dp, config.tp, config.tp)
    return estimate_stages(config, profile, plans, other, list(config.constraint_notices()))


def estimate_stages(config: TrainingConfig, profile: GalvatronProfile, plans: list[StagePlan],
                    other_strategy: OtherStrategy, notices: list[Notice]) -> Estimate:
    """Galvatron's per-layer formulas, summed over each stage's layer groups.

    `config` gives what every layer shares: sequence parallelism (the profile variant), sequence
    length and precision.
    """
    variant = profile.variant(config.sequence_parallel)
    lookup = Lookup(profile, variant, config.sequence_parallel)
    seq_ratio = config.seq_length / variant.seq_length
    pp = len(plans)
    stages = []
    for stage, plan in enumerate(plans):
        placement = other_placement(stage, pp)
        parts = [_group_parts(group, variant, lookup, seq_ratio) for group in plan.groups]
        states = parts[0].states
        for part in parts[1:]:
            states = states.plus(part.states)
        other_activation = Term(0.0, Text("formula.middle_stage"))
        if placement:
            other, o = variant.other[placement], other_strategy
            states = states.plus(split_states(lookup.at(other.model_states, o.tp_states) * seq_ratio / 4,
                                              o.config, o.shards))
            share = OTHER_ACTIVATION_FACTOR[placement]
            other_activation = (Term(lookup.at(other.activation, o.tp_activation),
                                     Text("formula.other_activation", {"tp": o.tp_activation}))
                                .times(Term(seq_ratio, f"r {seq_ratio:g}")).times(Term(share, f"{share:g}")))
        blocks = _activation_blocks(plan, parts) + [
            Block("activation.other", ACTIVATION, other_activation.value, 1, other_activation.text, SOURCE)]
        blocks += [Block(key, MODEL_STATES, getattr(states, part), 1, _state_rule(plan, parts, part), SOURCE)
                   for part, key in STATE_KEYS.items()]
        stages.append(StageEstimate(stage, plan.layers, tuple(blocks)))

    if lookup.extrapolated:
        degrees = variant.tp_degrees()
        notices.append(Notice(
            "tp_extrapolated",
            f"TP {config.tp} was not profiled; its values are extrapolated from the profiled degrees "
            f"({', '.join(map(str, degrees))}) by Galvatron's halving rule",
            {"tp": config.tp, "profiled": list(degrees)},
        ))
    if profile.layer_types > 1:
        notices.append(Notice(
            "multiple_layer_types",
            f"profile has {profile.layer_types} layer types; like Galvatron's visualizer, only the first is used",
            {"layer_types": profile.layer_types},
        ))
    return Estimate("galvatron", tuple(stages), tuple(notices))


@dataclass(frozen=True)
class _GroupParts:
    """A layer group's terms: per-layer activation and model states, and the group's activation."""

    activation: Term  # one layer, one micro-batch
    state_terms: dict[str, Term]  # one layer
    states: States  # the whole group
    layers_activation: Term  # the whole group, one micro-batch


def _group_parts(group: LayerGroup, variant: ProfileVariant, lookup: Lookup, seq_ratio: float) -> _GroupParts:
    terms = state_terms(variant.parameter_mib / group.config.tp, group.config, group.shards)
    activation = layer_activation(group, variant, lookup, seq_ratio)
    layers = Term(group.count, Text("formula.layers", {"n": group.count}))
    return _GroupParts(activation, terms, States.of(terms).scaled(group.count), layers.times(activation))


def _activation_blocks(plan: StagePlan, parts: list[_GroupParts]) -> list[Block]:
    """The layers' activation (one block per group) and that of the other micro-batches in flight."""
    more = plan.inflight - 1
    if len(parts) == 1:
        (group,), (part,) = plan.groups, parts
        layers = Term(group.count, Text("formula.layers", {"n": group.count}))
        inflight = (Term(more, Text("formula.more_in_flight", {"n": more})).times(layers)
                    .times(part.activation.phrased("formula.per_layer_activation")))
        return [Block("activation.layers", ACTIVATION, part.layers_activation.value, group.count,
                      part.layers_activation.text, SOURCE),
                Block("activation.inflight", ACTIVATION, inflight.value, more * group.count, inflight.text, SOURCE)]
    blocks = [Block(f"activation.layers.{g.first}-{g.first + g.count - 1}", ACTIVATION, p.layers_activation.value,
                    g.count, p.layers_activation.text, SOURCE) for g, p in zip(plan.groups, parts, strict=True)]
    per_micro_batch = parts[0].layers_activation
    for part in parts[1:]:
        per_micro_batch = per_micro_batch.plus(part.layers_activation)
    inflight = Term(more, Text("formula.more_in_flight", {"n": more})).times(
        per_micro_batch.phrased("formula.stage_activation"))
    return blocks + [Block("activation.inflight", ACTIVATION, inflight.value, more, inflight.text, SOURCE)]


def layer_activation(group: LayerGroup, variant: ProfileVariant, lookup: Lookup, seq_ratio: float) -> Term:
    """One layer's activation for one micro-batch: the checkpointed input, or the profiled activation.

    Ulysses splits activations by its degree as TP does (Galvatron's search engine reads both at
    tp_sp_size, galvatron/core/cost_model/components/layer_cost.py).
    """
    config, tp, ulysses = group.config, group.config.tp, group.ulysses
    mbs, degree = config.micro_batch_size, group.tp_sp
    name = f"sp {ulysses}" if ulysses > 1 else f"tp {tp}"
    if config.checkpoint:
        activation = (Term(variant.checkpoint_mib, Text("formula.checkpoint", {"mib": variant.checkpoint_mib}))
                      .times(Term(seq_ratio, f"r {seq_ratio:g}")).times(Term(mbs, f"mbs {mbs}")))
        split = config.sequence_parallel or ulysses > 1
        return activation.over(Term(degree, name)) if split else activation
    return (Term(lookup.at(variant.layer_activation, degree), f"act[tp={degree}]")
            .times(Term(seq_ratio, f"r {seq_ratio:g}")).times(Term(mbs, f"mbs {mbs}")))


def _state_rule(plan: StagePlan, parts: list[_GroupParts], part: str) -> str:
    """A model-state block's formula: the per-layer rule of each group, in multiples of P."""
    if len(parts) == 1:
        return _per_layer_rule(parts[0].state_terms[part])
    rules = "; ".join(f"layers {g.first}-{g.first + g.count - 1}: {p.state_terms[part].text}"
                      for g, p in zip(plan.groups, parts, strict=True))
    return f"per layer, P = fp32 layer size / tp: {rules}; summed over the stage's layers and its embedding/head share"


def _per_layer_rule(part: Term) -> str:
    """A model-state block's formula: the per-layer rule, in multiples of P = fp32 layer size / tp."""
    return Text("formula.per_layer_rule", {"term": part.text})
