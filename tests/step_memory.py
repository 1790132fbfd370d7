"""Live memory through one whole training step of a tiny model on the CPU: the step's peak and its phase.

A TorchDispatchMode sees every tensor an operator returns; each distinct storage counts from the
moment it appears until PyTorch frees it (a weakref finalizer on the storage object, which PyTorch
keeps alive exactly as long as the storage). Parameters, which exist before the step, are counted
from the start. This is what `torch.cuda.max_memory_allocated` reports on a GPU, without the
caching allocator's rounding. Phases are named by module hooks: forward, loss (from the output
head's forward until its backward has run: while the logits and their gradient are alive), backward,
optimizer step.

`torch.utils._python_dispatch.TorchDispatchMode` is the documented home of dispatch modes
(https://pytorch.org/docs/stable/notes/extending.html), despite the module's underscore; it is
used here only, in the tests.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


@dataclass
class StepMemory:
    """Live bytes now and at the peak, and the phase the peak happened in."""

    phase: str = "setup"
    live_bytes: int = 0
    peak_bytes: int = 0
    peak_phase: str = "setup"
    peak_by_phase: dict = field(default_factory=dict)


class LiveStorages(TorchDispatchMode):
    """Counts every storage an operator creates until it is freed."""

    def __init__(self):
        super().__init__()
        self.memory = StepMemory()
        self._tracked: set[int] = set()

    def track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = id(storage)
        if key in self._tracked or storage.nbytes() == 0:
            return
        self._tracked.add(key)
        nbytes = storage.nbytes()
        self._grow(nbytes)
        weakref.finalize(storage, self._freed, key, nbytes)

    def set_phase(self, phase: str) -> None:
        self.memory.phase = phase
        self._note_peak()

    def _grow(self, nbytes: int) -> None:
        self.memory.live_bytes += nbytes
        self._note_peak()

    def _note_peak(self) -> None:
        m = self.memory
        m.peak_by_phase[m.phase] = max(m.peak_by_phase.get(m.phase, 0), m.live_bytes)
        if m.live_bytes > m.peak_bytes:
            m.peak_bytes, m.peak_phase = m.live_bytes, m.phase

    def _freed(self, key: int, nbytes: int) -> None:
        self._tracked.discard(key)
        self.memory.live_bytes -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.track(leaf)
        return out


def measure_step(model, ids: torch.Tensor, micro_batches: int = 1, full_recompute: bool = False,
                 lr: float = 1e-3, foreach: bool = False) -> StepMemory:
    """Peak live bytes over one optimizer step (AdamW, fp32 states; per tensor, or foreach) after a warm-up step.

    `ids` holds micro_batches x batch sequences; each micro-batch's loss is scaled and its
    gradients accumulate, as in gradient accumulation.
    """
    if full_recompute:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, foreach=foreach)
    chunks = ids.chunk(micro_batches)

    def one_step(tracker: LiveStorages | None) -> None:
        for chunk in chunks:
            tracker and tracker.set_phase("forward")
            loss = model(input_ids=chunk, labels=chunk).loss / micro_batches
            loss.backward()  # the head's backward hook starts the backward phase
            del loss
        tracker and tracker.set_phase("optimizer")
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tracker and tracker.set_phase("done")

    one_step(None)  # the optimizer creates its states on the first step
    tracker = LiveStorages()
    for tensor in [*model.parameters(), *(s for st in optimizer.state.values() for s in st.values()
                                          if isinstance(s, torch.Tensor))]:
        tracker.track(tensor)
    head = model.get_output_embeddings()
    hooks = [head.register_forward_pre_hook(lambda *_: tracker.set_phase("loss")),
             head.register_full_backward_hook(lambda *_: tracker.set_phase("backward"))]
    try:
        with tracker:
            one_step(tracker)
    finally:
        for hook in hooks:
            hook.remove()
    return tracker.memory
