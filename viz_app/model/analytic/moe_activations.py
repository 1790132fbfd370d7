"""What a mixture-of-experts MLP and multi-head latent attention save for backward, tensor by tensor.

Symbols (per GPU, one micro-batch): T = s b / (cp sp) tokens of the layer's input; E experts, k of
them per token; f_e expert width, f_s summed shared-expert width; R = tokens the busiest expert rank
computes: T k etp x load factor (capacity factor: at most, or with padding exactly, that multiple of
the balanced share). `kernels="fused"` follows Megatron-LM core (moe/router.py, moe/moe_utils.py,
moe/token_dispatcher.py with the all-to-all dispatcher, moe/experts.py TEGroupedMLP,
transformer/multi_latent_attention.py); `kernels="eager"` what Hugging Face transformers 5 modules save
(grouped_mm experts, tests/test_torch_validation.py measures them). Selective recompute modules are
Megatron's `--recompute-modules` names.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Text
from ..errors import StrategyError
from .architecture import Architecture
from .saved_tensor import SavedTensor

FP32 = 4
INT64 = 8
INT32 = 4
BOOL = 1
RECOMPUTE_MODULES = ("core_attn", "mla_up_proj", "layernorm", "moe_act", "mlp", "moe", "shared_experts")


def check_recompute_modules(modules) -> None:
    """Refuse a module name Megatron's --recompute-modules does not have, naming it."""
    for module in modules:
        if module not in RECOMPUTE_MODULES:
            raise StrategyError(key="error.recompute_module", module=module, known=", ".join(RECOMPUTE_MODULES))


def parse_recompute_modules(text: str) -> list[str]:
    """"core_attn,moe_act" -> the module list (checked)."""
    modules = [part.strip() for part in text.split(",") if part.strip()]
    check_recompute_modules(modules)
    return modules


@dataclass(frozen=True)
class ExpertShape:
    """Token counts of one MoE layer on one GPU."""

    tokens: float   # T: the layer's local tokens
    routed: float   # R: tokens x k the busiest expert rank computes (all-to-all and ETP gather included)
    etp: int
    e: int          # bytes per activation element


def expert_shape(arch: Architecture, tokens: float, e: int, etp: int = 1, load_factor: float = 1.0) -> ExpertShape:
    """R = T k etp x share: the load factor (busiest expert rank over the balanced share), capped at
    the capacity factor when tokens are dropped, exactly the capacity factor when inputs are padded."""
    share = load_factor
    if arch.moe_capacity_factor is not None:
        share = arch.moe_capacity_factor if arch.moe_pad_to_capacity else min(load_factor, arch.moe_capacity_factor)
    return ExpertShape(tokens, tokens * arch.moe_top_k * etp * share, etp, e)


def _tensor(key, nbytes, formula) -> SavedTensor:
    """An MoE tensor named by its catalog entry, so the page shows it in its language."""
    return SavedTensor(Text(key), nbytes, formula, expert=True)


def router_tensors(arch: Architecture, x: ExpertShape, kernels: str) -> list:
    """Router: gating input, scores over E experts, the top-k choice and the permutation maps."""
    t, k, n = x.tokens, arch.moe_top_k, arch.num_experts
    score_bytes = FP32 if arch.router_dtype == "fp32" else x.e
    tensors = [_tensor("tensor.router_input", x.e * t * arch.hidden_size, f"{x.e}T*h")]
    if arch.router_input_fp32_copy and kernels == "eager" and x.e < FP32:  # .float() of fp32 is no copy
        tensors.append(_tensor("tensor.router_input_fp32", FP32 * t * arch.hidden_size, "4T*h"))
    tensors.append(_tensor("tensor.router_scores", score_bytes * t * n, f"{score_bytes}T*E"))
    if kernels == "eager":  # top-k indices; grouped_mm's sort order, its inverse and the scatter index
        tensors += [_tensor("tensor.topk_indices", INT64 * t * k, "8T*k"),
                    _tensor("tensor.permutation_maps", 3 * INT64 * t * k, "24T*k"),
                    _tensor("tensor.expert_offsets", INT32 * n, "4E")]
    else:  # moe_utils.topk_routing_with_score_function: routing map and top-k probs; fused permute's row map
        tensors += [_tensor("tensor.routing_map", BOOL * t * n, "T*E"),
                    _tensor("tensor.topk_probabilities", FP32 * t * n, "4T*E"),
                    _tensor("tensor.permutation_row_map", INT32 * t * n, "4T*E")]
    return tensors


def routed_expert_tensors(arch: Architecture, x: ExpertShape, kernels: str, modules: frozenset) -> list:
    """Grouped experts on the permuted tokens: fc1 input, fc1 output (the activation's input), the
    routing weights, fc2 input; eager also keeps act(gate) and the fc2 output (scaled by the weights)."""
    r, e, h, f = x.routed, x.e, arch.hidden_size, arch.expert_ffn / x.etp
    fc1_width = 2 * f if arch.gated_mlp else f
    w = "2f_e" if arch.gated_mlp else "f_e"
    tensors = [_tensor("tensor.permuted_tokens", e * r * h, f"{e}R*h"),
               _tensor("tensor.expert_fc1_output", e * r * fc1_width, f"{e}R*{w}/etp"),
               _tensor("tensor.routing_weights", FP32 * r, "4R")]
    if kernels == "eager":
        if arch.gated_mlp:
            tensors.append(_tensor("tensor.expert_act_gate", e * r * f, f"{e}R*f_e/etp"))
        tensors.append(_tensor("tensor.expert_fc2_output", e * r * h, f"{e}R*h"))
    if "moe_act" not in modules:
        tensors.append(_tensor("tensor.expert_fc2_input", e * r * f, f"{e}R*f_e/etp"))
    return tensors


def shared_expert_tensors(arch: Architecture, tokens: float, e: int, tp: int, sp: int, kernels: str) -> list:
    """Shared experts: one tensor-parallel MLP of width f_s on the layer's tokens (its input is the
    router's); Qwen2-MoE's sigmoid gate keeps its output and the shared experts' output."""
    if not arch.shared_ffn:
        return []
    rows = tokens * sp  # column-parallel: every tp rank computes all tokens of its f_s/tp slice
    f = arch.shared_ffn / tp
    tensors = [_tensor("tensor.shared_fc1_output", e * rows * (2 * f if arch.gated_mlp else f), f"{e}T*sp*f_s/t")]
    if kernels == "eager" and arch.gated_mlp:
        tensors.append(_tensor("tensor.shared_act_gate", e * rows * f, f"{e}T*sp*f_s/t"))
    tensors.append(_tensor("tensor.shared_fc2_input", e * rows * f, f"{e}T*sp*f_s/t"))
    if arch.shared_expert_gate:
        tensors += [_tensor("tensor.shared_expert_gate", e * tokens, f"{e}T"),
                    _tensor("tensor.shared_experts_output", e * tokens * arch.hidden_size, f"{e}T*h")]
    return tensors


def moe_mlp_tensors(arch: Architecture, tokens: float, e: int, *, tp: int, sp: int, kernels: str,
                    modules: frozenset, etp: int = 1, load_factor: float = 1.0) -> list:
    """Everything an MoE MLP saves; with the `moe` recompute module only its input (Megatron)."""
    if "moe" in modules:
        return [_tensor("tensor.moe_input_recomputed", e * tokens * arch.hidden_size, f"{e}T*h")]
    x = expert_shape(arch, tokens, e, etp, load_factor)
    tensors = router_tensors(arch, x, kernels)
    if "layernorm" in modules:  # the norm output is recomputed, so the router keeps nothing of its own
        tensors = tensors[1:]
    tensors += routed_expert_tensors(arch, x, kernels, modules)
    if "shared_experts" not in modules:
        tensors += shared_expert_tensors(arch, tokens, e, tp, sp, kernels)
    return tensors
