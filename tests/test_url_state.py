"""Shareable links: a query string restores the same estimate, bad values are named, not applied."""

import pytest

from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset
from viz_app.session import ANALYTIC, Session
from viz_app.url_state import link_targets, restore, serialize
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
    assert sorted(ignored) == ["lang=fr", "preset=nope", "tp=four", "zero=7"]
    assert session.config.micro_batch_size == 2 and session.config.tp == 8 and view.lang == "en"


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
