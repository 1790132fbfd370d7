"""Galvatron strategy files (galvatron_config_*.json): parsing, per-layer estimates, bad files."""

from __future__ import annotations

import json

import pytest

from viz_app.cli import main
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import StrategyFileError
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.hybrid import estimate_strategy, strategy_config_values
from viz_app.model.galvatron.presets import load_preset
from viz_app.model.galvatron.strategy_file import is_strategy_file, parse_strategy_file

from .conftest import DATA

REFERENCE = DATA / "galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16.json"
DP_TYPE = {0: "ddp", 2: "zero2", 3: "zero3"}


def uniform_file(layers: int, tp: int, pp: int, zero: int, checkpoint: bool, gbs: int, chunks: int) -> dict:
    """What Galvatron's search engine writes when it gives every layer the same strategy."""
    def each(value: int) -> str:
        return ",".join([str(value)] * layers)

    return {
        "pp_deg": pp, "tp_sizes_enc": each(tp), "tp_consecutive_flags": each(1), "dp_types_enc": each(int(zero == 3)),
        "use_sp": each(0), "checkpoint": each(int(checkpoint)), "global_bsz": gbs, "chunks": chunks,
        "pp_division": ",".join([str(layers // pp)] * pp), "pipeline_type": "pipedream_flush",
        "default_dp_type": DP_TYPE[2 if zero == 3 else zero], "vtp": tp, "vsp": 0, "embed_sdp": int(zero == 3),
    }


def strategy_estimate(preset: str, content: dict | str, gpus: int, **global_values):
    profile = load_preset(preset)
    strategy = parse_strategy_file(content if isinstance(content, dict) else REFERENCE.read_bytes(), "s.json")
    config = TrainingConfig()
    config.apply(**profile.config_defaults(), total_gpus=gpus, **global_values)
    config.apply(**strategy_config_values(strategy, config.total_gpus, gpus_given=True))
    return config, estimate_strategy(config, profile, strategy)


@pytest.mark.parametrize(("preset", "tp", "pp", "gpus", "zero", "checkpoint", "gbs", "chunks"), [
    ("llama3-8b", 8, 1, 8, 0, False, 8, 8),
    ("llama3-8b", 2, 2, 8, 2, False, 16, 8),
    ("llama2-70b", 4, 4, 32, 3, True, 32, 16),
    ("llama2-7b", 1, 2, 8, 3, True, 16, 2),
])
def test_a_file_whose_layers_share_one_strategy_gives_the_plain_configurations_numbers(
        preset, tp, pp, gpus, zero, checkpoint, gbs, chunks):
    profile = load_preset(preset)
    layers = profile.model.num_layers
    plain = TrainingConfig()
    plain.apply(**profile.config_defaults(), tp=tp, pp=pp, total_gpus=gpus, global_batch_size=gbs, chunks=chunks,
                micro_batch_size=gbs // chunks // (gpus // tp // pp), zero_stage=zero, checkpoint=checkpoint)
    assert plain.constraint_notices() == []
    config, estimate = strategy_estimate(preset, uniform_file(layers, tp, pp, zero, checkpoint, gbs, chunks), gpus)
    assert config.values() == plain.values()
    expected = estimate_galvatron(plain, profile)
    assert estimate.stages == expected.stages  # every block, value and formula text, exactly
    assert [n.code for n in estimate.notices] == ["strategy_file"]  # the one notice: which layers run what
    assert expected.notices == ()


def test_the_reference_file_per_layer():
    """Layers 1-20 checkpointed, 21-32 not, tp 1 over 8 GPUs (dp 8, ZeRO-3), vocab on 2-way Ulysses."""
    config, estimate = strategy_estimate("llama2-7b", "reference", 8)
    assert (config.tp, config.dp, config.micro_batch_size, config.zero_stage) == (1, 8, 2, 3)
    (stage,) = estimate.stages
    blocks = {b.key: b for b in stage.blocks}
    # 20 layers x the profiled checkpoint (32 MiB per sample) x 2 samples per micro-batch (16 / 1 chunk / dp 8)
    assert blocks["activation.layers.1-20"].mib == 20 * 32.0 * 2 == 1280.0
    assert blocks["activation.layers.1-20"].count == 20
    variant = load_preset("llama2-7b").variant(True)
    act_tp1 = variant.layer_activation.mib_by_tp[1]
    assert blocks["activation.layers.21-32"].mib == 12 * act_tp1 * 2 == 12349.5234375
    assert blocks["activation.inflight"].mib == 0.0  # one stage: nothing else in flight
    # bf16 weights (P/2) of 32 layers and of the embedding/head (profiled at the vocab's tp 1 under Ulysses,
    # 4 bytes a weight), each ZeRO-3-sharded over 8 GPUs (vocab: dp 4 x Ulysses 2)
    head_fp32 = variant.other["pp_off"].model_states.mib_by_tp[1] / 4
    assert stage.parameter_mib == pytest.approx((32 * variant.parameter_mib + head_fp32) / 2 / 8)
    assert stage.total_mib == 26836.62158203125
    assert stage.model_states_mib == 12967.87158203125
    assert stage.gradient_mib == stage.parameter_mib  # ZeRO-3, one chunk: bf16 grads beside bf16 weights
    (notice,) = estimate.notices
    assert notice.values["layers"] == "1-20: tp 1, ZeRO 3, ckpt; 21-32: tp 1, ZeRO 3"
    assert stage.grad_accumulate_mib == 0.0  # one chunk: no accumulation buffer


def test_the_file_is_recognised_by_its_keys():
    assert is_strategy_file(json.loads(REFERENCE.read_text()))
    assert not is_strategy_file({"layertype_0": {}})


def mixed_file() -> dict:
    """32 layers on 2 stages; stage 0 mixes tp 2 (checkpointed) and tp 4, stage 1 is all tp 4."""
    content = uniform_file(32, 4, 2, 2, False, 32, 8)
    content["tp_sizes_enc"] = ",".join(["2"] * 6 + ["4"] * 26)
    content["checkpoint"] = ",".join(["1"] * 6 + ["0"] * 26)
    return content


def test_a_mixed_stage_sums_each_layer_groups_plain_numbers():
    profile = load_preset("llama3-8b")
    _, estimate = strategy_estimate("llama3-8b", mixed_file(), 16)
    first, second = estimate.stages
    assert [b.key for b in first.blocks if b.category == "activation"] == [
        "activation.layers.1-6", "activation.layers.7-16", "activation.inflight", "activation.other"]

    def plain(tp: int, checkpoint: bool) -> float:
        config = TrainingConfig()
        config.apply(**profile.config_defaults(), tp=tp, pp=2, total_gpus=16, chunks=8,
                     global_batch_size=32, micro_batch_size=32 // 8 // (16 // tp // 2), zero_stage=2,
                     checkpoint=checkpoint)
        stage0 = estimate_galvatron(config, profile).stages[0]
        return stage0.mib("activation.layers") / stage0.layers

    tp2_ckpt, tp4 = plain(2, True), plain(4, False)
    blocks = {b.key: b.mib for b in first.blocks}
    assert blocks["activation.layers.1-6"] == pytest.approx(6 * tp2_ckpt)
    assert blocks["activation.layers.7-16"] == pytest.approx(10 * tp4)
    # stage 0 of 2 under 1F1B holds 2 micro-batches: one more of the whole stage's layers
    assert blocks["activation.inflight"] == pytest.approx(6 * tp2_ckpt + 10 * tp4)
    assert second.mib("activation.layers") == pytest.approx(16 * tp4)
    assert tp2_ckpt < tp4  # the checkpointed layers hold only their inputs


def bad(change: dict) -> dict:
    return {**json.loads(REFERENCE.read_text()), **change}


@pytest.mark.parametrize(("change", "message"), [
    ({"checkpoint": "1,0"}, "'checkpoint' lists 2 layers, but tp_sizes_enc lists 32"),
    ({"dp_types_enc": ",".join(["2"] * 32)}, "key 'dp_types_enc': expected flags 0 or 1"),
    ({"tp_sizes_enc": ",".join(["3"] * 32)}, "key 'tp_sizes_enc': expected powers of two (1, 2, 4, ...), found 3"),
    ({"tp_sizes_enc": "a,b"}, "key 'tp_sizes_enc': expected comma-separated whole numbers"),
    ({"pp_division": "16,15"}, "pp_division 16,15 must have pp_deg = 1 positive entries summing to its 32 layers"),
    ({"pp_deg": 0}, "key 'pp_deg': expected a whole number of at least 1, found 0"),
    ({"pipeline_type": "zb"}, "key 'pipeline_type': expected pipedream_flush or gpipe, found 'zb'"),
    ({"default_dp_type": "zero1"}, "key 'default_dp_type': expected ddp or zero2 or zero3"),
    ({"global_bsz": None}, "key 'global_bsz': expected a whole number of at least 1, found null"),
])
def test_malformed_files_are_named_by_key(change, message):
    with pytest.raises(StrategyFileError, match="s.json: ") as info:
        parse_strategy_file(bad(change), "s.json")
    assert message in str(info.value)


def test_a_missing_key_is_named():
    content = bad({})
    del content["tp_sizes_enc"]
    content["pp_deg"] = 1
    with pytest.raises(StrategyFileError, match="s.json: missing key 'dp_types_enc'|tp_sizes_enc"):
        parse_strategy_file({k: v for k, v in content.items() if k != "dp_types_enc"}, "s.json")


@pytest.mark.parametrize(("preset", "change", "gpus", "message"), [
    ("llama3-70b", {}, 8, "s.json describes 32 layers, but profile 'llama3-70b' has 80"),
    ("llama2-7b", {"world_size": 16}, 8, "s.json was searched for world_size 16 GPUs, not 8"),
    ("llama2-7b", {"vtp": 4}, 6, "layer vocab: 6 GPUs do not divide into pp 1 x tp 4"),
    ("llama2-7b", {"tp_sizes_enc": ",".join(["4"] * 32)}, 6, "layer 1: 6 GPUs do not divide into pp 1 x tp 4"),
    ("llama2-7b", {"pp_deg": 2, "pp_division": "16,16"}, 8, "pipedream_flush needs at least pp = 2 chunks, got 1"),
    ("llama2-7b", {"global_bsz": 12}, 8, "layer 1: global_bsz 12 is not divisible by chunks 1 x dp 8"),
])
def test_files_that_do_not_fit_the_profile_or_the_gpus_are_refused(preset, change, gpus, message):
    with pytest.raises(StrategyFileError) as info:
        strategy_estimate(preset, bad(change), gpus)
    assert message in str(info.value)


def test_cli_strategy_file(capsys):
    assert main(["estimate", "--preset", "llama2-7b", "--gpus", "8", "--strategy-file", str(REFERENCE),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["peak_total_mib"] == 26836.62158203125
    assert out["strategy_file"]["name"] == REFERENCE.name
    assert out["strategy_file"]["content"]["checkpoint"].startswith("1,1,1")


@pytest.mark.parametrize(("argv", "message"), [
    (["--tp", "2"], "--tp: set by the strategy file"),
    (["--checkpoint"], "--checkpoint: set by the strategy file"),
    (["--gpus", "6"], "global_bsz 16 is not divisible by chunks 1 x dp 6"),
])
def test_cli_exits_2_on_a_clash_or_a_mismatch(capsys, argv, message):
    assert main(["estimate", "--preset", "llama2-7b", "--strategy-file", str(REFERENCE), *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_exits_2_on_a_bad_strategy_file(capsys, tmp_path):
    path = tmp_path / "galvatron_config_x.json"
    path.write_text(json.dumps(bad({"use_sp": "0,0"})))
    assert main(["estimate", "--preset", "llama2-7b", "--gpus", "8", "--strategy-file", str(path)]) == 2
    assert "galvatron_config_x.json: 'use_sp' lists 2 layers, but tp_sizes_enc lists 32" in capsys.readouterr().err


def test_the_treemap_details_number_each_layer_as_in_the_model():
    from viz_app.plots.parts import block_parts, detailed_parts

    _, estimate = strategy_estimate("llama3-8b", mixed_file(), 16)
    stage = estimate.stages[0]
    labels = [p.label for block in detailed_parts(stage, "en", "activation") for p in block]
    assert labels[:16] == [f"Layer {index}" for index in range(1, 17)]
    assert [p.label for p in block_parts(stage, "zh")][:2] == ["各层激活，第 1-6 层", "各层激活，第 7-16 层"]


def test_an_uploaded_strategy_file_applies_to_the_profile_and_a_hand_edit_leaves_it():
    from viz_app.session import Session

    session = Session(preset="llama2-7b")
    assert session.load_upload(REFERENCE.read_bytes(), REFERENCE.name)
    assert session.message.key == "msg.strategy_loaded" and session.message.values["kinds"] == 2
    assert session.estimate.peak_stage.total_mib == 26836.62158203125
    assert session.document()["strategy_file"]["name"] == REFERENCE.name
    session.config.tp = 2
    assert session.strategy is None
    assert session.estimate == estimate_galvatron(session.config, session.profile)


def test_a_strategy_file_that_does_not_fit_changes_nothing():
    from viz_app.session import Session

    session = Session(preset="llama3-70b")
    before = session.estimate
    assert not session.load_upload(REFERENCE.read_bytes(), REFERENCE.name)
    assert "describes 32 layers, but profile 'llama3-70b' has 80" in session.message.values["error"]
    assert session.strategy is None and session.estimate is before
