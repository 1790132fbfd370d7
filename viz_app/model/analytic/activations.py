"""Bytes one decoder layer saves for backward, tensor by tensor (Korthikanti et al. 2022, section 4).

With s tokens, b sequences, hidden h, a heads, tp t and 2-byte activations, a Megatron layer with
MHA, ffn 4h, GELU, dropout and unfused attention saves sbh(34 + 5as/h) bytes; with tensor
parallelism sbh(10 + 24/t + 5as/(ht)); with sequence parallelism also sbh/t(34 + 5as/h)
("Reducing Activation Recomputation in Large Transformer Models", Table 2). Every tensor of that
sum is listed below with its general shape, so the same code covers GQA (k, v are g*d wide),
gated MLPs, FlashAttention (no s^2 scores), no dropout and context parallelism (s/cp tokens).

`kernels="fused"` follows the paper and Megatron/Transformer Engine kernels and, like the paper,
ignores per-token statistics (norm mean/rstd, FlashAttention's logsumexp: under 0.1% of a layer).
`kernels="eager"` counts what plain PyTorch / Hugging Face modules save in addition; the torch
validation harness (tests/test_torch_validation.py) measures those modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Text
from .architecture import Architecture
from .mla_activations import latent_tensors, mla_qkv_tensors
from .moe_activations import moe_mlp_tensors
from .saved_tensor import SavedTensor

DEFAULT_RECOMPUTE_MODULES = ("core_attn",)  # selective recompute as Korthikanti et al. 2022 (Megatron's default)

MASK_BYTES = 1  # torch stores dropout masks as bool
FP32 = 4
# A torch.compile'd cross entropy keeps its input logits for backward (AOTAutograd's min-cut partitioner
# recomputes the upcast and the softmax there) and returns their gradient: 2 logits-sized buffers
# in the logits' dtype at its peak (benchmarks/compiled_loss.py).
COMPILED_LOSS_LOGITS = 2
# Hugging Face activations written in Python save f-wide intermediates a fused kernel does not:
# gelu_new keeps 0.5*x, tanh(...) and 1 + tanh(...); quick_gelu keeps sigmoid(1.702 x).
PYTHON_GELU_EXTRA = {"gelu_new": 3, "quick_gelu": 1}


@dataclass(frozen=True)
class LayerShape:
    """The numbers a layer's tensors are made of, on one GPU."""

    s: float   # tokens per GPU: sequence / cp
    s_kv: int  # keys each query attends to (the whole sequence)
    b: int
    h: int
    a: int
    g: int
    d: int
    f: int
    t: int
    sp: int   # divisor of the non-tensor-parallel tensors: t with sequence parallel, else 1
    e: int    # bytes per activation element (2 mixed precision, 4 fp32)


def layer_shape(arch: Architecture, seq_length: int, micro_batch_size: int, tp: int = 1,
                sequence_parallel: bool = False, dtype_bytes: int = 2, context_parallel: int = 1) -> LayerShape:
    return LayerShape(
        s=seq_length / context_parallel, s_kv=seq_length, b=micro_batch_size, h=arch.hidden_size,
        a=arch.num_attention_heads, g=arch.kv_heads, d=arch.head_width, f=arch.ffn_hidden_size, t=tp,
        sp=tp if sequence_parallel else 1, e=dtype_bytes,
    )


def norm_tensors(arch: Architecture, x: LayerShape, which: str, kernels: str) -> list[SavedTensor]:
    """A norm's input; eager RMSNorm saves its fp32 upcast and the normalized tensor, plus statistics."""
    sbh = x.s * x.b * x.h / x.sp
    norm_input = SavedTensor(Text("tensor.norm_input", {"norm": which}), x.e * sbh, f"{x.e}sbh/{x.sp}",
                             norm_input=True)
    if kernels == "fused":
        return [norm_input]
    stats = 1 if arch.norm_type == "rmsnorm" else 2
    tensors = [SavedTensor(Text("tensor.norm_statistics", {"norm": which}), stats * FP32 * x.s * x.b / x.sp,
                           f"{stats}x4sb/{x.sp}")]
    if arch.norm_type == "rmsnorm":  # HF: x.to(float32); x * rsqrt(...); weight * x.to(dtype)
        tensors += [SavedTensor(Text("tensor.norm_input_fp32", {"norm": which}), FP32 * sbh, f"4sbh/{x.sp}",
                                norm_input=True),
                    SavedTensor(Text("tensor.norm_normalized", {"norm": which}), x.e * sbh, f"{x.e}sbh/{x.sp}")]
    else:
        tensors.append(norm_input)
    return tensors


def qkv_tensors(x: LayerShape, *, flash: bool, kernels: str) -> list[SavedTensor]:
    """Q, K and V, which softmax(QK^T)V keeps (selective recompute keeps them too)."""
    kv_heads = x.a if kernels == "eager" and not flash else x.g  # HF eager repeats K, V to a heads
    kv_symbol = "a" if kv_heads == x.a else "g"
    sb = x.s * x.b
    return [
        SavedTensor("Q", x.e * sb * x.a * x.d / x.t, f"{x.e}sb*a*d/t"),
        SavedTensor("K", x.e * sb * kv_heads * x.d / x.t, f"{x.e}sb*{kv_symbol}*d/t"),
        SavedTensor("V", x.e * sb * kv_heads * x.d / x.t, f"{x.e}sb*{kv_symbol}*d/t"),
    ]


def attention_core_tensors(arch: Architecture, x: LayerShape, *, flash: bool, dropout: bool,
                           kernels: str) -> list[SavedTensor]:
    """What the attention core keeps besides Q, K, V: the s^2 scores unless FlashAttention recomputes them."""
    sb = x.s * x.b
    if flash:
        if kernels != "eager":
            return []
        tensors = [SavedTensor(Text("tensor.logsumexp"), FP32 * x.a * sb / x.t, "4sba/t")]
        if arch.sdpa_keeps_fused_qkv:
            tensors.append(SavedTensor(Text("tensor.fused_qkv_rest"),
                                       x.e * sb * (x.a * x.d + x.g * x.d) / x.t, f"{x.e}sb*(a+g)*d/t"))
        if arch.sdpa_copies_attention_output:
            tensors.append(SavedTensor(Text("tensor.attention_output_copy"), x.e * sb * (x.a * x.d) / x.t,
                                       f"{x.e}sb*a*d/t"))
        return tensors
    scores = x.a * x.s * x.s_kv * x.b / x.t
    softmax_bytes = x.e
    if kernels == "eager" and not arch.softmax_in_input_dtype:
        softmax_bytes = FP32 + (x.e if x.e < FP32 else 0)  # HF: softmax(dtype=float32).to(dtype)
    tensors = [SavedTensor(Text("tensor.softmax_output"), softmax_bytes * scores, f"{softmax_bytes}as^2b/t")]
    if dropout:
        tensors += [SavedTensor(Text("tensor.attention_dropout_mask"), MASK_BYTES * scores, "as^2b/t"),
                    SavedTensor(Text("tensor.attention_dropout_output"), x.e * scores, f"{x.e}as^2b/t")]
    return tensors


def mlp_tensors(arch: Architecture, x: LayerShape, kernels: str) -> list[SavedTensor]:
    """fc1 input, what the activation needs, fc2 input."""
    sbf = x.s * x.b * x.f / x.t
    tensors = [SavedTensor(Text("tensor.fc1_input"), x.e * x.s * x.b * x.h / x.sp, f"{x.e}sbh/{x.sp}")]
    if arch.gated_mlp:
        # Megatron's fused SwiGLU saves [gate, up] and recomputes act(gate); eager also saves act(gate).
        tensors.append(SavedTensor(Text("tensor.gate_up_outputs"), 2 * x.e * sbf, f"2x{x.e}sbf/t"))
        if kernels == "eager":
            tensors.append(SavedTensor(Text("tensor.act_gate"), x.e * sbf, f"{x.e}sbf/t"))
    else:
        tensors.append(SavedTensor(Text("tensor.activation_input"), x.e * sbf, f"{x.e}sbf/t"))
        extra = PYTHON_GELU_EXTRA.get(arch.hidden_act, 0) if kernels == "eager" else 0
        if extra:
            tensors.append(SavedTensor(Text("tensor.activation_intermediates", {"act": arch.hidden_act}),
                                       extra * x.e * sbf, f"{extra}x{x.e}sbf/t"))
    tensors.append(SavedTensor(Text("tensor.fc2_input"), x.e * sbf, f"{x.e}sbf/t"))
    return tensors


def layer_saved_tensors(arch: Architecture, seq_length: int, micro_batch_size: int, *, tp: int = 1,
                        sequence_parallel: bool = False, recompute: str = "none", flash_attention: bool = True,
                        kernels: str = "fused", dropout: bool | None = None, dtype_bytes: int = 2,
                        context_parallel: int = 1, layer_index: int = 0, etp: int = 1, moe_load_factor: float = 1.0,
                        recompute_modules: tuple[str, ...] = DEFAULT_RECOMPUTE_MODULES) -> list[SavedTensor]:
    """Every tensor decoder layer `layer_index` saves for backward, per GPU, for one micro-batch.

    Selective recompute drops what Megatron's `recompute_modules` recompute: core_attn (the attention
    core), mla_up_proj (MLA's Q, K, V), layernorm (the two norms' outputs), mlp (a dense MLP: only its
    input stays), moe_act (experts' fc2 input), moe (an MoE MLP: only its input), shared_experts.
    """
    x = layer_shape(arch, seq_length, micro_batch_size, tp, sequence_parallel, dtype_bytes, context_parallel)
    sbh = x.s * x.b * x.h / x.sp
    if recompute == "full":  # only the layer's input survives the forward pass
        return [SavedTensor(Text("tensor.layer_input_full_recompute"), x.e * sbh, f"{x.e}sbh/{x.sp}")]
    if recompute == "op_sac":
        return op_sac_tensors(arch, x)
    modules = frozenset(recompute_modules) if recompute == "selective" else frozenset()
    attention_dropout = arch.attention_dropout > 0 if dropout is None else dropout
    hidden_dropout = arch.hidden_dropout > 0 if dropout is None else dropout
    tensors = norm_tensors(arch, x, Text("tensor.norm_1"), kernels)
    if "layernorm" not in modules:
        tensors.append(SavedTensor(Text("tensor.qkv_input"), x.e * sbh, f"{x.e}sbh/{x.sp}"))
    if arch.is_mla:
        tensors += latent_tensors(arch, x, kernels) + mla_qkv_tensors(arch, x, kernels, modules)
    else:
        tensors += qk_norm_tensors(arch, x, kernels) + qkv_tensors(x, flash=flash_attention, kernels=kernels)
    if "core_attn" not in modules:  # Korthikanti et al. 2022 section 4.2: selective recomputes the core
        tensors += attention_core_tensors(arch, x, flash=flash_attention, dropout=attention_dropout, kernels=kernels)
    out_width = x.a * arch.v_head_dim if arch.is_mla else x.a * x.d
    tensors.append(SavedTensor(Text("tensor.attention_output_proj_input"), x.e * x.s * x.b * out_width / x.t,
                               f"{x.e}sb*a*{'d_v' if arch.is_mla else 'd'}/t"))
    if hidden_dropout:
        tensors.append(SavedTensor(Text("tensor.attention_out_dropout_mask"), MASK_BYTES * sbh, f"sbh/{x.sp}"))
    if not arch.parallel_residual:  # parallel residual (GPT-NeoX): both norms read the same saved input
        tensors += norm_tensors(arch, x, Text("tensor.norm_2"), kernels)
    elif kernels == "eager":
        tensors += [t for t in norm_tensors(arch, x, Text("tensor.norm_2"), kernels) if not t.norm_input]
    if arch.is_moe_layer(layer_index):
        tensors += moe_mlp_tensors(arch, x.s * x.b / x.sp, x.e, tp=x.t, sp=x.sp, kernels=kernels, modules=modules,
                                   etp=etp, load_factor=moe_load_factor)
    elif "mlp" in modules:
        tensors.append(SavedTensor(Text("tensor.mlp_input_recomputed"), x.e * sbh, f"{x.e}sbh/{x.sp}"))
    else:
        tensors += mlp_tensors(arch, x, kernels)
    if hidden_dropout:
        tensors.append(SavedTensor(Text("tensor.mlp_out_dropout_mask"), MASK_BYTES * sbh, f"sbh/{x.sp}"))
    return tensors


def qk_norm_tensors(arch: Architecture, x: LayerShape, kernels: str) -> list[SavedTensor]:
    """qk-norm (Qwen3, OLMoE): RMSNorm of q and k before rotary. Fused: each norm's input (the q/k
    projection output); eager RMSNorm also its fp32 upcast, statistics and normalized output."""
    if not arch.qk_norm:
        return []
    sb = x.s * x.b
    tensors = []
    for name, heads in (("q", x.a), ("k", x.g)):
        width = heads * x.d / x.t
        if kernels == "eager":
            rows = heads if not arch.qk_norm_full_width else 1
            tensors += [SavedTensor(Text("tensor.qk_norm_input_fp32", {"name": name}), FP32 * sb * width,
                                    f"4sb*{name}_width/t"),
                        SavedTensor(Text("tensor.qk_norm_statistics", {"name": name}), FP32 * sb * rows / x.t,
                                    "4sb*rows/t"),
                        SavedTensor(Text("tensor.qk_norm_normalized", {"name": name}), x.e * sb * width,
                                    f"{x.e}sb*{name}_width/t")]
        else:
            tensors.append(SavedTensor(Text("tensor.qk_norm_input", {"name": name}), x.e * sb * width,
                                       f"{x.e}sb*{name}_width/t"))
    return tensors


def op_sac_tensors(arch: Architecture, x: LayerShape) -> list[SavedTensor]:
    """torchtitan's per-op selective checkpointing (parallelize_llama.py, `_save_list` policy).

    The block input is kept by the checkpoint wrapper; of the ops, only the attention kernel's
    outputs and every other matmul output (the 1st, 3rd, ...: q, v, gate or fc1, and down for
    a gated MLP) are saved; everything elementwise is recomputed in backward.
    """
    sb = x.s * x.b
    matmuls = [("q", x.a * x.d), ("k", x.g * x.d), ("v", x.g * x.d), (Text("tensor.attention_out"), x.h)]
    matmuls += [("gate", x.f), ("up", x.f), ("down", x.h)] if arch.gated_mlp else [("fc1", x.f), ("fc2", x.h)]
    tensors = [SavedTensor(Text("tensor.layer_input_checkpoint"), x.e * sb * x.h / x.sp, f"{x.e}sbh/{x.sp}")]
    for name, width in matmuls[::2]:
        split = x.sp if width == x.h else x.t  # row-parallel outputs are sequence-split with SP
        tensors.append(SavedTensor(Text("tensor.matmul_output", {"name": name}), x.e * sb * width / split,
                                   f"{x.e}sb*{width}/{split}"))
    tensors += [SavedTensor(Text("tensor.attention_output"), x.e * sb * x.a * x.d / x.t, f"{x.e}sb*a*d/t"),
                SavedTensor(Text("tensor.logsumexp"), FP32 * x.a * sb / x.t, "4sba/t")]
    return tensors


def layer_activation_bytes(arch: Architecture, seq_length: int, micro_batch_size: int, **kwargs) -> float:
    """Bytes one layer saves for backward per GPU and micro-batch (see `layer_saved_tensors`)."""
    return sum(t.nbytes for t in layer_saved_tensors(arch, seq_length, micro_batch_size, **kwargs))


def embedding_saved_tensors(arch: Architecture, x: LayerShape, *, dropout: bool, kernels: str) -> list[SavedTensor]:
    """First stage: the token ids the embedding's backward scatters into, the embedding dropout mask."""
    tensors = []
    if kernels == "eager":
        tensors.append(SavedTensor(Text("tensor.token_ids"), 8 * x.s * x.b, "8sb"))
        if arch.position_embedding == "learned":
            tensors.append(SavedTensor(Text("tensor.position_ids"), 8 * x.s, "8s"))
        if arch.position_embedding == "rope":  # cos and sin, computed once and shared by all layers
            rotary = round(x.d * arch.rotary_fraction)
            tensors.append(SavedTensor(Text("tensor.rotary"), 2 * x.e * x.s * rotary, f"2x{x.e}s*d_rot"))
    if dropout:
        tensors.append(SavedTensor(Text("tensor.embedding_dropout_mask"), MASK_BYTES * x.s * x.b * x.h / x.sp,
                                   f"sbh/{x.sp}"))
    return tensors


def logits_saved_tensors(arch: Architecture, x: LayerShape, *, padded_vocab: int, fp32_copies: float,
                         kernels: str, compiled_loss: bool = False) -> list[SavedTensor]:
    """Last stage: final norm, head input and the loss's logits-sized buffers at its peak
    (Korthikanti et al. 2022 section 4.3 counts one: 4sbh/t (1 + v/h) with sequence parallelism):
    `fp32_copies` fp32 ones, or under torch.compile the logits and their gradient in the compute dtype."""
    tensors = norm_tensors(arch, x, Text("tensor.final_norm"), kernels)
    tensors.append(SavedTensor(Text("tensor.output_head_input"), x.e * x.s * x.b * x.h / x.sp, f"{x.e}sbh/{x.sp}"))
    if compiled_loss:
        tensors.append(SavedTensor(Text("tensor.logits_compiled_loss", {"bytes": x.e}),
                                   COMPILED_LOSS_LOGITS * x.e * x.s * x.b * padded_vocab / x.t,
                                   f"{COMPILED_LOSS_LOGITS}x{x.e}sbV/t"))
    else:
        tensors.append(SavedTensor(Text("tensor.logits", {"copies": fp32_copies}),
                                   fp32_copies * FP32 * x.s * x.b * padded_vocab / x.t,
                                   f"{fp32_copies:g}x4sbV/t"))
    if kernels == "eager":
        tensors.append(SavedTensor(Text("tensor.labels"), 8 * x.s * x.b, "8sb"))
    return tensors
