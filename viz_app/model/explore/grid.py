"""Which strategies the explorer lists: parallel layouts of N GPUs, then batch splits.

A layout is (tp, pp, cp, ep, etp) whose product with dp is the GPU count. Each candidate goes
through the cost model's own checks (the ones its estimate raises, in the same order); the first
that fails names the reason it is excluded, and `excluded` counts candidates by reason.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from ..errors import StrategyError

# Reason a layout is excluded when the global batch cannot be split over its data-parallel replicas.
GBS_NOT_DIVISIBLE = "gbs_divides_dp"
# Every reason the cost models' checks give (their error keys without `error.`; docs/explorer.md).
EXCLUSION_REASONS = ("tp_divides_heads", "tp_divides_kv_heads", "tp_divides_ffn", "ep_divides_experts",
                     "etp_divides_expert_ffn", "cp_divides_seq", "pp_over_layers", "pp_division", "virtual_uneven",
                     "first_last_layers", "split_with_embedding_loss", "first_last_with_embedding_loss", "no_tp",
                     "no_tp_without_sp", GBS_NOT_DIVISIBLE)
ERROR_PREFIX = "error."


class Layout(NamedTuple):
    """How N GPUs are split; dp is what remains of N after tp x pp x cp (a tuple: made by the thousand)."""

    tp: int
    pp: int
    cp: int
    dp: int
    ep: int = 1
    etp: int = 1


@functools.lru_cache(maxsize=256)
def divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def reason_of(exc: StrategyError) -> str:
    """The stable code of a rule that failed: its message key without the `error.` prefix."""
    key = getattr(exc.text, "key", "") or str(exc)
    return key.removeprefix(ERROR_PREFIX)


def no_experts(_tp: int, _stage_gpus: int) -> tuple[tuple[int, int], ...]:
    """(ep, etp) pairs of a model without experts: only (1, 1)."""
    return ((1, 1),)


def layouts(gpus: int, gbs: int, check: Callable[[Layout], None], excluded: Counter,
            context_parallel: bool = True,
            expert_choices: Callable[[int, int], Iterable[tuple[int, int]]] = no_experts) -> Iterator[Layout]:
    """Every layout of `gpus` GPUs that `check(layout)` accepts and whose dp divides `gbs`.

    `expert_choices(tp, stage_gpus)` gives the (ep, etp) pairs to try on a stage of tp x cp x dp GPUs;
    `check` raises StrategyError for a strategy the cost model refuses.
    """
    for tp in divisors(gpus):
        for pp in divisors(gpus // tp):
            for cp in divisors(gpus // (tp * pp)) if context_parallel else (1,):
                dp = gpus // (tp * pp * cp)
                for ep, etp in expert_choices(tp, tp * cp * dp):
                    layout = Layout(tp, pp, cp, dp, ep, etp)
                    try:
                        check(layout)
                    except StrategyError as exc:
                        excluded[reason_of(exc)] += 1
                        continue
                    if gbs % dp:
                        excluded[GBS_NOT_DIVISIBLE] += 1
                        continue
                    yield layout


def micro_batch_sizes(gbs: int, dp: int) -> tuple[int, ...]:
    """Every micro-batch size that splits a replica's gbs / dp samples into whole micro-batches."""
    return divisors(gbs // dp)
