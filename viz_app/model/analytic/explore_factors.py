"""The estimate's values for the explorer, one call per distinct tuple of the factors they depend on.

Each method calls the estimate's own function (estimate.py's blocks, activations.py, parameters.py,
states.py, schedule.py, optimizer_step.py, overheads.py) on a `Run` built for its factors, and
remembers the answer; `lookup` maps a column of factor tuples to those answers. No cost formula is
written here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from ..config import TrainingConfig
from ..explore.gather import take
from ..sharding import MODEL_STATE_PARTS, zero_shard_degree
from ..terms import Term
from . import activations as act
from .architecture import Architecture
from .deepspeed_buffers import PERSISTENT, deepspeed_blocks
from .estimate import (
    MIB,
    Run,
    backward_gradients_block,
    fsdp_unsharded_blocks,
    gathered_block,
    gathered_params,
    loss_fp32_copies,
)
from .expert_parallel import expert_data_parallel_degree
from .optimizer_step import optimizer_step_term
from .options import RECOMPUTE, SCHEDULES, AnalyticOptions
from .overheads import comm_buffers_mib, cuda_context_mib, fragmentation_mib
from .parameters import (
    chunk_layer_indices,
    embedding_parameter_count,
    head_parameter_count,
    layer_parameters,
    mtp_parameters,
    norm_parameter_count,
    padded_vocab_size,
)
from .schedule import first_chunk_microbatches, pass_chunks
from .states import bytes_per_param, gradient_bytes
from .step import PREFETCH, REDUCE_BUCKET, UNREDUCED


@dataclass(frozen=True)
class StageMakeup:
    """What a pipeline stage is made of, for one (pp, v): all a stage's numbers depend on besides the
    strategy's degrees and its in-flight passes."""

    stage: int
    layers: int                    # decoder layers (the estimate's run.layers[stage])
    chunk_layers: tuple[int, ...]  # layers of each of its model chunks
    dense: int                     # its dense decoder layers
    moe: int                       # its MoE decoder layers
    mtp: int                       # MTP depths it runs (the last stage)
    moe_first: bool                # its first layer is an MoE layer
    first: bool
    last: bool
    last_layer_moe: bool           # the model's last layer (which MTP depths save as) is an MoE layer
    stages: tuple[int, ...] = ()   # every stage of this make-up, in order

    @property
    def dense_activations(self) -> int:
        """Layers saving a dense layer's activations: MTP depths save as the model's last layer."""
        return self.dense + (self.mtp if not self.last_layer_moe else 0)

    @property
    def moe_activations(self) -> int:
        return self.moe + (self.mtp if self.last_layer_moe else 0)


def stage_makeups(arch: Architecture, chunk_layers: list[list[int]], is_moe: list[bool]) -> list[StageMakeup]:
    """The lowest stage of each distinct make-up, in stage order, with the stages sharing it: a higher
    stage of the same make-up holds no more in-flight passes (schedule.py). `is_moe`: each layer's
    arch.is_moe_layer."""
    pp, seen = len(chunk_layers), {}
    for stage in range(pp):
        indices = chunk_layer_indices(chunk_layers, stage)
        moe = sum(is_moe[index] for index in indices)
        makeup = StageMakeup(stage, len(indices), tuple(chunk_layers[stage]), len(indices) - moe, moe,
                             arch.mtp_layers if stage == pp - 1 else 0,
                             bool(indices) and is_moe[indices[0]], stage == 0, stage == pp - 1, is_moe[-1])
        key = (makeup.chunk_layers, makeup.dense, makeup.moe, makeup.moe_first, makeup.first, makeup.last)
        seen.setdefault(key, []).append(makeup)
    return [replace(same[0], stages=tuple(m.stage for m in same)) for same in seen.values()]


def lookup(function, *columns: np.ndarray) -> np.ndarray:
    """`function(*key)` for each row's key (one entry of each integer column), called once per distinct
    key; [row, item] (a number is one item)."""
    keys, inverse = distinct(*columns)
    table = np.asarray([function(*key) for key in zip(*keys, strict=True)], dtype=float)
    return take(table.reshape(len(table), -1), inverse, axis=0)


def distinct(*columns: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """The distinct tuples of the integer columns (one list of ints per column) and each row's tuple number."""
    columns = [np.asarray(c, dtype=np.int64) for c in np.broadcast_arrays(*columns)]
    size = len(columns[0])
    key, space, radices = np.zeros(size, np.int64), 1, []
    for column in columns:  # one integer per row: the columns' codes in mixed radix
        low, high = int(column.min()), int(column.max())
        if high - low < 4 * size + DIRECT_SPAN:  # a table over the range: no sort
            present = np.bincount((column - low).astype(np.intp), minlength=high - low + 1) > 0
            codes, values = take(np.cumsum(present) - 1, column - low), np.flatnonzero(present) + low
        else:
            values, codes = np.unique(column, return_inverse=True)
        key, space = key * len(values) + codes.reshape(-1), space * len(values)
        radices.append(values)
        if space >= 1 << 62:
            rows, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
            return rows.T.tolist(), inverse.reshape(-1)
    if space <= 4 * size + DIRECT_SPAN:  # a table over every possible key: no sort
        present = np.bincount(key.astype(np.intp), minlength=space) > 0  # intp: 32 bits in Pyodide
        found = np.flatnonzero(present)
        inverse = take(np.cumsum(present) - 1, key)
    else:
        found, inverse = np.unique(key, return_inverse=True)
    keys = []
    for values in reversed(radices):  # each distinct key's column values, from its mixed-radix code
        found, code = np.divmod(found, len(values))
        keys.append(values[code].tolist())
    return keys[::-1], inverse.reshape(-1)


DIRECT_SPAN = 1024  # integer ranges this small index a table directly

CACHED = ("layer_mib", "micro_batch_mib", "passes", "layer_parameters", "end_parameters", "bytes_per_param",
          "gathered_mib", "deepspeed_mib", "unsharded_mib", "optimizer_step_mib", "comm_buffers_mib",
          "reduce_scatter_bytes_per_param")


class ReadOnce:
    """An object whose attributes are each read once (param's descriptors are slow): for the length of
    one search, in which the model does not change."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, name: str):
        value = getattr(self._source, name)
        self.__dict__[name] = value
        return value


class Factors:
    """The estimate's values by factor tuple for one model, configuration and option set."""

    def __init__(self, arch: Architecture, config: TrainingConfig, options: AnalyticOptions):
        self.arch, self.config, self.options = ReadOnce(arch), config, options
        self._config_values = config.values()
        self._option_values = options.param.values()
        self.cuda_context_mib = cuda_context_mib(options).value
        self.fragmentation_per_mib = fragmentation_mib(1.0, options).value
        self.autograd_gradients = options.gradient_allocation == "autograd"
        self.reduce_scatter = bool(options.fsdp_reduce_scatter_buffers)
        self.gradient_bytes = gradient_bytes(config, options)
        # whether the options give the optimizer step any temporaries (a probe: a billion parameters, 2 shards)
        self.optimizer_temporaries = any(self.optimizer_step_mib(zero, 2, 1 << 30) for zero in range(4))
        # whether the options ask for any DeepSpeed buffer (a probe: every layer on one stage, nothing gathered)
        self.deepspeed_buffers = any(any(self.deepspeed_mib(zero, 1, 1, 0, arch.num_layers, 0, 1)) for zero in range(4))
        is_moe = [arch.is_moe_layer(i) for i in range(arch.num_layers)]
        dense = [i for i in range(arch.num_layers) if not is_moe[i]]
        moe = [i for i in range(arch.num_layers) if is_moe[i]]
        self.dense_index = dense[0] if dense else None
        self.moe_index = moe[0] if moe else None
        for name in CACHED:  # each answer computed once per factor tuple, for this model and options
            setattr(self, name, functools.cache(getattr(self, name)))

    def run(self, stage_layers: dict | None = None, recompute: str = "none", **values) -> Run:
        """A Run of the estimate with these configuration / option values (the rest as given)."""
        option_keys = {"context_parallel", "schedule", "virtual_stages"}
        config = SimpleNamespace(**{**self._config_values, **{k: v for k, v in values.items()
                                                             if k not in option_keys}})
        options = SimpleNamespace(**{**self._option_values, **{k: v for k, v in values.items() if k in option_keys}})
        return Run(config, self.arch, options, recompute, stage_layers or {}, [])

    def layer_mib(self, tp: int, cps: tuple[int, ...], etps: tuple[int, ...], recompute: int, moe: int,
                  sizes: tuple[int, ...]) -> np.ndarray:
        """MiB one dense or MoE decoder layer saves for one micro-batch [(cp, etp) pair, size]
        (activations.py, called with the pairs and the sizes as arrays)."""
        shape = (len(cps), len(sizes))
        index = self.moe_index if moe else self.dense_index
        if index is None:
            return np.zeros(shape)
        mbs, cp, etp = np.asarray(sizes)[None, :], np.asarray(cps)[:, None], np.asarray(etps)[:, None]
        run = self.run(tp=tp, micro_batch_size=mbs, etp=etp, context_parallel=cp, recompute=RECOMPUTE[recompute])
        nbytes = act.layer_activation_bytes(self.arch, run.config.seq_length, mbs, layer_index=index, **run.saved())
        return (nbytes + np.zeros(shape)) / MIB

    def micro_batch_mib(self, tp: int, cp: int, sizes: tuple[int, ...]) -> np.ndarray:
        """[embedding, logits with the MTP heads, backward working set] x size: MiB one micro-batch of
        each size adds (the tensors of estimate.py's embedding and logits blocks, with the sizes as an
        array; the working set, linear in the micro-batch, from the block at size 1)."""
        arch, mbs = self.arch, np.asarray(sizes)
        run = self.run(tp=tp, micro_batch_size=mbs, context_parallel=cp)
        x, o = run.shape(), run.options
        embedding = act.embedding_saved_tensors(arch, x, dropout=arch.hidden_dropout > 0, kernels=o.kernels)
        logits = act.logits_saved_tensors(arch, x, padded_vocab=padded_vocab_size(arch, tp, o.vocab_pad_multiple),
                                          fp32_copies=loss_fp32_copies(o), kernels=o.kernels,
                                          compiled_loss=o.compiled_loss)
        working = backward_gradients_block(self.run(tp=tp, micro_batch_size=1, context_parallel=cp)).mib
        zeros = np.zeros(len(sizes))
        return np.concatenate([sum(t.nbytes for t in embedding) / MIB + zeros,
                               (1 + arch.mtp_layers) * (sum(t.nbytes for t in logits) / MIB) + zeros,
                               working * mbs])

    def passes(self, schedule: int, stage: int, pp: int, chunks: int, v: int,
               chunk_layers: tuple[int, ...]) -> tuple[int, int, int]:
        """(passes in flight at the first backward, layers they hold, micro-batches of the first chunk)."""
        name = SCHEDULES[schedule]
        order = pass_chunks(name, stage, pp, chunks, v)
        held = sum(order.count(chunk) * layers for chunk, layers in enumerate(chunk_layers))
        return len(order), held, first_chunk_microbatches(name, stage, pp, chunks, v)

    def layer_parameters(self, tp: int, ep: int, etp: int) -> tuple[int, ...]:
        """(dense, expert) parameters per GPU of an MTP depth, a dense layer and an MoE layer."""
        found = [mtp_parameters(self.arch, tp, ep, etp)]
        found += [layer_parameters(self.arch, index, tp, ep, etp) if index is not None else None
                  for index in (self.dense_index, self.moe_index)]
        return tuple(count for params in found for count in ((params.dense, params.expert) if params else (0, 0)))

    def end_parameters(self, tp: int, pp: int) -> tuple[int, int]:
        """Parameters per GPU of the embedding and of the head (with the final norm)."""
        pad = self.options.vocab_pad_multiple
        return (embedding_parameter_count(self.arch, tp, pad),
                head_parameter_count(self.arch, tp, pad, pp) + norm_parameter_count(self.arch))

    def bytes_per_param(self, zero: int, shards: int, several: int) -> tuple[float, ...]:
        """Bytes per parameter of each model-state part (states.py), ZeRO sharding over `shards` GPUs
        (the data-parallel group, or the experts' expert-data-parallel group)."""
        run = self.run(zero_stage=zero, chunks=1 + several)
        per_param = bytes_per_param(run.config, run.options, shards)
        return tuple(per_param.part(part) for part in MODEL_STATE_PARTS)

    def shards(self, b: dict[str, np.ndarray], experts: bool) -> np.ndarray:
        """The GPUs ZeRO shards over: the data-parallel group (sharding.py), or the routed experts'
        expert-data-parallel group (expert_parallel.py)."""
        if experts:
            return expert_data_parallel_degree(tp=b["tp"], dp=b["dp"], ep=b["ep"], etp=b["etp"],
                                               context_parallel=b["cp"])
        return zero_shard_degree(b["dp"], b["cp"], self.options.zero_shards_over_cp)

    def gathered_mib(self, tp: int, pp: int, stage: int, layers: int, per_layer: int) -> tuple[float, int]:
        """ZeRO-3's gathered weights (estimate.gathered_block) and how many parameters they are."""
        run = self.run({stage: layers}, tp=tp, pp=pp)
        gathered = gathered_params(run, stage, per_layer)
        return gathered_block(run, gathered).mib, int(gathered[0].value)

    def deepspeed_mib(self, zero: int, tp: int, pp: int, stage: int, layers: int, gathered_numel: int,
                      sharded: int) -> tuple[float, ...]:
        """DeepSpeed ZeRO's buffers (deepspeed_buffers.py): reduce bucket, unreduced gradients, ZeRO-3's
        prefetched and persistent parameters (0 where the options ask for none)."""
        run = self.run({stage: layers}, zero_stage=zero, tp=tp, pp=pp)
        found = {b.key: b.mib for b in deepspeed_blocks(run, stage, gathered_numel, bool(sharded))}
        return tuple(found.get(key, 0.0) for key in (REDUCE_BUCKET, UNREDUCED, PREFETCH, PERSISTENT))

    def unsharded_mib(self, params: int, several: int) -> tuple[float, float]:
        """FSDP2 under PP: the stage's unsharded parameters and accumulated gradients (estimate.py)."""
        blocks = fsdp_unsharded_blocks(self.run(chunks=1 + several), Term(params, ""))
        by_key = {b.key: b.mib for b in blocks}
        return by_key["model_states.parameter.unsharded"], by_key.get("model_states.gradient.unsharded", 0.0)

    def optimizer_step_mib(self, zero: int, shards: int, params: int) -> float:
        """The optimizer step's temporaries (optimizer_step.py) with ZeRO sharding over `shards` GPUs."""
        run = self.run(zero_stage=zero, dp=shards, context_parallel=1)
        return optimizer_step_term(run.config, run.options, params)[0].value / MIB

    def comm_buffers_mib(self, tp: int, pp: int, dp: int, cp: int) -> float:
        run = self.run(tp=tp, pp=pp, dp=dp, context_parallel=cp)
        return comm_buffers_mib(run.config, run.options).value

    def reduce_scatter_bytes_per_param(self) -> float:
        """FSDP2's reduce-scatter: one layer's unsharded gradients plus its reduce-scatter input
        (estimate.reduce_scatter_block), per parameter of that layer."""
        return self.run().dtype_bytes + self.gradient_bytes
