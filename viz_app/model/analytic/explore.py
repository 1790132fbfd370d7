"""Analytic mode over the explorer's grid: every strategy's peak stage at once, with numpy.

Each strategy's numbers equal `estimate_analytic` with the same values, bit for bit: the per-layer,
embedding and logits activations come from the same functions (activations.py, schedule.py,
parameters.py, states.py) called with arrays, and the stage total adds the same blocks in the
same order (estimate.py). Only the stages that can be the peak are evaluated: the first, the
second, the first with an extra layer and the last; between them the totals cannot grow (fewer
micro-batches in flight, same layers). docs/explorer.md.
"""

from __future__ import annotations

import functools
from collections import Counter
from types import SimpleNamespace

import numpy as np

from ..config import TrainingConfig
from ..errors import StrategyError
from ..explore.costs import (
    CP_RECOMPUTE_UNITS,
    TP_RECOMPUTE_UNITS,
    bubble_fraction,
    cp_bytes,
    dp_bytes,
    pp_bytes,
    tp_bytes,
)
from ..explore.grid import layouts, micro_batch_sizes, reason_of
from ..explore.table import Exploration, comm_column, empty_columns, finish
from ..precision import compute_dtype_bytes
from ..sharding import MODEL_STATE_PARTS, zero_shard_degree, zero_shards
from . import activations as act
from .architecture import Architecture
from .estimate import check_context_parallel
from .flops import recompute_overhead
from .options import RECOMPUTE, SCHEDULES, AnalyticOptions
from .parameters import (
    check_tensor_parallel,
    embedding_parameter_count,
    head_parameter_count,
    layer_parameter_count,
    norm_parameter_count,
    padded_vocab_size,
    stage_layer_counts,
    vocab_shard_parameter_count,
)
from .schedule import check_schedule, first_chunk_microbatches, inflight_chunk_passes
from .states import grad_accumulate_bytes, gradient_bytes, optimizer_term, weight_bytes

MIB = 1 << 20
ZERO_STAGES = (0, 1, 2, 3)
MAX_VIRTUAL_STAGES = 8  # interleaved model chunks per stage tried (Megatron's examples use 2-4)


def schedule_choices(pp: int, layers: list[int]) -> tuple[list[tuple[str, int]], Counter]:
    """(schedule, virtual stages) pairs for a pipeline, and the excluded ones by reason: none to
    choose without a pipeline; 1F1B, GPipe and interleaved 1F1B with 2..MAX_VIRTUAL_STAGES model
    chunks that split every stage evenly (the estimate's check_schedule)."""
    excluded: Counter = Counter()
    if pp == 1:
        return [("1f1b", 1)], excluded
    choices = [("1f1b", 1), ("gpipe", 1)]
    for v in range(2, MAX_VIRTUAL_STAGES + 1):
        try:
            check_schedule("interleaved", v, layers)
        except StrategyError as exc:
            excluded[reason_of(exc)] += 1
            continue
        choices.append(("interleaved", v))
    return choices, excluded


LAYOUT_KEYS = ("tp", "pp", "cp", "dp", "ep", "etp", "base_layers", "extra_layers")


class _Grid:
    """Columns of the strategy grid: `base` rows (layout, micro-batch size, schedule), each repeated
    for every ZeRO stage and recompute mode."""

    def __init__(self, base: dict[str, np.ndarray], repeat: int):
        self.base, self.repeat = base, repeat

    def __len__(self) -> int:
        return len(self.base["tp"]) * self.repeat

    def __getitem__(self, key: str) -> np.ndarray:
        return self.repeated(self.base[key])

    def repeated(self, base_values: np.ndarray) -> np.ndarray:
        return np.repeat(base_values, self.repeat)


def _enumerate(arch: Architecture, config: TrainingConfig, gpus: int, excluded: Counter) -> dict[str, np.ndarray]:
    """The base rows: every valid layout, each with every micro-batch size and schedule."""
    seq, num_layers, gbs = config.seq_length, config.num_layers, config.global_batch_size

    @functools.cache
    def tp_refusal(tp: int) -> StrategyError | None:  # one check per degree, not per layout
        try:
            check_tensor_parallel(arch, tp)
        except StrategyError as exc:
            return exc
        return None

    def check(tp: int, pp: int, cp: int) -> None:  # the estimate's checks, in resolve_run's order
        if refusal := tp_refusal(tp):
            raise refusal
        check_context_parallel(seq, cp)
        stage_layer_counts(num_layers, pp)

    schedules: dict[int, tuple[list[tuple[str, int]], Counter]] = {}
    scalars: dict[str, list[int]] = {key: [] for key in LAYOUT_KEYS}
    counts, blocks = [], []
    for lay in layouts(gpus, gbs, check, excluded, num_experts=0):
        if lay.pp not in schedules:
            schedules[lay.pp] = schedule_choices(lay.pp, stage_layer_counts(num_layers, lay.pp))
        choices, schedule_excluded = schedules[lay.pp]
        excluded.update(schedule_excluded)  # counted for every layout they apply to
        mbs = np.asarray(micro_batch_sizes(gbs, lay.dp))
        codes = np.asarray([SCHEDULES.index(name) for name, _v in choices])
        virtual = np.asarray([v for _name, v in choices])
        blocks.append((np.repeat(mbs, len(choices)), np.tile(codes, len(mbs)), np.tile(virtual, len(mbs))))
        counts.append(len(mbs) * len(choices))
        for key, value in zip(LAYOUT_KEYS, (lay.tp, lay.pp, lay.cp, lay.dp, lay.ep, lay.etp,
                                            *divmod(num_layers, lay.pp)), strict=True):
            scalars[key].append(value)
    base = {key: np.repeat(np.asarray(values, dtype=np.int64), counts) for key, values in scalars.items()}
    for index, key in enumerate(("mbs", "schedule", "v")):
        base[key] = np.concatenate([block[index] for block in blocks]) if blocks else np.zeros(0, np.int64)
    base["chunks"] = gbs // (base["dp"] * base["mbs"])
    return base


def _per_tp(values: np.ndarray, function) -> np.ndarray:
    """`function(tp)` for each entry of `values` (a handful of distinct degrees)."""
    distinct, index = np.unique(values, return_inverse=True)
    return np.asarray([function(int(tp)) for tp in distinct])[index]


def _mib_sum(tensors: list[act.SavedTensor], like: np.ndarray) -> np.ndarray:
    """MiB of the tensors' bytes, summed in order as the estimate sums them (0 when there are none)."""
    return (sum(t.nbytes for t in tensors) + np.zeros_like(like, dtype=float)) / MIB


class _Evaluator:
    """The estimate's blocks for one candidate stage of every row (estimate.py, same order).

    What depends only on the layout, micro-batch size and schedule is computed once per base row
    (`b_*`) and repeated over the ZeRO stages and recompute modes.
    """

    def __init__(self, arch: Architecture, config: TrainingConfig, options: AnalyticOptions, grid: _Grid):
        self.arch, self.config, self.options, self.grid = arch, config, options, grid
        b = grid.base
        self.b = b
        self.zero = np.tile(np.repeat(np.arange(len(ZERO_STAGES)), len(RECOMPUTE)), len(b["tp"]))
        self.recompute = np.tile(np.arange(len(RECOMPUTE)), len(b["tp"]) * len(ZERO_STAGES))
        self.tp, self.pp, self.cp, self.dp = grid["tp"], grid["pp"], grid["cp"], grid["dp"]
        self.mbs, self.chunks, self.schedule, self.v = grid["mbs"], grid["chunks"], grid["schedule"], grid["v"]
        self.dtype_bytes = compute_dtype_bytes(config)
        pad = options.vocab_pad_multiple
        self.b_per_layer_params = _per_tp(b["tp"], lambda tp: layer_parameter_count(arch, tp))
        self.per_layer_params = grid.repeated(self.b_per_layer_params)
        self.b_embedding_params = _per_tp(b["tp"], lambda tp: embedding_parameter_count(arch, tp, pad))
        # head_parameter_count tells pp = 1 from pp > 1 only; 2 stands for any pipeline
        head = np.where(b["pp"] == 1, _per_tp(b["tp"], lambda tp: head_parameter_count(arch, tp, pad, 1)),
                        _per_tp(b["tp"], lambda tp: head_parameter_count(arch, tp, pad, 2)))
        self.b_head_params = head + norm_parameter_count(arch)
        self.b_head_shard = _per_tp(b["tp"], lambda tp: vocab_shard_parameter_count(arch, tp, pad))
        self._activations()
        self._bytes_per_param()
        self.gathering = zero_shards("parameter", self.zero) & (self.shards > 1)
        self.unsharded = self.gathering & options.fsdp_unsharded_under_pp & (self.pp > 1)
        self.communicators = (self.tp > 1).astype(int) + (self.pp > 1) + (self.dp > 1) + (self.cp > 1)

    def _activations(self) -> None:
        """Per-layer (for each recompute mode), embedding and logits MiB of the micro-batches held."""
        c, o, b, grid = self.config, self.options, self.b, self.grid
        shape_args = dict(tp=b["tp"], sequence_parallel=c.sequence_parallel, flash_attention=o.flash_attention,
                          kernels=o.kernels, dtype_bytes=self.dtype_bytes, context_parallel=b["cp"])
        per_layer = np.stack([
            act.layer_activation_bytes(self.arch, c.seq_length, b["mbs"], recompute=mode, **shape_args) / MIB
            for mode in RECOMPUTE])
        rows = grid.repeated(np.arange(len(b["tp"])))
        self.kept_mib = per_layer[self.recompute, rows]
        self.transient_mib = per_layer[RECOMPUTE.index("none"), rows] - self.kept_mib
        self.recomputing = self.recompute != RECOMPUTE.index("none")
        shape = act.layer_shape(self.arch, c.seq_length, b["mbs"], b["tp"], c.sequence_parallel, self.dtype_bytes,
                                b["cp"])
        embedding = act.embedding_saved_tensors(self.arch, shape, dropout=self.arch.hidden_dropout > 0,
                                                kernels=o.kernels)
        held = self._by_schedule(lambda name: first_chunk_microbatches(name, 0, b["pp"], b["chunks"], b["v"],
                                                                       np.minimum))
        self.embedding_held_mib = grid.repeated(held * _mib_sum(embedding, b["mbs"]))
        vocab = _per_tp(b["tp"], lambda tp: padded_vocab_size(self.arch, tp, o.vocab_pad_multiple))
        logits = act.logits_saved_tensors(self.arch, shape, padded_vocab=vocab,
                                          fp32_copies=o.cross_entropy_fp32_copies, kernels=o.kernels)
        loss = np.where(b["schedule"] == SCHEDULES.index("gpipe"), b["chunks"], 1) * _mib_sum(logits, b["mbs"])
        self.loss_mib = grid.repeated(loss)

    def _by_schedule(self, function) -> np.ndarray:
        """`function(schedule name)` evaluated on the base rows, each row taking its own schedule's."""
        codes = self.b["schedule"]
        return np.select([codes == i for i in range(len(SCHEDULES))], [function(name) for name in SCHEDULES])

    def _bytes_per_param(self) -> None:
        """Each model-state part's bytes per parameter after ZeRO (states.py, sharding.py), per row."""
        c, o = self.config, self.options
        # grad_accumulate_bytes reads the precision and whether there is more than one micro-batch
        single, several = (SimpleNamespace(mixed_precision=c.mixed_precision, chunks=chunks) for chunks in (1, 2))
        unsharded = {
            "parameter": np.full(len(self.tp), weight_bytes(c, o)),
            "gradient": np.full(len(self.tp), gradient_bytes(c, o)),
            "optimizer": np.full(len(self.tp), optimizer_term(c, o).value),
            "grad_accumulate": np.where(self.chunks > 1, grad_accumulate_bytes(several, o),
                                        grad_accumulate_bytes(single, o)),
        }
        self.shards = zero_shard_degree(self.dp, self.cp, o.zero_shards_over_cp)
        self.per_param = {part: np.where(zero_shards(part, self.zero) & (self.shards > 1) & (value != 0),
                                         value / self.shards, value)
                          for part, value in unsharded.items()}

    def stage_total(self, b_stage: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(total MiB, layers, parameters) of stage `b_stage` (one per base row) of every row."""
        o, b, rep = self.options, self.b, self.grid.repeated
        b_first, b_last = b_stage == 0, b_stage == b["pp"] - 1
        b_layers = b["base_layers"] + (b_stage >= b["pp"] - b["extra_layers"])
        passes = self._by_schedule(lambda name: inflight_chunk_passes(name, b_stage, b["pp"], b["chunks"], b["v"],
                                                                      np.minimum))
        first, last, layers = rep(b_first), rep(b_last), rep(b_layers)
        total = layers * self.kept_mib
        total = total + rep((passes - b["v"]) * (b_layers / b["v"])) * self.kept_mib
        total = total + np.where(first, self.embedding_held_mib, 0.0)
        total = total + np.where(last, self.loss_mib, 0.0)
        transient = np.where(last, np.maximum(0.0, self.transient_mib - self.loss_mib), self.transient_mib)
        total = total + np.where(self.recomputing, transient, 0.0)
        b_groups = (b_layers * self.b_per_layer_params, np.where(b_first, self.b_embedding_params, 0),
                    np.where(b_last, self.b_head_params, 0))
        groups = [rep(params) for params in b_groups]
        for part in MODEL_STATE_PARTS:
            for params in groups:
                total = total + (params * self.per_param[part]) / MIB
        stage_params = rep(b_groups[0] + b_groups[1] + b_groups[2])
        b_gathered = (np.minimum(o.zero3_prefetch_layers, b_layers) * self.b_per_layer_params
                      + np.where(b_last, self.b_head_shard, 0)) * self.dtype_bytes
        total = total + np.where(self.unsharded, (stage_params * self.dtype_bytes) / MIB,
                                 np.where(self.gathering, rep(b_gathered) / MIB, 0.0))
        reduce_mib = (stage_params * gradient_bytes(self.config, o)) / MIB
        total = total + np.where(self.unsharded & (self.chunks > 1), reduce_mib, 0.0)
        total = (total + o.cuda_context_mib + o.allocator_fragmentation * total
                 + self.communicators * o.nccl_buffer_mib_per_group)
        return total, layers, stage_params


def _peak(evaluator: _Evaluator) -> dict[str, np.ndarray]:
    """The most loaded stage of every row; ties go to the lowest stage, as `Estimate.peak_stage`."""
    pp, extra = evaluator.b["pp"], evaluator.b["extra_layers"]
    candidates = (np.zeros_like(pp), np.minimum(1, pp - 1), np.minimum(pp - extra, pp - 1), pp - 1)
    best = None
    for b_stage in candidates:  # in increasing stage order
        total, layers, params = evaluator.stage_total(b_stage)
        stage = evaluator.grid.repeated(b_stage)
        if best is None:
            best = {"peak_mib": total, "peak_stage": stage, "layers": layers, "params": params}
            continue
        better = total > best["peak_mib"]
        for key, value in (("peak_mib", total), ("peak_stage", stage), ("layers", layers), ("params", params)):
            best[key] = np.where(better, value, best[key])
    return best


def _comm(evaluator: _Evaluator, peak: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bytes each GPU of the peak stage sends per step, by kind (explore/costs.py)."""
    e, arch, c = evaluator, evaluator.arch, evaluator.config
    tokens = c.seq_length / e.cp * e.mbs
    activation = tokens * arch.hidden_size * e.dtype_bytes
    kv = 2 * tokens * arch.kv_width / e.tp * e.dtype_bytes
    tp_units = np.asarray([TP_RECOMPUTE_UNITS[mode] for mode in RECOMPUTE])[e.recompute]
    cp_units = np.asarray([CP_RECOMPUTE_UNITS[mode] for mode in RECOMPUTE])[e.recompute]
    boundary = activation / (e.tp if c.sequence_parallel else 1)
    gather_once = e.options.fsdp_unsharded_under_pp & (e.pp > 1)
    return {
        "tp": tp_bytes(e.tp, peak["layers"], e.chunks, activation, tp_units),
        "cp": cp_bytes(e.cp, peak["layers"], e.chunks, kv, cp_units),
        "ep": np.zeros(len(e.tp)),  # no experts: expert_layouts gives ep = 1
        "dp": dp_bytes(e.dp * e.cp, e.zero, e.chunks, peak["params"], gradient_bytes(c, e.options), e.dtype_bytes,
                       gather_once),
        "pp": pp_bytes(e.pp, peak["peak_stage"], e.chunks, e.v, boundary),
    }


def explore_analytic(arch: Architecture, config: TrainingConfig, options: AnalyticOptions, gpus: int,
                     capacity_mib: float) -> Exploration:
    """Every valid strategy for `arch` on `gpus` GPUs with `config`'s global batch, sequence length,
    layers and precision, and `options`' framework settings; tp, pp, dp, cp, ZeRO stage, recompute,
    micro-batch size, schedule and virtual stages vary (`config.checkpoint`, `options.recompute`,
    `schedule`, `virtual_stages`, `context_parallel` and `pp_division` are not read; stages split evenly)."""
    excluded: Counter = Counter()
    grid = _Grid(_enumerate(arch, config, gpus, excluded), len(ZERO_STAGES) * len(RECOMPUTE))
    if not len(grid.base["tp"]):
        return finish("analytic", capacity_mib, empty_columns(), dict(excluded))
    evaluator = _Evaluator(arch, config, options, grid)
    peak = _peak(evaluator)
    comm = _comm(evaluator, peak)
    overhead = np.asarray([recompute_overhead(arch, config.seq_length, mode) for mode in RECOMPUTE])
    columns = {
        "tp": evaluator.tp, "pp": evaluator.pp, "dp": evaluator.dp, "ep": grid["ep"], "etp": grid["etp"],
        "zero_stage": evaluator.zero, "micro_batch_size": evaluator.mbs, "chunks": evaluator.chunks,
        "context_parallel": evaluator.cp, "recompute": np.asarray(RECOMPUTE)[evaluator.recompute],
        "schedule": np.asarray(SCHEDULES)[evaluator.schedule], "virtual_stages": evaluator.v,
        "peak_mib": peak["peak_mib"], "peak_stage": peak["peak_stage"],
        "bubble": bubble_fraction(evaluator.pp, evaluator.chunks, evaluator.v),
        "recompute_overhead": overhead[evaluator.recompute],
        **{comm_column(kind): values for kind, values in comm.items()},
    }
    return finish("analytic", capacity_mib, columns, dict(excluded))
