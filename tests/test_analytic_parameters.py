"""Parameter counts: published totals of real models, and the TP / PP split."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import parameter_counts
from viz_app.model.analytic.model_config_import import ModelConfigError
from viz_app.model.analytic.model_presets import list_model_presets, load_model_preset
from viz_app.model.analytic.parameters import (
    embedding_parameter_count,
    head_parameter_count,
    layer_parameter_count,
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
}


def test_every_bundled_model_has_a_published_total():
    assert sorted(PUBLISHED) == list_model_presets()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_totals(name):
    assert parameter_counts(load_model_preset(name))["total"] == PUBLISHED[name]


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
    with pytest.raises(ModelConfigError, match="unknown model 'llama-9'; available: gpt2, llama-2-70b"):
        load_model_preset("llama-9")


def test_vocab_shard_is_the_padded_vocabulary_split_over_tp():
    llama = load_model_preset("llama-3-8b")  # V 128256, padded to a multiple of 128 x 8 = 1024: 129024
    assert vocab_shard_parameter_count(llama, 8, 128) == 129_024 * 4096 // 8 == 66_060_288
    assert vocab_shard_parameter_count(llama) == 128_256 * 4096
    assert head_parameter_count(llama, 8, 128) == vocab_shard_parameter_count(llama, 8, 128)
    assert embedding_parameter_count(llama, 8, 128) == vocab_shard_parameter_count(llama, 8, 128)  # rope: no table
