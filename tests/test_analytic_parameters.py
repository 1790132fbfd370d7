"""Parameter counts: published totals of real models, and the TP / PP split."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import parameter_counts
from viz_app.model.analytic.model_config_import import ModelConfigError
from viz_app.model.analytic.model_presets import list_model_presets, load_model_preset
from viz_app.model.analytic.parameters import (
    LayerParameters,
    embedding_parameter_count,
    head_parameter_count,
    layer_parameter_count,
    layer_parameters,
    padded_vocab_size,
    stage_layer_counts,
    vocab_shard_parameter_count,
)
from viz_app.model.errors import StrategyError

# Totals the model cards / papers publish (safetensors metadata "total" counts).
PUBLISHED = {
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "llama-2-7b": 6_738_415_616,
    "llama-2-70b": 68_976_648_192,
    "qwen2.5-7b": 7_615_616_512,
    "qwen2.5-32b": 32_763_876_352,
    "mistral-7b-v0.1": 7_241_732_096,
    "gpt2": 124_439_808,
    "pythia-160m": 162_322_944,
    "pythia-1b": 1_011_781_632,
    # mixture of experts (safetensors totals of the Hugging Face checkpoints)
    "mixtral-8x7b": 46_702_792_704,
    "qwen3-30b-a3b": 30_532_122_624,
    "qwen3-235b-a22b": 235_093_634_560,
    "qwen3-8b": 8_190_735_360,
    "qwen3-32b": 32_762_123_264,
    "deepseek-v2-lite": 15_706_484_224,
    # DeepSeek-V3's 671,026,419,200 also counts e_score_correction_bias (58 MoE layers x 256), a buffer
    # in Hugging Face's and Megatron's code, not a trained parameter.
    "deepseek-v3": 671_026_419_200 - 58 * 256,
    # Moonlight: the model card says 16B total; exact count from its config (same layout as DeepSeek-V3).
    "moonlight-16b-a3b": 15_960_108_544,
}
# Activated parameters the model cards state (rounded as they are printed).
# (Qwen3-30B-A3B's card says 3.3B; the count is 3.35B, so it is left out of this rounded check.)
ACTIVE_BILLIONS = {
    "mixtral-8x7b": 12.9, "qwen3-235b-a22b": 22.2, "deepseek-v3": 37.6,
                   "deepseek-v2-lite": 2.7, "moonlight-16b-a3b": 2.9}


def test_every_bundled_model_has_a_published_total():
    assert sorted(PUBLISHED) == list_model_presets()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_totals(name):
    assert parameter_counts(load_model_preset(name))["total"] == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(ACTIVE_BILLIONS))
def test_active_parameters(name):
    assert round(parameter_counts(load_model_preset(name))["active"] / 1e9, 1) == ACTIVE_BILLIONS[name]


def test_deepseek_v3_buckets_per_gpu():
    """A MoE layer with MLA on one GPU at tp 2, ep 8, etp 1 (Megatron's layout)."""
    arch = load_model_preset("deepseek-v3")
    h, a = 7168, 128
    dense = layer_parameters(arch, 0, tp=2)
    moe = layer_parameters(arch, 3, tp=2, ep=8, etp=1)
    q_up, kv_up, out = 1536 * a * 192, 512 * a * 256, a * 128 * h
    mla_replicated = h * 1536 + 1536 + h * (512 + 64) + 512 + 2 * h
    assert dense == LayerParameters((q_up + kv_up + out + 3 * h * 18432) // 2, mla_replicated, 0)
    assert moe == LayerParameters((q_up + kv_up + out + 3 * h * 2048) // 2, mla_replicated + h * 256,
                                  256 // 8 * 3 * h * 2048)
    assert layer_parameters(arch, 3, tp=2, ep=8, etp=2).expert == moe.expert // 2
    assert [arch.is_moe_layer(i) for i in range(5)] == [False, False, False, True, True]
    assert parameter_counts(arch)["mtp"] == layer_parameter_count(arch, 1, 60) + 2 * h * h + 3 * h


def test_moe_layer_patterns():
    qwen = load_model_preset("qwen3-30b-a3b")
    qwen.param.update(moe_layer_freq=2, moe_layer_offset=1, dense_layers=[5])
    assert [qwen.is_moe_layer(i) for i in range(6)] == [False, True, False, True, False, False]


def test_llama3_8b_parts():
    counts = parameter_counts(load_model_preset("llama-3-8b"))
    assert counts["per_layer"] == 218_112_000
    assert counts["embedding"] == counts["head"] == 128256 * 4096
    assert counts["final_norm"] == 4096


def test_tied_gpt2_has_no_head_and_learned_positions():
    counts = parameter_counts(load_model_preset("gpt2"))
    assert counts["head"] == 0
    assert counts["embedding"] == (50257 + 1024) * 768


def test_tensor_parallel_split_keeps_replicated_parts_whole():
    arch = load_model_preset("qwen2.5-7b")  # q/k/v biases split, norms replicated
    h, f = 3584, 18944
    assert layer_parameter_count(arch, 4) == (2 * h * h + 2 * h * 512 + 3 * h * f) // 4 + (h + 2 * 512) // 4 + 2 * h
    gpt2 = load_model_preset("gpt2")  # row-parallel biases (attention out, fc2) replicated
    assert layer_parameter_count(gpt2, 2) == (4 * 768 * 768 + 2 * 768 * 3072 + 3 * 768 + 3072) // 2 + 2 * 768 + 4 * 768


def test_vocab_padding_and_vocab_parallel_embedding():
    gpt2 = load_model_preset("gpt2")
    assert padded_vocab_size(gpt2, 1, 1) == 50257
    assert padded_vocab_size(gpt2, 8, 128) == 51200  # Megatron: multiple of 128 x tp
    assert embedding_parameter_count(gpt2, 8, 128) == 51200 * 768 // 8 + 1024 * 768
    assert head_parameter_count(gpt2, 8, 128, pp=1) == 0  # tied, same stage
    assert head_parameter_count(gpt2, 8, 128, pp=2) == 51200 * 768 // 8  # Megatron's copy on the last stage


def test_stage_split():
    assert stage_layer_counts(32, 4) == [8, 8, 8, 8]
    assert stage_layer_counts(30, 4) == [7, 7, 8, 8]
    assert stage_layer_counts(32, 4, [6, 8, 9, 9]) == [6, 8, 9, 9]
    with pytest.raises(StrategyError, match="summing to 32"):
        stage_layer_counts(32, 4, [8, 8, 8, 9])
    with pytest.raises(StrategyError, match="stage would be empty"):
        stage_layer_counts(2, 4)


def test_unknown_model_preset_names_the_choices():
    with pytest.raises(ModelConfigError, match="unknown model 'llama-9'; available: deepseek-v2-lite, deepseek-v3, "):
        load_model_preset("llama-9")


def test_vocab_shard_is_the_padded_vocabulary_split_over_tp():
    llama = load_model_preset("llama-3-8b")  # V 128256, padded to a multiple of 128 x 8 = 1024: 129024
    assert vocab_shard_parameter_count(llama, 8, 128) == 129_024 * 4096 // 8 == 66_060_288
    assert vocab_shard_parameter_count(llama) == 128_256 * 4096
    assert head_parameter_count(llama, 8, 128) == vocab_shard_parameter_count(llama, 8, 128)
    assert embedding_parameter_count(llama, 8, 128) == vocab_shard_parameter_count(llama, 8, 128)  # rope: no table
