"""Memory of a layer-wise hybrid strategy (a Galvatron strategy file) with a Galvatron profile.

Each layer keeps its own tp (or Ulysses degree), data-parallel type and checkpoint flag; the
visualizer's per-layer formulas (estimate.py) apply to each, summed per pipeline stage of the
file's division. What a layer's strategy implies is Galvatron's search-engine rule
(galvatron/utils/strategy_utils.py config2strategy, galvatron/core/cost_model/components/
layer_cost.py MemoryCostModelBase): dp = GPUs / (pp x degree), the local batch gbs / chunks / dp,
ZeRO over dp x Ulysses degree, DDP when that is 1; pipedream_flush keeps pp - stage micro-batches
in flight, gpipe all chunks.
"""

from __future__ import annotations

from ..config import TrainingConfig
from ..errors import StrategyFileError
from ..result import Estimate, Notice
from .estimate import LayerGroup, OtherStrategy, StagePlan, estimate_stages
from .profile import GalvatronProfile
from .strategy_file import LayerChoice, StrategyFile


def strategy_config_values(strategy: StrategyFile, total_gpus: int, *, gpus_given: bool = False) -> dict:
    """TrainingConfig values of a strategy file: its pipeline and batch, and its first layer's strategy
    (so that a file whose layers share one strategy reads as that plain configuration).

    The file's world_size, when it has one, sets the GPUs; GPUs the user gave must agree with it.
    """
    if gpus_given and strategy.world_size and strategy.world_size != total_gpus:
        raise StrategyFileError(key="error.strategy_world", name=strategy.name, world=strategy.world_size,
                                gpus=total_gpus)
    gpus = strategy.world_size or total_gpus
    first = strategy.layers[0]
    dp = max(1, gpus // (strategy.pp * first.tp_sp))
    return {
        "num_layers": len(strategy.layers), "pp": strategy.pp, "total_gpus": gpus,
        "tp": 1 if first.ulysses else first.tp_sp, "dp": dp, "global_batch_size": strategy.global_batch_size,
        "chunks": strategy.chunks, "micro_batch_size": max(1, strategy.global_batch_size // strategy.chunks // dp),
        "zero_stage": _zero_stage(strategy, first.zero3, dp * (first.tp_sp if first.ulysses else 1)),
        "checkpoint": first.checkpoint,
    }


def estimate_strategy(config: TrainingConfig, profile: GalvatronProfile, strategy: StrategyFile) -> Estimate:
    """Per-GPU memory of every stage; `config` gives GPUs, sequence parallelism, length and precision."""
    _check(config, profile, strategy)
    gpus, pp = config.total_gpus, strategy.pp
    groups: dict[LayerChoice, tuple[TrainingConfig, int, int]] = {}
    plans, first = [], 1
    for stage, count in enumerate(strategy.pp_division):
        stage_groups: list[LayerGroup] = []
        for index in range(first, first + count):
            choice = strategy.layers[index - 1]
            if choice not in groups:
                groups[choice] = _layer_strategy(config, strategy, choice, index)
            layer_config, shards, ulysses = groups[choice]
            last = stage_groups[-1] if stage_groups else None
            if last and last.config is layer_config:
                stage_groups[-1] = LayerGroup(last.first, last.count + 1, layer_config, shards, ulysses)
            else:
                stage_groups.append(LayerGroup(index, 1, layer_config, shards, ulysses))
        first += count
        inflight = (pp - stage if strategy.pipeline_type == "pipedream_flush" else strategy.chunks) if pp > 1 else 1
        plans.append(StagePlan(tuple(stage_groups), inflight))
    vocab_dp = gpus // (pp * strategy.vocab_tp)
    vocab_shards = vocab_dp * (strategy.vocab_tp if strategy.vocab_ulysses else 1)
    vocab_tp = 1 if strategy.vocab_ulysses else strategy.vocab_tp
    other_config = _config(config, strategy, vocab_tp, vocab_dp,
                           _zero_stage(strategy, strategy.embed_zero3, vocab_shards), False)
    other = OtherStrategy(other_config, vocab_shards, vocab_tp, strategy.vocab_tp)
    return estimate_stages(config, profile, plans, other, [_layers_notice(strategy, groups)])


def _layers_notice(strategy: StrategyFile, groups: dict[LayerChoice, tuple[TrainingConfig, int, int]]) -> Notice:
    """Which layers run which strategy, as runs of consecutive layers ("1-20: tp 1, ZeRO 3, ckpt")."""
    runs: list[list] = []
    for index, choice in enumerate(strategy.layers, 1):
        if runs and runs[-1][0] == choice:
            runs[-1][2] = index
        else:
            runs.append([choice, index, index])
    parts = []
    for choice, first, last in runs:
        layer_config = groups[choice][0]
        degree = f"sp {choice.tp_sp}" if choice.ulysses else f"tp {choice.tp_sp}"
        checkpoint = ", ckpt" if choice.checkpoint else ""
        parts.append(f"{first}-{last}: {degree}, ZeRO {layer_config.zero_stage}{checkpoint}")
    text = "; ".join(parts)
    return Notice("strategy_file", f"per-layer strategies of {strategy.name}: {text}",
                  {"name": strategy.name, "layers": text})


def _zero_stage(strategy: StrategyFile, zero3: bool, shards: int) -> int:
    if shards == 1:  # nothing to shard: Galvatron resets the type to DDP
        return 0
    return 3 if zero3 else strategy.default_zero_stage


def _config(base: TrainingConfig, strategy: StrategyFile, tp: int, dp: int, zero_stage: int,
            checkpoint: bool) -> TrainingConfig:
    values = {**base.values(), "tp": tp, "pp": strategy.pp, "dp": dp, "zero_stage": zero_stage,
              "checkpoint": checkpoint, "chunks": strategy.chunks, "global_batch_size": strategy.global_batch_size,
              "micro_batch_size": max(1, strategy.global_batch_size // strategy.chunks // dp), "stage": 0}
    return TrainingConfig(**values)


def _layer_strategy(base: TrainingConfig, strategy: StrategyFile, choice: LayerChoice,
                    index: int) -> tuple[TrainingConfig, int, int]:
    """(config, ZeRO shards, Ulysses degree) of a layer."""
    dp = base.total_gpus // (strategy.pp * choice.tp_sp)
    if strategy.global_batch_size % (strategy.chunks * dp):
        raise StrategyFileError(key="error.strategy_batch", name=strategy.name, gbs=strategy.global_batch_size,
                                chunks=strategy.chunks, dp=dp, layer=index)
    ulysses = choice.tp_sp if choice.ulysses else 1
    tp = 1 if choice.ulysses else choice.tp_sp
    shards = dp * ulysses
    return _config(base, strategy, tp, dp, _zero_stage(strategy, choice.zero3, shards), choice.checkpoint), \
        shards, ulysses


def _check(config: TrainingConfig, profile: GalvatronProfile, strategy: StrategyFile) -> None:
    """The file against the profile and the GPUs: specific messages, before any number is computed."""
    layers, gpus, pp = len(strategy.layers), config.total_gpus, strategy.pp
    if profile.model.num_layers and profile.model.num_layers != layers:
        raise StrategyFileError(key="error.strategy_layers", name=strategy.name, layers=layers,
                                profile=profile.name, profile_layers=profile.model.num_layers)
    if strategy.world_size and strategy.world_size != gpus:
        raise StrategyFileError(key="error.strategy_world", name=strategy.name, world=strategy.world_size, gpus=gpus)
    degrees = [(index, c.tp_sp) for index, c in enumerate(strategy.layers, 1)] + [("vocab", strategy.vocab_tp)]
    for where, degree in degrees:
        if gpus % (pp * degree):
            raise StrategyFileError(key="error.strategy_gpus", name=strategy.name, layer=where, pp=pp, tp=degree,
                                    gpus=gpus)
    if pp > 1 and strategy.chunks < pp:
        raise StrategyFileError(key="error.strategy_chunks", name=strategy.name, chunks=strategy.chunks, pp=pp,
                                pipeline=strategy.pipeline_type)
