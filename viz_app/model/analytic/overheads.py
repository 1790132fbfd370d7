"""Memory outside the saved tensors and model states, as labelled terms with user controls.

Defaults and their justification: docs/analytic.md, section "Overheads".
"""

from __future__ import annotations

from ..config import TrainingConfig
from .options import AnalyticOptions


def cuda_context_mib(options: AnalyticOptions) -> float:
    """CUDA context, cuBLAS/cuDNN workspaces and kernel images: outside PyTorch's allocator."""
    return options.cuda_context_mib


def fragmentation_mib(allocated_mib: float, options: AnalyticOptions) -> float:
    """PyTorch's caching allocator reserves more than it hands out: a fraction of allocated memory."""
    return options.allocator_fragmentation * allocated_mib


def communicator_count(config: TrainingConfig, options: AnalyticOptions) -> int:
    """NCCL communicators of more than one GPU this GPU belongs to (tp, pp, dp, cp groups)."""
    return sum(degree > 1 for degree in (config.tp, config.pp, config.dp, options.context_parallel))


def comm_buffers_mib(config: TrainingConfig, options: AnalyticOptions) -> float:
    """NCCL's per-communicator channel buffers, allocated outside PyTorch's allocator."""
    return options.nccl_buffer_mib_per_group * communicator_count(config, options)
