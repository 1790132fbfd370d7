"""Analytic mode: memory from the architecture alone (see docs/analytic.md)."""

from .activations import layer_activation_bytes, layer_saved_tensors
from .estimate import estimate_analytic
from .options import AnalyticOptions
from .parameters import parameter_counts

__all__ = ["AnalyticOptions", "estimate_analytic", "layer_activation_bytes", "layer_saved_tensors", "parameter_counts"]
