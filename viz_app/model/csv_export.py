"""CSV files: one writer for every table memviz exports (spreadsheets open them as they are)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from .result import Estimate

# One row per block of each stage; a stage's rows sum to its total. Columns are a public
# interface, as the JSON keys are: add, never rename.
ESTIMATE_COLUMNS = ("stage", "layers", "block", "category", "mib", "count", "formula", "source")


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
