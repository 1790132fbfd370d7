"""Memory of torchtitan's loss, cross_entropy(logits.float()), eager and torch.compile'd, on CPU.

    python benchmarks/compiled_loss.py [--tokens 1024] [--vocab 32000] [--hidden 64]

torchtitan's loss (torchtitan/components/loss.py at 6fc499f6f5b3: `cross_entropy(pred.flatten(0, 1)
.float(), labels.flatten(0, 1))`, wrapped in torch.compile when training.compile is on) on bf16,
then fp32, logits from an output head (hidden -> vocab), then `del pred` and backward, as torchtitan's
train.py does. Memory comes from the profiler's allocation events (every tensor the CPU allocator
hands out, Inductor's buffers included), read from its Chrome trace. Prints, in fp32 logits-sized
buffers (4 x tokens x vocab bytes): what stays alive between forward and backward, and the peak
in forward and in backward, all above what was alive before the head (head weight, its input,
labels). The head's gradients count too; with hidden 64 they are 0.03 of a buffer.

The figures are Inductor's CPU code; the CUDA backend partitions the graph the same way
(AOTAutograd's min-cut partitioner decides what the backward keeps), so the buffers match
although the kernels differ.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function

BACKWARD = "memviz.backward"


def cross_entropy_loss(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """torchtitan's cross_entropy_loss, verbatim."""
    return F.cross_entropy(pred.flatten(0, 1).float(), labels.flatten(0, 1))


def _step(loss_fn, hidden: torch.Tensor, head: torch.Tensor, labels: torch.Tensor) -> None:
    """Head, loss and backward, the backward inside a profiler range that marks where forward ends."""
    pred = hidden @ head.t()
    loss = loss_fn(pred, labels)
    del pred  # torchtitan frees the logits before backward
    with record_function(BACKWARD):
        loss.backward()


def _allocations(trace_path: str) -> tuple[list[int], int]:
    """The CPU allocator's byte changes in order, and how many come before backward, from a Chrome trace."""
    with open(trace_path) as handle:
        events = json.load(handle)["traceEvents"]
    memory = sorted((float(e["ts"]), int(e["args"]["Bytes"])) for e in events
                    if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0)
    backward_start = min(float(e["ts"]) for e in events if e.get("name") == BACKWARD)
    return [change for _ts, change in memory], sum(ts < backward_start for ts, _change in memory)


def measure(loss_fn, tokens: int, vocab: int, hidden_size: int, dtype: torch.dtype) -> tuple[float, float, float]:
    """In fp32 logits-sized buffers: (alive between forward and backward, peak in forward, peak in backward)."""
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, tokens, hidden_size, generator=generator).to(dtype).requires_grad_()
    head = torch.randn(vocab, hidden_size, generator=generator).to(dtype).requires_grad_()
    labels = torch.randint(0, vocab, (1, tokens), generator=generator)
    for _ in range(2):  # compile and warm up outside the profile
        _step(loss_fn, hidden, head, labels)
        hidden.grad = head.grad = None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        _step(loss_fn, hidden, head, labels)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.json")
        prof.export_chrome_trace(path)
        changes, forward_count = _allocations(path)
    unit = 4 * tokens * vocab
    totals = [total / unit for total in itertools.accumulate(changes)]
    return totals[forward_count - 1], max(totals[:forward_count]), max(totals[forward_count:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__}; {args.tokens} tokens x vocab {args.vocab}, "
          f"head hidden {args.hidden}; unit = one fp32 logits-sized buffer = {4 * args.tokens * args.vocab:,} B")
    print("logits  loss            kept for backward  peak in forward  peak in backward")
    for dtype in (torch.bfloat16, torch.float32):
        for name, loss_fn in (("eager", cross_entropy_loss), ("torch.compile", torch.compile(cross_entropy_loss))):
            kept, forward, backward = measure(loss_fn, args.tokens, args.vocab, args.hidden, dtype)
            print(f"{str(dtype)[6:]:8s}{name:14s}{kept:12.2f}{forward:17.2f}{backward:18.2f}")


if __name__ == "__main__":
    main()
