"""Bundled architectures for the analytic mode: public Hugging Face config.json files, by name."""

from __future__ import annotations

from pathlib import Path

from ..bundled import presets_dir
from .architecture import Architecture
from .model_config_import import ModelConfigError, read_model_config

ANALYTIC_FOLDER = "analytic"


def model_presets_dir() -> Path:
    return presets_dir() / ANALYTIC_FOLDER


def list_model_presets() -> list[str]:
    """Names of the bundled model configs (`presets/analytic/NAME.json`), sorted."""
    return sorted(p.stem for p in model_presets_dir().glob("*.json"))


def load_model_preset(name: str) -> Architecture:
    """The architecture of a bundled model config; its name is the preset's name."""
    path = model_presets_dir() / f"{name}.json"
    if not path.is_file():
        raise ModelConfigError(f"unknown model '{name}'; available: {', '.join(list_model_presets())}")
    return read_model_config(path, name)
