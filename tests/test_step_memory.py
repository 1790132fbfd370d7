"""The whole-step memory harness (step_memory.py) counts what PyTorch really holds.

It will check the simulated peak over a step (the accuracy-at-scale work); here it is checked
against what is known exactly: AdamW's states, nothing left alive after a step, and the direction
in which recompute and gradient accumulation move the peak.
"""

from __future__ import annotations

import pytest

# Set by conftest.py when the tests run (imported then, not at collection).
torch = vt = measure_step = None
pytestmark = pytest.mark.torch



SEQ, BATCH = 40, 2


def _measure(micro_batches: int = 1, full_recompute: bool = False):
    model = vt.tiny_model("llama", 2)
    ids = torch.randint(0, model.config.vocab_size, (BATCH * micro_batches, SEQ),
                        generator=torch.Generator().manual_seed(1))
    return model, measure_step(model, ids, micro_batches, full_recompute)


def test_between_steps_only_parameters_and_adamw_states_are_alive():
    model, memory = _measure()
    parameters = list(model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in parameters)
    # weights, exp_avg and exp_avg_sq (fp32, like the weights), and one fp32 step counter per tensor
    between_steps = 3 * param_bytes + 4 * len(parameters)
    assert memory.peak_by_phase["setup"] == between_steps
    assert memory.peak_by_phase["done"] == between_steps  # activations and gradients all freed
    assert memory.peak_by_phase["optimizer"] >= between_steps + param_bytes  # the gradients, at least
    assert memory.peak_phase == "backward"


def test_full_recompute_keeps_less_in_forward_and_accumulation_more():
    _, plain = _measure()
    _, recomputed = _measure(full_recompute=True)
    _, accumulated = _measure(micro_batches=2)
    assert recomputed.peak_by_phase["forward"] < plain.peak_by_phase["forward"]
    assert recomputed.peak_bytes < plain.peak_bytes
    # the second micro-batch's forward runs while the first one's gradients are kept
    assert accumulated.peak_by_phase["forward"] > plain.peak_by_phase["forward"]
