"""`take`: np.take of many rows, with its indices as the platform's index type."""

from __future__ import annotations

import numpy as np


def take(values: np.ndarray, indices: np.ndarray, axis: int | None = None) -> np.ndarray:
    """np.take(values, indices, axis): several times faster than fancy indexing on a million rows. The
    indices become np.intp first (no copy where they are already): Pyodide's 32-bit numpy refuses
    int64 indices to take."""
    return np.take(values, np.asarray(indices).astype(np.intp, copy=False), axis=axis)
