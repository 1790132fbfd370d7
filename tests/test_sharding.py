"""ZeRO's sharding rule, in one place, as both cost models apply it."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import AnalyticOptions
from viz_app.model.analytic.states import bytes_per_param
from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.states import gradient_in_accumulation_buffer, split_states, state_terms
from viz_app.model.sharding import zero_shard_degree, zero_sharded, zero_shards
from viz_app.model.terms import Term


@pytest.mark.parametrize(("zero", "sharded"), [
    (0, set()), (1, {"optimizer"}), (2, {"optimizer", "gradient", "grad_accumulate"}),
    (3, {"optimizer", "gradient", "grad_accumulate", "parameter"}),
])
def test_each_stage_shards_one_more_part(zero, sharded):
    parts = ("parameter", "gradient", "optimizer", "grad_accumulate")
    assert {part for part in parts if zero_shards(part, zero)} == sharded


def test_shard_group_is_dp_times_cp_unless_told_otherwise():
    assert zero_shard_degree(4) == 4
    assert zero_shard_degree(4, context_parallel=2) == 8
    assert zero_shard_degree(4, context_parallel=2, shards_over_cp=False) == 4


def test_a_sharded_term_divides_value_and_text_together():
    shards = Term(8, "dp 8")
    assert zero_sharded(Term(12.0, "3P"), "optimizer", 1, shards) == Term(1.5, "3P / dp 8")
    assert zero_sharded(Term(12.0, "3P"), "optimizer", 0, shards) == Term(12.0, "3P")
    assert zero_sharded(Term(2.0, "P/2"), "parameter", 2, shards) == Term(2.0, "P/2")  # only from ZeRO-3
    # one GPU, or nothing to divide: the value could not change, so the text does not either
    assert zero_sharded(Term(12.0, "3P"), "optimizer", 3, Term(1, "dp 1")) == Term(12.0, "3P")
    assert zero_sharded(Term(0.0, "0"), "grad_accumulate", 3, shards) == Term(0.0, "0")


def galvatron_config(zero, chunks=4, mixed=True):
    config = TrainingConfig()
    config.apply(tp=1, pp=1, dp=4, total_gpus=4, chunks=chunks, zero_stage=zero, mixed_precision=mixed)
    return config


@pytest.mark.parametrize(("zero", "chunks", "mixed", "expected"), [
    # P = 8 MiB: parameter P/2, gradient P/2, optimizer 3P, accumulation buffer P, sharded over dp 4
    (0, 4, True, {"parameter": (4.0, "P/2"), "gradient": (0.0, "0 (kept in the fp32 accumulation buffer)"),
                  "optimizer": (24.0, "3P"), "grad_accumulate": (8.0, "P")}),
    (1, 1, True, {"parameter": (4.0, "P/2"), "gradient": (4.0, "P/2"), "optimizer": (6.0, "3P / dp 4"),
                  "grad_accumulate": (0.0, "0")}),
    (2, 4, True, {"parameter": (4.0, "P/2"), "gradient": (1.0, "P/2 / dp 4"), "optimizer": (6.0, "3P / dp 4"),
                  "grad_accumulate": (2.0, "P / dp 4")}),
    (3, 4, False, {"parameter": (2.0, "P / dp 4"), "gradient": (2.0, "P / dp 4"), "optimizer": (4.0, "2P / dp 4"),
                   "grad_accumulate": (0.0, "0")}),
])
def test_galvatron_states_value_and_formula_come_from_one_term(zero, chunks, mixed, expected):
    config = galvatron_config(zero, chunks, mixed)
    terms = state_terms(8.0, config, 4)
    assert {part: (t.value, t.text) for part, t in terms.items()} == expected
    states = split_states(8.0, config, 4)
    assert (states.parameter, states.gradient, states.optimizer, states.grad_accumulate) == tuple(
        value for value, _ in expected.values())


@pytest.mark.parametrize(("zero", "chunks", "mixed", "in_buffer"), [
    (0, 4, True, True), (1, 4, True, True), (2, 4, True, False), (1, 1, True, False), (1, 4, False, False),
])
def test_gradients_live_in_the_accumulation_buffer_only_under_zero_0_1_mixed_precision(zero, chunks, mixed,
                                                                                        in_buffer):
    assert gradient_in_accumulation_buffer(galvatron_config(zero, chunks, mixed)) is in_buffer


def test_analytic_bytes_per_param_shows_the_rule_it_applied():
    config = TrainingConfig()
    config.apply(tp=1, pp=1, dp=2, total_gpus=4, chunks=4, zero_stage=2)
    per_param = bytes_per_param(config, AnalyticOptions(context_parallel=2, grad_dtype="bf16+fp32_accumulation"))
    assert {part: (t.value, t.text) for part, t in per_param.terms.items()} == {
        "parameter": (2.0, "2 B"),
        "gradient": (0.5, "2 B / ZeRO-2 shards 4"),
        "optimizer": (3.0, "(fp32 master 4 B + adamw 8 B) 12 B / ZeRO-2 shards 4"),
        "grad_accumulate": (1.0, "4 B / ZeRO-2 shards 4"),
    }
