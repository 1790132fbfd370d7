"""Importing architectures from Hugging Face config.json and Galvatron model meta configs."""

from __future__ import annotations

import json

import pytest

from viz_app.model.analytic import parameter_counts
from viz_app.model.analytic.model_config_import import ModelConfigError, import_model_config, read_model_config
from viz_app.model.analytic.model_presets import load_model_preset, model_presets_dir
from viz_app.model.errors import MemvizError

from .conftest import DATA, ROOT

META = DATA / "galvatron-meta-configs"
REFERENCE_META = ROOT.parent / "shared" / "reference" / "galvatron-meta-configs"
# file -> (layers, hidden, heads, kv heads, ffn, vocab) as Galvatron's models build them
EXPECTED_META = {
    "gpt_hf_gpt-0.3b": (24, 1024, 16, 16, 4096, 50257),
    "gpt_hf_gpt-1.5b": (48, 1600, 32, 32, 6400, 50257),
    "gpt_hf_gpt-2.7b": (32, 2560, 32, 32, 10240, 50257),
    "gpt_hf_gpt-6.7b": (32, 4096, 32, 32, 16384, 50257),
    "llama_hf_llama-0.3b": (24, 1024, 16, 16, 2816, 32000),  # 256 * ceil(int(8 * 1024 / 3) / 256)
    "llama_hf_llama-7b": (32, 4096, 32, 32, 11008, 32000),
    "llama_hf_llama-13b": (40, 5120, 40, 40, 13824, 32000),
    "llama_hf_llama-30b": (48, 8192, 64, 8, 22016, 32000),
    "llama_hf_llama2-70b": (80, 8192, 64, 8, 28672, 32000),
    "llama_hf_qwen2.5-7b": (28, 3584, 28, 28, 18944, 152064),
    "llama_hf_qwen2.5-72b": (80, 8192, 64, 8, 29568, 152064),
}


def shape(arch):
    return (arch.num_layers, arch.hidden_size, arch.num_attention_heads, arch.kv_heads, arch.ffn_hidden_size,
            arch.vocab_size)


def test_bundled_copy_matches_the_reference():
    if not REFERENCE_META.is_dir():
        pytest.skip(f"reference folder {REFERENCE_META} not present")
    reference = {p.name: p.read_bytes() for p in REFERENCE_META.glob("*.json")}
    assert reference == {p.name: p.read_bytes() for p in META.glob("*.json")}


def test_every_meta_config_is_imported_or_refused():
    files = sorted(META.glob("*.json"))
    assert len(files) == 15
    for path in files:
        if path.stem.startswith("T5_"):
            with pytest.raises(ModelConfigError, match="T5 meta config recognised .* decoder-only"):
                read_model_config(path)
        else:
            arch = read_model_config(path)
            assert shape(arch) == EXPECTED_META[path.stem], path.stem
            assert arch.model_name == path.stem


def test_gpt_meta_is_gpt2_without_dropout():
    arch = read_model_config(META / "gpt_hf_gpt-1.5b.json")
    assert (arch.family, arch.norm_type, arch.linear_bias, arch.tie_embeddings) == ("gpt2", "layernorm", True, True)
    assert arch.attention_dropout == arch.hidden_dropout == 0.0
    assert arch.position_embedding == "learned" and arch.max_position_embeddings == 1024


def test_galvatron_profile_model_config_is_read(data_dir):
    arch = read_model_config(data_dir / "v2_bf16_qwen2.5-32b.json")
    assert shape(arch) == (64, 5120, 40, 8, 27648, 152064)


@pytest.mark.parametrize("name", ["llama-3-8b", "mistral-7b-v0.1", "qwen2.5-7b", "gpt2", "pythia-160m"])
def test_hf_families(name):
    data = json.loads((model_presets_dir() / f"{name}.json").read_text())
    arch = import_model_config(data, name)
    assert arch.family == data["model_type"]
    assert arch.values() == load_model_preset(name).values()


def test_hf_family_details():
    qwen = load_model_preset("qwen2.5-7b")
    assert (qwen.qkv_bias, qwen.linear_bias, qwen.kv_heads, qwen.gated_mlp) == (True, False, 4, True)
    pythia = load_model_preset("pythia-160m")
    assert (pythia.parallel_residual, pythia.gated_mlp, pythia.linear_bias, pythia.tie_embeddings) == (
        True, False, True, False)
    gpt2 = load_model_preset("gpt2")
    assert (gpt2.hidden_act, gpt2.ffn_hidden_size, gpt2.attention_dropout) == ("gelu_new", 3072, 0.1)


def test_explicit_head_dim():
    data = {"model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 2, "num_attention_heads": 8,
            "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 4096, "vocab_size": 1000}
    arch = import_model_config(data)
    assert (arch.query_width, arch.kv_width) == (1024, 256)
    assert parameter_counts(arch)["per_layer"] == 2 * 2048 * 1024 + 2 * 2048 * 256 + 3 * 2048 * 4096 + 2 * 2048


LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "vocab_size": 100}


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "cfg: expected a JSON object at the top level, found a list"),
    ({**LLAMA, "model_type": "bert"}, "model_type 'bert' is not supported; supported: llama, mistral, qwen2"),
    ({k: v for k, v in LLAMA.items() if k != "hidden_size"}, r"cfg \(llama\): required key 'hidden_size' is missing"),
    ({**LLAMA, "hidden_size": "64"}, "'hidden_size' must be a positive integer, got '64'"),
    ({**LLAMA, "num_attention_heads": 5}, "hidden size 64 is not divisible by 5 heads and no head_dim is given"),
    ({**LLAMA, "num_key_value_heads": 3}, "4 heads not divisible by 3 KV heads"),
    ({**LLAMA, "num_key_value_heads": 0}, "'num_kv_heads' must be a positive integer, got 0"),
    ({**LLAMA, "num_key_value_heads": "two"}, "'num_kv_heads' must be a positive integer, got 'two'"),
    ({**LLAMA, "head_dim": True}, "'head_dim' must be a positive integer, got True"),
    ({**LLAMA, "attention_dropout": None}, r"cfg \(llama\): 'attention_dropout' must be a number from 0 to 1, "
                                             "got None"),
    ({**LLAMA, "attention_dropout": "abc"}, "'attention_dropout' must be a number from 0 to 1, got 'abc'"),
    ({**LLAMA, "attention_dropout": 1.5}, "'attention_dropout' must be a number from 0 to 1, got 1.5"),
    ({**LLAMA, "hidden_act": "mish"}, "activation 'mish' is not one of"),
    ({**LLAMA, "attention_bias": True, "mlp_bias": False}, "attention_bias != mlp_bias is not modelled"),
    ({"d_model": 512, "d_ff": 2048, "num_heads": 8, "num_layers": 6}, "T5 meta config recognised"),
    ({"hidden": 1}, "unrecognised model config: expected a Hugging Face config.json with model_type"),
])
def test_malformed_configs_are_explained(data, message):
    with pytest.raises(ModelConfigError, match=message):
        import_model_config(data, "cfg")


def test_unreadable_files(tmp_path):
    """Model configs pass the same JSON boundary as profiles (model/json_input.py)."""
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(MemvizError, match="broken.json: not valid JSON"):
        read_model_config(broken)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (17 << 20))
    with pytest.raises(MemvizError, match=r"huge.json: file is 16.0 MiB; memory profiles are at most 16 MiB"):
        read_model_config(huge)
    with pytest.raises(ModelConfigError, match="missing.json: no such file"):
        read_model_config(tmp_path / "missing.json")
    with pytest.raises(MemvizError, match="a folder, not a file"):
        read_model_config(tmp_path)


@pytest.mark.parametrize(("name", "softmax_in_input_dtype", "sdpa_fused_qkv_and_copy"), [
    ("llama-3-8b", False, False), ("qwen2.5-7b", False, False), ("gpt2", True, False), ("pythia-1b", False, True),
])
def test_the_importer_sets_the_eager_quirks_by_family(name, softmax_in_input_dtype, sdpa_fused_qkv_and_copy):
    arch = load_model_preset(name)
    assert arch.softmax_in_input_dtype is softmax_in_input_dtype
    assert arch.sdpa_keeps_fused_qkv is arch.sdpa_copies_attention_output is sdpa_fused_qkv_and_copy


def test_galvatron_gpt_meta_keeps_gpt2s_softmax_dtype():
    assert read_model_config(META / "gpt_hf_gpt-1.5b.json").softmax_in_input_dtype


def _moe_config(**changes) -> dict:
    data = json.loads((model_presets_dir() / "qwen3-30b-a3b.json").read_text())
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(("changes", "message"), [
    (dict(moe_intermediate_size=None), "cfg \\(qwen3_moe\\): required key 'moe_intermediate_size' is missing"),
    (dict(num_experts_per_tok=200), "each token is routed to 200 experts, but there are only 128"),
    (dict(mlp_only_layers="0,1"), "'mlp_only_layers' must be a list of layer indices"),
    (dict(num_experts=-1), "'num_experts' must be a non-negative integer"),
    (dict(model_type="gpt_oss"), "model_type 'gpt_oss' is not supported"),
])
def test_unmappable_moe_configs_name_the_field(changes, message):
    with pytest.raises(ModelConfigError, match=message):
        import_model_config(_moe_config(**changes), "cfg")


def test_moe_and_mla_fields_by_family():
    v3 = load_model_preset("deepseek-v3")
    assert (v3.num_experts, v3.moe_top_k, v3.expert_ffn, v3.shared_ffn, v3.moe_first_k_dense) == (256, 8, 2048, 2048, 3)
    assert (v3.q_lora_rank, v3.kv_lora_rank, v3.qk_rope_head_dim, v3.mtp_layers) == (1536, 512, 64, 1)
    assert load_model_preset("deepseek-v2-lite").q_lora_rank is None
    qwen = load_model_preset("qwen3-30b-a3b")
    assert qwen.qk_norm and (qwen.num_experts, qwen.expert_ffn, qwen.moe_layer_offset) == (128, 768, 1)
    mixtral = load_model_preset("mixtral-8x7b")
    assert (mixtral.num_experts, mixtral.moe_top_k, mixtral.expert_ffn, mixtral.qk_norm) == (8, 2, 14336, False)
    # transformers 5 writes Qwen3-MoE's expert count as num_local_experts
    renamed = _moe_config(num_experts=None, num_local_experts=64)
    assert import_model_config(renamed, "cfg").num_experts == 64
