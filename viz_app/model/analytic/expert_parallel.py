"""Expert parallelism (EP) and expert tensor parallelism (ETP): which degrees are valid, and the
expert-data-parallel group that shards the experts' optimizer states.

Megatron-LM core (parallel_state.py, `initialize_model_parallel`): within a pipeline stage's
tp x cp x dp GPUs, the experts use an ep x etp grid and the remaining factor is the expert
data-parallel group, world / (pp x ep x etp). ETP splits each expert's width; EP deals whole
experts (moe/experts.py: num_local_experts = E / ep).
"""

from __future__ import annotations

from ..errors import StrategyError
from .architecture import Architecture


def stage_gpus(tp: int, dp: int, context_parallel: int = 1) -> int:
    """GPUs of one pipeline stage: tp x cp x dp."""
    return tp * context_parallel * dp


def check_expert_parallel(arch: Architecture, *, tp: int, dp: int, ep: int, etp: int,
                          context_parallel: int = 1) -> None:
    """Raise StrategyError naming the rule an (ep, etp) choice breaks; the one validity rule for EP/ETP."""
    if not arch.is_moe and (ep > 1 or etp > 1):
        raise StrategyError(key="error.ep_needs_experts", ep=ep, etp=etp)
    if arch.is_moe and arch.num_experts % ep:
        raise StrategyError(key="error.ep_divides_experts", ep=ep, experts=arch.num_experts)
    if arch.is_moe and arch.expert_ffn % etp:
        raise StrategyError(key="error.etp_divides_expert_ffn", etp=etp, value=arch.expert_ffn)
    gpus = stage_gpus(tp, dp, context_parallel)
    if gpus % (ep * etp):
        raise StrategyError(key="error.ep_etp_divide_stage", ep=ep, etp=etp, product=ep * etp, tp=tp,
                            cp=context_parallel, dp=dp, gpus=gpus)


def expert_data_parallel_degree(*, tp: int, dp: int, ep: int, etp: int, context_parallel: int = 1) -> int:
    """GPUs holding the same expert shard, over which the distributed optimizer shards its states:
    tp x cp x dp / (ep x etp) (Megatron's expert-data-parallel group)."""
    return stage_gpus(tp, dp, context_parallel) // (ep * etp)


def expert_parallel_choices(arch: Architecture, *, tp: int, dp: int, context_parallel: int = 1,
                            max_degree: int = 256) -> list[tuple[int, int]]:
    """Every (ep, etp) `check_expert_parallel` accepts for this architecture and stage, up to `max_degree`."""
    choices = []
    for ep in range(1, max_degree + 1):
        for etp in range(1, max_degree // ep + 1):
            try:
                check_expert_parallel(arch, tp=tp, dp=dp, ep=ep, etp=etp, context_parallel=context_parallel)
            except StrategyError:
                continue
            choices.append((ep, etp))
    return choices
