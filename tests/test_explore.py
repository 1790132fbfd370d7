"""The strategy explorer: enumeration counted by hand, exclusion reasons, rows equal to the estimate,
the costs' formulas, and `memviz explore`."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from viz_app.cli import main
from viz_app.model.analytic import estimate_analytic
from viz_app.model.analytic.explore import explore_analytic
from viz_app.model.analytic.frameworks import options_for
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig
from viz_app.model.explore.costs import COMM_KINDS
from viz_app.model.explore.grid import EXCLUSION_REASONS
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.explore import explore_galvatron
from viz_app.model.galvatron.presets import load_preset

CAPACITY_MIB = 81559.0
STRATEGY_KEYS = {"tp", "pp", "dp", "ep", "etp", "zero_stage", "micro_batch_size", "chunks", "context_parallel",
                 "recompute", "schedule", "virtual_stages"}


def analytic(model: str, gpus: int, gbs: int, framework: str = "custom", **values):
    arch = load_model_preset(model)
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "global_batch_size": gbs, **values})
    return arch, config, explore_analytic(arch, config, options_for({"framework": framework}), gpus, CAPACITY_MIB)


def galvatron(preset: str, gpus: int, gbs: int, **values):
    profile = load_preset(preset)
    config = TrainingConfig()
    config.apply(**{**profile.config_defaults(), "global_batch_size": gbs, **values})
    return profile, config, explore_galvatron(profile, config, gpus, CAPACITY_MIB)


def test_gpt2_on_4_gpus_counted_by_hand():
    # (tp, pp, cp) with tp pp cp | 4: 10 layouts, all valid (12 heads, 12 layers, seq 1024, gbs 4).
    # Micro-batch sizes divide 4 / dp; schedules: pp 1 -> 1; pp 2 (6 layers a stage) -> 1f1b, gpipe,
    # interleaved v 2, 3, 6 = 5; pp 4 (3 layers) -> 1f1b, gpipe, interleaved v 3 = 3.
    # (tp,pp,cp): mbs x schedules = (1,1,1) 1, (1,1,2) 2, (1,1,4) 3, (1,2,1) 2x5, (1,2,2) 3x5, (1,4,1) 3x3,
    # (2,1,1) 2, (2,1,2) 3, (2,2,1) 3x5, (4,1,1) 3: 63; times 4 ZeRO stages x 4 recompute modes.
    _arch, _config, found = analytic("gpt2", 4, 4)
    assert len(found) == 63 * 16
    # v 4, 5, 7, 8 do not split 6 layers (3 pp-2 layouts), v 2, 4, 5, 6, 7, 8 not 3 (1 pp-4 layout)
    assert found.excluded == {"virtual_uneven": 3 * 4 + 1 * 6}
    rows = found.rows()
    assert {(r["tp"], r["pp"], r["context_parallel"]) for r in rows} == {
        (1, 1, 1), (1, 1, 2), (1, 1, 4), (1, 2, 1), (1, 2, 2), (1, 4, 1), (2, 1, 1), (2, 1, 2), (2, 2, 1), (4, 1, 1)}
    assert all(r["tp"] * r["pp"] * r["context_parallel"] * r["dp"] == 4 for r in rows)
    assert all(r["micro_batch_size"] * r["dp"] * r["chunks"] == 4 for r in rows)
    assert {r["ep"] for r in rows} == {r["etp"] for r in rows} == {1}


def test_exclusion_reasons_counted_by_hand():
    # llama-3-8b (32 heads, 8 KV heads, seq 4096) on 24 GPUs, gbs 24: tp 3, 6, 12, 24 do not divide the
    # heads: (pp, cp) pairs left for them 10 + 6 + 3 + 1 = 20. With tp 1, 2, 4, 8, cp 3, 6, 12 or 24
    # does not divide 4096: 10 + 6 + 3 + 1 = 20 layouts.
    _arch, _config, found = analytic("llama-3-8b", 24, 24)
    assert found.excluded["tp_divides_heads"] == 20
    assert found.excluded["cp_divides_seq"] == 20
    assert {r["tp"] for r in found.rows()} == {1, 2, 4, 8}
    # pythia-160m (12 layers) on 16 GPUs: pp 16 with tp 1, cp 1 is the one layout with too many stages
    # (tp 16 fails the heads first); gpt2 on 4 GPUs with gbs 2: dp 4 cannot split 2 samples.
    assert analytic("pythia-160m", 16, 16)[2].excluded["pp_over_layers"] == 1
    assert analytic("gpt2", 4, 2)[2].excluded["gbs_divides_dp"] == 1
    # Galvatron on 24 GPUs: the halving rule reaches no odd multiple of 3 from the profiled degrees, so
    # tp 3, 6, 12, 24 are excluded with their (pp) choices: 4 + 3 + 2 + 1.
    _profile, _config, found = galvatron("llama2-7b", 24, 24)
    assert {r["tp"] for r in found.rows()} == {1, 2, 4, 8}
    assert found.excluded == {"no_tp": 10}


def test_every_exclusion_reason_is_listed():
    reasons = set()
    for found in (analytic("llama-3-8b", 24, 24)[2], analytic("pythia-160m", 16, 16)[2], analytic("gpt2", 4, 2)[2],
                  galvatron("llama2-7b", 24, 24)[2]):
        reasons |= set(found.excluded)
    assert reasons <= set(EXCLUSION_REASONS)
    assert {"tp_divides_heads", "cp_divides_seq", "pp_over_layers", "gbs_divides_dp", "no_tp"} <= reasons


def _stratified(rows: list[dict], per_schedule: int, seed: int) -> list[dict]:
    """A seeded sample of `per_schedule` rows of each schedule (interleaved included)."""
    rng = random.Random(seed)
    sample = []
    for schedule in ("1f1b", "gpipe", "interleaved"):
        these = [row for row in rows if row["schedule"] == schedule]
        sample += rng.sample(these, min(per_schedule, len(these)))
    return sample


@pytest.mark.parametrize(("model", "gpus", "gbs", "framework"), [
    ("llama-3-8b", 8, 16, "custom"), ("gpt2", 16, 32, "torchtitan"), ("pythia-160m", 12, 24, "megatron"),
    ("llama-3-70b", 64, 128, "deepspeed"), ("llama-3-70b", 32, 64, "torchtune"),
    ("mixtral-8x7b", 16, 32, "megatron"), ("mixtral-8x7b", 8, 16, "torchtitan"),
    ("moonlight-16b-a3b", 12, 24, "deepspeed"), ("moonlight-16b-a3b", 8, 8, "custom"),
    ("deepseek-v3", 16, 16, "torchtune"), ("deepseek-v3", 32, 32, "megatron"),
])
def test_analytic_rows_equal_the_estimate(model, gpus, gbs, framework):
    arch, config, found = analytic(model, gpus, gbs, framework)
    rows = found.rows()
    sample = _stratified(rows, 20, seed=15)
    assert {row["schedule"] for row in sample} == {row["schedule"] for row in rows} >= {"1f1b", "gpipe"}
    if arch.is_moe:
        assert max(row["ep"] for row in rows) > 1 and max(row["etp"] for row in rows) > 1
    for row in sample:
        strategy = TrainingConfig()
        strategy.apply(**arch.config_defaults(), tp=row["tp"], pp=row["pp"], dp=row["dp"], global_batch_size=gbs,
                       micro_batch_size=row["micro_batch_size"], zero_stage=row["zero_stage"], ep=row["ep"],
                       etp=row["etp"])
        assert strategy.chunks == row["chunks"]
        options = options_for({"framework": framework, "recompute": row["recompute"], "schedule": row["schedule"],
                               "virtual_stages": row["virtual_stages"], "context_parallel": row["context_parallel"]})
        estimate = estimate_analytic(strategy, arch, options)
        assert row["peak_mib"] == pytest.approx(estimate.peak_stage.total_mib, rel=0, abs=1e-6)
        assert row["peak_stage"] == estimate.peak_stage.stage
        assert row["headroom_mib"] == CAPACITY_MIB - row["peak_mib"]
        assert row["fits"] == (row["peak_mib"] <= CAPACITY_MIB)


@pytest.mark.parametrize(("preset", "gpus", "gbs", "values"), [
    ("llama3-8b", 16, 32, {}), ("llama2-70b", 64, 128, {}), ("qwen2.5-32b", 24, 48, {"mixed_precision": False}),
])
def test_galvatron_rows_equal_the_estimate(preset, gpus, gbs, values):
    profile, _config, found = galvatron(preset, gpus, gbs, **values)
    for row in random.Random(15).sample(found.rows(), 60):
        strategy = TrainingConfig()
        strategy.apply(**{**profile.config_defaults(), **values}, tp=row["tp"], pp=row["pp"], dp=row["dp"],
                       global_batch_size=gbs, micro_batch_size=row["micro_batch_size"], zero_stage=row["zero_stage"],
                       checkpoint=row["recompute"] == "full")
        estimate = estimate_galvatron(strategy, profile)
        assert (row["peak_mib"], row["peak_stage"]) == (estimate.peak_stage.total_mib, estimate.peak_stage.stage)


def test_default_order_fits_first_then_overhead_then_communication():
    _arch, _config, found = analytic("llama-3-8b", 16, 32)
    rows = found.rows()
    fits = [r["fits"] for r in rows]
    assert fits == sorted(fits, reverse=True) and True in fits and False in fits
    fitting = [r for r in rows if r["fits"]]
    keys = [(r["bubble"] + r["recompute_overhead"], sum(r["comm_bytes"].values())) for r in fitting]
    assert keys == sorted(keys)


def test_costs_of_one_strategy_by_hand():
    arch, config, found = analytic("llama-3-8b", 16, 32)
    row = next(r for r in found.rows() if (r["tp"], r["pp"], r["context_parallel"], r["micro_batch_size"],
                                           r["schedule"], r["virtual_stages"], r["zero_stage"], r["recompute"])
               == (2, 2, 2, 1, "interleaved", 2, 1, "full"))
    assert row["dp"] == 2 and row["chunks"] == 16 and row["peak_stage"] == 1
    assert row["bubble"] == (2 - 1) / (16 * 2)
    assert row["recompute_overhead"] == 1.0
    s, b, h, e, layers = 4096 / 2, 1, 4096, 2, 16
    activation = s * b * h * e
    # TP: 8 collectives of (t-1)/t activations per layer and micro-batch, 4 more under full recompute
    assert row["comm_bytes"]["tp"] == pytest.approx(12 * 0.5 * activation * layers * 16)
    # CP: 3 (+1 recomputed) x (cp - 1) x local K and V (8 KV heads of 128 split over tp 2)
    assert row["comm_bytes"]["cp"] == pytest.approx(4 * 1 * (2 * s * b * 8 * 128 / 2 * e) * layers * 16)
    # PP, the last stage with 2 model chunks: 2 m v sends less the m forward ones of its last chunk
    assert row["comm_bytes"]["pp"] == pytest.approx((2 * 16 * 2 - 16) * activation / 2)
    # DP, ZeRO-1 over dp x cp = 4: reduce-scatter of fp32 gradients, all-gather of bf16 weights
    # (the last stage: 16 layers of weights split over tp 2 plus 2 norms each, the head's vocab shard, final norm)
    stage_params = 16 * ((4096 * (4096 + 2 * 1024 + 4096) + 3 * 4096 * 14336) / 2 + 2 * 4096) + 128256 * 4096 / 2 + 4096
    assert row["comm_bytes"]["dp"] == pytest.approx(3 / 4 * stage_params * (4 + 2))
    assert row["comm_bytes"]["ep"] == 0


def run_cli(capsys, *argv) -> dict:
    assert main(["explore", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_rows_equal_memviz_estimate(capsys):
    found = run_cli(capsys, "--model", "llama-3-8b", "--gpus", "8", "--gpu", "80", "--gbs", "16",
                    "--framework", "megatron")
    assert len(found["strategies"]) == found["count"] > 0
    assert found["excluded"] == {"virtual_uneven": 41}
    for row in random.Random(3).sample(found["strategies"], 8):
        assert STRATEGY_KEYS | {"peak_mib", "peak_stage", "headroom_mib", "fits", "bubble", "recompute_overhead",
                                "comm_bytes"} == set(row)
        assert set(row["comm_bytes"]) == {"tp", "cp", "ep", "dp", "pp"}
        assert main(["estimate", "--model", "llama-3-8b", "--framework", "megatron", "--gbs", "16", "--json",
                     f"--tp={row['tp']}", f"--pp={row['pp']}", f"--dp={row['dp']}", f"--cp={row['context_parallel']}",
                     f"--mbs={row['micro_batch_size']}", f"--zero={row['zero_stage']}",
                     f"--recompute={row['recompute']}", f"--schedule={row['schedule']}",
                     f"--virtual-stages={row['virtual_stages']}"]) == 0
        estimate = json.loads(capsys.readouterr().out)
        assert estimate["peak_total_mib"] == row["peak_mib"] and estimate["peak_stage"] == row["peak_stage"]
        assert estimate["config"]["chunks"] == row["chunks"]


@pytest.mark.parametrize("source", [("--model", "llama-3-8b", "--framework", "torchtitan"), ("--preset", "llama3-8b")])
def test_cli_csv_lists_the_json_strategies_in_order(capsys, source):
    """`explore --csv`: one row per strategy of `--json`, same order, same values (bytes per kind as columns)."""
    argv = [*source, "--gpus", "8", "--gpu-mib", "40000", "--gbs", "16"]
    found = run_cli(capsys, *argv)
    assert main(["explore", *argv, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == found["count"] == len(found["strategies"]) > 100
    json_keys = [key for key in found["strategies"][0] if key != "comm_bytes"]  # the JSON's keys, in its order
    assert list(rows[0]) == [*json_keys, *(f"comm_{kind}_bytes" for kind in COMM_KINDS)]
    for row, strategy in zip(rows, found["strategies"], strict=True):
        expected = {**{k: v for k, v in strategy.items() if k != "comm_bytes"},
                    **{f"comm_{kind}_bytes": v for kind, v in strategy["comm_bytes"].items()}}
        assert row == {key: str(value) for key, value in expected.items()}
    with pytest.raises(SystemExit) as refused:  # one output format (argparse exits 2, naming both)
        main(["explore", *argv, "--csv", "--json"])
    assert refused.value.code == 2 and "not allowed with argument --csv" in capsys.readouterr().err


def test_cli_galvatron_and_table(capsys):
    found = run_cli(capsys, "--preset", "llama3-8b", "--gpus", "8", "--gpu-mib", "40000", "--seq-length", "4096")
    assert found["capacity_mib"] == 40000 and found["config"]["seq_length"] == 4096
    assert {r["recompute"] for r in found["strategies"]} == {"none", "full"}
    assert main(["explore", "--preset", "llama3-8b", "--gpus", "8", "--gpu", "80", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"{found['count']} strategies") and len(lines) == 3 + 3


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "llama-3-8b", "--gpus", "8", "--gpu", "81"], "--gpu 81: not a GPU of the catalogue"),
    (["--preset", "llama3-8b", "--gpus", "8", "--gpu", "80", "--framework", "megatron"], "--framework"),
    (["--model", "no-such-model", "--gpus", "8", "--gpu", "80"], "unknown model 'no-such-model'"),
])
def test_bad_input_exits_2(capsys, argv, message):
    assert main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
