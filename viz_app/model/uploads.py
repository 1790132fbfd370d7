"""An uploaded JSON file: a Galvatron memory profile or a model config, told apart by its keys."""

from __future__ import annotations

from .analytic.architecture import Architecture
from .analytic.model_config_import import import_model_config
from .galvatron.profile import GalvatronProfile, is_profile, parse_profile
from .json_input import decode_json


def read_upload(data: bytes | str, name: str) -> GalvatronProfile | Architecture:
    """A profile (layertype_N / other_memory_* keys) or, otherwise, a Hugging Face / Galvatron model config."""
    decoded = decode_json(data, name)
    if is_profile(decoded):
        return parse_profile(decoded, name)
    return import_model_config(decoded, name)
