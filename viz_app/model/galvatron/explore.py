"""Galvatron mode over the explorer's grid: every strategy's peak stage at once, with numpy.

The strategies are those Galvatron's visualizer can show: tp (the profiled degrees and their
halving-rule extrapolations), pp, dp, ZeRO stage, full checkpointing on or off and micro-batch
size. Each row's numbers equal `estimate_galvatron` with the same values, bit for bit: the per-layer
activation, the model states and the "other" memory come from the estimate's own functions, and
the stage total adds the same blocks in the same order. docs/explorer.md.
"""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import numpy as np

from ..config import TrainingConfig
from ..explore.costs import TP_RECOMPUTE_UNITS, bubble_fraction, dp_bytes, pp_bytes, tp_bytes
from ..explore.grid import Layout, layouts, micro_batch_sizes
from ..explore.table import Exploration, comm_column, empty_columns, finish
from ..precision import compute_dtype_bytes
from ..sharding import MODEL_STATE_PARTS
from .estimate import OTHER_ACTIVATION_FACTOR, LayerGroup, Lookup, check_pipeline, layer_activation
from .profile import OTHER_PLACEMENTS, GalvatronProfile
from .states import state_terms

ZERO_STAGES = (0, 1, 2, 3)
RECOMPUTE = ("none", "full")  # Galvatron's checkpoint off / on
MIB = 1 << 20
FP32_BYTES = 4


def _layouts(profile: GalvatronProfile, config: TrainingConfig, gpus: int, excluded: Counter) -> list:
    variant = profile.variant(config.sequence_parallel)
    lookup = Lookup(profile, variant, config.sequence_parallel)

    def check(layout: Layout) -> None:  # the estimate's checks, in its order
        check_pipeline(layout.pp, config.num_layers)
        lookup.at(variant.layer_activation, layout.tp)
        for other in variant.other.values():
            lookup.at(other.model_states, layout.tp)
            lookup.at(other.activation, layout.tp)

    return list(layouts(gpus, config.global_batch_size, check, excluded, context_parallel=False))


def _state_values(fp32_mib: float, mixed_precision: bool, dp: int, zero: int, several: bool) -> list[float]:
    """Each model-state part of a unit (states.state_terms), for one ZeRO stage and chunk count class."""
    config = SimpleNamespace(mixed_precision=mixed_precision, chunks=2 if several else 1, zero_stage=zero)
    terms = state_terms(fp32_mib, config, dp)
    return [terms[part].value for part in MODEL_STATE_PARTS]


def explore_galvatron(profile: GalvatronProfile, config: TrainingConfig, gpus: int,
                      capacity_mib: float) -> Exploration:
    """Every strategy Galvatron's visualizer can show for `profile` on `gpus` GPUs, with `config`'s
    global batch, sequence length, layers, sequence parallelism and precision."""
    excluded: Counter = Counter()
    variant = profile.variant(config.sequence_parallel)
    lookup = Lookup(profile, variant, config.sequence_parallel)
    valid = _layouts(profile, config, gpus, excluded)
    if not valid:
        return finish("galvatron", capacity_mib, empty_columns(), dict(excluded))
    gbs, seq_ratio, mixed = config.global_batch_size, config.seq_length / variant.seq_length, config.mixed_precision
    # Tables by layout: model states [layout, zero, several chunks, part], other memory by placement.
    layer_states = np.asarray([[[_state_values(variant.parameter_mib / lay.tp, mixed, lay.dp, zero, several)
                                 for several in (False, True)] for zero in ZERO_STAGES] for lay in valid])
    other_states = {p: np.asarray([[[_state_values(lookup.at(variant.other[p].model_states, lay.tp) * seq_ratio / 4,
                                                   mixed, lay.dp, zero, several)
                                     for several in (False, True)] for zero in ZERO_STAGES] for lay in valid])
                    for p in OTHER_PLACEMENTS}
    other_activation = {p: np.asarray([(lookup.at(variant.other[p].activation, lay.tp) * seq_ratio)
                                       * OTHER_ACTIVATION_FACTOR[p] for lay in valid]) for p in OTHER_PLACEMENTS}
    # Base rows: (layout, micro-batch size); each repeats for every ZeRO stage and checkpoint setting.
    layout_index, mbs, activation = [], [], []
    for index, lay in enumerate(valid):
        sizes = np.asarray(micro_batch_sizes(gbs, lay.dp))
        layout_index.append(np.full(len(sizes), index))
        mbs.append(sizes)
        activation.append([layer_activation(LayerGroup(1, 1, SimpleNamespace(
            tp=lay.tp, micro_batch_size=sizes, checkpoint=checkpoint, sequence_parallel=config.sequence_parallel),
            lay.dp), variant, lookup, seq_ratio).value
            + np.zeros(len(sizes)) for checkpoint in (False, True)])
    repeat = len(ZERO_STAGES) * len(RECOMPUTE)
    base_layout, base_mbs = np.concatenate(layout_index), np.concatenate(mbs)
    base_activation = np.concatenate([np.stack(pair, axis=1) for pair in activation])  # [base row, checkpoint]
    n_base = len(base_layout)
    lay_index = np.repeat(base_layout, repeat)
    zero = np.tile(np.repeat(np.arange(len(ZERO_STAGES)), len(RECOMPUTE)), n_base)
    checkpoint = np.tile(np.arange(len(RECOMPUTE)), n_base * len(ZERO_STAGES))
    tp, pp, dp = (np.asarray([getattr(lay, key) for lay in valid])[lay_index] for key in ("tp", "pp", "dp"))
    micro = np.repeat(base_mbs, repeat)
    chunks = gbs // (dp * micro)
    several = (chunks > 1).astype(int)
    per_layer = base_activation[np.repeat(np.arange(n_base), repeat), checkpoint]
    stage_layers = np.asarray([math.ceil(config.num_layers / lay.pp) for lay in valid])[lay_index]
    states = layer_states[lay_index, zero, several]  # [row, part]

    def stage_total(stage: np.ndarray) -> np.ndarray:
        """estimate_galvatron's blocks for stage `stage` of every row, added in its order."""
        placement = np.where(pp == 1, 0, np.where(stage == 0, 1, np.where(stage == pp - 1, 2, -1)))
        inflight = pp - stage
        total = stage_layers * per_layer
        total = total + ((inflight - 1) * stage_layers) * per_layer
        other = np.zeros(len(tp))
        for p_index, p in enumerate(OTHER_PLACEMENTS):
            other = np.where(placement == p_index, other_activation[p][lay_index], other)
        total = total + other
        for part in range(len(MODEL_STATE_PARTS)):
            value = states[:, part] * stage_layers
            for p_index, p in enumerate(OTHER_PLACEMENTS):
                value = np.where(placement == p_index, value + other_states[p][lay_index, zero, several, part], value)
            total = total + value
        return total

    peak_mib, peak_stage = None, None
    for stage in (np.zeros_like(pp), np.minimum(1, pp - 1), pp - 1):  # the middle stages hold fewer in flight
        total = stage_total(stage)
        if peak_mib is None:
            peak_mib, peak_stage = total, stage
        else:
            better = total > peak_mib
            peak_mib, peak_stage = np.where(better, total, peak_mib), np.where(better, stage, peak_stage)
    comm = _comm(profile, config, variant.parameter_mib, tp, pp, dp, micro, chunks, zero, checkpoint, stage_layers,
                 peak_stage)
    ones = np.ones(len(tp), dtype=np.int64)
    columns = {
        "tp": tp, "pp": pp, "dp": dp, "ep": ones, "etp": ones, "zero_stage": zero, "micro_batch_size": micro,
        "chunks": chunks, "context_parallel": ones, "recompute": np.asarray(RECOMPUTE)[checkpoint],
        "schedule": np.full(len(tp), "1f1b"), "virtual_stages": ones, "peak_mib": peak_mib, "peak_stage": peak_stage,
        "bubble": bubble_fraction(pp, chunks, 1), "recompute_overhead": checkpoint.astype(float),
        **{comm_column(kind): values for kind, values in comm.items()},
    }
    return finish("galvatron", capacity_mib, columns, dict(excluded))


def _comm(profile: GalvatronProfile, config: TrainingConfig, layer_fp32_mib: float, tp, pp, dp, mbs, chunks, zero,
          checkpoint, stage_layers, peak_stage) -> dict[str, np.ndarray]:
    """Bytes each GPU of the peak stage sends per step, by kind (explore/costs.py). The profile gives
    the layer's parameters (its fp32 size); activations need the hidden size from its model_config
    (NaN without one). The embedding and head are left out of the data-parallel volume."""
    dtype_bytes = compute_dtype_bytes(config)
    hidden = profile.model.hidden_size or math.nan
    activation = config.seq_length * mbs * hidden * dtype_bytes
    boundary = activation / (tp if config.sequence_parallel else 1)
    params = stage_layers * (layer_fp32_mib * MIB / FP32_BYTES) / tp
    units = np.asarray([TP_RECOMPUTE_UNITS[mode] for mode in RECOMPUTE])[checkpoint]
    zeros = np.zeros(len(tp))
    return {
        "tp": tp_bytes(tp, stage_layers, chunks, activation, units),
        "cp": zeros,
        "ep": zeros,
        "dp": dp_bytes(dp, zero, chunks, params, dtype_bytes, dtype_bytes, False),
        "pp": pp_bytes(pp, peak_stage, chunks, 1, boundary),
    }

