"""The peak of one training step (step.py) for every strategy of the explorer's grid, with numpy.

step.step_timeline's phase totals are linear in what the phase holds: forward k holds k passes
(the last forward holds the most), a backward pass frees one layer's activations per layer while
autograd allocates one layer's share of gradients, so within a backward pass the total is linear in
the layer index and its maximum is at the first or the last layer. The maximum over the timeline is
therefore the maximum over these candidate phases: the last forward (and the loss), the first and
last layer of the first backward, the same of the steady state when there is one, and the optimizer
step. Each candidate adds the estimate's blocks as step.py makes them alive there.

Every (row, stage) pair that can be the peak is evaluated in one batch: the stage's make-up (its
layers, dense and MoE layers, first / last) is a column like the strategy's degrees.
"""

from __future__ import annotations

import numpy as np

from ..explore.gather import take
from ..sharding import zero_shard_degree, zero_shards
from .estimate import MIB
from .explore_factors import Factors, StageMakeup, distinct, lookup
from .options import RECOMPUTE, SCHEDULES
from .schedule import inflight_chunk_passes

ZERO_STAGES = (0, 1, 2, 3)
GPIPE = SCHEDULES.index("gpipe")
NONE = RECOMPUTE.index("none")
PARTS = range(4)  # MODEL_STATE_PARTS: parameter, gradient, optimizer, grad_accumulate
GRADIENT = 1
BLOCK_ROWS = 4096  # rows x ZeRO stages x recompute modes of float64: 512 KiB


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


def _activations(t: dict, m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(one micro-batch through the stage's layers, recompute block), [row, recompute mode], MiB."""
    zeros = np.zeros_like(next(iter(t["kept"].values())))
    dense, moe = t["kept"].get(0, zeros), t["kept"].get(1, zeros)
    own = m["dense_activations"][:, None] * dense + m["moe_activations"][:, None] * moe
    # estimate.recompute_block: the stage's layer with the most activations without recompute
    full_dense, full_moe = dense[:, NONE], moe[:, NONE]
    both = (m["dense"] > 0) & (m["moe"] > 0)
    moe_chosen = np.where(both, (full_moe > full_dense) | ((full_moe == full_dense) & m["moe_first"]), m["moe"] > 0)
    full = np.where(moe_chosen, full_moe, full_dense)[:, None]
    recomputed = full - np.where(moe_chosen[:, None], moe, dense)
    recomputed[:, NONE] = 0.0  # no recompute: no block
    return own, recomputed


def _tables(f: Factors, b: dict[str, np.ndarray]) -> dict:
    """What a stage's model states read, for rows `b`: parameters of each kind, bytes per parameter [row,
    ZeRO stage] of the gradient and of the other parts (dense and expert)."""
    several = b["several"]
    t = {"params": np.concatenate([lookup(f.end_parameters, b["tp"], b["pp"]),
                                   lookup(f.layer_parameters, b["tp"], b["ep"], b["etp"])], axis=1)}
    for experts in (0, 1) if f.arch.is_moe else (0,):
        shards = f.shards(b, bool(experts))
        per_param = np.stack([lookup(lambda *k, z=z: f.bytes_per_param(z, *k), shards, several)
                              for z in ZERO_STAGES], axis=1)
        t["gradient", experts] = per_param[:, :, GRADIENT]
        t["other", experts] = per_param[:, :, [part for part in PARTS if part != GRADIENT]].sum(axis=2)
    return t


def _lookup_where(where: np.ndarray, function, *columns: np.ndarray) -> np.ndarray:
    """lookup(function, *columns) on the rows `where` (some), zeros on the others: no call for a value not used."""
    found = lookup(function, *(column[where] for column in columns))
    table = np.zeros((len(where), found.shape[1]))
    table[where] = found
    return table


def _states(f: Factors, b: dict[str, np.ndarray], t: dict, m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model-state sums of each row's stage [row, ZeRO stage], MiB, as step.py groups them, and its parameters."""
    o = f.options
    emb, head, mtp_d, mtp_e, dense_d, dense_e, moe_d, moe_e = t["params"].T
    layers = m["dense"] * dense_d + m["moe"] * moe_d + m["mtp"] * mtp_d
    experts = m["dense"] * dense_e + m["moe"] * moe_e + m["mtp"] * mtp_e
    embedding = np.where(m["first"], emb, 0 * emb)
    head = np.where(m["last"], head, 0 * head)
    params = layers + experts + embedding + head
    per_layer = (layers + experts) // np.maximum(m["layers"], 1)
    largest_layer = np.maximum(np.where(m["dense"] > 0, dense_d + dense_e, 0), np.where(m["moe"] > 0, moe_d + moe_e, 0))
    several = b["several"]
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
    unsharded_under_pp = o.fsdp_unsharded_under_pp & (b["pp"] > 1)  # FSDP2 keeps the stage unsharded
    sharding = any(zero_shards("parameter", z) for z in ZERO_STAGES) & (shards > 1)
    if (sharding & unsharded_under_pp).any():
        unsharded = _lookup_where(sharding & unsharded_under_pp, f.unsharded_mib, params, several)
    if (sharding & ~unsharded_under_pp).any():
        gathered = _lookup_where(sharding & ~unsharded_under_pp, f.gathered_mib, b["tp"], b["pp"], m["stage"],
                                 m["layers"], per_layer)
    for z in ZERO_STAGES:
        gathering = zero_shards("parameter", z) & (shards > 1)
        gathered_numel = np.zeros(len(b["tp"]), np.int64)
        if zero_shards("parameter", z):
            unsharded_here, gathered_here = gathering & unsharded_under_pp, gathering & ~unsharded_under_pp
            if unsharded_here.any():
                out["fixed"][:, z] += np.where(unsharded_here, unsharded[:, 0], 0.0)
                out["grads"][:, z] += np.where(unsharded_here, unsharded[:, 1], 0.0)
            if gathered_here.any():
                out["gathered"][:, z] = np.where(gathered_here, gathered[:, 0], 0.0)
                out["fixed"][:, z] += out["gathered"][:, z]
                gathered_numel = np.where(gathered_here, gathered[:, 1], 0).astype(np.int64)
        if f.deepspeed_buffers:
            bucket, unreduced, prefetch, persistent = lookup(
                lambda *k, z=z: f.deepspeed_mib(z, *k),
                b["tp"], b["pp"], m["stage"], m["layers"], gathered_numel, gathering.astype(np.int64)).T
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


def _state_parts(f: Factors, states: dict[str, np.ndarray], m: dict[str, np.ndarray]) -> dict:
    """The model-state part of each candidate phase [row, ZeRO stage] (keys as stage_total_mib's
    activation parts), the optimizer step's total ("optimizer") and the stage's parameters ("params")."""
    fixed, grads = states["fixed"], states["grads"]
    with_backward = fixed + states["backward_only"]
    parts = {"none": fixed, "grads": fixed + grads, "backward": with_backward + grads}
    if f.autograd_gradients:  # the head's gradients and those of the layers done so far
        for name, layer in (("top", m["top"]), ("bottom", 1)):
            done = states["head_grads"] + states["layer_grads"] * (m["top"] - layer)[:, None] / m["layers"][:, None]
            parts[name] = with_backward + done
    # the optimizer step: no activations, no gathered parameters
    parts["optimizer"] = fixed - states["gathered"] + grads + states["optimizer_step"]
    parts["params"] = states["params"]
    return parts


def _stage_states(f: Factors, base: dict[str, np.ndarray], rows: np.ndarray, m: dict[str, np.ndarray]) -> dict:
    """_state_parts of every (base row, stage) evaluation, computed once per distinct (layout, more than one
    micro-batch, make-up, stage): the model states depend on nothing else."""
    several = (base["chunks"] > 1).astype(np.int64)
    _keys, inverse = distinct(base["layout"][rows], several[rows], m["chunks_id"], m["stage"])
    one = _one_of_each(inverse)
    b = {key: base[key][rows[one]] for key in ("tp", "pp", "dp", "cp", "ep", "etp")}
    b["several"] = several[rows[one]]
    m_one = {key: values[one] for key, values in m.items()}
    parts = _state_parts(f, _states(f, b, _tables(f, b), m_one), m_one)
    return {key: take(values, inverse, axis=0) for key, values in parts.items()}


def _activation_parts(f: Factors, b: dict[str, np.ndarray], t: dict, m: dict[str, np.ndarray],
                      chunk_layers: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The activation part of each candidate phase of a row's stage (make-up `m`, its layers per chunk
    chunk_layers[m["chunks_id"]]) [row, recompute mode], MiB, keyed by the model-state part it adds to
    (_state_parts), maxed over the candidates that share one; with the rows' tables `t` (kept, micro)."""
    own, recomputed = _activations(t, m)
    layer_mib = own / m["layers"][:, None]
    passes = lookup(lambda schedule, stage, pp, chunks, v, chunks_id: f.passes(
        schedule, stage, pp, chunks, v, chunk_layers[chunks_id]),
        b["schedule"], m["stage"], b["pp"], b["chunks"], b["v"], m["chunks_id"])
    count, held, first_microbatches = passes.T
    embedding_one, logits_one, working = t["micro"].T
    gpipe = b["schedule"] == GPIPE
    embedding = np.where(m["first"], first_microbatches * embedding_one, 0 * embedding_one)[:, None]
    logits_block = np.where(m["last"], np.where(gpipe, b["chunks"], 1) * logits_one, 0 * logits_one)
    logits = (logits_block / np.where(gpipe, count, 1))[:, None]
    steady = (b["chunks"] * b["v"] > count)[:, None]  # more passes than in flight: a steady state follows
    autograd = f.autograd_gradients  # gradients allocated as backward reaches them, else all before the step
    activation_parts: dict = {}

    def hold(key, activations: np.ndarray) -> None:  # a candidate: [row, recompute] on top of state_parts[key]
        known = activation_parts.get(key)
        activation_parts[key] = activations if known is None else np.maximum(known, activations)

    forward = held[:, None] * layer_mib + embedding  # the last forward pass
    before = "none" if autograd else "grads"  # gradients alive before backward starts
    hold(before, forward)
    hold(before, forward + np.where(gpipe, count, 1)[:, None] * logits)  # the loss
    backward = recomputed + working[:, None] + np.where(gpipe, count - 1, 0)[:, None] * logits + embedding
    top = m["top"]  # layers of the stage's last chunk, whose backward comes first
    for name, layer in (("top", top), ("bottom", 1)):  # the first and the last layer of the first backward pass
        layer_backward = np.where((top > 0)[:, None], (held - top + layer)[:, None] * layer_mib + backward, -np.inf)
        if autograd:
            hold(name, layer_backward)
            layer_backward = np.where(steady, layer_backward, -np.inf)  # the steady state's: every gradient
        hold("backward", layer_backward)
    hold("grads", np.where(steady, np.maximum(forward, forward + logits), -np.inf))  # steady forward and loss
    return activation_parts


def _stage_activations(f: Factors, base: dict[str, np.ndarray], rows: np.ndarray, m: dict[str, np.ndarray],
                       chunk_layers: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
    """_activation_parts of every (base row, stage) evaluation, computed once per distinct (tp, cp, etp,
    micro-batch size, schedule, micro-batches, make-up, stage): the activations depend on nothing else."""
    _keys, kind = distinct(base["tp"], base["cp"], base["etp"], base["mbs"], base["schedule"], base["chunks"])
    _keys, inverse = distinct(kind[rows], m["chunks_id"], m["stage"])  # chunks_id: pp and v too
    one = _one_of_each(inverse)
    b = {key: base[key][rows[one]] for key in ("tp", "cp", "etp", "mbs", "schedule", "chunks", "pp", "v")}
    m_one = {key: values[one] for key, values in m.items()}
    parts = _activation_parts(f, b, {"kept": _kept(f, b), "micro": _micro_batch(f, b)}, m_one, chunk_layers)
    return {key: take(values, inverse, axis=0) for key, values in parts.items()}


def _one_of_each(inverse: np.ndarray) -> np.ndarray:
    """A row of each distinct tuple, given each row's tuple number."""
    one = np.empty(int(inverse.max()) + 1, np.intp)
    one[inverse] = np.arange(len(inverse))
    return one


def stage_total_mib(f: Factors, state_parts: dict, activation_parts: dict, buffers: np.ndarray) -> np.ndarray:
    """Each evaluated stage at its step peak (estimate.stage_at_peak), [row, ZeRO, recompute]: the most of
    the candidate phases (model-state part + activation part) and the optimizer step, plus overheads.

    Candidates with the same model-state part were maxed over their activation parts first, so the grid
    of both is formed once per distinct state part.
    """
    optimizer = state_parts["optimizer"]
    total = np.empty((len(optimizer), len(ZERO_STAGES), len(RECOMPUTE)))
    for start in range(0, len(total), BLOCK_ROWS):  # in blocks of rows that stay in the CPU's cache
        rows = slice(start, start + BLOCK_ROWS)
        peak, candidate = np.repeat(optimizer[rows, :, None], len(RECOMPUTE), axis=2), np.empty_like(total[rows])
        for key, activations in activation_parts.items():
            np.maximum(peak, np.add(state_parts[key][rows, :, None], activations[rows, None, :], out=candidate),
                       out=peak)
        # peak + cuda context + fragmentation x peak + buffers, added in that order, in place
        np.multiply(f.fragmentation_per_mib, peak, out=candidate)
        np.add(peak, f.cuda_context_mib, out=peak)
        np.add(peak, candidate, out=peak)
        np.add(peak, buffers[rows, None, None], out=total[rows])
    return total


def _first_steady_stage(f: Factors, m: StageMakeup, pp: int, v: int, schedule: int, chunks: int) -> int:
    """The lowest stage of make-up `m` above its first with fewer passes in flight than the step has; -1: none."""
    name = SCHEDULES[schedule]
    if inflight_chunk_passes(name, m.stage, pp, chunks, v) < chunks * v:
        return -1  # the lowest stage runs a steady state itself, and holds the most
    for stage in m.stages[1:]:
        if inflight_chunk_passes(name, stage, pp, chunks, v) < chunks * v:
            return stage
    return -1


MAKEUP_KEYS = ("stage", "layers", "dense", "moe", "mtp", "first", "last", "moe_first", "dense_activations",
               "moe_activations", "top", "chunks_id")


def _evaluations(f: Factors, base: dict[str, np.ndarray],
                 makeups: dict) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[int, ...]]]:
    """Every (base row, stage) that can be the peak, ordered by row then stage: the rows, the stages'
    make-ups as columns, and the layers per chunk their chunks_id column points to.

    The lowest stage of a make-up holds the most passes; with fewer passes than the step has, a higher
    stage also runs a steady state (every gradient allocated), so the lowest such stage too.
    """
    rows, blocks, block_values, chunk_layers = [], [], [], []  # a block: the rows of one make-up's stage
    for (pp, v), candidates in makeups.items():
        where = np.flatnonzero((base["pp"] == pp) & (base["v"] == v))
        if not len(where):
            continue
        for makeup in candidates:
            chunk_layers.append(makeup.chunk_layers)
            steady = lookup(lambda s, c, m=makeup, pp=pp, v=v: _first_steady_stage(f, m, pp, v, s, c),
                            base["schedule"][where], base["chunks"][where])[:, 0].astype(np.int64)
            for stage in [makeup.stage, *np.unique(steady[steady >= 0]).tolist()]:
                picked = where if stage == makeup.stage else where[steady == stage]
                rows.append(picked)
                blocks.append(np.full(len(picked), len(block_values), dtype=np.intp))
                block_values.append((stage, makeup.layers, makeup.dense, makeup.moe, makeup.mtp, makeup.first,
                                     makeup.last, makeup.moe_first, makeup.dense_activations, makeup.moe_activations,
                                     makeup.chunk_layers[-1], len(chunk_layers) - 1))
    rows, blocks = np.concatenate(rows), np.concatenate(blocks)
    values = dict(zip(MAKEUP_KEYS, np.asarray(block_values, dtype=np.int64).T, strict=True))
    values.update({key: values[key].astype(bool) for key in ("first", "last", "moe_first")})
    order = _row_stage_order(rows, take(values["stage"], blocks))
    rows, blocks = take(rows, order), take(blocks, order)
    return rows, {key: take(column, blocks) for key, column in values.items()}, chunk_layers


def _row_stage_order(rows: np.ndarray, stages: np.ndarray) -> np.ndarray:
    """np.lexsort((stages, rows)) of non-negative integers: one sort of (row, stage, position) words."""
    stage_bits, position_bits = int(stages.max()).bit_length(), max(int(len(rows) - 1).bit_length(), 1)
    if int(rows.max()).bit_length() + stage_bits + position_bits > 62:
        return np.lexsort((stages, rows))
    words = ((rows.astype(np.int64) << stage_bits | stages) << position_bits) | np.arange(len(rows))
    words.sort()
    return words & ((1 << position_bits) - 1)


def stage_peak_mib(f: Factors, base: dict[str, np.ndarray], makeups: dict) -> dict[str, np.ndarray]:
    """The most loaded stage of every row [base row, ZeRO stage, recompute mode]: its total, number,
    parameters, layers and MoE layers, and which evaluation it is ("evaluation" into the evaluations'
    base rows and stages); ties go to the lowest stage, as Estimate.peak_stage."""
    rows, m, chunk_layers = _evaluations(f, base, makeups)
    states = _stage_states(f, base, rows, m)
    params = states["params"]
    buffers = lookup(f.comm_buffers_mib, base["tp"], base["pp"], base["dp"], base["cp"])[:, 0]
    total = stage_total_mib(f, states, _stage_activations(f, base, rows, m, chunk_layers),
                            take(buffers, rows))
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))  # each base row's stages, lowest first
    last = np.append(starts[1:], len(rows)) - 1
    peak, first = take(total, starts, axis=0), np.empty((len(starts), *total.shape[1:]), np.int64)
    first[...] = starts[:, None, None]
    for k in range(1, int((last - starts).max()) + 1):  # each row's k-th stage (its last again if it has fewer)
        at = np.minimum(starts + k, last)
        found = take(total, at, axis=0)
        better = found > peak  # a tie keeps the lower stage
        np.copyto(peak, found, where=better)
        np.copyto(first, at[:, None, None], where=better)
    return {"peak_mib": peak, "peak_stage": take(m["stage"], first), "params": take(params, first),
            "layers": take(m["layers"] + m["mtp"], first), "moe_layers": take(m["moe_activations"], first),
            "evaluation": first, "evaluation_rows": rows, "evaluation_stages": m["stage"]}
