"""Side-by-side comparison of up to four estimates: the figures that decide between strategies.

Each row is one figure (peak total, a category or model-state part of the most loaded stage, a
stage's total) for every estimate, with its difference from the first (the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

from .result import ACTIVATION, MODEL_STATES, OVERHEAD, Estimate

# A difference smaller than this is rounding, not a different strategy (MiB).
SAME_MIB = 0.05
# Figures of the most loaded stage: (row key, StageEstimate attribute).
PEAK_FIGURES = (
    (ACTIVATION, "activation_mib"), (MODEL_STATES, "model_states_mib"), (OVERHEAD, "overhead_mib"),
    ("model_states.parameter", "parameter_mib"), ("model_states.gradient", "gradient_mib"),
    ("model_states.optimizer", "optimizer_mib"), ("model_states.grad_accumulate", "grad_accumulate_mib"),
)


@dataclass(frozen=True)
class ComparisonRow:
    """One figure for every estimate (None where an estimate has no such stage), MiB."""

    key: str  # "peak", a category or block key (of the most loaded stage), or "stage"
    mib: tuple[float | None, ...]
    stage: int | None = None  # for "stage" rows

    def deltas(self) -> tuple[float | None, ...]:
        """Each estimate minus the first; None for the first and where either is missing."""
        base = self.mib[0]
        return (None,) + tuple(None if base is None or v is None else v - base for v in self.mib[1:])

    def differs(self) -> tuple[bool, ...]:
        """Which estimates differ from the first by more than rounding."""
        return tuple(d is not None and abs(d) > SAME_MIB for d in self.deltas())


def comparison_rows(estimates: list[Estimate]) -> list[ComparisonRow]:
    """Peak total, the peak stage's categories and model-state parts, then every stage's total."""
    peaks = [e.peak_stage for e in estimates]
    rows = [ComparisonRow("peak", tuple(p.total_mib for p in peaks))]
    for key, attribute in PEAK_FIGURES:
        values = tuple(getattr(p, attribute) for p in peaks)
        if key != OVERHEAD or any(values):
            rows.append(ComparisonRow(key, values))
    for stage in range(max(len(e.stages) for e in estimates)):
        rows.append(ComparisonRow("stage", tuple(e.stages[stage].total_mib if stage < len(e.stages) else None
                                                 for e in estimates), stage))
    return rows
