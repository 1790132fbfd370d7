"""Analytic mode: per-GPU memory of every pipeline stage from the architecture alone.

Assembles the terms of parameters.py, states.py, activations.py, schedule.py and overheads.py
into an `Estimate`. Transformer-block terms are separate blocks (`*.layers`, `activation.inflight`)
from the embedding and head terms, so the paper's block-only numbers can be read off directly.
All values are MiB (2^20 bytes) per GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainingConfig
from ..errors import StrategyError
from ..result import ACTIVATION, MODEL_STATES, OVERHEAD, Block, Estimate, StageEstimate
from . import activations as act
from .architecture import Architecture
from .options import AnalyticOptions
from .overheads import comm_buffers_mib, communicator_count, cuda_context_mib, fragmentation_mib
from .parameters import (
    check_tensor_parallel,
    embedding_parameter_count,
    head_parameter_count,
    layer_parameter_count,
    norm_parameter_count,
    padded_vocab_size,
    stage_layer_counts,
)
from .schedule import check_schedule, first_chunk_microbatches, inflight_chunk_passes, schedule_formula
from .states import PARTS, BytesPerParam, bytes_per_param, zero_shard_degree

MIB = 1 << 20
SRC_ACTIVATION = "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models, sec. 4"
SRC_SCHEDULE = "Narayanan et al. 2021 (1F1B, interleaved); Megatron-LM schedules.py; Huang et al. 2019 (GPipe)"
SRC_PARAMS = "Shoeybi et al. 2019 (Megatron-LM TP layout); Rajbhandari et al. 2020 (ZeRO); Megatron-LM " \
             "theoretical_memory_usage.py (18 bytes/param)"
SRC_OVERHEAD = "memviz docs/analytic.md, Overheads (default justified there; set it in the analytic options)"


@dataclass(frozen=True)
class Run:
    """The per-run numbers every term needs, resolved once."""

    config: TrainingConfig
    arch: Architecture
    options: AnalyticOptions
    recompute: str
    dtype_bytes: int
    layers: list[int]

    def saved(self) -> dict:
        """Keyword arguments of the activation functions for this run."""
        c, o = self.config, self.options
        return dict(tp=c.tp, sequence_parallel=c.sequence_parallel and c.tp > 1, recompute=self.recompute,
                    flash_attention=o.flash_attention, kernels=o.kernels, dtype_bytes=self.dtype_bytes,
                    context_parallel=o.context_parallel)

    def shape(self) -> act.LayerShape:
        c, kwargs = self.config, self.saved()
        return act.layer_shape(self.arch, c.seq_length, c.micro_batch_size, c.tp, kwargs["sequence_parallel"],
                               self.dtype_bytes, self.options.context_parallel)


def resolve_run(config: TrainingConfig, arch: Architecture, options: AnalyticOptions) -> Run:
    """Check the strategy against the architecture; raise StrategyError with the reason."""
    check_tensor_parallel(arch, config.tp)
    if config.seq_length % options.context_parallel:
        raise StrategyError(key="error.cp_divides_seq", cp=options.context_parallel, seq=config.seq_length)
    layers = stage_layer_counts(config.num_layers, config.pp, options.pp_division)
    check_schedule(options.schedule, options.virtual_stages, layers)
    recompute = "full" if config.checkpoint else options.recompute
    return Run(config, arch, options, recompute, 2 if config.mixed_precision else 4, layers)


def _mib(nbytes: float) -> float:
    return nbytes / MIB


def _terms_text(tensors: list[act.SavedTensor]) -> str:
    return " + ".join(f"{t.name} {t.formula} = {_mib(t.nbytes):.4g}" for t in tensors)


def layer_activation_block(run: Run, stage: int) -> tuple[Block, Block]:
    """One micro-batch through the stage's layers, and the other in-flight (micro-batch, chunk) passes."""
    c, o = run.config, run.options
    tensors = act.layer_saved_tensors(run.arch, c.seq_length, c.micro_batch_size, **run.saved())
    per_layer_mib = _mib(sum(t.nbytes for t in tensors))
    n = run.layers[stage]
    v = o.virtual_stages
    passes = inflight_chunk_passes(o.schedule, stage, c.pp, c.chunks, v)
    shape = (f"s {c.seq_length}/cp {o.context_parallel}, b {c.micro_batch_size}, h {run.arch.hidden_size}, "
             f"a {run.arch.num_attention_heads}, g {run.arch.kv_heads}, d {run.arch.head_width}, "
             f"f {run.arch.ffn_hidden_size}, t {c.tp}, SP {'on' if run.saved()['sequence_parallel'] else 'off'}, "
             f"recompute {run.recompute}, {o.kernels} kernels, flash {'on' if o.flash_attention else 'off'}")
    layers = Block("activation.layers", ACTIVATION, n * per_layer_mib, n,
                   f"{n} layers x {per_layer_mib:.4g} MiB per layer; per layer ({shape}) in MiB: "
                   f"{_terms_text(tensors)}",
                   SRC_ACTIVATION)
    extra = passes - v
    inflight = Block("activation.inflight", ACTIVATION, extra * n / v * per_layer_mib, extra,
                     f"{passes} in flight ({schedule_formula(o.schedule, stage, c.pp, c.chunks, v)}) - {v} counted in "
                     f"layer activations = {extra} x {n}/{v} layers x {per_layer_mib:.4g} MiB", SRC_SCHEDULE)
    return layers, inflight


def embedding_activation_block(run: Run) -> Block:
    tensors = act.embedding_saved_tensors(run.arch, run.shape(), dropout=run.arch.hidden_dropout > 0,
                                          kernels=run.options.kernels)
    o = run.options
    count = first_chunk_microbatches(o.schedule, 0, run.config.pp, run.config.chunks, o.virtual_stages)
    per_mib = _mib(sum(t.nbytes for t in tensors))
    return Block("activation.embedding", ACTIVATION, count * per_mib, count,
                 f"{count} micro-batches x ({_terms_text(tensors) or 'nothing saved: no dropout'}) MiB", SRC_ACTIVATION)


def logits_activation_block(run: Run) -> Block:
    c, o = run.config, run.options
    vocab = padded_vocab_size(run.arch, c.tp, o.vocab_pad_multiple)
    tensors = act.logits_saved_tensors(run.arch, run.shape(), padded_vocab=vocab,
                                       fp32_copies=o.cross_entropy_fp32_copies, kernels=o.kernels)
    count = c.chunks if o.schedule == "gpipe" else 1  # 1F1B runs each loss's backward right away
    per_mib = _mib(sum(t.nbytes for t in tensors))
    return Block("activation.logits", ACTIVATION, count * per_mib, count,
                 f"{count} micro-batch(es) x ({_terms_text(tensors)}) MiB, V padded to {vocab}", SRC_ACTIVATION)


def recompute_block(run: Run, stage: int, loss_peak_mib: float) -> Block:
    """Backward re-runs one layer's forward at a time (Chen et al. 2016): for that moment the layer
    holds its full activations again. On the last stage this happens after the loss's peak has
    passed, so only what exceeds the loss block adds to the stage's peak."""
    c = run.config
    shape = (run.arch, c.seq_length, c.micro_batch_size)
    full = act.layer_activation_bytes(*shape, **{**run.saved(), "recompute": "none"})
    kept = act.layer_activation_bytes(*shape, **run.saved())
    transient_mib = _mib(full - kept)
    last = stage == c.pp - 1
    mib = max(0.0, transient_mib - loss_peak_mib) if last else transient_mib
    formula = f"one layer recomputed: {_mib(full):.4g} MiB without recompute - {_mib(kept):.4g} MiB kept"
    if last:
        formula += f"; the loss's {loss_peak_mib:.4g} MiB peak comes first, so max(0, difference - loss)"
    return Block("activation.recompute", ACTIVATION, mib, 1, formula,
                 "Chen et al. 2016, Training Deep Nets with Sublinear Memory Cost; " + SRC_ACTIVATION)


def state_blocks(run: Run, stage: int, per_param: BytesPerParam) -> list[Block]:
    """Parameters, gradients, optimizer states and accumulation, split layers / embedding / head."""
    c, o, arch = run.config, run.options, run.arch
    per_layer = layer_parameter_count(arch, c.tp)
    groups = [("layers", run.layers[stage] * per_layer, f"{run.layers[stage]} layers x {per_layer:,} params")]
    if stage == 0:
        groups.append(("embedding", embedding_parameter_count(arch, c.tp, o.vocab_pad_multiple),
                       "embedding (vocab-parallel, V padded) params"))
    if stage == c.pp - 1:
        head = head_parameter_count(arch, c.tp, o.vocab_pad_multiple, c.pp) + norm_parameter_count(arch)
        groups.append(("head", head, "final norm + output head params" + (" (tied)" if arch.tie_embeddings else "")))
    blocks = []
    for part in PARTS:
        for group, params, text in groups:
            blocks.append(Block(f"model_states.{part}.{group}", MODEL_STATES, _mib(params * per_param.part(part)),
                                run.layers[stage] if group == "layers" else 1,
                                f"{text}: {params:,} x {per_param.why[part]}", SRC_PARAMS))
    if c.zero_stage == 3 and zero_shard_degree(c, o) > 1:
        blocks.append(gathered_block(run, stage, per_layer))
    return blocks


def gathered_block(run: Run, stage: int, per_layer: int) -> Block:
    """ZeRO-3/FSDP all-gathers full weights, in the compute dtype, for the layers being computed and
    prefetched; on the last stage the output head's weight is gathered at the loss (tied or not)."""
    c, o = run.config, run.options
    layers = min(o.zero3_prefetch_layers, run.layers[stage])
    params = layers * per_layer
    text = f"{layers} layers x {per_layer:,} params"
    if stage == c.pp - 1:
        head = padded_vocab_size(run.arch, c.tp, o.vocab_pad_multiple) * run.arch.hidden_size // c.tp
        params += head
        text += f" + output head {head:,} params"
    full_bytes = 2 if c.mixed_precision else 4
    return Block("model_states.parameter.gathered", MODEL_STATES, _mib(params * full_bytes), layers,
                 f"ZeRO-3 gathers ({text}) x {full_bytes} B", SRC_PARAMS)


def overhead_blocks(run: Run, allocated_mib: float) -> list[Block]:
    c, o = run.config, run.options
    groups = communicator_count(c, o)
    return [
        Block("overhead.cuda_context", OVERHEAD, cuda_context_mib(o), 1,
              f"cuda_context_mib {o.cuda_context_mib:g}", SRC_OVERHEAD),
        Block("overhead.fragmentation", OVERHEAD, fragmentation_mib(allocated_mib, o), 1,
              f"allocator_fragmentation {o.allocator_fragmentation:g} x allocated {allocated_mib:.1f} MiB",
              SRC_OVERHEAD),
        Block("overhead.comm_buffers", OVERHEAD, comm_buffers_mib(c, o), groups,
              f"{groups} NCCL communicators (tp/pp/dp/cp > 1) x {o.nccl_buffer_mib_per_group:g} MiB", SRC_OVERHEAD),
    ]


def estimate_analytic(config: TrainingConfig, arch: Architecture, options: AnalyticOptions | None = None) -> Estimate:
    """Per-GPU memory of every pipeline stage of `arch` trained with `config`."""
    options = options or AnalyticOptions()
    run = resolve_run(config, arch, options)
    per_param = bytes_per_param(config, options)
    stages = []
    for stage in range(config.pp):
        blocks = list(layer_activation_block(run, stage))
        if stage == 0:
            blocks.append(embedding_activation_block(run))
        if stage == config.pp - 1:
            blocks.append(logits_activation_block(run))
        if run.recompute != "none":
            blocks.append(recompute_block(run, stage, blocks[-1].mib if stage == config.pp - 1 else 0.0))
        blocks += state_blocks(run, stage, per_param)
        blocks += overhead_blocks(run, sum(b.mib for b in blocks))
        stages.append(StageEstimate(stage, run.layers[stage], tuple(blocks)))
    return Estimate("analytic", tuple(stages), tuple(config.constraint_notices()))
