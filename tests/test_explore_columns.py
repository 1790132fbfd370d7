"""The explorer's repeated columns read the same gathered as written out."""

from __future__ import annotations

import numpy as np

from viz_app.model.explore.columns import GridColumns


def _columns() -> GridColumns:
    base = np.array([7, 3, 9])  # 3 base rows x 2 ZeRO stages x 2 modes
    return GridColumns(12, {"peak": np.arange(12) * 1.5}, {"tp": (base, 4), "zero": (np.arange(2), 2),
                                                            "mode": (np.array([0.25, 0.5]), 1)},
                       ("tp", "zero", "mode", "peak"))


def test_written_out_as_repeat_then_tile():
    columns = _columns()
    assert columns["tp"].tolist() == [7, 7, 7, 7, 3, 3, 3, 3, 9, 9, 9, 9]
    assert columns["zero"].tolist() == [0, 0, 1, 1] * 3
    assert columns["mode"].tolist() == [0.25, 0.5] * 6
    assert list(columns) == ["tp", "zero", "mode", "peak"] and len(columns) == 4


def test_gathered_rows_equal_the_written_out_column():
    rows = np.array([11, 0, 5, 6, 3])
    for key in ("tp", "zero", "mode", "peak"):
        gathered = _columns().at(key, rows)
        whole = _columns()[key]
        assert gathered.dtype == whole.dtype
        assert gathered.tolist() == whole[rows].tolist()
    assert _columns().at("tp", rows).tolist() == [9, 7, 3, 3, 7]


def test_set_and_delete():
    columns = _columns()
    columns["fits"] = np.ones(12, bool)
    columns["tp"] = np.zeros(12, np.int64)
    del columns["mode"]
    assert list(columns) == ["tp", "zero", "peak", "fits"]
    assert columns.at("tp", np.array([5])).tolist() == [0]
