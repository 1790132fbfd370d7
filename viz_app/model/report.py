"""The JSON document of one estimate: what `memviz estimate --json` prints and the app downloads.

Its keys are a public interface (scripts read them): add keys, never rename them.
"""

from __future__ import annotations

from typing import Protocol

from .config import TrainingConfig
from .result import Estimate


class Described(Protocol):
    """An input of a cost model that lists its values (the analytic Architecture and its options)."""

    def values(self) -> dict: ...


class Written(Protocol):
    """An input file kept as read (a Galvatron strategy file)."""

    def document(self) -> dict: ...


def estimate_document(source: str, config: TrainingConfig, estimate: Estimate, arch: Described | None = None,
                      options: Described | None = None, strategy: Written | None = None) -> dict:
    """`source` names the profile or model; analytic estimates also carry the architecture and options, and
    estimates of a Galvatron strategy file the file (`strategy_file`: its name and keys as read)."""
    document = {"source": source, "config": config.values(), **estimate.to_json()}
    if strategy is not None:
        document["strategy_file"] = strategy.document()
    if arch is not None:
        document["architecture"] = arch.values()
    if options is not None:
        document["options"] = options.values()
    return document
