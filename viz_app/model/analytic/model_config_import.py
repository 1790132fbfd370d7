"""Build an `Architecture` from a Hugging Face config.json or a Galvatron model meta config.

Hugging Face: the llama, mistral, qwen2, qwen3, gpt2 and gpt_neox `model_type`s, and the
mixture-of-experts families mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek_v2 and deepseek_v3
(the last two with multi-head latent attention). Galvatron: the meta
configs of its `gpt_hf` (n_layer/n_embd/n_head) and `llama_hf` (dim/n_heads/n_layers) models,
also when nested under `model_config` in a Galvatron profile. T5 meta configs are recognised
and refused with a clear message: the analytic model covers decoder-only transformers.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import MemvizError
from ..json_input import decode_json, json_kind, read_json_bytes
from ..limits import checked, shown
from .architecture import ACTIVATIONS, Architecture

HF_FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gpt2", "gpt_neox", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe",
               "deepseek_v2", "deepseek_v3")
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe")


class ModelConfigError(MemvizError):
    """A model config file that cannot be turned into an architecture."""


def read_model_config(path: str | Path, name: str | None = None) -> Architecture:
    """Parse a config file (Hugging Face or Galvatron meta) into an `Architecture`, through the JSON boundary."""
    path = Path(path)
    if not path.exists():
        raise ModelConfigError(f"{path.name}: no such file ({path})")
    return import_model_config(decode_json(read_json_bytes(path), path.name), name or path.stem)


def import_model_config(data: dict, name: str = "imported") -> Architecture:
    """Dispatch on the keys: HF configs carry `model_type`, Galvatron meta configs do not."""
    if not isinstance(data, dict):
        raise ModelConfigError(key="error.not_an_object", name=name, found=json_kind(data))
    if isinstance(data.get("model_config"), dict):  # a Galvatron profile file
        data = data["model_config"]
    if "model_type" in data:
        return architecture_from_hf_config(data, name)
    return architecture_from_galvatron_meta(data, name)


def _need(data: dict, key: str, where: str):
    if key not in data or data[key] is None:
        raise ModelConfigError(key="error.config_key_missing", where=where, path=key)
    return data[key]


def _fraction(data: dict, key: str, default: float, where: str) -> float:
    """A probability or share from the config (dropout, rotary_pct): a number in [0, 1]."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ModelConfigError(key="error.config_fraction", where=where, path=key, value=shown(value))
    return float(value)


def _activation(value, where: str) -> str:
    if value not in ACTIVATIONS:
        raise ModelConfigError(key="error.config_activation", where=where, value=shown(value),
                               known=", ".join(ACTIVATIONS))
    return value


def _llama_like(data: dict, name: str, family: str) -> dict:
    where = f"{name} ({family})"
    attention_bias = bool(data.get("attention_bias", False))
    if bool(data.get("mlp_bias", attention_bias)) != attention_bias:
        raise ModelConfigError(key="error.config_bias", where=where)
    return dict(
        **_hf_common(data, where, default_positions=4096),
        num_kv_heads=data.get("num_key_value_heads"),
        head_dim=data.get("head_dim"),
        gated_mlp=True,
        hidden_act=_activation(data.get("hidden_act", "silu"), where),
        norm_type="rmsnorm",
        linear_bias=attention_bias,
        qkv_bias=family in ("qwen2", "qwen2_moe"),  # Qwen2 always has q/k/v biases and no others
        qk_norm=family in ("qwen3", "qwen3_moe", "olmoe"),
        qk_norm_full_width=family == "olmoe",
        position_embedding="rope",
        hidden_dropout=0.0,
    )


def _int_list(data: dict, key: str, where: str) -> list[int]:
    value = data.get(key) or []
    if not isinstance(value, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in value):
        raise ModelConfigError(key="error.config_int_list", where=where, path=key, value=repr(value)[:40])
    return value


def _experts(data: dict, where: str) -> int:
    """Routed experts: `num_experts` in published configs, `num_local_experts` (Mixtral; Qwen3-MoE as
    transformers 5 writes it)."""
    key = "num_experts" if data.get("num_experts") is not None else "num_local_experts"
    return _need(data, key, where)


def _moe_fields(data: dict, family: str, where: str) -> dict:
    """Experts, top-k, expert width and MoE layer pattern, from each family's key names."""
    if family in ("mixtral", "olmoe"):
        return dict(num_experts=_experts(data, where), moe_top_k=_need(data, "num_experts_per_tok", where))
    if family in ("qwen2_moe", "qwen3_moe"):
        fields = dict(
            num_experts=_experts(data, where), moe_top_k=_need(data, "num_experts_per_tok", where),
            moe_ffn_hidden_size=_need(data, "moe_intermediate_size", where),
            moe_layer_freq=data.get("decoder_sparse_step", 1), moe_layer_offset=1,
            dense_layers=_int_list(data, "mlp_only_layers", where),
        )
        if family == "qwen2_moe":
            shared = _need(data, "shared_expert_intermediate_size", where)
            fields.update(num_shared_experts=1 if shared else 0, shared_expert_ffn_hidden_size=shared or None,
                          shared_expert_gate=bool(shared))
        return fields
    return {}


def _deepseek(data: dict, name: str, family: str) -> dict:
    """DeepSeek-V2/V3: MLA attention, first-k dense layers, routed and shared experts, MTP depths."""
    where = f"{name} ({family})"
    values = _llama_like(data, name, family)
    values.pop("num_kv_heads")  # MLA: every head has its own keys and values, from the shared latent
    shared = data.get("n_shared_experts") or 0
    values.update(
        num_experts=data.get("n_routed_experts") or 0,
        moe_top_k=_need(data, "num_experts_per_tok", where),
        moe_ffn_hidden_size=_need(data, "moe_intermediate_size", where),
        num_shared_experts=shared,
        moe_first_k_dense=data.get("first_k_dense_replace", 0),
        moe_layer_freq=data.get("moe_layer_freq", 1),
        q_lora_rank=data.get("q_lora_rank"),
        kv_lora_rank=_need(data, "kv_lora_rank", where),
        qk_nope_head_dim=_need(data, "qk_nope_head_dim", where),
        qk_rope_head_dim=_need(data, "qk_rope_head_dim", where),
        v_head_dim=_need(data, "v_head_dim", where),
        mtp_layers=data.get("num_nextn_predict_layers", 0),
        router_input_fp32_copy=True,  # HF DeepseekV3TopkRouter: F.linear(hidden.float(), weight.float())
    )
    return values


def _hf_common(data: dict, where: str, default_positions: int) -> dict:
    """The fields llama-like and GPT-NeoX configs name alike."""
    return dict(
        hidden_size=_need(data, "hidden_size", where),
        num_layers=_need(data, "num_hidden_layers", where),
        num_attention_heads=_need(data, "num_attention_heads", where),
        ffn_hidden_size=_need(data, "intermediate_size", where),
        vocab_size=_need(data, "vocab_size", where),
        tie_embeddings=bool(data.get("tie_word_embeddings", False)),
        max_position_embeddings=data.get("max_position_embeddings", default_positions),
        attention_dropout=_fraction(data, "attention_dropout", 0.0, where),
    )


def _gpt2(data: dict, name: str) -> dict:
    where = f"{name} (gpt2)"
    hidden = _need(data, "n_embd", where)
    return dict(
        hidden_size=hidden,
        num_layers=_need(data, "n_layer", where),
        num_attention_heads=_need(data, "n_head", where),
        num_kv_heads=data.get("num_key_value_heads"),  # not in HF GPT-2; lets a config describe Megatron GPT
        # 4h by default: h must be a size before it is multiplied ("64" * 4 is a string)
        ffn_hidden_size=data.get("n_inner") or 4 * _positive(hidden, "hidden_size", "n_embd", name),
        gated_mlp=False,
        hidden_act=_activation(data.get("activation_function", "gelu_new"), where),
        vocab_size=_need(data, "vocab_size", where),
        tie_embeddings=bool(data.get("tie_word_embeddings", True)),
        norm_type="layernorm",
        linear_bias=bool(data.get("add_bias_linear", True)),  # Megatron's name; HF GPT-2 always has biases
        position_embedding="learned",
        max_position_embeddings=data.get("n_positions", 1024),
        attention_dropout=_fraction(data, "attn_pdrop", 0.1, where),
        hidden_dropout=_fraction(data, "resid_pdrop", 0.1, where),
        softmax_in_input_dtype=True,  # HF GPT-2's eager attention: softmax(scores) in the input dtype
        **_megatron_gpt_experts(data, where),
    )


def _megatron_gpt_experts(data: dict, where: str) -> dict:
    """Optional keys (not in HF GPT-2) that describe Megatron's GPT MoE models: num_experts,
    num_experts_per_tok, moe_intermediate_size, shared_expert_intermediate_size."""
    if not data.get("num_experts"):
        return {}
    shared = data.get("shared_expert_intermediate_size") or 0
    return dict(num_experts=data["num_experts"], moe_top_k=_need(data, "num_experts_per_tok", where),
                moe_ffn_hidden_size=data.get("moe_intermediate_size"), num_shared_experts=1 if shared else 0,
                shared_expert_ffn_hidden_size=shared or None)


def _gpt_neox(data: dict, name: str) -> dict:
    where = f"{name} (gpt_neox)"
    return dict(
        **_hf_common(data, where, default_positions=2048),
        gated_mlp=False,
        hidden_act=_activation(data.get("hidden_act", "gelu"), where),
        norm_type="layernorm",
        linear_bias=bool(data.get("attention_bias", True)),
        parallel_residual=bool(data.get("use_parallel_residual", True)),
        position_embedding="rope",
        rotary_fraction=_fraction(data, "rotary_pct", 0.25, where),
        hidden_dropout=_fraction(data, "hidden_dropout", 0.0, where),
        # HF GPT-NeoX with SDPA: V sliced from the fused QKV output, a contiguous copy before `dense`
        sdpa_keeps_fused_qkv=True,
        sdpa_copies_attention_output=True,
    )


def architecture_from_hf_config(data: dict, name: str = "imported") -> Architecture:
    """A Hugging Face `config.json` of a supported decoder-only family."""
    family = data.get("model_type")
    if family in LLAMA_LIKE:
        values = _llama_like(data, name, family)
        values.update(_moe_fields(data, family, f"{name} ({family})"))
    elif family in ("deepseek_v2", "deepseek_v3"):
        values = _deepseek(data, name, family)
    elif family == "gpt2":
        values = _gpt2(data, name)
    elif family == "gpt_neox":
        values = _gpt_neox(data, name)
    else:
        raise ModelConfigError(key="error.config_family", name=name, family=shown(family), known=", ".join(HF_FAMILIES))
    return _build(values, name, family)


def llama_ffn_size(dim: int, multiple_of: int) -> int:
    """Meta's Llama rule: 2/3 of 4*dim, rounded up to a multiple of `multiple_of`."""
    return multiple_of * math.ceil(int(2 * 4 * dim / 3) / multiple_of)


def architecture_from_galvatron_meta(data: dict, name: str = "imported") -> Architecture:
    """A Galvatron model meta config (`gpt_hf`, `llama_hf`; T5 is refused with a reason)."""
    if {"n_layer", "n_embd", "n_head"} <= data.keys():
        values = _gpt2(data, name)
        values.update(attention_dropout=0.0, hidden_dropout=0.0)  # Galvatron profiles without dropout
        return _build(values, name, "gpt2")
    if {"dim", "n_heads", "n_layers"} <= data.keys():
        return _build(_galvatron_llama(data, name), name, "llama")
    if {"d_model", "d_ff", "num_heads"} <= data.keys():
        raise ModelConfigError(key="error.config_t5", name=name, d_model=shown(data["d_model"]),
                               encoder=shown(data.get("num_layers")),
                               decoder=shown(data.get("num_decoder_layers", data.get("num_layers"))))
    raise ModelConfigError(key="error.config_unknown", name=name, known=", ".join(HF_FAMILIES))


def _galvatron_llama(data: dict, name: str) -> dict:
    where = f"{name} (galvatron llama_hf)"
    dim = _need(data, "dim", where)
    ffn = data.get("ffn_dim")
    if ffn is None:  # Meta's rule from dim and multiple_of: both must be sizes before it runs
        dim = _positive(dim, "hidden_size", "dim", name)
        ffn = llama_ffn_size(dim, _positive(data.get("multiple_of", 256), "multiple_of", "multiple_of", name))
    return dict(
        hidden_size=dim,
        num_layers=_need(data, "n_layers", where),
        num_attention_heads=_need(data, "n_heads", where),
        num_kv_heads=data.get("n_kv_heads"),
        ffn_hidden_size=ffn,
        gated_mlp=True,
        hidden_act="silu",
        vocab_size=_need(data, "vocab_size", where),
        tie_embeddings=False,
        norm_type="rmsnorm",
        position_embedding="rope",
        max_position_embeddings=data.get("n_positions", 4096),
    )


def _positive(value: object, limit: str, path: str, name: str) -> int:
    """A positive whole number within the limit `limit` (model/limits.py), else an error naming `path`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelConfigError(key="error.config_positive", name=name, path=path, value=shown(value))
    try:
        return checked(limit, value, field=path, where=name)
    except MemvizError as exc:
        raise ModelConfigError(key=exc.text.key, **exc.text.values) from None


def _build(values: dict, name: str, family: str) -> Architecture:
    optional = [key for key in ("num_kv_heads", "head_dim", "max_position_embeddings", "moe_ffn_hidden_size",
                                "shared_expert_ffn_hidden_size", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                                "qk_rope_head_dim", "v_head_dim", "moe_top_k", "moe_layer_freq")
                if values.get(key) is not None]
    for key in ("num_experts", "num_shared_experts", "moe_first_k_dense", "mtp_layers"):
        value = values.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelConfigError(key="error.config_count", name=name, path=key, value=repr(value)[:40])
    if values.get("num_experts") and values["moe_top_k"] > values["num_experts"]:
        raise ModelConfigError(key="error.config_top_k", name=name, k=values["moe_top_k"],
                               experts=values["num_experts"])
    for key in ("hidden_size", "num_layers", "num_attention_heads", "ffn_hidden_size", "vocab_size", *optional):
        _positive(values[key], key, key, name)
    if values.get("head_dim") is None and values["hidden_size"] % values["num_attention_heads"]:
        raise ModelConfigError(key="error.config_head_dim", name=name, hidden=values["hidden_size"],
                               heads=values["num_attention_heads"])
    kv = values.get("num_kv_heads")
    if kv is not None and values["num_attention_heads"] % kv:
        raise ModelConfigError(key="error.config_kv_heads", name=name, heads=values["num_attention_heads"], kv=kv)
    try:
        return Architecture(model_name=name, family=family, **values)
    except ValueError as exc:  # param's bound checks
        raise ModelConfigError(f"{name}: {exc}") from exc
