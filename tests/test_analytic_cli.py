"""`memviz estimate --model/--model-config`, `memviz models` and `memviz validate`."""

from __future__ import annotations

import json

import pytest

from viz_app.cli import main
from viz_app.model.analytic import AnalyticOptions, estimate_analytic, parameter_counts
from viz_app.model.analytic.model_presets import list_model_presets, load_model_preset
from viz_app.model.config import TrainingConfig

from .conftest import DATA


def run_json(capsys, *argv) -> dict:
    assert main(["estimate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_model_preset_json_matches_the_python_api(capsys):
    out = run_json(capsys, "--model", "llama-3-8b", "--tp", "2", "--pp", "2", "--gpus", "8", "--zero", "1",
                   "--recompute", "selective", "--optimizer", "adam_8bit", "--cp", "2", "--pp-division", "14,18",
                   "--fragmentation", "0.1")
    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**arch.config_defaults(), tp=2, pp=2, total_gpus=8, zero_stage=1)
    options = AnalyticOptions(recompute="selective", optimizer="adam_8bit", context_parallel=2, pp_division=[14, 18],
                              allocator_fragmentation=0.1)
    expected = estimate_analytic(config, arch, options)
    assert out["mode"] == "analytic" and out["source"] == "llama-3-8b"
    assert [s["layers"] for s in out["stages"]] == [14, 18]
    assert [s["total_mib"] for s in out["stages"]] == [s.total_mib for s in expected.stages]
    assert out["architecture"]["hidden_size"] == 4096 and out["architecture"]["num_kv_heads"] == 8
    assert out["options"]["optimizer"] == "adam_8bit" and out["options"]["pp_division"] == [14, 18]
    # every existing JSON key is still there
    assert {"config", "stages", "peak_stage", "peak_total_mib", "warnings", "notices"} <= set(out)
    assert {"parameter_mib", "gradient_mib", "optimizer_mib", "grad_accumulate_mib"} <= set(out["stages"][0])


def test_model_config_file(capsys):
    out = run_json(capsys, "--model-config", str(DATA / "galvatron-meta-configs" / "llama_hf_llama-7b.json"),
                   "--tp", "1", "--gpus", "1", "--no-flash-attention", "--kernels", "eager")
    assert out["source"] == "llama_hf_llama-7b"
    assert out["config"]["num_layers"] == 32 and out["config"]["seq_length"] == 2048
    assert out["options"]["flash_attention"] is False and out["options"]["kernels"] == "eager"


def test_table_output(capsys):
    assert main(["estimate", "--model", "gpt2", "--tp", "1", "--gpus", "2", "--pp", "2", "--schedule", "gpipe"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gpt2 (analytic): tp 1 pp 2 dp 1 (GPUs 2)")
    assert "overhead" in out and "* = most loaded stage" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--preset", "llama3-8b", "--recompute", "full", "--cp", "2"],
     "--recompute, --cp: analytic-mode options; use them with --model or --model-config, not a profile"),
    (["--model", "llama-9"], "unknown model 'llama-9'; available: deepseek-v2-lite,"),
    (["--model", "llama-3-8b", "--tp", "16", "--gpus", "16"], "TP 16 does not divide the model's 8 KV heads"),
    (["--model", "llama-3-8b", "--pp", "2", "--gpus", "16", "--pp-division", "8,8"], "must have 2 positive entries"),
    (["--model-config", "nope.json"], "nope.json: no such file"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(["estimate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("memviz: error: ") and message in err and err.count("\n") == 1


def test_bad_flag_values_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "--model", "gpt2", "--pp-division", "8,x"])
    assert exit_info.value.code == 2
    assert "expected layers per stage like 8,8,8,8 (expected a whole number, got 'x')" in capsys.readouterr().err


def test_models_lists_presets_with_counts(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_model_presets()
    line = lines[list_model_presets().index("llama-3-8b")]
    assert f"{parameter_counts(load_model_preset('llama-3-8b'))['total']:,}" in line


def test_validate_with_a_file(capsys):
    assert main(["validate", "--file", str(DATA / "measured_fixture.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out["rows"]] == ["fixture-megatron-tp4", "fixture-hf-zero3", "fixture-pp-last-stage"]
    assert out["median_abs_error_pct"] == pytest.approx(sorted(abs(r["error_pct"]) for r in out["rows"])[1])
    assert main(["validate", "--file", str(DATA / "measured_fixture.json")]) == 0
    table = capsys.readouterr().out
    assert "median absolute error:" in table and "fixture-hf-zero3" in table


def test_default_tp_is_lowered_to_one_the_heads_divide_and_an_explicit_one_is_kept(capsys):
    out = run_json(capsys, "--model", "qwen2.5-7b")  # 28 heads, 4 KV heads: TP 8 impossible
    assert (out["config"]["tp"], out["config"]["dp"], out["config"]["total_gpus"]) == (4, 2, 8)
    assert main(["estimate", "--model", "qwen2.5-7b", "--tp", "8"]) == 2
    assert "TP 8 does not divide the model's 28 attention heads" in capsys.readouterr().err
