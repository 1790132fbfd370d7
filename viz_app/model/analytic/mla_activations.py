"""What multi-head latent attention (DeepSeek-V2 sec. 2.1) saves for backward, tensor by tensor.

Per GPU and micro-batch, s b tokens (s/cp with context parallelism), t tp, sp = t with sequence
parallelism: the down projections are replicated (they run on the layer's sb/sp tokens), their
norms feed the column-parallel up projections, whose outputs make per-head Q (d_nope + d_rope wide),
K (the same, the rotary part shared by heads) and V (d_v) for the attention core. Megatron-LM core
transformer/multi_latent_attention.py; `mla_up_proj` recompute (its `recompute_up_proj`) keeps the
up projections' inputs and recomputes Q, K and V in backward.
"""

from __future__ import annotations

from ...i18n import Text
from .architecture import Architecture
from .saved_tensor import SavedTensor

FP32 = 4


def _tensor(name, nbytes, formula) -> SavedTensor:
    return SavedTensor(name, nbytes, formula)


def latent_tensors(arch: Architecture, x, kernels: str) -> list:
    """The low-rank q and kv latents: each norm's input and the up projection's input (the norm's
    output; eager RMSNorm also keeps its fp32 upcast and statistics)."""
    tokens = x.s * x.b / x.sp
    latents = [(Text("tensor.kv_latent"), arch.kv_lora_rank, "c")]
    if arch.q_lora_rank:
        latents.insert(0, (Text("tensor.q_latent"), arch.q_lora_rank, "q_r"))
    tensors = []
    for latent, width, symbol in latents:
        values = {"latent": latent}
        size, formula = x.e * tokens * width, f"{x.e}sb*{symbol}/{x.sp}"
        if kernels == "eager":  # HF RMSNorm: x.float(), x * rsqrt(...), weight * x.to(dtype)
            tensors += [_tensor(Text("tensor.latent_norm_input_fp32", values), FP32 * tokens * width,
                                f"4sb*{symbol}/{x.sp}"),
                        _tensor(Text("tensor.latent_norm_statistics", values), FP32 * tokens, f"4sb/{x.sp}"),
                        _tensor(Text("tensor.latent_normalized", values), size, formula)]
        else:
            tensors.append(_tensor(Text("tensor.latent_norm_input", values), size, formula))
        tensors.append(_tensor(Text("tensor.latent_up_projection_input", values), size, formula))
    return tensors


def mla_qkv_tensors(arch: Architecture, x, kernels: str, modules: frozenset) -> list:
    """Q and K (a heads of d_nope + d_rope) and V (a heads of d_v), as the attention core keeps them."""
    if "mla_up_proj" in modules and kernels != "eager":
        return []
    sb = x.s * x.b
    q_head = arch.qk_nope_head_dim + arch.qk_rope_head_dim
    tensors = [_tensor("Q", x.e * sb * x.a * q_head / x.t, f"{x.e}sb*a*(d_nope+d_rope)/t"),
               _tensor("K", x.e * sb * x.a * q_head / x.t, f"{x.e}sb*a*(d_nope+d_rope)/t"),
               _tensor("V", x.e * sb * x.a * arch.v_head_dim / x.t, f"{x.e}sb*a*d_v/t")]
    return tensors
