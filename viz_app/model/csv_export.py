"""CSV files: one writer for every table memviz exports (spreadsheets open them as they are)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from .explore.costs import COMM_KINDS
from .explore.table import RESULT_KEYS, STRATEGY_KEYS, Exploration, comm_column
from .result import Estimate

# One row per block of each stage; a stage's rows sum to its total. Columns are a public
# interface, as the JSON keys are: add, never rename.
ESTIMATE_COLUMNS = ("stage", "layers", "block", "category", "mib", "count", "formula", "source")
# One row per strategy, in the explorer's order: the keys of `memviz explore --json`'s strategies,
# each kind of `comm_bytes` its own column.
EXPLORATION_COLUMNS = STRATEGY_KEYS + RESULT_KEYS + tuple(comm_column(kind) for kind in COMM_KINDS)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document: the header, then the rows (floats in full precision, '\\n' line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def estimate_csv(estimate: Estimate) -> str:
    """Every block of every stage, MiB per GPU, with its formula and source."""
    return csv_text(ESTIMATE_COLUMNS, (
        (stage.stage, stage.layers, b.key, b.category, repr(b.mib), b.count, b.formula, b.source)
        for stage in estimate.stages for b in stage.blocks
    ))


def exploration_csv(exploration: Exploration, limit: int | None = None) -> str:
    """The first `limit` strategies the explorer lists (all by default, as `memviz explore --json`), in its order."""
    columns = [exploration.column(key, limit).tolist() for key in EXPLORATION_COLUMNS]
    return csv_text(EXPLORATION_COLUMNS, zip(*columns, strict=True))
