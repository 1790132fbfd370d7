"""Session: presets and uploads feed the estimate; bad input never destroys what the user had.

Expected numbers come from the CLI (`memviz estimate ... --json`) with the session's own
configuration, so the app and the command line are checked against each other.
"""

import json

import pytest

from viz_app.i18n import t
from viz_app.model.galvatron.presets import DEFAULT_PRESET, list_presets, preset_path
from viz_app.model.json_input import MAX_PROFILE_BYTES
from viz_app.session import UPLOADED, Session

from .conftest import DATA, cli_flags

MAIN_FILE = DATA / "main_memory_profiling_bf16_llama2-7b_all.json"
V2_FILE = DATA / "v2_bf16_qwen2.5-32b.json"


def _without_key(key: str) -> bytes:
    data = json.loads(preset_path(DEFAULT_PRESET).read_text())
    del data[key]
    return json.dumps(data).encode()


def snapshot(session: Session) -> tuple:
    """Everything a failed load or an impossible strategy must leave alone."""
    return session.preset, session.profile, session.config.values(), session.estimate, session.uploaded_name


@pytest.fixture
def session() -> Session:
    return Session()


def test_default_preset_gives_the_cli_total(session, cli_json):
    expected = cli_json("--preset", DEFAULT_PRESET)
    assert session.preset == DEFAULT_PRESET
    assert session.problem == ""
    assert session.message is None  # the first screen is a result, not a status line
    assert session.config.values() == expected["config"]
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected["peak_total_mib"], rel=1e-12)
    assert [s.total_mib for s in session.estimate.stages] == pytest.approx(
        [s["total_mib"] for s in expected["stages"]], rel=1e-12)


@pytest.mark.parametrize(("data", "error"), [
    (b"{not json", "bad.json: not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)"),
    (_without_key("other_memory_pp_on_last_sp"), "bad.json: missing key 'other_memory_pp_on_last_sp'"),
    (b"{}" + b" " * (MAX_PROFILE_BYTES - 1), "bad.json: file is 16.0 MiB; memory profiles are at most 16 MiB"),
], ids=["malformed-json", "missing-key", "oversized"])
def test_bad_upload_keeps_everything_and_says_why(session, data, error):
    session.config.tp = 4  # a user change that must survive the failed load
    before = snapshot(session)
    assert session.load_upload(data, "bad.json") is False
    assert snapshot(session) == before
    assert session.config.tp == 4
    assert session.message.kind == "error"
    assert session.message.key == "msg.upload_failed"
    assert session.message.values["error"].startswith(error)


def test_oversized_limit_is_exclusive(session):
    """A file of exactly MAX_PROFILE_BYTES is parsed (and fails as JSON content, not by size)."""
    assert session.load_upload(b"{}" + b" " * (MAX_PROFILE_BYTES - 2), "edge.json") is False
    # Not a profile (no layertype_N keys), so it is read as a model config, and refused as one.
    assert "edge.json: unrecognised model config" in session.message.values["error"]


@pytest.mark.parametrize(("path", "shape", "layers", "seq"), [
    (MAIN_FILE, "main", 32, 2048),  # no model_config: the session keeps llama3-8b's 32 layers
    (V2_FILE, "v2", 64, 8192),
])
def test_valid_upload_updates_profile_and_estimate(session, cli_json, path, shape, layers, seq):
    old_profile = session.profile
    assert session.load_upload(path.read_bytes(), path.name) is True
    assert session.preset == UPLOADED
    assert session.uploaded_name == path.name
    assert session.profile is not old_profile and session.profile.shape == shape
    assert (session.config.num_layers, session.config.seq_length) == (layers, seq)
    assert session.message.kind == "success"
    assert session.message.key == "msg.upload_loaded"
    assert session.message.values == {"name": path.name, "shape": shape, "layers": layers, "seq": seq}
    expected = cli_json("--profile", str(path), *cli_flags(session.config.values()))
    assert session.problem == ""
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected["peak_total_mib"], rel=1e-12)


def test_upload_replaces_model_facts(session):
    assert session.profile.model.hidden_size == 4096  # llama3-8b
    session.load_upload(V2_FILE.read_bytes(), V2_FILE.name)
    facts = session.profile.model
    assert (facts.hidden_size, facts.num_layers) == (5120, 64)  # Qwen2.5-32B


def test_bad_upload_after_a_good_one_keeps_the_upload(session):
    session.load_upload(V2_FILE.read_bytes(), V2_FILE.name)
    before = snapshot(session)
    assert session.load_upload(b"[1]", "list.json") is False
    assert snapshot(session) == before
    assert session.message.values["error"] == "list.json: expected a JSON object at the top level, found a list"


def test_errors_read_in_the_page_language_and_stay_english_for_the_cli(session):
    """The model's messages carry their catalog key: the Chinese page shows them in Chinese."""
    session.load_upload(b'{"layertype_0": {"2048": []}}', "bad.json")
    error = session.message.values["error"]
    assert error == "bad.json: key 'layertype_0.2048': expected an object, found a list"
    assert t(session.message.key, "zh", **session.message.values) == (
        "无法加载此文件，当前配置未改变：bad.json：键 'layertype_0.2048' 应为对象，实际为列表")
    layers = session.config.num_layers
    session.config.pp = layers + 1
    assert t("msg.strategy_error", "zh", error=session.problem) == (
        f"无法估算该策略：PP {layers + 1} 大于模型的 {layers} 层：会有流水线阶段为空。图表显示上一个有效策略。")
    assert t("msg.strategy_error", "en", error=session.problem) == (
        f"This strategy cannot be estimated: PP {layers + 1} is more than the model's {layers} layers: a stage "
        "would be empty. The charts show the last valid strategy.")


def test_pp_beyond_layers_sets_problem_and_keeps_last_estimate(session, cli_json):
    last = session.estimate
    layers = session.config.num_layers
    session.config.pp = layers + 1
    assert session.problem == f"PP {layers + 1} is more than the model's {layers} layers: a stage would be empty"
    assert session.estimate is last
    session.config.pp = 2
    assert session.problem == ""
    expected = cli_json("--preset", DEFAULT_PRESET, *cli_flags(session.config.values()))
    assert [s.total_mib for s in session.estimate.stages] == pytest.approx(
        [s["total_mib"] for s in expected["stages"]], rel=1e-12)


def test_sequence_parallel_off_on_an_sp_only_profile_sets_problem(session):
    last = session.estimate
    session.config.sequence_parallel = False
    assert "was measured with sequence parallel only" in session.problem
    assert session.estimate is last
    session.config.sequence_parallel = True
    assert session.problem == ""
    assert session.estimate.peak_stage.total_mib == pytest.approx(last.peak_stage.total_mib, rel=1e-12)


def test_extrapolated_tp_is_estimated_and_noticed(session, cli_json):
    session.config.tp = 16  # llama3-8b was profiled up to TP 8; Galvatron halves to reach 16
    expected = cli_json("--preset", DEFAULT_PRESET, *cli_flags(session.config.values()))
    assert session.problem == ""
    assert "tp_extrapolated" in {n.code for n in session.estimate.notices}
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected["peak_total_mib"], rel=1e-12)


@pytest.mark.parametrize("name", [p for p in list_presets() if p != DEFAULT_PRESET])
def test_preset_switch_loads_it_at_once(session, cli_json, name):
    session.config.micro_batch_size = 2  # strategy choices carry over to the new model
    session.preset = name
    expected = cli_json("--preset", name)
    assert session.message.kind == "success" and session.message.values == {"name": name}
    assert session.profile.name == name
    assert session.config.micro_batch_size == 2
    assert session.config.num_layers == expected["config"]["num_layers"]
    assert session.config.seq_length == expected["config"]["seq_length"]
    with_session_strategy = cli_json("--preset", name, *cli_flags(session.config.values()))
    assert session.estimate.peak_stage.total_mib == pytest.approx(with_session_strategy["peak_total_mib"], rel=1e-12)


def test_preset_after_upload_drops_the_uploaded_profile(session, cli_json):
    session.load_upload(V2_FILE.read_bytes(), V2_FILE.name)
    session.preset = DEFAULT_PRESET
    assert session.profile.name == DEFAULT_PRESET
    assert session.config.num_layers == 32
    expected = cli_json("--preset", DEFAULT_PRESET, *cli_flags(session.config.values()))
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected["peak_total_mib"], rel=1e-12)


def test_moe_model_with_expert_parallelism_matches_the_cli(session, cli_json):
    session.model = "mixtral-8x7b"
    session.config.apply(tp=2, total_gpus=16, ep=8)
    assert session.problem == ""
    expected = cli_json("--model", "mixtral-8x7b", *cli_flags(session.config.values()))
    assert [s.total_mib for s in session.estimate.stages] == pytest.approx(
        [s["total_mib"] for s in expected["stages"]], rel=1e-12)
    assert "model_states.optimizer.experts" in {b.key for b in session.estimate.stages[0].blocks}
    last = session.estimate
    session.config.ep = 3
    assert session.problem == "EP 3 does not divide the model's 8 experts"
    assert session.estimate is last
