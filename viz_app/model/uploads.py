"""An uploaded JSON file: a Galvatron memory profile or a model config, told apart by its keys."""

from __future__ import annotations

from .analytic.architecture import Architecture
from .analytic.model_config_import import import_model_config
from .galvatron.profile import GalvatronProfile, is_profile, parse_profile
from .galvatron.strategy_file import StrategyFile, is_strategy_file, parse_strategy_file
from .json_input import decode_json
from .saved import SavedEstimate, is_saved_estimate, parse_saved_estimate


def read_upload(data: bytes | str, name: str) -> GalvatronProfile | Architecture | StrategyFile | SavedEstimate:
    """A profile (layertype_N / other_memory_* keys), a Galvatron strategy file (pp_deg, tp_sizes_enc), a
    downloaded estimate (source, config, mode, stages) or, otherwise, a Hugging Face / Galvatron model config."""
    decoded = decode_json(data, name)
    if is_saved_estimate(decoded):
        return parse_saved_estimate(decoded, name)
    if is_profile(decoded):
        return parse_profile(decoded, name)
    if is_strategy_file(decoded):
        return parse_strategy_file(decoded, name)
    return import_model_config(decoded, name)
