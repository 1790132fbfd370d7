"""The peak of one training step (step.py) for every strategy of the explorer's grid, with numpy.

step.step_timeline's phase totals are linear in what the phase holds: forward k holds k passes
(the last forward holds the most), a backward pass frees one layer's activations per layer while
autograd allocates one layer's share of gradients, so within a backward pass the total is linear in
the layer index and its maximum is at the first or the last layer. The maximum over the timeline is
therefore the maximum over these candidate phases: the last forward (and the loss), the first and
last layer of the first backward, the same of the steady state when there is one, and the optimizer
step. Each candidate adds the estimate's blocks as step.py makes them alive there.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..sharding import zero_shard_degree, zero_shards
from .estimate import MIB
from .explore_factors import Factors, StageMakeup, lookup
from .options import RECOMPUTE, SCHEDULES
from .schedule import inflight_chunk_passes

ZERO_STAGES = (0, 1, 2, 3)
GPIPE = SCHEDULES.index("gpipe")
NONE = RECOMPUTE.index("none")
PARTS = range(4)  # MODEL_STATE_PARTS: parameter, gradient, optimizer, grad_accumulate
GRADIENT = 1


def _by_size(function, b: dict[str, np.ndarray], items: int, *columns: np.ndarray) -> np.ndarray:
    """[base row, item]: `function(*key, sizes)` gives items x sizes for every micro-batch size at once."""
    sizes = np.unique(b["mbs"])
    column = np.searchsorted(sizes, b["mbs"])
    table = lookup(lambda *k: function(*k, tuple(sizes.tolist())), *columns)
    return table.reshape(len(column), items, len(sizes))[np.arange(len(column)), :, column]


def _kept(f: Factors, b: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """MiB a dense (0) and an MoE (1) layer save for one micro-batch, [base row, recompute mode]: one call
    per tp, recompute mode and kind, with every (cp, etp) pair and micro-batch size as arrays."""
    kinds = [moe for moe, index in ((0, f.dense_index), (1, f.moe_index)) if index is not None]
    kept = {moe: np.empty((len(b["tp"]), len(RECOMPUTE))) for moe in kinds}
    sizes = np.unique(b["mbs"])
    size_column = np.searchsorted(sizes, b["mbs"])
    for tp in np.unique(b["tp"]).tolist():
        rows = np.flatnonzero(b["tp"] == tp)
        stride = int(b["etp"].max()) + 1
        pairs, pair = np.unique(b["cp"][rows] * stride + b["etp"][rows], return_inverse=True)
        key = (tuple((pairs // stride).tolist()), tuple((pairs % stride).tolist()))
        for moe in kinds:
            for recompute in range(len(RECOMPUTE)):
                mib = f.layer_mib(tp, *key, recompute, moe, tuple(sizes.tolist()))
                kept[moe][rows, recompute] = mib[pair.reshape(-1), size_column[rows]]
    return kept


def _micro_batch(f: Factors, b: dict[str, np.ndarray]) -> np.ndarray:
    """[base row, (embedding, logits, backward working set)] MiB of one micro-batch."""
    return _by_size(f.micro_batch_mib, b, 3, b["tp"], b["cp"])


def _activations(t: dict, m: StageMakeup) -> tuple[np.ndarray, np.ndarray]:
    """(one micro-batch through the stage's layers, recompute block), [base row, recompute mode], MiB."""
    kept = t["kept"]
    own = sum(count * kept[moe] for moe, count in ((0, m.dense_activations), (1, m.moe_activations)) if count)
    # estimate.recompute_block: the stage's layer with the most activations without recompute
    present = [moe for moe, count in ((0, m.dense), (1, m.moe)) if count]
    if len(present) == 2:
        full_dense, full_moe = kept[0][:, NONE], kept[1][:, NONE]
        moe_chosen = (full_moe > full_dense) | ((full_moe == full_dense) & m.moe_first)
        full = np.where(moe_chosen, full_moe, full_dense)[:, None]
        recomputed = full - np.where(moe_chosen[:, None], kept[1], kept[0])
    else:
        recomputed = kept[present[0]][:, NONE, None] - kept[present[0]]
    recomputed[:, NONE] = 0.0  # no recompute: no block
    return own, recomputed


def _tables(f: Factors, b: dict[str, np.ndarray]) -> dict:
    """What every stage reads, for base rows `b`: parameters of each kind, bytes per parameter [row, ZeRO
    stage] of the gradient and of the other parts (dense and expert), NCCL buffers."""
    several = (b["chunks"] > 1).astype(np.int64)
    t = {"params": np.concatenate([lookup(f.end_parameters, b["tp"], b["pp"]),
                                   lookup(f.layer_parameters, b["tp"], b["ep"], b["etp"])], axis=1),
         "buffers": lookup(f.comm_buffers_mib, b["tp"], b["pp"], b["dp"], b["cp"])[:, 0]}
    for experts in (0, 1) if f.arch.is_moe else (0,):
        shards = f.shards(b, bool(experts))
        per_param = np.stack([lookup(lambda *k, z=z: f.bytes_per_param(z, *k), shards, several)
                              for z in ZERO_STAGES], axis=1)
        t["gradient", experts] = per_param[:, :, GRADIENT]
        t["other", experts] = per_param[:, :, [part for part in PARTS if part != GRADIENT]].sum(axis=2)
    return t


def _states(f: Factors, b: dict[str, np.ndarray], t: dict, m: StageMakeup, pp: int) -> dict[str, np.ndarray]:
    """Model-state sums of the stage [base row, ZeRO stage], MiB, as step.py groups them, and its parameters."""
    o = f.options
    emb, head, mtp_d, mtp_e, dense_d, dense_e, moe_d, moe_e = t["params"].T
    layers = m.dense * dense_d + m.moe * moe_d + m.mtp * mtp_d
    experts = m.dense * dense_e + m.moe * moe_e + m.mtp * mtp_e
    embedding = emb if m.first else 0 * emb
    head = head if m.last else 0 * head
    params = layers + experts + embedding + head
    per_layer = (layers + experts) // max(m.layers, 1)
    largest_layer = np.maximum(dense_d + dense_e if m.dense else 0, moe_d + moe_e if m.moe else 0)
    several = (b["chunks"] > 1).astype(np.int64)
    dense = (layers + embedding + head)[:, None]  # parameters sharded over the data-parallel group
    out = {"fixed": dense * t["other", 0] / MIB, "grads": dense * t["gradient", 0] / MIB,
           "head_grads": head[:, None] * t["gradient", 0] / MIB,
           "layer_grads": layers[:, None] * t["gradient", 0] / MIB}
    if f.arch.is_moe:  # routed experts, sharded over their expert-data-parallel group
        out["fixed"] += experts[:, None] * t["other", 1] / MIB
        out["grads"] += experts[:, None] * t["gradient", 1] / MIB
    for key in ("gathered", "backward_only", "optimizer_step"):
        out[key] = np.zeros_like(out["fixed"])
    shards = zero_shard_degree(b["dp"], b["cp"], o.zero_shards_over_cp)
    unsharded_under_pp = o.fsdp_unsharded_under_pp and pp > 1
    if unsharded_under_pp:
        unsharded = lookup(f.unsharded_mib, params, several)
    elif any(zero_shards("parameter", z) for z in ZERO_STAGES):
        gathered = lookup(lambda tp, per: f.gathered_mib(tp, pp, m.stage, m.layers, per), b["tp"], per_layer)
    for z in ZERO_STAGES:
        gathering = zero_shards("parameter", z) & (shards > 1)
        gathered_numel = np.zeros(len(b["tp"]), np.int64)
        if unsharded_under_pp:
            out["fixed"][:, z] += np.where(gathering, unsharded[:, 0], 0.0)
            out["grads"][:, z] += np.where(gathering, unsharded[:, 1], 0.0)
        elif zero_shards("parameter", z):
            out["gathered"][:, z] = np.where(gathering, gathered[:, 0], 0.0)
            out["fixed"][:, z] += out["gathered"][:, z]
            gathered_numel = np.where(gathering, gathered[:, 1], 0).astype(np.int64)
        if f.deepspeed_buffers:
            bucket, unreduced, prefetch, persistent = lookup(
                lambda tp, numel, sharded, z=z: f.deepspeed_mib(z, tp, pp, m.stage, m.layers, numel, sharded),
                b["tp"], gathered_numel, gathering.astype(np.int64)).T
            # step.py: ZeRO-1/2's bucket lives in backward only, ZeRO-3's all step; the prefetch goes with
            # the gathered parameters before the optimizer step
            out["backward_only"][:, z] += unreduced + (bucket if z < 3 else 0.0)
            out["fixed"][:, z] += (bucket if z == 3 else 0.0) + prefetch + persistent
            out["gathered"][:, z] += prefetch
        if f.reduce_scatter and zero_shards("parameter", z):
            out["backward_only"][:, z] += largest_layer * f.reduce_scatter_bytes_per_param() / MIB
        if f.optimizer_temporaries:
            step = lookup(lambda *k, z=z: f.optimizer_step_mib(z, *k), f.shards(b, False), params)
            out["optimizer_step"][:, z] = step[:, 0]
    out["params"] = params
    return out


def stage_total_mib(f: Factors, b: dict[str, np.ndarray], t: dict, pp: int, v: int,
                    m: StageMakeup) -> tuple[np.ndarray, np.ndarray]:
    """Stage `m`'s total at its step peak (estimate.stage_at_peak) for base rows `b` [row, ZeRO, recompute],
    with their tables `t`, and its parameters [row].

    Each candidate phase holds a part that varies with the recompute mode (activations) plus one that
    varies with the ZeRO stage (model states); candidates with the same model-state part are maxed
    over their activation parts first, so the grid of both is formed once per distinct state part.
    """
    own, recomputed = _activations(t, m)
    layer_mib = own / m.layers
    passes = lookup(lambda s, c: f.passes(s, m.stage, pp, c, v, m.chunk_layers), b["schedule"], b["chunks"])
    count, held, first_microbatches = passes.T
    embedding_one, logits_one, working = t["micro"].T
    gpipe = b["schedule"] == GPIPE
    embedding = (first_microbatches * embedding_one if m.first else 0 * embedding_one)[:, None]
    logits_block = np.where(gpipe, b["chunks"], 1) * logits_one if m.last else 0 * logits_one
    logits = (logits_block / np.where(gpipe, count, 1))[:, None]
    states = _states(f, b, t, m, pp)
    fixed, grads = states["fixed"], states["grads"]
    steady = (b["chunks"] * v > count)[:, None]  # more passes than in flight: a steady state follows
    autograd = f.autograd_gradients  # gradients allocated as backward reaches them, else all before the step
    with_backward = fixed + states["backward_only"]
    state_parts = {"none": fixed, "grads": fixed + grads, "backward": with_backward + grads}
    activation_parts: dict = {}

    def hold(key, activations: np.ndarray) -> None:  # a candidate: [row, recompute] on top of state_parts[key]
        known = activation_parts.get(key)
        activation_parts[key] = activations if known is None else np.maximum(known, activations)

    forward = held[:, None] * layer_mib + embedding  # the last forward pass
    before = "none" if autograd else "grads"  # gradients alive before backward starts
    hold(before, forward)
    hold(before, forward + np.where(gpipe, count, 1)[:, None] * logits)  # the loss
    backward = recomputed + working[:, None] + np.where(gpipe, count - 1, 0)[:, None] * logits + embedding
    top = m.chunk_layers[-1]
    for layer in (top, 1) if top else ():  # the first and the last layer of the first backward pass
        layer_backward = (held - top + layer)[:, None] * layer_mib + backward
        if autograd:  # the head's gradients and those of the layers done so far
            done = states["head_grads"] + states["layer_grads"] * (top - layer) / m.layers
            state_parts[layer] = with_backward + done
            hold(layer, layer_backward)
            layer_backward = np.where(steady, layer_backward, -np.inf)  # the steady state's: every gradient
        hold("backward", layer_backward)
    hold("grads", np.where(steady, np.maximum(forward, forward + logits), -np.inf))  # steady forward and loss
    # the optimizer step: no activations, no gathered parameters
    peak = (fixed - states["gathered"] + grads + states["optimizer_step"])[:, :, None]
    for key, activations in activation_parts.items():
        peak = np.maximum(peak, state_parts[key][:, :, None] + activations[:, None, :])
    total = peak + f.cuda_context_mib + f.fragmentation_per_mib * peak + t["buffers"][:, None, None]
    return total, states["params"]


def _rows(t: dict, pick: np.ndarray | None) -> dict:
    """The tables' rows at `pick` (all where None)."""
    if pick is None:
        return t
    return {key: ({k: v[pick] for k, v in value.items()} if isinstance(value, dict) else value[pick])
            for key, value in t.items()}


def _first_steady_stage(f: Factors, m: StageMakeup, pp: int, v: int, schedule: int, chunks: int) -> int:
    """The lowest stage of make-up `m` above its first with fewer passes in flight than the step has; -1: none."""
    name = SCHEDULES[schedule]
    if inflight_chunk_passes(name, m.stage, pp, chunks, v) < chunks * v:
        return -1  # the lowest stage runs a steady state itself, and holds the most
    for stage in m.stages[1:]:
        if inflight_chunk_passes(name, stage, pp, chunks, v) < chunks * v:
            return stage
    return -1


def _evaluations(f: Factors, b: dict[str, np.ndarray], pp: int, v: int,
                 makeups: list[StageMakeup]) -> list[tuple[int, StageMakeup, np.ndarray | None]]:
    """(stage, make-up, rows of `b` or None for all) of every stage that can be the peak, lowest stage first.

    The lowest stage of a make-up holds the most passes; with fewer passes than the step has, a higher
    stage also runs a steady state (every gradient allocated), so the lowest such stage too.
    """
    found = []
    for makeup in makeups:
        found.append((makeup.stage, makeup, None))
        steady = lookup(lambda s, c, m=makeup: _first_steady_stage(f, m, pp, v, s, c), b["schedule"],
                        b["chunks"])[:, 0].astype(np.int64)
        found += [(stage, makeup, np.flatnonzero(steady == stage)) for stage in np.unique(steady[steady >= 0]).tolist()]
    return sorted(found, key=lambda evaluation: evaluation[0])


def stage_peak_mib(f: Factors, base: dict[str, np.ndarray], makeups: dict) -> dict[str, np.ndarray]:
    """The most loaded stage of every row [base row, ZeRO stage, recompute mode]: its total, number,
    parameters, layers and MoE layers; ties go to the lowest stage, as Estimate.peak_stage."""
    shape = (len(base["tp"]), len(ZERO_STAGES), len(RECOMPUTE))
    best = {"peak_mib": np.empty(shape), "peak_stage": np.empty(shape, np.int64), "params": np.empty(shape),
            "layers": np.empty(shape, np.int64), "moe_layers": np.empty(shape, np.int64)}
    common = {"kept": _kept(f, base), "micro": _micro_batch(f, base), **_tables(f, base)}
    for (pp, v), candidates in makeups.items():
        where = np.flatnonzero((base["pp"] == pp) & (base["v"] == v))
        if not len(where):
            continue
        b = {key: values[where] for key, values in base.items()}
        t = _rows(common, where)
        evaluations = _evaluations(f, b, pp, v, candidates)
        peak = np.full((len(where),) + shape[1:], -np.inf)
        which = np.zeros(peak.shape, np.int64)  # the evaluation giving the peak
        params = np.zeros((len(where), len(evaluations)))
        for i, (stage, makeup, pick) in enumerate(evaluations):
            rows = slice(None) if pick is None else pick
            found, params[rows, i] = stage_total_mib(f, _rows(b, pick), _rows(t, pick), pp, v,
                                                     replace(makeup, stage=stage))
            current = peak[rows]
            better = found > current  # a tie keeps the lower stage, evaluated before
            peak[rows] = np.where(better, found, current)
            which[rows] = np.where(better, i, which[rows])
        best["peak_mib"][where] = peak
        for key, values in (("peak_stage", [stage for stage, _m, _p in evaluations]),
                            ("layers", [m.layers + m.mtp for _s, m, _p in evaluations]),
                            ("moe_layers", [m.moe_activations for _s, m, _p in evaluations])):
            best[key][where] = np.asarray(values, dtype=np.int64)[which]
        best["params"][where] = np.take_along_axis(params, which.reshape(len(where), -1), axis=1).reshape(peak.shape)
    return best
