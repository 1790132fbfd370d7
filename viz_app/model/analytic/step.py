"""Memory of one pipeline stage through one training step, phase by phase (a simulated memory_viz).

The estimate's blocks are the stage's inventory: everything it ever holds. This module says how
much of each block is alive in each phase of one step, under the pipeline schedule:

- forward of each in-flight (micro-batch, model chunk) pass: one more pass's stored activations;
- the loss (last stage): the logits block (its fp32 copies include the logits' gradient);
- backward of the first pass, layer by layer: the layer's stored activations (with full or
  selective recompute, the recomputed ones too: `activation.recompute`) and the gradients of its
  activations (`activation.backward_gradients`), while the loss's buffers are already freed;
- with more passes than in flight (1F1B steady state, gradient accumulation): the next forward,
  loss and backward, now with every gradient of the step allocated;
- the optimizer step: no activations, every gradient, the optimizer's temporaries.

Gradients live in a buffer allocated before the step (`gradient_allocation="buffer"`, Megatron's
grad buffer) or are allocated by autograd as backward reaches each layer and freed by
`zero_grad(set_to_none=True)` (`"autograd"`, plain PyTorch). ZeRO-3's gathered and prefetched
parameters are freed after backward. DeepSpeed's reduce bucket lives all step under ZeRO-3
(allocated with the optimizer) and only in backward under ZeRO-1/2; the gradients waiting for
their reduction only in backward. The stage's peak is the maximum over phases; `estimate.py` reports the
blocks alive at that phase. Blocks are MiB; a phase maps block key to MiB alive.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Joined, Text
from ..result import Block, Phase
from ..terms import Term

MIB = 1 << 20
SRC_BACKWARD = Text("source.backward")
WORKING = "activation.backward_gradients"
# What one micro-batch's pass through the stage's layers stores: the layers' own tensors and, for
# MoE layers, their MoE MLPs' (a block of its own); freed layer by layer in backward.
LAYER_KEYS = ("activation.layers", "activation.experts")
REDUCE_SCATTER = "model_states.reduce_scatter"
# DeepSpeed ZeRO's buffers (deepspeed_buffers.py).
REDUCE_BUCKET = "model_states.reduce_bucket"
UNREDUCED = "model_states.unreduced_gradients"
PREFETCH = "model_states.parameter.prefetch"
# Blocks alive only while a layer's backward runs.
BACKWARD_ONLY = ("activation.recompute", WORKING, REDUCE_SCATTER, UNREDUCED)
GATHERED = "model_states.parameter.gathered"
# Gathered for the forward and backward passes, released when backward ends (before the optimizer step).
GATHERED_KEYS = (GATHERED, PREFETCH)
OPTIMIZER_STEP = "model_states.optimizer_step"


@dataclass(frozen=True)
class StepInputs:
    """What the timeline needs about one stage besides its blocks."""

    layers: int              # the stage's layers
    pass_layers: tuple[int, ...]  # layers of each (micro-batch, chunk) pass in flight at the first backward
    backward_layers: int     # layers of the pass whose backward comes first (the stage's last chunk)
    total_passes: int        # passes in one step: micro-batches x virtual stages
    last_stage: bool
    schedule: str
    autograd_gradients: bool
    bucket_in_backward_only: bool = False  # ZeRO-1/2's reduce bucket; ZeRO-3 keeps its bucket all step

    @property
    def passes(self) -> int:
        return len(self.pass_layers)


def backward_gradients_term(run) -> Term:
    """Gradients of one layer's activations alive at once in its backward, in MiB (the MLP's:
    the layer output's gradient, the fc2 input's, and the activation inputs' (2 for a gated MLP))."""
    x = run.shape()
    sbh = x.s * x.b * x.h / x.sp
    sbf = x.s * x.b * x.f / x.t
    inputs = 2 if run.arch.gated_mlp else 1
    nbytes = x.e * (sbh + (1 + inputs) * sbf)
    return Term(nbytes / MIB, Text("formula.backward_gradients", {"e": x.e, "sp": x.sp, "n": 1 + inputs,
                                                                  "mib": nbytes / MIB, "inputs": inputs}))


def step_inputs(run, stage: int) -> StepInputs:
    c, o = run.config, run.options
    return StepInputs(run.layers[stage], tuple(run.pass_layers(stage)), run.chunk_layers[stage][-1],
                      c.chunks * o.virtual_stages, stage == c.pp - 1, o.schedule,
                      o.gradient_allocation == "autograd", c.zero_stage < 3)


def _by_prefix(blocks: list[Block], prefix: str) -> dict[str, float]:
    return {b.key: b.mib for b in blocks if b.key == prefix or b.key.startswith(prefix + ".")}


def step_timeline(inputs: StepInputs, blocks: list[Block]) -> list[Phase]:
    """The stage's phases in order; `blocks` are its memory blocks without the overheads."""
    p = inputs
    size = {b.key: b.mib for b in blocks}
    own = sum(size.get(key, 0.0) for key in LAYER_KEYS)  # the stage's layers, one micro-batch
    layer_mib = own / p.layers  # one layer, one micro-batch
    held = [sum(p.pass_layers[:k]) for k in range(p.passes + 1)]  # layers stored after k passes
    embedding_mib = size.get("activation.embedding", 0.0)
    logits_count = p.passes if p.schedule == "gpipe" else 1
    logits_mib = size.get("activation.logits", 0.0) / logits_count
    gradients = _by_prefix(blocks, "model_states.gradient")
    head_gradients = {k: v for k, v in gradients.items() if k.endswith(".head")}
    layer_gradients = {k: v for k, v in gradients.items() if k.endswith(".layers")}
    backward_only = BACKWARD_ONLY + ((REDUCE_BUCKET,) if p.bucket_in_backward_only else ())
    fixed = {b.key: b.mib for b in blocks if b.category == "model_states" and b.key not in gradients
             and b.key not in (OPTIMIZER_STEP, *backward_only)}

    def alive_gradients(layers_done: float, started: bool, complete: bool) -> dict[str, float]:
        if not p.autograd_gradients or complete:
            return dict(gradients)
        alive = {k: 0.0 for k in gradients}
        if started:
            alive.update(head_gradients)
            alive.update({k: v * layers_done / p.layers for k, v in layer_gradients.items()})
        return alive

    def phase(kind: str, number: int, stored_layers: int, layers: int = 0, *, logits: float = 0.0,
              backward: bool = False, grads: dict[str, float], optimizer: bool = False) -> Phase:
        stored = (stored_layers + layers) * layer_mib
        kept = min(stored, own)  # the layers' own tensors and their MoE MLPs', in proportion
        alive = {key: kept * size[key] / own if own else 0.0 for key in LAYER_KEYS if key in size}
        if "activation.inflight" in size:
            alive["activation.inflight"] = stored - kept
        if "activation.embedding" in size:  # small: counted whole until the optimizer step
            alive["activation.embedding"] = 0.0 if optimizer else embedding_mib
        if "activation.logits" in size:
            alive["activation.logits"] = logits * logits_mib
        alive.update({key: size[key] if backward else 0.0 for key in backward_only if key in size})
        alive.update(fixed)
        alive.update({key: 0.0 for key in GATHERED_KEYS if key in size and optimizer})
        alive.update(grads)
        if OPTIMIZER_STEP in size:
            alive[OPTIMIZER_STEP] = size[OPTIMIZER_STEP] if optimizer else 0.0
        return Phase(kind, alive, number, layers if backward else 0)

    phases = []
    none_yet = alive_gradients(0, started=False, complete=False)
    for k in range(1, p.passes + 1):
        phases.append(phase("forward", k, held[k], grads=none_yet))
        if p.last_stage and p.schedule == "gpipe":
            phases.append(phase("loss", k, held[k], logits=k, grads=none_yet))
    if p.last_stage and p.schedule != "gpipe":
        phases.append(phase("loss", 1, held[-1], logits=1, grads=none_yet))
    gpipe_logits = p.passes - 1 if p.schedule == "gpipe" else 0

    def backward(number: int, grads_before: float, complete: bool) -> None:
        top = p.backward_layers
        for layer in range(top, 0, -1):
            done = grads_before + top - layer
            phases.append(phase("backward", number, held[-1] - top, layer, logits=gpipe_logits,
                                backward=True, grads=alive_gradients(done, True, complete)))

    backward(1, 0, complete=False)
    if p.total_passes > p.passes:  # 1F1B steady state / gradient accumulation: every gradient allocated
        every = alive_gradients(p.layers, True, complete=True)
        phases.append(phase("forward", p.passes + 1, held[-1], grads=every))
        if p.last_stage and p.schedule != "gpipe":
            phases.append(phase("loss", 2, held[-1], logits=1, grads=every))
        backward(2, p.layers, complete=True)
    phases.append(phase("optimizer", 0, 0, grads=alive_gradients(p.layers, True, complete=True),
                        optimizer=True))
    return phases


def peak_phase(phases: list[Phase]) -> Phase:
    """The first phase with the most memory alive."""
    return max(phases, key=lambda phase: phase.total_mib)


def blocks_at(phase: Phase, blocks: list[Block]) -> list[Block]:
    """The stage's blocks as alive in `phase`: a block partly alive says which fraction, a freed one 0."""
    out = []
    for b in blocks:
        alive = phase.blocks.get(b.key, b.mib)
        if alive == b.mib:
            out.append(b)
            continue
        note = (Text("formula.freed_at_peak", {"phase": phase.text, "mib": b.mib}) if alive == 0
                else Text("formula.partly_alive_at_peak", {"phase": phase.text, "mib": alive}))
        out.append(Block(b.key, b.category, alive, b.count, Joined(b.formula, "; ", note), b.source))
    return out
