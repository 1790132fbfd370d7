"""Micro-batches whose activations a pipeline stage holds at its peak, per schedule.

1F1B (Narayanan et al. 2021, PipeDream-Flush): stage s runs pp - s forward passes before its first
backward, so it holds min(pp - s, chunks) micro-batches. Interleaved 1F1B with v model chunks per
stage (Megatron-LM schedules.py): rank r warms up with (pp - r - 1) * 2 + (v - 1) * pp forward
chunk-passes plus the one in flight, each of L/(pp v) layers; on the first stage this is
pp (1 + (pp - 1)/(pp v)) micro-batches of L/pp layers (Korthikanti et al. 2022 section 4.2.3).
GPipe (Huang et al. 2019): every micro-batch's forward runs before any backward.
"""

from __future__ import annotations

from ...i18n import Text
from ..errors import StrategyError


def inflight_chunk_passes(schedule: str, stage: int, pp: int, chunks: int, virtual_stages: int = 1) -> int:
    """(micro-batch, model chunk) pairs whose activations stage `stage` holds at its peak.

    Each pair holds 1/virtual_stages of the stage's layers; with one model chunk per stage it is
    the number of in-flight micro-batches.
    """
    if schedule == "gpipe":
        return chunks * virtual_stages
    if schedule == "1f1b":
        return min(pp - stage, chunks) * virtual_stages
    if schedule == "interleaved":
        warmup = (pp - stage - 1) * 2 + (virtual_stages - 1) * pp
        return min(warmup + 1, chunks * virtual_stages)
    raise StrategyError(key="error.unknown_schedule", schedule=schedule)


def first_chunk_microbatches(schedule: str, stage: int, pp: int, chunks: int, virtual_stages: int = 1) -> int:
    """Micro-batches whose activations the stage's first model chunk (the embedding's) holds.

    """
    return pass_chunks(schedule, stage, pp, chunks, virtual_stages).count(0)


def check_schedule(schedule: str, virtual_stages: int) -> None:
    """Virtual stages need the interleaved schedule (their layer split: pipeline_split.py)."""
    if schedule != "interleaved" and virtual_stages != 1:
        raise StrategyError(key="error.virtual_needs_interleaved", virtual=virtual_stages, schedule=schedule)


def pass_chunks(schedule: str, stage: int, pp: int, chunks: int, virtual_stages: int = 1) -> list[int]:
    """The model chunk of each in-flight pass, in the order they run: interleaved 1F1B runs groups of
    pp micro-batches per chunk, cycling through the chunks, so pass k belongs to chunk (k // pp) % v."""
    passes = inflight_chunk_passes(schedule, stage, pp, chunks, virtual_stages)
    if virtual_stages == 1:  # every pass is the only chunk's (GPipe holds thousands: a list per pass is slow)
        return [0] * passes
    return [(k // pp) % virtual_stages for k in range(passes)]


def schedule_formula(schedule: str, stage: int, pp: int, chunks: int, virtual_stages: int) -> str:
    if schedule == "gpipe":
        return Text("formula.schedule_gpipe", {"chunks": chunks})
    if schedule == "1f1b":
        return Text("formula.schedule_1f1b", {"pp": pp, "stage": stage, "chunks": chunks})
    v = virtual_stages
    return Text("formula.schedule_interleaved", {"pp": pp, "stage": stage, "chunks": chunks, "v": v})
