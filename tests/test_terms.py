"""A block's number and its formula text are built from the same terms."""

from __future__ import annotations

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import load_preset
from viz_app.model.precision import compute_dtype_bytes
from viz_app.model.result import Block
from viz_app.model.terms import Term


def test_each_operation_applies_to_value_and_text():
    layers = Term(16, "16 layers")
    assert layers.times(Term(2.5, "2.5 MiB")) == Term(40.0, "16 layers x 2.5 MiB")
    assert Term(12.0, "3P").over(Term(4, "dp 4")) == Term(3.0, "3P / dp 4")
    assert Term(4.0, "master 4 B").plus(Term(8.0, "adam 8 B")) == Term(12.0, "master 4 B + adam 8 B")
    assert Term(5.0, "full").minus(Term(2.0, "kept")) == Term(3.0, "full - kept")
    assert Term(3.0, "a + b").worded("(", ") B") == Term(3.0, "(a + b) B")


def test_a_block_from_a_term_carries_both():
    block = Block.of("activation.layers", "activation", Term(40.0, "16 layers x 2.5 MiB"), 16, "paper")
    assert (block.mib, block.formula, block.count, block.source) == (40.0, "16 layers x 2.5 MiB", 16, "paper")


def test_compute_dtype():
    config = TrainingConfig()
    assert compute_dtype_bytes(config) == 2
    config.mixed_precision = False
    assert compute_dtype_bytes(config) == 4


def blocks(estimate, stage=0):
    return {b.key: b for b in estimate.stages[stage].blocks}


def test_analytic_formulas_show_the_numbers_that_make_the_block():
    arch, config = load_model_preset("llama-3-8b"), TrainingConfig()
    config.apply(**arch.config_defaults(), tp=1, pp=1, total_gpus=8, zero_stage=1, chunks=4)
    shown = blocks(estimate_analytic(config, arch, AnalyticOptions()))
    optimizer = shown["model_states.optimizer.layers"]
    assert optimizer.formula == ("32 layers x 218,112,000 params: 6,979,584,000 x (fp32 master 4 B + adamw 8 B) "
                                 "12 B / ZeRO-1 shards 8")
    assert optimizer.mib == 6_979_584_000 * 12 / 8 / 2**20 == 9984.375
    assert shown["activation.layers"].formula.startswith("32 layers x 544 MiB per layer; ")
    assert shown["activation.layers"].mib == 32 * 544
    fragmentation = shown["overhead.fragmentation"]
    allocated = sum(b.mib for b in shown.values() if not b.key.startswith("overhead."))
    assert fragmentation.formula == f"allocator_fragmentation 0.05 x allocated {allocated:.1f} MiB"
    assert fragmentation.mib == 0.05 * allocated


def test_zero3_gathers_in_the_compute_dtype():
    arch, config = load_model_preset("llama-3-8b"), TrainingConfig()
    config.apply(**arch.config_defaults(), tp=1, pp=1, total_gpus=8, zero_stage=3, mixed_precision=False)
    gathered = blocks(estimate_analytic(config, arch, AnalyticOptions()))["model_states.parameter.gathered"]
    head = 128_256 * 4096
    assert gathered.formula == f"ZeRO-3 gathers (2 layers x 218,112,000 params + output head {head:,} params) x 4 B"
    assert gathered.mib == (2 * 218_112_000 + head) * 4 / 2**20


def test_galvatron_formulas_name_the_terms_of_their_numbers():
    profile, config = load_preset("llama3-8b"), TrainingConfig()
    config.apply(**profile.config_defaults(), tp=2, pp=2, total_gpus=8, zero_stage=1, chunks=4)
    first = blocks(estimate_galvatron(config, profile))
    layers, inflight = first["activation.layers"], first["activation.inflight"]
    assert layers.formula == "16 layers x act[tp=2] x r 1 x mbs 1"
    assert inflight.formula.startswith("1 more micro-batches in flight x 16 layers x per-layer activation")
    assert inflight.mib == layers.mib
    assert first["model_states.optimizer"].formula.startswith("3P / dp 2 per layer")
    assert first["model_states.gradient"].mib == 0.0
    assert first["model_states.gradient"].formula.startswith("0 (kept in the fp32 accumulation buffer)")
