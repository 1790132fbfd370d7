"""Uneven pipeline splits by Megatron-Core's rules (model/analytic/pipeline_split.py)."""

from __future__ import annotations

import json

import pytest

from viz_app.cli import main
from viz_app.model.analytic import AnalyticOptions, estimate_analytic, layer_activation_bytes
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.analytic.pipeline_split import chunk_layer_counts
from viz_app.model.analytic.schedule import pass_chunks
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import StrategyError

MIB = 1 << 20


def test_embedding_and_loss_counted_as_layers_fit_126_layers_on_8_stages_of_2_chunks():
    options = AnalyticOptions(schedule="interleaved", virtual_stages=2, embedding_in_pipeline_split=True,
                              loss_in_pipeline_split=True)
    chunks = chunk_layer_counts(126, 8, options)
    assert chunks[0] == [7, 8] and chunks[-1] == [8, 7] and all(c == [8, 8] for c in chunks[1:-1])
    # without them Megatron (and memviz) refuse: 126 / 8 leaves stages of 15 layers, odd for 2 chunks
    with pytest.raises(StrategyError, match="15 layers"):
        chunk_layer_counts(126, 8, AnalyticOptions(schedule="interleaved", virtual_stages=2))
    assert chunk_layer_counts(30, 4, AnalyticOptions(embedding_in_pipeline_split=True, loss_in_pipeline_split=True)) \
        == [[7], [8], [8], [7]]


def test_a_chunk_may_hold_only_the_embedding_or_the_loss():
    # Megatron-LM's CI test gpt3_mcore_te_tp1_pp4_vp2_account_for_embedding_loss_in_pipeline_split:
    # 6 layers + embedding + loss over 4 stages x 2 chunks, one each
    options = AnalyticOptions(schedule="interleaved", virtual_stages=2, embedding_in_pipeline_split=True,
                              loss_in_pipeline_split=True)
    assert chunk_layer_counts(6, 4, options) == [[0, 1], [1, 1], [1, 1], [1, 0]]
    arch = load_model_preset("gpt2")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "num_layers": 6, "pp": 4, "total_gpus": 8, "tp": 1})
    stages = estimate_analytic(config, arch, options).stages
    assert [s.layers for s in stages] == [1, 2, 2, 1]
    with pytest.raises(StrategyError, match="9 layers"):  # 7 + 2 over 8 chunks
        chunk_layer_counts(7, 4, options)
    with pytest.raises(StrategyError, match="more than the model's 2 layers"):  # no stage may be empty
        chunk_layer_counts(2, 4, AnalyticOptions(embedding_in_pipeline_split=True, loss_in_pipeline_split=True))


def test_first_and_last_stage_layers_and_the_middle_split_evenly():
    assert chunk_layer_counts(30, 4, AnalyticOptions(first_stage_layers=6, last_stage_layers=6)) == \
        [[6], [9], [9], [6]]
    assert chunk_layer_counts(32, 4, AnalyticOptions(last_stage_layers=5)) == [[9], [9], [9], [5]]
    assert chunk_layer_counts(20, 4, AnalyticOptions(schedule="interleaved", virtual_stages=2, first_stage_layers=2,
                                                     last_stage_layers=6)) == [[1, 1], [3, 3], [3, 3], [3, 3]]
    with pytest.raises(StrategyError, match="cannot share evenly"):
        chunk_layer_counts(30, 4, AnalyticOptions(first_stage_layers=5, last_stage_layers=6))
    with pytest.raises(StrategyError, match="cannot be combined"):
        chunk_layer_counts(30, 4, AnalyticOptions(first_stage_layers=6, loss_in_pipeline_split=True))
    with pytest.raises(StrategyError, match="do not divide a stage's 3 layers"):
        chunk_layer_counts(30, 4, AnalyticOptions(schedule="interleaved", virtual_stages=2, first_stage_layers=3,
                                                  last_stage_layers=3))


def test_each_in_flight_pass_holds_its_own_chunks_layers():
    arch = load_model_preset("llama-3-70b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "num_layers": 126, "tp": 8, "pp": 8, "total_gpus": 64,
                    "global_batch_size": 64, "micro_batch_size": 1})
    options = AnalyticOptions(schedule="interleaved", virtual_stages=2, embedding_in_pipeline_split=True,
                              loss_in_pipeline_split=True)
    estimate = estimate_analytic(config, arch, options)
    assert [s.layers for s in estimate.stages] == [15] + [16] * 6 + [15]
    per_layer = layer_activation_bytes(arch, config.seq_length, 1, tp=8, sequence_parallel=True) / MIB
    first = estimate.stages[0]
    chunks = pass_chunks("interleaved", 0, 8, config.chunks, 2)  # (8 - 1) x 2 + (2 - 1) x 8 warm-up + 1
    assert len(chunks) == 23 and chunks.count(0) == 15  # passes 0-7 and 16-22 run chunk 0 (7 layers)
    stored = per_layer * (7 * chunks.count(0) + 8 * chunks.count(1))
    # the first backward is of the stage's last chunk (8 layers); at its first layer every pass is stored
    assert first.peak_phase == "backward 1, layer 8"
    assert first.mib("activation.layers") + first.mib("activation.inflight") == pytest.approx(stored)


def test_cli_flags(capsys):
    args = ["estimate", "--model", "llama-3-8b", "--tp", "1", "--pp", "4", "--gpus", "4", "--first-stage-layers", "5",
            "--last-stage-layers", "5", "--json"]
    assert main(args) == 0
    assert [s["layers"] for s in json.loads(capsys.readouterr().out)["stages"]] == [5, 11, 11, 5]
    assert main(args[:-5] + ["--embedding-in-pipeline-split", "--loss-in-pipeline-split", "--json"]) == 2
    assert "34 layers" in capsys.readouterr().err
