"""The explorer's columns, where most repeat a short array over the grid: made only when read.

A grid row is (base row, ZeRO stage, recompute mode); a strategy's degrees, micro-batch size and
bubble are the same for its 16 rows, its ZeRO stage and recompute mode cycle. Written out, each such
column is a million-row copy of a few thousand values (most of a DeepSeek-V3 search's memory); a
caller mostly reads the first rows of the order, which are gathered from the short array.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import numpy as np


class GridColumns(MutableMapping):
    """Equal-length columns by name: arrays, and repeated ones, `spread[key] = (values, every)`: row i
    holds values[(i // every) % len(values)], written out (np.tile(np.repeat(values, every), ...))
    the first time the whole column is read."""

    def __init__(self, size: int, arrays: dict[str, np.ndarray], spread: dict[str, tuple[np.ndarray, int]],
                 keys: tuple[str, ...]):
        self._size, self._arrays, self._spread = size, dict(arrays), dict(spread)
        self._keys = [key for key in keys if key in self._arrays or key in self._spread]
        self._keys += [key for key in (*self._arrays, *self._spread) if key not in self._keys]

    def at(self, key: str, rows: np.ndarray) -> np.ndarray:
        """Column `key` at grid rows `rows`, without writing out the whole column."""
        if key in self._arrays:
            return self._arrays[key][rows]
        values, every = self._spread[key]
        return values[(np.asarray(rows) // every) % len(values)]

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            values, every = self._spread.pop(key)
            self._arrays[key] = np.tile(np.repeat(values, every), self._size // (len(values) * every))
        return self._arrays[key]

    def __setitem__(self, key: str, values: np.ndarray) -> None:
        self._spread.pop(key, None)
        self._arrays[key] = values
        if key not in self._keys:
            self._keys.append(key)

    def __delitem__(self, key: str) -> None:
        if self._arrays.pop(key, None) is None and self._spread.pop(key, None) is None:
            raise KeyError(key)
        self._keys.remove(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)
