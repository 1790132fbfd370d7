"""Every class of bad input from issue 16 ends in exit 2 and one line naming the file and key, never a traceback.

The files are built from the bundled presets with one value made absurd, as a user would get them
from a colleague or the internet.
"""

from __future__ import annotations

import copy
import json
import math

import pytest

from viz_app import cli
from viz_app.model import limits
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import MemvizError
from viz_app.model.result import Block, Estimate, EstimateError, StageEstimate

from .conftest import ROOT

HF = json.loads((ROOT / "presets/analytic/llama-3-8b.json").read_text())
PROFILE = json.loads((ROOT / "presets/galvatron_bf16_llama3-8b.json").read_text())
META = {"dim": 4096, "n_heads": 32, "n_layers": 32, "vocab_size": 32000}


def _profile_with(change) -> dict:
    profile = copy.deepcopy(PROFILE)
    change(profile)
    return profile


def _set_seq_key(profile: dict, key: str) -> None:
    layer = profile["layertype_0_sp"]
    layer[key] = layer.pop(next(iter(layer)))


# (file name, flag, content, what the one line must say)
BAD_FILES = [
    ("hidden.json", "--model-config", json.dumps(HF).replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 401),
     "hidden.json: key 'hidden_size': the number 999999999999…(401 characters) has more than 30 digits"),
    ("kv0.json", "--model-config", {**HF, "num_key_value_heads": 0},
     "'num_kv_heads' must be a positive integer, got 0"),
    ("kvstr.json", "--model-config", {**HF, "num_key_value_heads": "8"}, "'num_kv_heads' must be a positive integer"),
    ("dropnull.json", "--model-config", {**HF, "attention_dropout": None}, "'attention_dropout' must be a number"),
    ("dropabc.json", "--model-config", {**HF, "attention_dropout": "abc"}, "got 'abc'"),
    ("multiple0.json", "--model-config", {**META, "multiple_of": 0}, "'multiple_of' must be a positive integer, got 0"),
    ("multiplestr.json", "--model-config", {**META, "multiple_of": "x"}, "'multiple_of' must be a positive integer"),
    ("dimstr.json", "--model-config", {**META, "dim": "4096"}, "'dim' must be a positive integer, got '4096'"),
    ("layers.json", "--model-config", json.dumps(META).replace('"n_layers": 32', '"n_layers": ' + "9" * 5000),
     "layers.json: key 'n_layers': the number"),
    ("hugelayers.json", "--model-config", {**HF, "num_hidden_layers": 10**12},
     "'num_layers': expected a whole number from 1 to 1024, got 1000000000000"),
    ("hugehidden.json", "--model-config", {**HF, "hidden_size": 2**40},
     "'hidden_size': expected a whole number from 1"),
    ("hugetype.json", "--model-config", {**HF, "model_type": "x" * 5000}, "model_type 'xxxxxxxxxxxxxxxx"),
    ("nan.json", "--model-config", json.dumps(HF).replace('"num_key_value_heads": 8', '"num_key_value_heads": NaN'),
     "nan.json: key 'num_key_value_heads': nan is not a finite number"),
    ("deep.json", "--model-config", "[" * 20000 + "]" * 20000, "deep.json: JSON nested more than 64 levels deep"),
    ("empty.json", "--profile", "", "empty.json: the file is empty"),
    ("sup2.json", "--profile", _profile_with(lambda p: _set_seq_key(p, "²")),
     "sup2.json: key 'layertype_0_sp.²': expected a sequence-length key"),
    ("seq.json", "--profile", _profile_with(lambda p: _set_seq_key(p, "9" * 40)), "expected a sequence-length key"),
    ("hugeseq.json", "--profile", _profile_with(lambda p: _set_seq_key(p, str(2**30))),
     "'layertype_0_sp.1073741824': expected a whole number from 1 to 16777216"),
    ("e308.json", "--profile", _profile_with(lambda p: p["layertype_0_sp"]["8192"].update(parameter_size=1e308)),
     "e308.json: 'layertype_0_sp.8192.parameter_size': expected a number from 0 to 1073741824, got 1e+308"),
    ("tpkey.json", "--profile",
     _profile_with(lambda p: p["other_memory_pp_off_sp"]["8192"]["activation"].update({"128": 1.0})),
     "'other_memory_pp_off_sp.8192.activation.128': expected a whole number from 1 to 64, got 128"),
    ("profilelayers.json", "--profile", _profile_with(lambda p: p["model_config"].update(n_layers=10**9)),
     "'model_config.n_layers': expected a whole number from 1 to 1024"),
]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's refusals
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_bad_input(code: int, err: str, expected: str) -> None:
    assert code == cli.EXIT_BAD_INPUT, err
    assert err.startswith("memviz: error: ") and err.count("\n") == 1, err
    assert expected in err
    assert "Traceback" not in err and len(err) < 400


@pytest.mark.parametrize(("name", "flag", "content", "expected"), BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_file_is_exit_2_with_one_line_naming_file_and_key(tmp_path, capsys, name, flag, content, expected):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    code, out, err = _run(["estimate", flag, str(path), "--json"], capsys)
    _one_line_bad_input(code, err, expected)
    assert out == ""


@pytest.mark.parametrize(("argv", "expected"), [
    (["--profile", "/dev/zero"], "zero: file is 16.0 MiB; memory profiles are at most 16 MiB"),
    (["--profile", "{tmp}"], "cannot read the file (a folder, not a file)"),
    (["--model-config", "{tmp}"], "cannot read the file (a folder, not a file)"),
    (["--profile", "{tmp}/missing.json"], "missing.json: cannot read the file"),
    (["--preset", "llama3-8b", "--tp", "99999999999"], "argument --tp: expected a whole number from 1 to 64"),
    (["--preset", "llama3-8b", "--tp", "-1"], "argument --tp: expected a whole number from 1 to 64, got -1 "),
    (["--preset", "llama3-8b", "--pp", "30000"], "argument --pp: expected a whole number from 1 to 256, got 30000"),
    (["--preset", "llama3-8b", "--gpus", "2e6"], "argument --gpus: expected a whole number from 1 to 1048576"),
    (["--model", "llama-3-8b", "--layers", "30000"], "argument --layers: expected a whole number from 1 to 1024"),
    (["--model", "llama-3-8b", "--seq-length", "9" * 5000], "argument --seq-length: expected a whole number"),
    (["--model", "llama-3-8b", "--cuda-context-mib", "inf"], "argument --cuda-context-mib: expected a number"),
    (["--model", "llama-3-8b", "--nccl-mib", "1e308"], "argument --nccl-mib: expected a number from 0 to 1048576"),
    (["--model", "llama-3-8b", "--virtual-stages", "0"], "argument --virtual-stages: expected a whole number"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_a_bad_path_or_flag_is_exit_2_with_one_line(tmp_path, capsys, argv, expected):
    code, out, err = _run(["estimate", *(a.replace("{tmp}", str(tmp_path)) for a in argv)], capsys)
    _one_line_bad_input(code, err, expected)
    assert out == ""


def test_the_pp_80_link_is_a_valid_strategy(cli_json):
    document = cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")
    assert len(document["stages"]) == 80 and document["config"]["dp"] == 1
    assert document["peak_stage"] == 0 and document["peak_total_mib"] > 0


def test_one_refused_value_changes_nothing():
    config = TrainingConfig()
    before = config.values()
    with pytest.raises(MemvizError, match="'pp': expected a whole number from 1 to 256, got 30000"):
        config.apply(tp=2, pp=30000, total_gpus=16)
    assert config.values() == before


def test_derived_values_stop_at_their_limit():
    """Typing a huge chunk count makes GBS follow it only up to GBS's own limit; the mismatch is a notice."""
    config = TrainingConfig()
    config.micro_batch_size = 2**16
    config.chunks = 2**30
    assert config.global_batch_size == limits.LIMITS["global_batch_size"].high
    assert [n.code for n in config.constraint_notices()] == ["gbs_mismatch"]


@pytest.mark.parametrize("mib", [math.inf, math.nan, -1.0])
def test_an_estimate_with_a_size_no_chart_can_show_is_refused(mib):
    blocks = (Block("activation.layers", "activation", 10.0), Block("model_states.parameter", "model_states", mib))
    with pytest.raises(EstimateError, match=r"model_states.parameter of stage 0 came out as"):
        Estimate("galvatron", (StageEstimate(0, 1, blocks),))


def test_every_limit_is_a_parameter_bound_the_page_uses():
    """The widgets read parameters' bounds: each limit is the bound of the parameter of that name."""
    from viz_app.model.analytic import AnalyticOptions
    from viz_app.model.analytic.architecture import Architecture

    owners = [TrainingConfig, Architecture, AnalyticOptions]
    checked = 0
    for name, limit in limits.LIMITS.items():
        for owner in owners:
            if name in owner.param:
                assert owner.param[name].bounds == (limit.low, limit.high), name
                checked += 1
    assert checked == 53


def test_long_values_are_cut_in_messages():
    assert limits.shown("x" * 50_000) == "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…(50002 characters)"
    assert limits.shown(10**5000) == "…(~5001 digits)"
    assert limits.shown(-1) == "-1"

