"""Bundled Galvatron profiles, loadable by name ("llama3-8b", ...)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..bundled import presets_dir
from ..errors import ProfileError
from .profile import GalvatronProfile, load_profile

GALVATRON_PREFIX = "galvatron_bf16_"
DEFAULT_PRESET = "llama3-8b"


def list_presets() -> list[str]:
    """Names of the bundled Galvatron profiles, sorted."""
    return sorted(p.name[len(GALVATRON_PREFIX):-len(".json")] for p in presets_dir().glob(f"{GALVATRON_PREFIX}*.json"))


def preset_path(name: str) -> Path:
    path = presets_dir() / f"{GALVATRON_PREFIX}{name}.json"
    if not path.is_file():
        raise ProfileError(f"unknown preset '{name}'; available: {', '.join(list_presets())}")
    return path


def load_preset(name: str) -> GalvatronProfile:
    """Load a bundled profile; its name is the preset's name, not the file's."""
    profile = load_profile(preset_path(name))
    return replace(profile, name=name)
