"""Shareable links: a query string restores the same estimate, bad values are named, not applied."""

import pytest

from viz_app import url_state
from viz_app.i18n import t
from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset
from viz_app.session import ANALYTIC, Session
from viz_app.url_state import link_targets, parse_query, restore, serialize
from viz_app.view import View


def cli_like_total(preset: str, **values) -> float:
    profile = load_preset(preset)
    config = TrainingConfig()
    config.apply(**{**profile.config_defaults(), **values})
    return estimate_galvatron(config, profile).peak_stage.total_mib


def test_link_restores_preset_and_strategy_exactly():
    session, view = Session(), View()
    query = {"preset": "llama2-70b", "tp": "4", "pp": "4", "gpus": "32", "zero": "1", "ckpt": "true",
             "lang": "zh", "unit": "GiB", "gpu": "141"}
    assert restore(session, view, query) == []
    expected = cli_like_total("llama2-70b", tp=4, pp=4, total_gpus=32, zero_stage=1, checkpoint=True)
    assert session.estimate.peak_stage.total_mib == pytest.approx(expected, abs=1e-9)
    assert (view.lang, view.unit, view.gpu) == ("zh", "GiB", "141")


def test_bad_values_are_reported_and_the_rest_applies():
    session, view = Session(), View()
    ignored = restore(session, view, {"tp": "four", "mbs": "2", "zero": "7", "lang": "fr", "preset": "nope"})
    assert sorted(ignored) == [
        "lang=fr (expected one of en, zh, got 'fr')",
        "preset=nope (expected one of llama2-70b, llama2-7b, llama3-70b, llama3-8b, qwen2.5-32b, uploaded, got 'nope')",
        "tp=four (expected a whole number from 1 to 64, got 'four')",
        "zero=7 (expected a whole number from 0 to 3, got 7)",
    ]
    assert session.config.micro_batch_size == 2 and session.config.tp == 8 and view.lang == "en"


@pytest.mark.parametrize(("search", "refused"), [
    ("?tp=-1", "tp=-1 (expected a whole number from 1 to 64, got -1)"),  # not -1.0 (Panel's own parsing)
    ("?tp=99999999999", "tp=99999999999 (expected a whole number from 1 to 64, got 99999999999)"),
    ("?stage=999", "stage=999 (expected a whole number from 0 to 255, got 999)"),
    ("?pp=4&stage=4", "stage=4 (expected a stage from 0 to 3 (PP 4 has 4 stages), got 4)"),
    ("?mode=analytic&layers=30000&pp=30000&gpus=240000",
     "pp=30000 (expected a whole number from 1 to 256, got 30000); "
     "layers=30000 (expected a whole number from 1 to 1024, got 30000)"),
    ("?gib=nan", "gib=nan (expected a number from 1 to 4096, got nan)"),
    ("?fragmentation=1", ""),  # not a link key: not read
    ("?allocator_fragmentation=inf", "allocator_fragmentation=inf (expected a number from 0 to 1, got inf)"),
    ("?seq=" + "9" * 50_000, "seq=99999999999999999999999999999999…(50000 characters) (expected a whole number "
                             "from 1 to 16777216, got '9999999999999999999999999999999…(50002 characters))"),
])
def test_a_refused_link_value_is_named_with_the_clis_reason_and_changes_nothing(search, refused):
    session, view = Session(), View()
    before = session.config.values()
    assert t("msg.url_value", "en", name="x", value="y", reason="z") == "x=y (z)"
    refusals = restore(session, view, parse_query(search))
    assert t("msg.url_ignored", "en", keys=refusals).removeprefix(
        "Link values that could not be applied were ignored: ") == refused
    applied = {"total_gpus", "dp", "chunks", "pp"}  # the valid values beside the refused ones (and their coupling)
    unchanged = {k: v for k, v in before.items() if k not in applied}
    assert {k: session.config.values()[k] for k in unchanged} == unchanged
    assert "应为" in t("msg.url_ignored", "zh", keys=refusals) or not refused


def test_the_pp_80_link_applies_with_the_clis_numbers(cli_json):
    session, view = Session(), View()
    assert restore(session, view, parse_query("?preset=llama2-70b&pp=80&gpus=640")) == []
    expected = cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")["peak_total_mib"]
    assert session.problem == "" and session.estimate.peak_stage.total_mib == pytest.approx(expected, abs=1e-9)


def test_model_link_selects_analytic_mode_and_keeps_the_typed_sequence():
    session, view = Session(), View()
    assert restore(session, view, {"model": "qwen2.5-7b", "seq": "2048", "tp": "2", "recompute": "full"}) == []
    assert session.mode == ANALYTIC and session.arch.hidden_size == 3584
    assert (session.config.seq_length, session.config.tp, session.options.recompute) == (2048, 2, "full")
    assert session.problem == ""


def test_every_linked_value_round_trips_through_its_text():
    session, view = Session(), View()
    session.config.apply(tp=2, pp=2, checkpoint=True, sequence_parallel=False)
    query = {key: serialize(getattr(obj, name)) for obj, keys in link_targets(session, view)
             for key, name in keys.items()}
    fresh_session, fresh_view = Session(), View()
    assert restore(fresh_session, fresh_view, query) == []
    assert fresh_session.config.values() == session.config.values()
    assert fresh_session.options.values() == session.options.values()


def test_the_link_keeps_only_what_was_applied():
    """Refused and unknown keys leave the address bar (Panel could not parse a 5000-digit value again)."""
    query = parse_query("?tp=-1&pp=4&foo=1&seq=" + "9" * 5000)
    refused = restore(Session(), View(), query)
    assert url_state.accepted_search(query, refused) == "?pp=4"
    assert url_state.accepted_search({"tp": "x"}, restore(Session(), View(), {"tp": "x"})) == ""


@pytest.mark.parametrize(("query", "shown"), [
    ({}, False),
    ({"explore": "true"}, True),
    ({"explore": "false", "explore_gpus": "16"}, False),
    ({"explore_gpus": "16"}, True),  # a link from before the `explore` key: the explorer was always open
    ({"explore_seq": "2048", "tp": "2"}, True),
])
def test_the_explorer_opens_from_a_link_that_opens_it_or_carries_its_inputs(query, shown):
    view = View()
    assert restore(Session(), view, query) == []
    assert view.explore.shown is shown
    assert view.explore.gpus == int(query.get("explore_gpus", View().explore.gpus))
    assert url_state.accepted_search(query, []) == ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query
                                                    else "")
