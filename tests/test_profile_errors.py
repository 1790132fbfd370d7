"""Every class of malformed profile gets one specific message naming file, key and expectation."""

import copy
import json

import pytest

from viz_app.cli import main
from viz_app.model import json_input
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import ProfileError, StrategyError
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset, preset_path
from viz_app.model.galvatron.profile import load_profile, parse_profile

from .conftest import DATA

V1 = json.loads(preset_path("llama3-8b").read_text())


def broken(edit) -> dict:
    data = copy.deepcopy(V1)
    edit(data)
    return data


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "x.json: not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)"),
    (b"\xff\xfe\x00garbage", "x.json: not a text file (expected UTF-8 JSON)"),
    (b"[1, 2]", "x.json: expected a JSON object at the top level, found a list"),
    ({"hello": 1}, "x.json: no 'layertype_0_sp' or 'layertype_0' key; this is not a Galvatron memory profile"),
    (broken(lambda d: d.pop("other_memory_pp_on_last_sp")), "x.json: missing key 'other_memory_pp_on_last_sp'"),
    (broken(lambda d: d["layertype_0_sp"]["8192"].pop("parameter_size")),
     "x.json: missing key 'layertype_0_sp.8192.parameter_size' (a size in MiB)"),
    (broken(lambda d: d["layertype_0_sp"]["8192"].update(parameter_size="big")),
     "x.json: key 'layertype_0_sp.8192.parameter_size': expected a number of MiB, found a string"),
    (broken(lambda d: d["layertype_0_sp"]["8192"]["tp_activation_per_bsz_dict"].update({"2": -1.0})),
     "x.json: key 'layertype_0_sp.8192.tp_activation_per_bsz_dict.2': expected a finite, non-negative number"),
    (b'{"layertype_0_sp": {"8192": {"parameter_size": NaN}}}',
     "x.json: key 'layertype_0_sp.8192.parameter_size': nan is not a finite number"),
    (b'{"layertype_0_sp": {"8192": {"parameter_size": 1e999}}}',
     "x.json: key 'layertype_0_sp.8192.parameter_size': inf is not a finite number"),
    (b'{"model_config": {"n_layers": ' + b"3" * 5000 + b"}}",
     "x.json: key 'model_config.n_layers': the number 333333333333…(5000 characters) has more than 30 digits"),
    (b"[" * 20000 + b"]" * 20000, "x.json: JSON nested more than 64 levels deep"),
    (b"", "x.json: the file is empty"),
    (b"\n \t", "x.json: the file is empty"),
    (broken(lambda d: d["layertype_0_sp"]["8192"]["tp_activation_per_bsz_dict"].pop("checkpoint")),
     "x.json: missing key 'layertype_0_sp.8192.tp_activation_per_bsz_dict.checkpoint'"),
    (broken(lambda d: d["layertype_0_sp"]["8192"]["tp_activation_per_bsz_dict"].update({"two": 1.0})),
     "x.json: key 'layertype_0_sp.8192.tp_activation_per_bsz_dict.two': expected a tensor-parallel degree key"),
    (broken(lambda d: d.update(layertype_0_sp={"long": {}})),
     "x.json: key 'layertype_0_sp.long': expected a sequence-length key"),
    (broken(lambda d: d.update(layertype_0_sp=[])), "x.json: key 'layertype_0_sp': expected an object keyed by"),
    (broken(lambda d: d["other_memory_pp_off_sp"]["8192"].pop("activation")),
     "x.json: missing key 'other_memory_pp_off_sp.8192.activation'"),
    (broken(lambda d: d["other_memory_pp_off_sp"]["8192"].update(model_states=3)),
     "x.json: key 'other_memory_pp_off_sp.8192.model_states': expected an object, found a number"),
    (broken(lambda d: d["model_config"].update(n_layers="32")),
     "x.json: key 'model_config.n_layers': expected a positive whole number, found a string"),
    ({"memory_profiling": "oops"},
     "x.json: key 'memory_profiling': expected an object of profiled keys, found a string"),
])
def test_malformed_profile_message(data, message):
    with pytest.raises(ProfileError) as info:
        parse_profile(data, "x.json")
    assert str(info.value).startswith(message)


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(json_input, "MAX_PROFILE_BYTES", 1000)
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2000)
    with pytest.raises(ProfileError, match=r"^huge.json: file is 0.0 MiB; memory profiles are at most 0 MiB"):
        load_profile(path)
    with pytest.raises(ProfileError, match=r"^upload.json: file is"):
        parse_profile(b" " * 2000, "upload.json")


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match=r"nope.json: cannot read the file \(No such file or directory\)"):
        load_profile(tmp_path / "nope.json")


def test_three_shapes_parse_to_the_same_numbers():
    v1 = load_preset("qwen2.5-32b")
    v2 = load_profile(DATA / "v2_bf16_qwen2.5-32b.json")
    main_branch = load_profile(DATA / "main_memory_profiling_bf16_llama2-7b_all.json")
    assert (v1.shape, v2.shape, main_branch.shape) == ("v1", "v2", "main")
    assert v2.model.num_layers == 64
    assert main_branch.model.num_layers is None  # no model_config: layers must come from the user
    # v2 forgets to set seq_length from the profile; we do it for every shape.
    assert v2.default_seq_length == v2.variants[True].seq_length


def test_profile_without_model_config_needs_layers(capsys):
    path = str(DATA / "main_memory_profiling_bf16_llama2-7b_all.json")
    assert main(["estimate", "--profile", path]) == 2
    assert "has no model_config.n_layers: give the number of layers with --layers N" in capsys.readouterr().err
    assert main(["estimate", "--profile", path, "--layers", "32"]) == 0


@pytest.fixture
def llama3_8b():
    profile = load_preset("llama3-8b")
    config = TrainingConfig()
    config.apply(**profile.config_defaults())
    return config, profile


def test_unprofiled_tp_is_extrapolated_by_halving(llama3_8b):
    config, profile = llama3_8b
    config.apply(tp=16, total_gpus=16)
    estimate = estimate_galvatron(config, profile)
    layer = profile.variants[True].layer_activation.mib_by_tp[8] / 2
    assert estimate.stages[0].mib("activation.layers") == pytest.approx(32 * layer)
    assert [n.code for n in estimate.notices] == ["tp_extrapolated"]


def test_tp_that_halving_cannot_reach_lists_available(llama3_8b):
    config, profile = llama3_8b
    config.tp = 3
    expected = r"^profile 'llama3-8b' has no measurements for TP 3; available: 1, 2, 4, 8$"
    with pytest.raises(StrategyError, match=expected):
        estimate_galvatron(config, profile)


def test_no_halving_without_sequence_parallel():
    data = json.loads(json.dumps(V1).replace("_sp\"", "\""))
    profile = parse_profile(data, "nosp.json")
    config = TrainingConfig()
    config.apply(**profile.config_defaults())
    assert config.sequence_parallel is False
    config.tp = 16
    with pytest.raises(StrategyError, match=r"no measurements for TP 16; available: 1, 2, 4, 8 \(without sequence"):
        estimate_galvatron(config, profile)


def test_sequence_parallel_off_with_sp_only_profile(llama3_8b, capsys):
    config, profile = llama3_8b
    config.sequence_parallel = False
    with pytest.raises(StrategyError, match=r"measured with sequence parallel only"):
        estimate_galvatron(config, profile)
    assert main(["estimate", "--preset", "llama3-8b", "--no-sequence-parallel"]) == 2
    assert "turn sequence parallel on" in capsys.readouterr().err


def test_more_stages_than_layers(llama3_8b, capsys):
    config, profile = llama3_8b
    config.apply(num_layers=2, pp=4)
    with pytest.raises(StrategyError, match=r"^PP 4 is more than the model's 2 layers"):
        estimate_galvatron(config, profile)


def test_cli_bad_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["estimate", "--preset", "llama3-8b", "--tp", "zero"])
    assert info.value.code == 2
    assert "argument --tp: expected a whole number from 1 to 64, got 'zero'" in capsys.readouterr().err
    assert main(["estimate", "--preset", "gpt-5"]) == 2
    assert "unknown preset 'gpt-5'; available: llama2-70b, llama2-7b, llama3-70b, llama3-8b, qwen2.5-32b" in (
        capsys.readouterr().err
    )


def test_cli_malformed_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"layertype_0_sp": {"2048": {}}}')
    assert main(["estimate", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == "memviz: error: bad.json: missing key 'layertype_0_sp.2048.parameter_size' (a size in MiB)\n"


def test_a_file_that_reports_no_size_is_read_only_up_to_the_limit(capsys):
    # /dev/zero claims 0 bytes and never ends: the limit is on the bytes read
    assert main(["estimate", "--profile", "/dev/zero"]) == 2
    assert capsys.readouterr().err == ("memviz: error: zero: file is 16.0 MiB; memory profiles are at most 16 MiB "
                                       "(is this the right file?)\n")


def test_a_folder_is_not_a_profile(tmp_path, capsys):
    assert main(["estimate", "--profile", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"memviz: error: {tmp_path.name}: cannot read the file (a folder, not a file)\n"
