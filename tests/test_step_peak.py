"""The simulated step (model/analytic/step.py) against a measured one: tiny Llama-shaped models on
the CPU, a whole training step tracked by tests/step_memory.py (forward, loss, backward, AdamW).
With torch's foreach AdamW (sqrt(exp_avg_sq) for every parameter at once) the optimizer step is
the peak of these tiny models, whose activations are small beside their states.

The analytic options say what the measured code does, not what fits: eager Hugging Face modules
with SDPA, fp32 training, PyTorch's cross_entropy (3 fp32 logits-sized buffers), unpadded vocabulary,
gradients allocated by autograd, no GPU overheads (nothing outside the tensors is measured).
"""

from __future__ import annotations

import pytest

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.model_config_import import import_model_config
from viz_app.model.config import TrainingConfig

# Set by conftest.py when the tests run (imported then, not at collection).
torch = vt = measure_step = None
pytestmark = pytest.mark.torch


SEQ, BATCH, LAYERS = 40, 2, 2
MIB = 1 << 20
TOLERANCE = 0.05


def simulated(micro_batches: int, full_recompute: bool, foreach: bool = False):
    arch = import_model_config(vt.tiny_config("llama", LAYERS).to_dict(), "llama")
    config = TrainingConfig()
    config.apply(num_layers=LAYERS, seq_length=SEQ, micro_batch_size=BATCH, tp=1, pp=1, total_gpus=1,
                 global_batch_size=BATCH * micro_batches, mixed_precision=False, checkpoint=full_recompute,
                 zero_stage=0)
    options = AnalyticOptions(kernels="eager", flash_attention=True, cross_entropy_fp32_copies=3,
                              vocab_pad_multiple=1, gradient_allocation="autograd", cuda_context_mib=0,
                              allocator_fragmentation=0, nccl_buffer_mib_per_group=0,
                              optimizer_implementation="foreach" if foreach else "fused")
    return estimate_analytic(config, arch, options).stages[0]


@pytest.mark.parametrize(("micro_batches", "full_recompute", "foreach"),
                         [(1, False, False), (1, True, False), (2, False, False), (2, True, False), (1, False, True)],
                         ids=["plain", "full-recompute", "accumulate-2", "accumulate-2-full-recompute",
                              "foreach-adamw"])
def test_simulated_step_peak_and_phase_match_the_measured_step(micro_batches, full_recompute, foreach):
    model = vt.tiny_model("llama", LAYERS)
    ids = torch.randint(0, model.config.vocab_size, (BATCH * micro_batches, SEQ),
                        generator=torch.Generator().manual_seed(1))
    measured = measure_step(model, ids, micro_batches, full_recompute, foreach=foreach)
    stage = simulated(micro_batches, full_recompute, foreach)
    simulated_bytes = stage.total_mib * MIB
    print(f"{micro_batches} micro-batch(es), full recompute {full_recompute}, foreach {foreach}: "
          f"measured {measured.peak_bytes} B "
          f"({measured.peak_phase}), simulated {simulated_bytes:.0f} B ({stage.peak_phase}), "
          f"{simulated_bytes / measured.peak_bytes - 1:+.2%}")
    assert simulated_bytes == pytest.approx(measured.peak_bytes, rel=TOLERANCE)
    kind = next(p.kind for p in stage.timeline if p.name == stage.peak_phase)
    assert kind == measured.peak_phase
