"""Exact parameter counts of a decoder-only transformer, whole and per GPU (TP and PP split).

Layout follows Megatron-LM (Shoeybi et al. 2019, "Megatron-LM", section 3): q/k/v and the MLP's
first projection are column-parallel (weights and biases split over tp), the attention output and
the MLP's second projection row-parallel (weights split, biases replicated), norms replicated, the
word embedding and output head vocab-parallel (rows split over tp, vocabulary padded), learned
position embeddings replicated. Embedding on the first stage, final norm and head on the last.

Each layer's parameters fall in three buckets (`LayerParameters`): split over tp, replicated on
every tp rank, and routed experts, split over ep (whole experts) and etp (their width). Megatron-LM
core: MLA down projections and the q/kv norms are "duplicated" (multi_latent_attention.py), up
projections column-parallel; the router is replicated (moe/router.py); shared experts use tp
(moe/shared_experts.py); grouped experts split over EP and ETP (moe/experts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import StrategyError
from ..limits import MAX_TP
from .architecture import Architecture

NORM_PARAMS_PER_WIDTH = {"rmsnorm": 1, "layernorm": 2, "nonparametric": 0}


def norm_parameter_count(arch: Architecture) -> int:
    """One norm: a weight (RMSNorm), weight + bias (LayerNorm), nothing (non-parametric)."""
    return NORM_PARAMS_PER_WIDTH[arch.norm_type] * arch.hidden_size


@dataclass(frozen=True)
class LayerParameters:
    """One decoder layer's parameters on one GPU, by how they are sharded."""

    sharded: int     # split over the tensor-parallel group
    replicated: int  # whole on every tensor-parallel rank (norms, row-parallel biases, router, MLA down projections)
    expert: int      # routed experts: E/ep experts, each f_e/etp wide

    @property
    def dense(self) -> int:
        """Parameters whose states shard over the data-parallel group."""
        return self.sharded + self.replicated

    @property
    def total(self) -> int:
        return self.sharded + self.replicated + self.expert

    def plus(self, other: LayerParameters) -> LayerParameters:
        return LayerParameters(self.sharded + other.sharded, self.replicated + other.replicated,
                               self.expert + other.expert)


NO_PARAMETERS = LayerParameters(0, 0, 0)


def attention_weight_count(arch: Architecture) -> int:
    """q (h x a*d), k and v (h x g*d each) and the output projection (a*d x h); MLA's column-parallel
    up projections and output projection (see `mla_parameters`)."""
    h = arch.hidden_size
    if arch.is_mla:
        return mla_parameters(arch).sharded
    return 2 * h * arch.query_width + 2 * h * arch.kv_width


def mla_parameters(arch: Architecture, tp: int = 1) -> LayerParameters:
    """Multi-head latent attention (DeepSeek-V2 sec. 2.1): q down h x q_r (replicated), its norm, q up
    q_r x a(d_nope + d_rope) (or q h x a(d_nope + d_rope) without q_r); kv down h x (c + d_rope) and
    its norm (replicated); kv up c x a(d_nope + d_v); output a d_v x h."""
    h, a, c = arch.hidden_size, arch.num_attention_heads, arch.kv_lora_rank
    q_head = arch.qk_nope_head_dim + arch.qk_rope_head_dim
    replicated = h * (c + arch.qk_rope_head_dim) + NORM_PARAMS_PER_WIDTH[arch.norm_type] * c
    if arch.q_lora_rank:
        q_rank = arch.q_lora_rank
        replicated += h * q_rank + NORM_PARAMS_PER_WIDTH[arch.norm_type] * q_rank
        q_up = q_rank * a * q_head
    else:
        q_up = h * a * q_head
    sharded = q_up + c * a * (arch.qk_nope_head_dim + arch.v_head_dim) + a * arch.v_head_dim * h
    return LayerParameters(sharded // tp, replicated, 0)


def attention_bias_count(arch: Architecture, tp: int = 1) -> int:
    """q/k/v biases are column-parallel (split); the output bias is row-parallel (replicated)."""
    qkv = (arch.query_width + 2 * arch.kv_width) // tp
    if arch.linear_bias:
        return qkv + arch.hidden_size
    return qkv if arch.qkv_bias else 0


def attention_parameters(arch: Architecture, tp: int = 1) -> LayerParameters:
    """Attention weights and biases, plus qk-norm weights (replicated): one d-wide RMSNorm each for q
    and k, or a d and g d wide ones (OLMoE). Kept whole on every rank as memviz's simplification of
    OLMoE's full-width norm, which Megatron does not implement."""
    if arch.is_mla:
        return mla_parameters(arch, tp)
    bias = attention_bias_count(arch, tp)
    replicated_bias = arch.hidden_size if arch.linear_bias else 0
    qk_norm = 0
    if arch.qk_norm:
        qk_norm = arch.query_width + arch.kv_width if arch.qk_norm_full_width else 2 * arch.head_width
    return LayerParameters(attention_weight_count(arch) // tp + bias - replicated_bias, replicated_bias + qk_norm, 0)


def mlp_weight_count(arch: Architecture, ffn: int | None = None) -> int:
    """Gated: gate, up (h x f each) and down (f x h); otherwise up and down."""
    return (3 if arch.gated_mlp else 2) * arch.hidden_size * (arch.ffn_hidden_size if ffn is None else ffn)


def mlp_bias_count(arch: Architecture, tp: int = 1) -> int:
    if not arch.linear_bias:
        return 0
    return (2 if arch.gated_mlp else 1) * arch.ffn_hidden_size // tp + arch.hidden_size


def dense_mlp_parameters(arch: Architecture, tp: int = 1) -> LayerParameters:
    replicated_bias = arch.hidden_size if arch.linear_bias else 0
    return LayerParameters(mlp_weight_count(arch) // tp + mlp_bias_count(arch, tp) - replicated_bias,
                           replicated_bias, 0)


def moe_parameters(arch: Architecture, tp: int = 1, ep: int = 1, etp: int = 1) -> LayerParameters:
    """Router h x E (replicated), shared experts (one MLP of their summed width, split over tp) and
    their gate h x 1, and the E/ep local routed experts, each split over etp."""
    h = arch.hidden_size
    replicated = h * arch.num_experts + (h if arch.shared_expert_gate and arch.num_shared_experts else 0)
    sharded = mlp_weight_count(arch, arch.shared_ffn) // tp
    expert = arch.num_experts // ep * mlp_weight_count(arch, arch.expert_ffn) // etp
    return LayerParameters(sharded, replicated, expert)


def layer_parameters(arch: Architecture, index: int = 0, tp: int = 1, ep: int = 1, etp: int = 1) -> LayerParameters:
    """Decoder layer `index` on one GPU: two norms, attention, and a dense or MoE MLP."""
    norms = LayerParameters(0, 2 * norm_parameter_count(arch), 0)
    mlp = moe_parameters(arch, tp, ep, etp) if arch.is_moe_layer(index) else dense_mlp_parameters(arch, tp)
    return norms.plus(attention_parameters(arch, tp)).plus(mlp)


def layer_parameter_count(arch: Architecture, tp: int = 1, index: int = 0, ep: int = 1, etp: int = 1) -> int:
    """One decoder layer (layer `index`) on one GPU."""
    return layer_parameters(arch, index, tp, ep, etp).total


def layers_parameters(arch: Architecture, indices, tp: int = 1, ep: int = 1, etp: int = 1) -> LayerParameters:
    """The layers `indices` on one GPU, bucket by bucket."""
    total = NO_PARAMETERS
    for index in indices:
        total = total.plus(layer_parameters(arch, index, tp, ep, etp))
    return total


def mtp_parameters(arch: Architecture, tp: int = 1, ep: int = 1, etp: int = 1) -> LayerParameters:
    """One multi-token-prediction depth (DeepSeek-V3 sec. 2.2; Megatron multi_token_prediction.py): two
    norms (of the hidden state and of the next token's embedding), the projection 2h -> h (column-
    parallel), a decoder layer (MoE when the model's last layer is) and its final norm; embedding and
    output head are shared with the main model."""
    norms = 3 * norm_parameter_count(arch)
    layer = layer_parameters(arch, arch.num_layers - 1, tp, ep, etp)
    return layer.plus(LayerParameters(2 * arch.hidden_size * arch.hidden_size // tp, norms, 0))


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
    """Whole-model counts (tp 1, no padding): the numbers model cards publish. `per_layer` is the
    first layer's; `experts` the routed-expert share of `layers`; `active` what one token uses
    (k of E routed experts); `mtp` the multi-token-prediction depths, outside `total` as model
    cards count it (DeepSeek-V3: 671B main model + 14B MTP)."""
    layers = arch.num_layers if num_layers is None else num_layers
    stack = layers_parameters(arch, range(layers))
    counts = {
        "per_layer": layer_parameter_count(arch),
        "layers": stack.total,
        "experts": stack.expert,
        "embedding": embedding_parameter_count(arch),
        "head": head_parameter_count(arch),
        "final_norm": norm_parameter_count(arch),
        "mtp": arch.mtp_layers * mtp_parameters(arch).total,
    }
    counts["total"] = counts["layers"] + counts["embedding"] + counts["head"] + counts["final_norm"]
    inactive = 0
    if arch.is_moe:
        inactive = arch.moe_layer_count(range(layers)) * (arch.num_experts - arch.moe_top_k) * mlp_weight_count(
            arch, arch.expert_ffn)
    counts["active"] = counts["total"] - inactive
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


def chunk_layer_indices(chunk_layers: list[list[int]], stage: int) -> list[int]:
    """Which decoder layers (0-based) stage `stage` holds, given the layers of each model chunk of
    each stage. Megatron's virtual pipeline cuts the model into pp x v consecutive runs and gives
    chunk j of stage p the (j pp + p)-th; with one chunk per stage, a stage's layers are consecutive."""
    pp, chunks = len(chunk_layers), len(chunk_layers[0])
    starts, start = {}, 0
    for j in range(chunks):
        for p in range(pp):
            starts[j, p] = start
            start += chunk_layers[p][j]
    return [i for j in range(chunks) for i in range(starts[j, stage], starts[j, stage] + chunk_layers[stage][j])]


def stage_layer_indices(layers: list[int], stage: int, virtual_stages: int = 1) -> list[int]:
    """Which decoder layers stage `stage` holds, for `layers` per stage: with v chunks of equal size
    (equal stages, divisible by v) interleaved as Megatron does, else one chunk per stage."""
    interleaved = virtual_stages > 1 and len(set(layers)) == 1 and layers[0] % virtual_stages == 0
    chunks = [[count // virtual_stages] * virtual_stages if interleaved else [count] for count in layers]
    return chunk_layer_indices(chunks, stage)
