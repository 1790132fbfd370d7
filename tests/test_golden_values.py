"""Golden values E1 and E2 of the spec (section 6), from running Galvatron's own code."""

import json

import pytest

from viz_app.cli import main
from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset
from viz_app.model.galvatron.profile import load_profile

from .conftest import DATA

E1 = {
    "model_states_mib": 17884.231018, "parameter_mib": 1987.136780, "gradient_mib": 0.0,
    "optimizer_mib": 11922.820679, "grad_accumulate_mib": 3974.273560, "activation_mib": 6213.421916,
    "total_mib": 24097.652934,
}
E2_STAGE0 = {
    "activation_mib": 8828.918640, "model_states_mib": 17991.822968, "parameter_mib": 3271.240540,
    "gradient_mib": 1635.620270, "optimizer_mib": 9813.721619, "grad_accumulate_mib": 3271.240540,
    "total_mib": 26820.741608,
}
E2_STAGE1 = {"activation_mib": 4544.158142, "model_states_mib": 17991.865936, "total_mib": 22536.024078}
E2_FLAGS = ["--tp", "2", "--pp", "2", "--dp", "2", "--mbs", "1", "--chunks", "8", "--zero", "2", "--seq-length", "2048"]
TOLERANCE_MIB = 1e-6


def assert_close(stage: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert stage[key] == pytest.approx(value, abs=TOLERANCE_MIB), key


def run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_e1_api():
    profile = load_preset("llama3-8b")
    config = TrainingConfig()
    config.apply(**profile.config_defaults())
    loaded = (config.tp, config.pp, config.dp, config.chunks, config.seq_length, config.num_layers)
    assert loaded == (8, 1, 1, 8, 8192, 32)
    (stage,) = estimate_galvatron(config, profile).stages
    assert_close(stage.to_json(), E1)


def test_e1_cli(capsys):
    out = run_json(capsys, ["estimate", "--preset", "llama3-8b", "--json"])
    assert len(out["stages"]) == 1
    assert_close(out["stages"][0], E1)
    assert out["warnings"] == []


def test_e2_api():
    profile = load_profile(DATA / "main_memory_profiling_bf16_llama2-7b_all.json")
    assert profile.shape == "main"
    config = TrainingConfig()
    config.apply(num_layers=32, seq_length=2048, tp=2, pp=2, dp=2, micro_batch_size=1, chunks=8, zero_stage=2)
    stage0, stage1 = estimate_galvatron(config, profile).stages
    assert_close(stage0.to_json(), E2_STAGE0)
    assert_close(stage1.to_json(), E2_STAGE1)


@pytest.mark.parametrize("source", [
    ["--profile", str(DATA / "main_memory_profiling_bf16_llama2-7b_all.json"), "--layers", "32"],
    ["--preset", "llama2-7b"],
])
def test_e2_cli(capsys, source):
    out = run_json(capsys, ["estimate", *source, *E2_FLAGS, "--json"])
    assert [s["stage"] for s in out["stages"]] == [0, 1]
    assert_close(out["stages"][0], E2_STAGE0)
    assert_close(out["stages"][1], E2_STAGE1)
    assert out["peak_stage"] == 0
