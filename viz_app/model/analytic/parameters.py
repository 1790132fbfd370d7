"""Exact parameter counts of a decoder-only transformer, whole and per GPU (TP and PP split).

Layout follows Megatron-LM (Shoeybi et al. 2019, "Megatron-LM", section 3): q/k/v and the MLP's
first projection are column-parallel (weights and biases split over tp), the attention output and
the MLP's second projection row-parallel (weights split, biases replicated), norms replicated, the
word embedding and output head vocab-parallel (rows split over tp, vocabulary padded), learned
position embeddings replicated. Embedding on the first stage, final norm and head on the last.
"""

from __future__ import annotations

import math

from ..errors import StrategyError
from ..limits import MAX_TP
from .architecture import Architecture

NORM_PARAMS_PER_WIDTH = {"rmsnorm": 1, "layernorm": 2, "nonparametric": 0}


def norm_parameter_count(arch: Architecture) -> int:
    """One norm: a weight (RMSNorm), weight + bias (LayerNorm), nothing (non-parametric)."""
    return NORM_PARAMS_PER_WIDTH[arch.norm_type] * arch.hidden_size


def attention_weight_count(arch: Architecture) -> int:
    """q (h x a*d), k and v (h x g*d each) and the output projection (a*d x h)."""
    h = arch.hidden_size
    return 2 * h * arch.query_width + 2 * h * arch.kv_width


def attention_bias_count(arch: Architecture, tp: int = 1) -> int:
    """q/k/v biases are column-parallel (split); the output bias is row-parallel (replicated)."""
    qkv = (arch.query_width + 2 * arch.kv_width) // tp
    if arch.linear_bias:
        return qkv + arch.hidden_size
    return qkv if arch.qkv_bias else 0


def mlp_weight_count(arch: Architecture) -> int:
    """Gated: gate, up (h x f each) and down (f x h); otherwise up and down."""
    return (3 if arch.gated_mlp else 2) * arch.hidden_size * arch.ffn_hidden_size


def mlp_bias_count(arch: Architecture, tp: int = 1) -> int:
    if not arch.linear_bias:
        return 0
    return (2 if arch.gated_mlp else 1) * arch.ffn_hidden_size // tp + arch.hidden_size


def layer_parameter_count(arch: Architecture, tp: int = 1) -> int:
    """One decoder layer on one tensor-parallel rank (two norms, attention, MLP)."""
    return (
        (attention_weight_count(arch) + mlp_weight_count(arch)) // tp
        + attention_bias_count(arch, tp) + mlp_bias_count(arch, tp) + 2 * norm_parameter_count(arch)
    )


def padded_vocab_size(arch: Architecture, tp: int = 1, pad_multiple: int = 1) -> int:
    """Megatron pads V to a multiple of make_vocab_size_divisible_by x tp so every rank gets equal rows."""
    step = pad_multiple * tp
    return math.ceil(arch.vocab_size / step) * step


def vocab_shard_parameter_count(arch: Architecture, tp: int = 1, pad_multiple: int = 1) -> int:
    """One vocab-parallel matrix (word embedding or output head) on one TP rank: padded V x h / tp."""
    return padded_vocab_size(arch, tp, pad_multiple) * arch.hidden_size // tp


def embedding_parameter_count(arch: Architecture, tp: int = 1, pad_multiple: int = 1) -> int:
    """Word embedding (vocab-parallel rows) plus a learned position table (replicated)."""
    words = vocab_shard_parameter_count(arch, tp, pad_multiple)
    positions = arch.max_position_embeddings * arch.hidden_size if arch.position_embedding == "learned" else 0
    return words + positions


def head_parameter_count(arch: Architecture, tp: int = 1, pad_multiple: int = 1, pp: int = 1) -> int:
    """Output head: none when tied and on the embedding's stage; Megatron keeps a tied copy when pp > 1."""
    if arch.tie_embeddings and pp == 1:
        return 0
    return vocab_shard_parameter_count(arch, tp, pad_multiple)


def parameter_counts(arch: Architecture, num_layers: int | None = None) -> dict[str, int]:
    """Whole-model counts (tp 1, no padding): the numbers model cards publish."""
    layers = arch.num_layers if num_layers is None else num_layers
    per_layer = layer_parameter_count(arch)
    counts = {
        "per_layer": per_layer,
        "layers": layers * per_layer,
        "embedding": embedding_parameter_count(arch),
        "head": head_parameter_count(arch),
        "final_norm": norm_parameter_count(arch),
    }
    counts["total"] = counts["layers"] + counts["embedding"] + counts["head"] + counts["final_norm"]
    return counts


def check_tensor_parallel(arch: Architecture, tp: int) -> None:
    """Megatron's divisibility rules: heads, KV groups and FFN width split evenly over tp."""
    for key, value in (("error.tp_divides_heads", arch.num_attention_heads),
                       ("error.tp_divides_kv_heads", arch.kv_heads), ("error.tp_divides_ffn", arch.ffn_hidden_size)):
        if value % tp:
            raise StrategyError(key=key, tp=tp, value=value)


def tensor_parallel_choices(arch: Architecture, max_tp: int = MAX_TP) -> list[int]:
    """TP degrees `check_tensor_parallel` accepts for this architecture, up to `max_tp`."""
    choices = []
    for tp in range(1, max_tp + 1):
        try:
            check_tensor_parallel(arch, tp)
        except StrategyError:
            continue
        choices.append(tp)
    return choices


def stage_layer_counts(num_layers: int, pp: int, pp_division: list[int] | None = None) -> list[int]:
    """Layers per pipeline stage: an explicit division, else as even as possible (extra layers go
    to the last stages, which hold the fewest in-flight micro-batches under 1F1B)."""
    if pp > num_layers:
        raise StrategyError(key="error.pp_over_layers", pp=pp, layers=num_layers)
    if pp_division:
        if len(pp_division) != pp or sum(pp_division) != num_layers or min(pp_division) < 1:
            raise StrategyError(key="error.pp_division", division=",".join(map(str, pp_division)), pp=pp,
                                layers=num_layers)
        return list(pp_division)
    base, extra = divmod(num_layers, pp)
    return [base + (1 if stage >= pp - extra else 0) for stage in range(pp)]
