"""A downloaded estimate (the `--json` document) read back: the state it was made from.

The document carries the mode, the profile or model (`source`), the configuration, the analytic
architecture and options, and any Galvatron strategy file; the app restores that state from it.
Only those keys are read; the numbers are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import APPLY_ORDER
from .errors import MemvizError
from .json_input import json_kind

MODES = ("galvatron", "analytic")


class SavedEstimateError(MemvizError):
    """A downloaded estimate that cannot be restored (a key missing or of the wrong kind)."""


@dataclass(frozen=True)
class SavedEstimate:
    """What an estimate document says about the state it was made from."""

    name: str  # the file's name
    mode: str
    source: str  # the profile or preset name (Galvatron), the model name (analytic)
    config: dict
    architecture: dict | None = None
    options: dict | None = None
    strategy_file: dict | None = None  # {"name": ..., "content": {...}}


def is_saved_estimate(data: object) -> bool:
    """Whether decoded JSON is an estimate document (what `estimate --json` prints, the app downloads)."""
    return isinstance(data, dict) and {"source", "config", "mode", "stages"} <= set(data)


def parse_saved_estimate(data: dict, name: str) -> SavedEstimate:
    def expect(key: str, kind: type, what: str, required: bool = True):
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, kind):
            raise SavedEstimateError(key="error.saved_key", name=name, path=key, expected=what, found=json_kind(value))
        return value

    mode = expect("mode", str, "galvatron or analytic")
    if mode not in MODES:
        raise SavedEstimateError(key="error.saved_key", name=name, path="mode", expected="galvatron or analytic",
                                 found=repr(mode))
    config = expect("config", dict, "an object of configuration values")
    unknown = sorted(set(config) - set(APPLY_ORDER))
    if unknown:
        raise SavedEstimateError(key="error.saved_key", name=name, path=f"config.{unknown[0]}",
                                 expected=", ".join(APPLY_ORDER), found=repr(unknown[0]))
    analytic = mode == "analytic"
    strategy = expect("strategy_file", dict, "an object with name and content", required=False)
    named = strategy is not None and isinstance(strategy.get("name"), str)
    if strategy is not None and not (named and isinstance(strategy.get("content"), dict)):
        raise SavedEstimateError(key="error.saved_key", name=name, path="strategy_file",
                                 expected="an object with name and content", found=json_kind(strategy))
    return SavedEstimate(
        name=name, mode=mode, source=expect("source", str, "the profile or model name"), config=config,
        architecture=expect("architecture", dict, "an object of architecture values", required=analytic),
        options=expect("options", dict, "an object of analytic options", required=analytic),
        strategy_file=strategy,
    )
