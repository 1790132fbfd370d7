"""The explorer's result as a plain-text table (for the CLI): the best strategies first."""

from __future__ import annotations

from .costs import COMM_KINDS
from .table import Exploration, comm_column

GIB = 1 << 30
COLUMNS = (
    ("tp", "tp", "{}"), ("pp", "pp", "{}"), ("dp", "dp", "{}"), ("cp", "context_parallel", "{}"), ("ep", "ep", "{}"),
    ("etp", "etp", "{}"),
    ("zero", "zero_stage", "{}"), ("mbs", "micro_batch_size", "{}"), ("m", "chunks", "{}"),
    ("recompute", "recompute", "{}"), ("schedule", "schedule", "{}"), ("v", "virtual_stages", "{}"),
    ("peak MiB", "peak_mib", "{:.1f}"), ("stage", "peak_stage", "{}"), ("headroom", "headroom_mib", "{:.1f}"),
    ("fits", "fits", "{}"), ("bubble", "bubble", "{:.3f}"), ("recomp.", "recompute_overhead", "{:.3f}"),
)


def format_exploration(exploration: Exploration, top: int, title: str = "") -> str:
    """The first `top` strategies, right-aligned; communication in GiB sent per GPU per step."""
    columns = {key: exploration.column(key, top) for _, key, _ in COLUMNS}
    columns.update({comm_column(kind): exploration.column(comm_column(kind), top) for kind in COMM_KINDS})
    heads = [head for head, _, _ in COLUMNS] + [f"{kind} GiB" for kind in COMM_KINDS]
    rows = [heads]
    for i in range(min(top, len(exploration))):
        row = [fmt.format(columns[key][i]) for _, key, fmt in COLUMNS]
        row += [f"{columns[comm_column(kind)][i] / GIB:.1f}" for kind in COMM_KINDS]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    fitting = int(exploration.columns["fits"].sum()) if len(exploration) else 0
    lines = [title] if title else []
    lines.append(f"{len(exploration)} strategies, {fitting} fit; the first {len(rows) - 1} (fits first, then least "
                 "bubble + recompute, then least communication):")
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    if exploration.excluded:
        reasons = sorted(exploration.excluded.items())
        lines.append("excluded: " + ", ".join(f"{reason} {count}" for reason, count in reasons))
    return "\n".join(lines)
