"""The explorer's result: one column per quantity, one row per strategy, in the default order.

Strategy keys are those of `memviz estimate --json`'s `config` and `options`, so a row can be fed
back to the estimate; these keys are a public interface (add, never rename).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

import numpy as np

from .columns import GridColumns
from .costs import COMM_KINDS
from .order import lexsort

STRATEGY_KEYS = ("tp", "pp", "dp", "ep", "etp", "zero_stage", "micro_batch_size", "chunks", "context_parallel",
                 "recompute", "schedule", "virtual_stages")
RESULT_KEYS = ("peak_mib", "peak_stage", "headroom_mib", "fits", "bubble", "recompute_overhead")


def comm_column(kind: str) -> str:
    return f"comm_{kind}_bytes"


@dataclass(frozen=True)
class Exploration:
    """Every listed strategy and the excluded ones, counted by reason.

    `columns` are equal-length arrays in the order the grid was built (GridColumns: repeated columns
    are written out only when read whole); `order` lists their rows in the default order
    (so a caller wanting only the first rows, or all of them unordered as a chart does, pays for no
    reordering).
    """

    mode: str
    capacity_mib: float
    columns: GridColumns
    excluded: dict[str, int]
    order: np.ndarray
    labels: dict[str, tuple] = field(default_factory=dict)  # columns stored as codes into these names

    def __len__(self) -> int:
        return len(self.order)

    def column(self, key: str, limit: int | None = None, positions: np.ndarray | None = None) -> np.ndarray:
        """One quantity of the first `limit` strategies (all by default), or of those at `positions` in
        the order."""
        values = self.columns.at(key, self.order[:limit] if positions is None else self.order[positions])
        return np.asarray(self.labels[key])[values] if key in self.labels else values

    def rows(self, limit: int | None = None, positions: np.ndarray | None = None) -> list[dict]:
        """The strategies as JSON objects, in order (the first `limit`, or those at `positions`)."""
        plain = {key: self.column(key, limit, positions).tolist() for key in STRATEGY_KEYS + RESULT_KEYS}
        comm = {kind: self.column(comm_column(kind), limit, positions).tolist() for kind in COMM_KINDS}
        rows = []
        for i in range(len(plain["tp"])):
            row = {key: values[i] for key, values in plain.items()}
            row["comm_bytes"] = {kind: values[i] for kind, values in comm.items()}
            rows.append(row)
        return rows

    def sample_positions(self, limit: int) -> np.ndarray:
        """Up to `limit` positions in the order, the first that fit and the first that do not, half and
        half where both have that many (a chart of the first `limit` alone would show only fitting ones)."""
        fits = self.column("fits")
        fitting, failing = np.flatnonzero(fits), np.flatnonzero(~fits)
        failing = failing[:max(limit // 2, limit - len(fitting))]
        return np.concatenate([fitting[:limit - len(failing)], failing])

    def to_json(self, limit: int | None = None) -> dict:
        return {"mode": self.mode, "capacity_mib": self.capacity_mib, "count": len(self),
                "strategies": self.rows(limit), "excluded": dict(sorted(self.excluded.items()))}


def empty_columns() -> dict[str, np.ndarray]:
    """The columns of a grid with no valid strategy."""
    keys = STRATEGY_KEYS + ("peak_mib", "peak_stage", "bubble", "recompute_overhead")
    return {key: np.zeros(0) for key in keys + tuple(comm_column(kind) for kind in COMM_KINDS)}


def comm_total(columns: MutableMapping[str, np.ndarray]) -> np.ndarray:
    """Bytes sent of every kind, added in COMM_KINDS' order (as sum() adds them), into one array."""
    total = 0 + columns[comm_column(COMM_KINDS[0])]
    for kind in COMM_KINDS[1:]:
        total += columns[comm_column(kind)]
    return total


def finish(mode: str, capacity_mib: float, columns: MutableMapping[str, np.ndarray], excluded: dict[str, int],
           labels: dict[str, tuple] | None = None, overhead_rank: np.ndarray | None = None) -> Exploration:
    """Add the verdict and the default order: fitting first, then the least bubble plus recompute
    overhead, then the least communication, then the least memory. `overhead_rank`, where the caller
    has it cheaper, numbers the distinct values of bubble + recompute overhead in their order."""
    if not isinstance(columns, GridColumns):  # every column written out
        columns = GridColumns(len(columns["peak_mib"]), columns, {}, tuple(columns))
    columns["headroom_mib"] = capacity_mib - columns["peak_mib"]
    columns["fits"] = columns["peak_mib"] <= capacity_mib
    if overhead_rank is None:
        overhead_rank = np.unique(columns["bubble"] + columns["recompute_overhead"], return_inverse=True)[1]
    rank = overhead_rank.reshape(-1)
    ranks = int(rank.max()) + 1 if len(rank) else 0
    fitting_first = np.where(columns["fits"], rank, rank + ranks)  # one key: fits first, then the rank
    order = lexsort((columns["peak_mib"], comm_total(columns), fitting_first))
    return Exploration(mode, capacity_mib, columns, excluded, order, labels or {})
