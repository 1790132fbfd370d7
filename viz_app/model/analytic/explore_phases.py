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
    """MiB a dense (0) and an MoE (1) layer save for one micro-batch, [base row, recompute mode]."""
    kinds = [moe for moe, index in ((0, f.dense_index), (1, f.moe_index)) if index is not None]
    return {moe: _by_size(lambda *k, moe=moe: np.concatenate([f.layer_mib(*k[:-1], r, moe, k[-1])
                                                              for r in range(len(RECOMPUTE))]),
                          b, len(RECOMPUTE), b["tp"], b["cp"], b["etp"]) for moe in kinds}


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


def _tables(f: Factors, b: dict[str, np.ndarray], pp: int) -> dict:
    """What the stages of pipelines of `pp` stages read, for base rows `b`: parameters of each kind,
    bytes per parameter [row, ZeRO stage, part] (dense and expert), NCCL buffers."""
    several = (b["chunks"] > 1).astype(np.int64)
    t = {"params": lookup(lambda *k: _flat(f.parameters(*k, pp)), b["tp"], b["ep"], b["etp"]),
         "buffers": lookup(lambda tp, dp, cp: f.comm_buffers_mib(tp, pp, dp, cp), b["tp"], b["dp"], b["cp"])[:, 0]}
    for experts in (0, 1) if f.arch.is_moe else (0,):
        shards = f.shards(b, bool(experts))
        t[experts] = np.stack([lookup(lambda *k, z=z: f.bytes_per_param(z, *k), shards, several)
                               for z in ZERO_STAGES], axis=1)
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
    shape = (len(b["tp"]), len(ZERO_STAGES))
    out = {key: np.zeros(shape) for key in ("fixed", "gathered", "grads", "head_grads", "layer_grads",
                                             "backward_only", "optimizer_step")}
    for z in ZERO_STAGES:
        dense_bytes = t[0][:, z]
        groups = [(layers, dense_bytes), (embedding, dense_bytes), (head, dense_bytes)]
        if f.arch.is_moe:
            groups.append((experts, t[1][:, z]))
        for count, per_param in groups:
            for part in PARTS:
                mib = count * per_param[:, part] / MIB
                out["grads" if part == GRADIENT else "fixed"][:, z] += mib
        out["head_grads"][:, z] = head * dense_bytes[:, GRADIENT] / MIB
        out["layer_grads"][:, z] = layers * dense_bytes[:, GRADIENT] / MIB
        shards = zero_shard_degree(b["dp"], b["cp"], o.zero_shards_over_cp)
        gathering = zero_shards("parameter", z) & (shards > 1)
        if o.fsdp_unsharded_under_pp and pp > 1:
            unsharded = lookup(f.unsharded_mib, params, several)
            out["fixed"][:, z] += np.where(gathering, unsharded[:, 0], 0.0)
            out["grads"][:, z] += np.where(gathering, unsharded[:, 1], 0.0)
        gathered_numel = np.zeros(len(b["tp"]), np.int64)
        if zero_shards("parameter", z) and not (o.fsdp_unsharded_under_pp and pp > 1):
            gathered = lookup(lambda tp, per: f.gathered_mib(tp, pp, m.stage, m.layers, per), b["tp"], per_layer)
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


def _flat(parameters: dict[str, tuple[int, int]]) -> tuple[int, ...]:
    return (parameters["embedding"][0], parameters["head"][0], *parameters["mtp"], *parameters["dense"],
            *parameters["moe"])


def stage_total_mib(f: Factors, b: dict[str, np.ndarray], t: dict, pp: int, v: int,
                    m: StageMakeup) -> dict[str, np.ndarray]:
    """Stage `m`'s total at its step peak (estimate.stage_at_peak) for base rows `b` [row, ZeRO, recompute],
    with their tables `t`."""
    own, recomputed = _activations(t, m)
    layer_mib = own / m.layers
    passes = lookup(lambda s, c: f.passes(s, m.stage, pp, c, v, m.chunk_layers), b["schedule"], b["chunks"])
    count, held, first_microbatches = passes.T
    embedding_one, logits_one, working = t["micro"].T
    gpipe = b["schedule"] == GPIPE
    embedding = first_microbatches * embedding_one if m.first else 0 * embedding_one
    logits_block = np.where(gpipe, b["chunks"], 1) * logits_one if m.last else 0 * logits_one
    logits = logits_block / np.where(gpipe, count, 1)
    states = _states(f, b, t, m, pp)

    def col(x):  # [row] -> [row, 1, 1]
        return x[:, None, None]

    def by_recompute(x):  # [row, recompute] -> [row, 1, recompute]
        return x[:, None, :]

    def by_zero(x):  # [row, zero] -> [row, zero, 1]
        return x[:, :, None]

    fixed, grads = by_zero(states["fixed"]), by_zero(states["grads"])
    before = 0.0 * grads if f.autograd_gradients else grads  # gradients alive before backward starts
    stored = by_recompute(held[:, None] * layer_mib)
    forward = stored + col(embedding) + fixed + before
    candidates = [forward, forward + col(np.where(gpipe, count, 1) * logits)]  # last forward, the loss
    backward_only = by_recompute(recomputed) + col(working) + by_zero(states["backward_only"])
    backward_logits = col(np.where(gpipe, count - 1, 0) * logits)
    steady = col(b["chunks"] * v > count)
    top = m.chunk_layers[-1]
    for layer in (top, 1) if top else ():
        kept = by_recompute((held - top + layer)[:, None] * layer_mib)
        common = kept + backward_logits + backward_only + col(embedding) + fixed
        done = top - layer
        first_grads = (by_zero(states["head_grads"] + states["layer_grads"] * done / m.layers)
                       if f.autograd_gradients else grads)
        candidates += [common + first_grads, np.where(steady, common + grads, -np.inf)]
    second = stored + col(embedding) + fixed + grads
    candidates += [np.where(steady, second, -np.inf), np.where(steady, second + col(logits), -np.inf)]
    candidates.append(fixed - by_zero(states["gathered"]) + grads + by_zero(states["optimizer_step"]))
    peak = candidates[0]
    for candidate in candidates[1:]:
        peak = np.maximum(peak, candidate)
    buffers = t["buffers"]
    total = peak + f.cuda_context_mib + f.fragmentation_per_mib * peak + col(buffers)
    rows = len(b["tp"])
    shape = (rows, len(ZERO_STAGES), len(RECOMPUTE))
    return {"peak_mib": total.reshape(-1),
            "params": np.broadcast_to(col(states["params"]), shape).reshape(-1),
            "layers": np.full(rows * shape[1] * shape[2], m.layers + m.mtp),
            "moe_layers": np.full(rows * shape[1] * shape[2], m.moe_activations)}


def _rows(t: dict, pick: np.ndarray) -> dict:
    """The tables' rows at `pick`."""
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


def stage_peak_mib(f: Factors, base: dict[str, np.ndarray], makeups: dict) -> dict[str, np.ndarray]:
    """The most loaded stage of every row (base rows x ZeRO stages x recompute modes, in that order);
    ties go to the lowest stage, as Estimate.peak_stage."""
    repeat = len(ZERO_STAGES) * len(RECOMPUTE)
    size = len(base["tp"]) * repeat
    best = {"peak_mib": np.full(size, -np.inf), "peak_stage": np.zeros(size, np.int64),
            "params": np.zeros(size), "layers": np.zeros(size, np.int64), "moe_layers": np.zeros(size, np.int64)}
    common = {"kept": _kept(f, base), "micro": _micro_batch(f, base)}
    tables: dict[int, dict] = {}
    for (pp, v), candidates in makeups.items():
        where = np.flatnonzero((base["pp"] == pp) & (base["v"] == v))
        if not len(where):
            continue
        b = {key: values[where] for key, values in base.items()}
        if pp not in tables:
            in_pipeline = base["pp"] == pp
            tables[pp] = {"rows": np.flatnonzero(in_pipeline),
                          **_tables(f, {key: values[in_pipeline] for key, values in base.items()}, pp)}
        position = np.searchsorted(tables[pp]["rows"], where)
        t = {"kept": {moe: kept[where] for moe, kept in common["kept"].items()}, "micro": common["micro"][where],
             **{key: value[position] for key, value in tables[pp].items() if key != "rows"}}
        rows = (where[:, None] * repeat + np.arange(repeat)).reshape(-1)
        for makeup in candidates:
            # The lowest stage holds the most passes; with fewer passes than the step has, a higher
            # stage also runs a steady state (every gradient allocated), so the lowest such stage too.
            steady = lookup(lambda s, c, m=makeup, pp=pp, v=v: _first_steady_stage(f, m, pp, v, s, c), b["schedule"],
                            b["chunks"])[:, 0].astype(np.int64)
            for stage in {makeup.stage, *steady[steady >= 0].tolist()}:
                pick = np.flatnonzero((steady == stage) | (stage == makeup.stage))
                found = stage_total_mib(f, {key: values[pick] for key, values in b.items()}, _rows(t, pick), pp, v,
                                        replace(makeup, stage=stage))
                chosen_rows = rows.reshape(-1, repeat)[pick].reshape(-1)
                current, current_stage = best["peak_mib"][chosen_rows], best["peak_stage"][chosen_rows]
                better = (found["peak_mib"] > current) | ((found["peak_mib"] == current) & (stage < current_stage))
                chosen = chosen_rows[better]
                for key in ("peak_mib", "params", "layers", "moe_layers"):
                    best[key][chosen] = found[key][better]
                best["peak_stage"][chosen] = stage
    return best
