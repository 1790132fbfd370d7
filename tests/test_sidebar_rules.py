"""The sidebar shows what the model layer decides: the estimate's notices, the shared division parser."""

from __future__ import annotations

from viz_app.i18n import t
from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset
from viz_app.session import Session
from viz_app.ui.sidebar import Sidebar, _notices_html
from viz_app.view import View


def mismatched_estimate():
    profile, config = load_preset("llama3-8b"), TrainingConfig()
    config.apply(**profile.config_defaults(), tp=4, total_gpus=6, global_batch_size=16, chunks=4)
    return config, estimate_galvatron(config, profile)  # 4 x 1 x 1 != 6 GPUs, 1 x 1 x 4 != 16 samples


def test_notices_are_the_estimates_own():
    config, estimate = mismatched_estimate()
    assert [n.code for n in estimate.notices] == ["gpus_mismatch", "gbs_mismatch"]
    shown = _notices_html(config, estimate, "", "en")
    assert shown.count('class="memviz-warning"') == len(estimate.notices)
    assert "TP × PP × DP = 4 × 1 × 1 = 4, but Total GPUs = 6" in shown


def test_while_the_strategy_fails_the_configs_warnings_show_with_the_error():
    config, estimate = mismatched_estimate()
    with config.coupling_paused():  # an edit the estimate shown has not seen
        config.total_gpus = 4
    shown = _notices_html(config, estimate, "PP 40 is more than the model's 32 layers", "en")
    assert "Total GPUs" not in shown and "MBS × DP × Chunks" in shown
    assert 'class="memviz-error"' in shown


def test_division_field_uses_the_model_layers_parser():
    session = Session()
    sidebar = Sidebar(session, View().param.lang)
    sidebar._set_pp_division(" 16, 16")
    assert session.options.pp_division == [16, 16]
    sidebar._set_pp_division("16,x")
    assert session.options.pp_division == [16, 16]  # bad text is reported, not applied
    message = session.message
    assert (message.kind, message.key) == ("error", "msg.pp_division_bad")
    assert t(message.key, "en", **message.values) == (
        "Layers per stage not applied: expected layers per stage like 8,8,8,8 (expected a whole number, got 'x')")
    sidebar._set_pp_division("")
    assert session.options.pp_division is None
