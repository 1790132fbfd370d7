"""A plain-text table of an Estimate, one row per pipeline stage (for the CLI)."""

from __future__ import annotations

from .result import Estimate

COLUMNS = (
    ("stage", "stage", "{:d}"),
    ("layers", "layers", "{:d}"),
    ("total", "total_mib", "{:.1f}"),
    ("activation", "activation_mib", "{:.1f}"),
    ("model states", "model_states_mib", "{:.1f}"),
    ("parameter", "parameter_mib", "{:.1f}"),
    ("gradient", "gradient_mib", "{:.1f}"),
    ("optimizer", "optimizer_mib", "{:.1f}"),
    ("grad acc.", "grad_accumulate_mib", "{:.1f}"),
)


def format_stages(estimate: Estimate, title: str = "") -> str:
    """Right-aligned columns in MiB, the peak stage marked, notices listed below."""
    show_overhead = any(s.overhead_mib for s in estimate.stages)
    columns = COLUMNS + ((("overhead", "overhead_mib", "{:.1f}"),) if show_overhead else ())
    rows = [[head for head, _, _ in columns]]
    peak = estimate.peak_stage.stage
    for stage in estimate.stages:
        row = [fmt.format(getattr(stage, attr)) for _, attr, fmt in columns]
        row[0] += " *" if stage.stage == peak and len(estimate.stages) > 1 else ""
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    lines = [title] if title else []
    lines.append("per-GPU memory in MiB (2^20 bytes)" + (", * = most loaded stage" if len(estimate.stages) > 1 else ""))
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines += [f"warning: {n.message}" for n in estimate.notices]
    return "\n".join(lines)
