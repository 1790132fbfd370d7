"""Analytic mode over the explorer's grid: every strategy's peak at once, with numpy.

No formula is written twice. The estimate's own functions (activations.py, parameters.py,
states.py, schedule.py, estimate.py's blocks, step.py, overheads.py) are called once per distinct
tuple of the few factors each depends on (explore_factors.py); numpy then combines those values
over the grid. The stage's peak is the maximum over the phases of step.step_timeline, which equals
the maximum over a fixed set of candidate phases (explore_phases.py). Only the stages that can be
the peak are evaluated: the lowest stage of each distinct make-up (layers per chunk, dense and MoE
layers, first / last), since a higher stage with the same make-up holds no more passes.
docs/explorer.md.
"""

from __future__ import annotations

import functools
from collections import Counter
from itertools import chain
from types import SimpleNamespace

import numpy as np

from ..config import TrainingConfig
from ..errors import StrategyError
from ..explore.columns import GridColumns
from ..explore.costs import (
    CP_RECOMPUTE_UNITS,
    EP_RECOMPUTE_UNITS,
    TP_RECOMPUTE_UNITS,
    bubble_fraction,
    cp_bytes,
    dp_bytes,
    ep_bytes,
    pp_bytes,
    tp_bytes,
)
from ..explore.gather import take
from ..explore.grid import Layout, divisors, layouts, micro_batch_sizes, reason_of
from ..explore.table import Exploration, comm_column, empty_columns, finish
from ..limits import LIMITS
from ..precision import compute_dtype_bytes
from .architecture import Architecture
from .estimate import check_context_parallel
from .expert_parallel import check_expert_parallel
from .explore_factors import Factors, ReadOnce, StageMakeup, stage_makeups
from .explore_phases import stage_peak_mib
from .flops import recompute_overhead
from .moe_activations import check_recompute_modules
from .options import RECOMPUTE, SCHEDULES, AnalyticOptions
from .parameters import check_tensor_parallel
from .pipeline_split import chunk_layer_counts
from .schedule import check_schedule
from .states import gradient_bytes

ZERO_STAGES = (0, 1, 2, 3)
MAX_VIRTUAL_STAGES = 8  # interleaved model chunks per stage tried (Megatron's examples use 2-4)
MAX_ETP = int(LIMITS["etp"].high)


def option_values(options: dict, **changed) -> SimpleNamespace:
    """Option values (AnalyticOptions.param.values()) as attributes, what the estimate's functions
    read, with `changed` set."""
    return SimpleNamespace(**{**options, **changed})


def schedule_choices(pp: int, num_layers: int, options: dict) -> tuple[list[tuple[str, int]], Counter]:
    """(schedule, virtual stages) pairs for a pipeline, and the excluded ones by reason: none to
    choose without a pipeline; 1F1B, GPipe and interleaved 1F1B with 2..MAX_VIRTUAL_STAGES model
    chunks that the estimate's layer split accepts (pipeline_split.py)."""
    excluded: Counter = Counter()
    if pp == 1:
        return [("1f1b", 1)], excluded
    choices = [("1f1b", 1), ("gpipe", 1)]
    for v in range(2, MAX_VIRTUAL_STAGES + 1):
        try:
            check_schedule("interleaved", v)
            chunk_layer_counts(num_layers, pp, option_values(options, virtual_stages=v))
        except StrategyError as exc:
            excluded[reason_of(exc)] += 1
            continue
        choices.append(("interleaved", v))
    return choices, excluded


def expert_choices(arch: Architecture):
    """(ep, etp) pairs to try on a stage of tp x cp x dp GPUs: (1, 1) without experts; else every ep
    dividing the stage's GPUs / etp with etp 1 or tp (Megatron-Core's two settings: experts without
    tensor parallelism, or with the dense layers' tp, its default); the estimate's
    check_expert_parallel then refuses those that split the experts or their width unevenly."""
    if not arch.is_moe:
        return lambda _tp, _n: ((1, 1),)
    return lambda tp, n: [(ep, etp) for etp in sorted({1, tp}) if etp <= MAX_ETP for ep in divisors(n // etp)]


def _verdict(rule, *args, **kwargs) -> StrategyError | None:
    """The StrategyError `rule(*args, **kwargs)` raises, or None."""
    try:
        rule(*args, **kwargs)
    except StrategyError as exc:
        return exc
    return None


def _enumerate(arch: Architecture, config: TrainingConfig, options: AnalyticOptions, gpus: int,
               excluded: Counter) -> tuple[dict[str, np.ndarray], dict]:
    """The base rows (layout, micro-batch size, schedule, virtual stages) and each (pp, v)'s stage make-ups."""
    seq, num_layers, gbs = config.seq_length, config.num_layers, config.global_batch_size
    check_recompute_modules(options.recompute_modules)  # refuses every strategy alike: an input error
    options = options.param.values()
    one_chunk = option_values(options, virtual_stages=1)

    model = ReadOnce(arch)
    verdicts = {  # each rule's verdict once per distinct input (raising builds a translated message)
        "tp": functools.cache(lambda tp: _verdict(check_tensor_parallel, model, tp)),
        "experts": functools.cache(lambda tp, dp, ep, etp, cp: _verdict(
            check_expert_parallel, model, tp=tp, dp=dp, ep=ep, etp=etp, context_parallel=cp)),
        "cp": functools.cache(lambda cp: _verdict(check_context_parallel, cp, seq)),
        "split": functools.cache(lambda pp: _verdict(chunk_layer_counts, num_layers, pp, one_chunk)),
    }

    def check(lay: Layout) -> None:  # the estimate's checks, in resolve_run's order
        failed = (verdicts["tp"](lay.tp) or verdicts["experts"](lay.tp, lay.dp, lay.ep, lay.etp, lay.cp)
                  or verdicts["cp"](lay.cp) or verdicts["split"](lay.pp))
        if failed is not None:
            raise failed.with_traceback(None)

    schedules: dict[int, list[tuple[str, int]]] = {}
    schedule_excluded: dict[int, Counter] = {}
    makeups: dict[tuple[int, int], list[StageMakeup]] = {}
    patterns: dict[tuple[int, int], dict[str, np.ndarray]] = {}  # (dp, pp): mbs, schedule and v of a layout's rows
    valid: list[Layout] = []
    pattern_rows: dict[str, list] = {key: [] for key in ("mbs", "schedule", "v")}
    is_moe = [arch.is_moe_layer(index) for index in range(num_layers)]  # read once: param is slow
    for lay in layouts(gpus, gbs, check, excluded, expert_choices=expert_choices(arch)):
        if lay.pp not in schedules:
            schedules[lay.pp], schedule_excluded[lay.pp] = schedule_choices(lay.pp, num_layers, options)
            for _name, v in schedules[lay.pp]:
                chunks = chunk_layer_counts(num_layers, lay.pp, option_values(options, virtual_stages=v))
                makeups[lay.pp, v] = stage_makeups(arch, chunks, is_moe)
        valid.append(lay)
        pattern = patterns.get((lay.dp, lay.pp))
        if pattern is None:
            choices, sizes = schedules[lay.pp], micro_batch_sizes(gbs, lay.dp)
            pattern = patterns[lay.dp, lay.pp] = {
                "mbs": np.repeat(np.asarray(sizes, dtype=np.int64), len(choices)),
                "schedule": np.tile(np.asarray([SCHEDULES.index(name) for name, _v in choices], dtype=np.int64),
                                    len(sizes)),
                "v": np.tile(np.asarray([v for _name, v in choices], dtype=np.int64), len(sizes))}
        for key, values in pattern.items():
            pattern_rows[key].append(values)
    layouts_per_pp = Counter(lay.pp for lay in valid)
    for pp, count in layouts_per_pp.items():  # a schedule's exclusion counts for every layout it applies to
        excluded.update({reason: n * count for reason, n in schedule_excluded[pp].items()})
    counts = np.asarray([len(values) for values in pattern_rows["mbs"]], dtype=np.intp)
    base = {key: np.concatenate(values) if values else np.zeros(0, np.int64) for key, values in pattern_rows.items()}
    table = np.fromiter(chain.from_iterable(valid), np.int64, len(valid) * len(Layout._fields))  # asarray: slower
    table = table.reshape(-1, len(Layout._fields))
    for i, key in enumerate(Layout._fields):  # one value per layout, repeated over its rows
        base[key] = np.repeat(table[:, i], counts)
    base["layout"] = np.repeat(np.arange(len(valid)), counts)
    base["chunks"] = gbs // np.maximum(base["dp"] * base["mbs"], 1)
    return base, makeups


def _comm(factors: Factors, base: dict[str, np.ndarray], peak: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bytes each GPU of the peak stage sends per step, by kind (explore/costs.py), [base row, ZeRO
    stage, recompute mode]."""
    arch, c, o = factors.arch, factors.config, factors.options
    e = compute_dtype_bytes(c)
    tp, pp, cp, dp, ep, v, mbs, chunks = (base[key][:, None, None] for key in
                                          ("tp", "pp", "cp", "dp", "ep", "v", "mbs", "chunks"))
    zero = np.arange(len(ZERO_STAGES))[:, None]
    sp = np.where(c.sequence_parallel & (tp > 1), tp, 1)
    tokens = c.seq_length / cp * mbs
    activation = tokens * arch.hidden_size * e
    kv = 2 * tokens * arch.kv_width / tp * e
    tp_units, cp_units, ep_units = (np.asarray([units[mode] for mode in RECOMPUTE])
                                    for units in (TP_RECOMPUTE_UNITS, CP_RECOMPUTE_UNITS, EP_RECOMPUTE_UNITS))
    gather_once = o.fsdp_unsharded_under_pp & (pp > 1)
    rows = peak["evaluation_rows"]
    return {
        "tp": tp_bytes(tp, peak["layers"], chunks, activation, tp_units),
        "cp": cp_bytes(cp, peak["layers"], chunks, kv, cp_units),
        "ep": ep_bytes(ep, peak["moe_layers"], chunks, tokens / sp * arch.moe_top_k * arch.hidden_size * e, ep_units),
        "dp": dp_bytes(dp * cp, zero, chunks, peak["params"], gradient_bytes(c, o), e, gather_once),
        "pp": take(pp_bytes(take(pp.reshape(-1), rows), peak["evaluation_stages"], take(chunks.reshape(-1), rows),
                            take(v.reshape(-1), rows), take((activation / sp).reshape(-1), rows)),
                   peak["evaluation"]),  # once per evaluated stage, then gathered
    }


def explore_analytic(arch: Architecture, config: TrainingConfig, options: AnalyticOptions, gpus: int,
                     capacity_mib: float) -> Exploration:
    """Every valid strategy for `arch` on `gpus` GPUs with `config`'s global batch, sequence length,
    layers and precision, and `options`' framework settings (the preset applies to every row); tp,
    pp, dp, cp, ep, etp, ZeRO stage, recompute, micro-batch size, schedule and virtual stages vary
    (`config.checkpoint`, `options.recompute`, `schedule`, `virtual_stages` and `context_parallel`
    are not read)."""
    excluded: Counter = Counter()
    base, makeups = _enumerate(arch, config, options, gpus, excluded)
    if not len(base["tp"]):
        return finish("analytic", capacity_mib, empty_columns(), dict(excluded))
    repeat = len(ZERO_STAGES) * len(RECOMPUTE)
    size = len(base["tp"])
    factors = Factors(arch, config, options)
    peak = stage_peak_mib(factors, base, makeups)
    comm = _comm(factors, base, peak)
    overhead = np.asarray([recompute_overhead(arch, config.seq_length, mode) for mode in RECOMPUTE])
    bubble = bubble_fraction(base["pp"], base["chunks"], base["v"])
    keys = {"tp": "tp", "pp": "pp", "dp": "dp", "ep": "ep", "etp": "etp", "micro_batch_size": "mbs",
            "chunks": "chunks", "context_parallel": "cp", "schedule": "schedule", "virtual_stages": "v"}
    columns = GridColumns(size * repeat, {
        "peak_mib": peak["peak_mib"].reshape(-1), "peak_stage": peak["peak_stage"].reshape(-1),
        **{comm_column(kind): values.reshape(-1) for kind, values in comm.items()},
    }, {  # row = (base row, ZeRO stage, recompute mode)
        **{column: (base[key], repeat) for column, key in keys.items()},
        "zero_stage": (np.arange(len(ZERO_STAGES)), len(RECOMPUTE)), "recompute": (np.arange(len(RECOMPUTE)), 1),
        "bubble": (bubble, repeat), "recompute_overhead": (overhead, 1),
    }, (*keys, "zero_stage", "recompute", "peak_mib", "peak_stage", "bubble", "recompute_overhead"))
    return finish("analytic", capacity_mib, columns, dict(excluded), {"recompute": RECOMPUTE, "schedule": SCHEDULES},
                  _overhead_rank(bubble, overhead))


def _overhead_rank(bubble: np.ndarray, overhead: np.ndarray) -> np.ndarray:
    """The rank of each row's bubble + recompute overhead among their distinct values, [base row, ZeRO
    stage, recompute mode]: the few sums of a distinct bubble and a mode's overhead, ranked once."""
    bubbles, code = np.unique(bubble, return_inverse=True)
    sums = bubbles[:, None] + overhead[None, :]  # the same additions as the columns'
    rank = np.unique(sums, return_inverse=True)[1].reshape(sums.shape)[code.reshape(-1)]
    return np.broadcast_to(rank[:, None, :], (len(bubble), len(ZERO_STAGES), len(overhead)))
