"""Forward FLOPs of a decoder layer per token, and the share a recompute mode runs again.

Each matmul costs 2 FLOPs per weight per token; the attention core (scores Q K^T and their
weighted sum of V) 2 x 2 s a d per token (Narayanan et al. 2021, section 5.1, counted without a
causal mask as there). Norms and elementwise operations are left out (well under 1%).
"""

from __future__ import annotations

from .architecture import Architecture

ATTENTION_CORE = "attention core"
# op_sac keeps every other matmul output, from the first (torchtitan's _save_list policy;
# activations.op_sac_tensors), so backward runs the others again.
OP_SAC_RECOMPUTED = slice(1, None, 2)


def layer_matmuls(arch: Architecture) -> list[tuple[str, int, int]]:
    """A decoder layer's matmuls in forward order: (name, input width, output width), per token. An
    MoE model's MLP is its routed experts' (k of width f_e per token) and shared experts' width."""
    h, q, kv = arch.hidden_size, arch.query_width, arch.kv_width
    f = arch.moe_top_k * arch.expert_ffn + arch.shared_ffn if arch.is_moe else arch.ffn_hidden_size
    attention = [("q", h, q), ("k", h, kv), ("v", h, kv), ("attention out", q, h)]
    mlp = [("gate", h, f), ("up", h, f), ("down", f, h)] if arch.gated_mlp else [("fc1", h, f), ("fc2", f, h)]
    return attention + mlp


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
