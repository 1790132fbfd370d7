"""Galvatron's coupling rules and constraint warnings on the shared config class."""

import pytest

from viz_app.model.config import TrainingConfig, nearest_at_most


def test_defaults_match_galvatron_before_a_file_is_loaded():
    c = TrainingConfig()
    assert (c.tp, c.dp, c.pp, c.total_gpus, c.micro_batch_size, c.global_batch_size, c.chunks) == (8, 1, 1, 8, 1, 8, 8)
    assert (c.zero_stage, c.sequence_parallel, c.mixed_precision, c.checkpoint) == (0, True, True, False)
    assert (c.seq_length, c.num_layers, c.stage) == (128, 12, 0)


def test_gpus_tp_pp_changes_recompute_dp_then_chunks():
    c = TrainingConfig()
    c.tp = 2  # dp = 8 // 2 = 4, chunks = 8 // (4 * 1) = 2
    assert (c.dp, c.chunks, c.global_batch_size) == (4, 2, 8)
    c.total_gpus = 64  # dp = 32, chunks = max(1, 8 // 32) = 1
    assert (c.dp, c.chunks) == (32, 1)
    c.pp = 4
    assert (c.dp, c.chunks) == (8, 1)


def test_mbs_or_gbs_changes_recompute_chunks_and_keep_gbs():
    c = TrainingConfig()
    c.apply(tp=2)
    c.global_batch_size = 30  # dp 4: chunks = 30 // 4 = 7; gbs stays as typed
    assert (c.chunks, c.global_batch_size) == (7, 30)
    c.micro_batch_size = 2
    assert (c.chunks, c.global_batch_size) == (3, 30)


def test_chunks_change_sets_gbs():
    c = TrainingConfig()
    c.apply(tp=2)
    c.chunks = 5
    assert c.global_batch_size == 5 * 4 * 1


def test_dp_typed_sets_total_gpus():
    c = TrainingConfig()
    c.dp = 4
    assert c.total_gpus == 8 * 1 * 4


def test_constraint_warnings_are_data():
    c = TrainingConfig()
    c.apply(tp=4, pp=4, total_gpus=8)  # 16 GPUs needed, dp floors to 1
    (gpus,) = [n for n in c.constraint_notices() if n.code == "gpus_mismatch"]
    assert gpus.values == {"tp": 4, "pp": 4, "dp": 1, "product": 16, "total_gpus": 8}
    assert gpus.message == "TP x PP x DP = 4 x 4 x 1 = 16, but Total GPUs = 8"
    c.apply(total_gpus=16, global_batch_size=10, micro_batch_size=4)
    (gbs,) = c.constraint_notices()
    assert gbs.code == "gbs_mismatch"
    assert gbs.message == "MBS x DP x Chunks = 4 x 1 x 2 = 8, but GBS = 10"


def test_stage_stays_inside_pipeline():
    c = TrainingConfig()
    c.apply(pp=4, total_gpus=32, stage=3)
    assert c.stage == 3
    c.pp = 2
    assert c.stage == 1
    c.stage = 7
    assert c.stage == 1


def test_explicit_values_win_and_are_reported():
    c = TrainingConfig()
    c.apply(tp=2, pp=2, dp=2, total_gpus=16)
    assert (c.tp, c.pp, c.dp, c.total_gpus) == (2, 2, 2, 16)
    assert [n.code for n in c.constraint_notices()] == ["gpus_mismatch"]


def test_bounds_are_enforced():
    c = TrainingConfig()
    with pytest.raises(ValueError, match="tp"):
        c.tp = 0
    with pytest.raises(ValueError, match="zero_stage"):
        c.zero_stage = 4
    with pytest.raises(TypeError, match="unknown configuration keys: ttp"):
        c.apply(ttp=2)


def test_every_parameter_is_documented():
    for name, p in TrainingConfig.param.objects().items():
        if name != "name":
            assert p.doc, name


@pytest.mark.parametrize(("value", "choices", "expected"), [
    (8, [1, 2, 4, 8], 8), (8, [1, 2, 4, 7], 7), (3, [1, 2, 4], 2), (1, [2, 4], 2),
])
def test_nearest_at_most_keeps_as_much_parallelism_as_allowed(value, choices, expected):
    assert nearest_at_most(value, choices) == expected
