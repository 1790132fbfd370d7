"""Where the bundled data lives: Galvatron profiles and (analytic/) model configs."""

from __future__ import annotations

from pathlib import Path

import viz_app

from .errors import ProfileError


def presets_dir() -> Path:
    """`viz_app/presets` in an installed wheel, else the checkout's top-level `presets/`."""
    package_dir = Path(viz_app.__file__).resolve().parent
    for candidate in (package_dir / "presets", package_dir.parent / "presets"):
        if candidate.is_dir():
            return candidate
    raise ProfileError(f"no presets folder found next to {package_dir}")
