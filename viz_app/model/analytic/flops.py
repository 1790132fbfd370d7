"""Forward FLOPs of a decoder layer per token, and the share a recompute mode runs again.

Each matmul costs 2 FLOPs per weight per token; the attention core (scores Q K^T and their
weighted sum of V) 2 x 2 s a d per token (Narayanan et al. 2021, section 5.1, counted without a
causal mask as there). Norms and elementwise operations are left out (well under 1%).
"""

from __future__ import annotations

from .activations import OP_SAC_RECOMPUTED, layer_matmuls
from .architecture import Architecture

ATTENTION_CORE = "attention core"


def layer_forward_flops(arch: Architecture, seq_length: int) -> dict[str, int]:
    """Forward FLOPs per token of each part of one layer (before any parallel split)."""
    flops = {name: 2 * inputs * outputs for name, inputs, outputs in layer_matmuls(arch)}
    flops[ATTENTION_CORE] = 4 * seq_length * arch.query_width
    return flops


def recomputed_parts(arch: Architecture, recompute: str) -> list[str]:
    """What backward runs forward again: nothing; the attention core (selective, Korthikanti et al.
    2022); the whole layer (full); the matmuls op_sac does not save (torchtitan)."""
    if recompute == "selective":
        return [ATTENTION_CORE]
    if recompute == "full":
        return list(layer_forward_flops(arch, 1))
    if recompute == "op_sac":
        return [name for name, _inputs, _outputs in layer_matmuls(arch)[OP_SAC_RECOMPUTED]]
    return []


def recompute_overhead(arch: Architecture, seq_length: int, recompute: str) -> float:
    """Extra forward FLOPs as a share of the layers' forward FLOPs (full recompute: 1)."""
    flops = layer_forward_flops(arch, seq_length)
    return sum(flops[part] for part in recomputed_parts(arch, recompute)) / sum(flops.values())
