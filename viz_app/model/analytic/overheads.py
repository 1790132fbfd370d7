"""Memory outside the saved tensors and model states, as labelled terms with user controls.

Each term is MiB, with the text that shows how. Defaults and their justification:
docs/analytic.md, section "Overheads".
"""

from __future__ import annotations

from ...i18n import Text
from ..config import TrainingConfig
from ..terms import Term
from .options import AnalyticOptions


def cuda_context_mib(options: AnalyticOptions) -> Term:
    """CUDA context, cuBLAS/cuDNN workspaces and kernel images: outside PyTorch's allocator."""
    return Term(options.cuda_context_mib, Text("formula.cuda_context", {"mib": options.cuda_context_mib}))


def fragmentation_mib(allocated_mib: float, options: AnalyticOptions) -> Term:
    """PyTorch's caching allocator reserves more than it hands out: a fraction of allocated memory."""
    fraction = options.allocator_fragmentation
    return Term(fraction, Text("formula.fragmentation", {"fraction": fraction})).times(
        Term(allocated_mib, Text("formula.allocated", {"mib": allocated_mib})))


def communicator_count(config: TrainingConfig, options: AnalyticOptions) -> int:
    """NCCL communicators of more than one GPU this GPU belongs to (tp, pp, dp, cp groups)."""
    return sum(degree > 1 for degree in (config.tp, config.pp, config.dp, options.context_parallel))


def comm_buffers_mib(config: TrainingConfig, options: AnalyticOptions) -> Term:
    """NCCL's per-communicator channel buffers, allocated outside PyTorch's allocator."""
    groups = communicator_count(config, options)
    return Term(groups, Text("formula.nccl_groups", {"n": groups})).times(
        Term(options.nccl_buffer_mib_per_group, f"{options.nccl_buffer_mib_per_group:g} MiB"))
