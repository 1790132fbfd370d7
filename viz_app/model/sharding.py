"""ZeRO's sharding rule (Rajbhandari et al. 2020), shared by every cost model.

Stage 1 shards the optimizer states, stage 2 also the gradients (and a separate gradient
accumulation buffer), stage 3 also the parameters, each over the GPUs of the sharding group.
"""

from __future__ import annotations

from .terms import Term

MODEL_STATE_PARTS = ("parameter", "gradient", "optimizer", "grad_accumulate")
FIRST_SHARDING_STAGE = {"optimizer": 1, "gradient": 2, "grad_accumulate": 2, "parameter": 3}


def zero_shards(part: str, zero_stage: int) -> bool:
    """Whether ZeRO stage `zero_stage` shards the model-state part `part`."""
    return zero_stage >= FIRST_SHARDING_STAGE[part]


def zero_shard_degree(dp: int, context_parallel: int = 1, shards_over_cp: bool = True) -> int:
    """GPUs one ZeRO/FSDP shard group spans: dp, times cp where the framework shards over it
    (Megatron's distributed optimizer and torchtitan's FSDP do)."""
    return dp * (context_parallel if shards_over_cp else 1)


def zero_sharded(per_gpu: Term, part: str, zero_stage: int, shards: Term) -> Term:
    """`per_gpu` after ZeRO: divided by `shards` when the stage shards `part`.

    Nothing to divide (no shards, or a part that holds nothing) leaves the value and text as is;
    the value would not change either way.
    """
    if zero_shards(part, zero_stage) and shards.value > 1 and per_gpu.value:
        return per_gpu.over(shards)
    return per_gpu
