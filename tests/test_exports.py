"""Exports: the estimate as CSV (CLI and app), and the downloaded JSON read back into the same state."""

from __future__ import annotations

import csv
import io
import json

import pytest

from viz_app.cli import main
from viz_app.model.analytic.frameworks import apply_options
from viz_app.model.csv_export import ESTIMATE_COLUMNS, csv_text, estimate_csv
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.session import Session

from .conftest import DATA

STRATEGY_FILE = DATA / "galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16.json"


def test_csv_text_quotes_what_needs_quoting():
    assert csv_text(["a", "b"], [[1, "x, y"], [2.5, 'say "hi"']]) == 'a,b\n1,"x, y"\n2.5,"say ""hi"""\n'


def test_the_estimate_csv_has_every_block_and_sums_to_each_stage_total():
    session = Session(preset="llama3-8b")
    session.config.apply(tp=2, pp=2, total_gpus=8)
    rows = list(csv.DictReader(io.StringIO(estimate_csv(session.estimate))))
    assert tuple(rows[0]) == ESTIMATE_COLUMNS
    assert len(rows) == sum(len(s.blocks) for s in session.estimate.stages) == 14
    for stage in session.estimate.stages:
        mine = [r for r in rows if r["stage"] == str(stage.stage)]
        assert sum(float(r["mib"]) for r in mine) == pytest.approx(stage.total_mib, rel=1e-15)
    first = rows[0]
    assert (first["block"], first["category"], first["layers"], first["count"]) == (
        "activation.layers", "activation", "16", "16")
    assert float(first["mib"]) == 11817.0078125  # 16 layers x the profiled activation at tp 2
    assert first["formula"] == "16 layers x act[tp=2] x r 1 x mbs 1"


def test_cli_csv_is_the_same_document(capsys):
    assert main(["estimate", "--preset", "llama3-8b", "--tp", "2", "--pp", "2", "--gpus", "8", "--csv"]) == 0
    session = Session(preset="llama3-8b")
    session.config.apply(tp=2, pp=2, total_gpus=8)
    assert capsys.readouterr().out == estimate_csv(session.estimate)


def test_cli_csv_and_json_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        main(["estimate", "--preset", "llama3-8b", "--csv", "--json"])
    assert info.value.code == 2


def round_trip(session: Session, into: Session | None = None) -> Session:
    document = session.document()
    restored = into or Session()
    assert restored.load_upload(json.dumps(document, indent=2).encode(), "memviz-estimate.json")
    assert restored.message.key == "msg.saved_restored"
    assert restored.document() == document
    return restored


def test_galvatron_state_round_trips():
    session = Session(preset="llama2-70b")
    session.config.apply(tp=4, pp=4, total_gpus=32, zero_stage=1, checkpoint=True, chunks=16, stage=2)
    restored = round_trip(session)
    assert (restored.mode, restored.preset) == ("galvatron", "llama2-70b")
    assert restored.config.values() == session.config.values()


def test_contradicting_values_round_trip_verbatim():
    """Galvatron keeps contradicting values (with a warning); so does the restored state."""
    session = Session(preset="llama3-8b")
    session.config.apply(tp=2, dp=3, total_gpus=8)
    assert [n.code for n in session.estimate.notices] == ["gpus_mismatch", "gbs_mismatch"]
    assert round_trip(session).config.values() == session.config.values()


def test_analytic_state_round_trips_with_edited_architecture_and_options():
    session = Session(mode="analytic", model="llama-3-70b")
    apply_options(session.options, {"framework": "torchtitan", "recompute": "selective"})
    session.arch.num_layers = 40
    session.config.apply(tp=8, pp=4, total_gpus=64, zero_stage=3, num_layers=40)
    restored = round_trip(session)
    assert (restored.mode, restored.model, restored.arch.num_layers) == ("analytic", "llama-3-70b", 40)
    assert restored.options.values() == session.options.values()


def test_a_strategy_file_state_round_trips():
    session = Session(preset="llama2-7b")
    assert session.load_upload(STRATEGY_FILE.read_bytes(), STRATEGY_FILE.name)
    restored = round_trip(session)
    assert restored.strategy is not None and restored.strategy.name == STRATEGY_FILE.name
    assert restored.estimate.peak_stage.total_mib == 26836.62158203125


def test_an_uploaded_profiles_state_restores_while_that_profile_is_loaded():
    profile = (DATA / "v2_bf16_qwen2.5-32b.json").read_bytes()
    session = Session()
    assert session.load_upload(profile, "v2.json")
    session.config.apply(tp=4)
    loaded = Session()
    assert loaded.load_upload(profile, "v2.json")
    round_trip(session, into=loaded)
    elsewhere = Session()
    before = elsewhere.estimate
    assert not elsewhere.load_upload(json.dumps(session.document()).encode(), "e.json")
    assert "saved with profile 'v2.json', which is neither bundled nor loaded" in elsewhere.message.values["error"]
    assert elsewhere.estimate is before


@pytest.mark.parametrize(("change", "message"), [
    ({"mode": "magic"}, "e.json: key 'mode': expected galvatron or analytic, found 'magic'"),
    ({"config": {"tp": 2, "warp": 9}}, "e.json: key 'config.warp': expected"),
    ({"config": {"tp": 0}}, "tp"),
    ({"config": []}, "e.json: key 'config': expected an object of configuration values, found a list"),
])
def test_a_broken_saved_estimate_changes_nothing(change, message):
    session = Session()
    document = {**session.document(), **change}
    other = Session(preset="llama2-70b")
    before = other.estimate
    assert not other.load_upload(json.dumps(document).encode(), "e.json")
    assert message in other.message.values["error"]
    assert other.estimate is before and other.preset == "llama2-70b"


def test_the_estimate_of_a_plain_saved_state_is_recomputed_not_read():
    session = Session(preset="llama3-8b")
    document = session.document()
    document["peak_total_mib"] = 1.0
    restored = Session(preset="llama2-70b")
    assert restored.load_upload(json.dumps(document).encode(), "e.json")
    assert restored.estimate == estimate_galvatron(session.config, session.profile)
