"""Analytic mode: per-GPU memory of every pipeline stage from the architecture alone.

Assembles the terms of parameters.py, states.py, activations.py, schedule.py and overheads.py
into an `Estimate`. Transformer-block terms are separate blocks (`*.layers`, `activation.inflight`)
from the embedding and head terms, so the paper's block-only numbers can be read off directly.
All values are MiB (2^20 bytes) per GPU; each block's value and formula come from one `Term`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import Joined, Text
from ..config import TrainingConfig
from ..errors import StrategyError
from ..precision import compute_dtype_bytes
from ..result import ACTIVATION, MODEL_STATES, OVERHEAD, Block, Estimate, StageEstimate
from ..sharding import MODEL_STATE_PARTS, zero_shard_degree, zero_shards
from ..terms import Term
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
    vocab_shard_parameter_count,
)
from .schedule import check_schedule, first_chunk_microbatches, inflight_chunk_passes, schedule_formula
from .states import BytesPerParam, bytes_per_param, gradient_bytes

MIB = 1 << 20
# Where each formula comes from: catalog entries (source.*), so the page shows them in its language.
SRC_ACTIVATION = Text("source.activation")
SRC_SCHEDULE = Text("source.schedule")
SRC_PARAMS = Text("source.params")
SRC_FSDP_PP = Text("source.fsdp_pp")
SRC_OVERHEAD = Text("source.overhead")
SRC_RECOMPUTE = Text("source.recompute")


@dataclass(frozen=True)
class Run:
    """The per-run numbers every term needs, resolved once."""

    config: TrainingConfig
    arch: Architecture
    options: AnalyticOptions
    recompute: str
    layers: list[int]

    @property
    def dtype_bytes(self) -> int:
        return compute_dtype_bytes(self.config)

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
    return Run(config, arch, options, recompute, layers)


def _mib(nbytes: float) -> float:
    return nbytes / MIB


def _in_mib(nbytes: Term) -> Term:
    """The same quantity in MiB; the text keeps its bytes."""
    return Term(_mib(nbytes.value), nbytes.text)


def _terms_text(tensors: list[act.SavedTensor]) -> Joined:
    return Joined(*(piece for i, t in enumerate(tensors)
                    for piece in (" + " if i else "", t.name, f" {t.formula} = {_mib(t.nbytes):.4g}")))


def layer_activation_block(run: Run, stage: int) -> tuple[Block, Block]:
    """One micro-batch through the stage's layers, and the other in-flight (micro-batch, chunk) passes."""
    c, o = run.config, run.options
    tensors = act.layer_saved_tensors(run.arch, c.seq_length, c.micro_batch_size, **run.saved())
    per_layer_mib = _mib(sum(t.nbytes for t in tensors))
    n = run.layers[stage]
    v = o.virtual_stages
    passes = inflight_chunk_passes(o.schedule, stage, c.pp, c.chunks, v)
    shape = Text("formula.layer_shape", {
        "s": c.seq_length, "cp": o.context_parallel, "b": c.micro_batch_size, "h": run.arch.hidden_size,
        "a": run.arch.num_attention_heads, "g": run.arch.kv_heads, "d": run.arch.head_width,
        "f": run.arch.ffn_hidden_size, "t": c.tp, "sp": _on_off(run.saved()["sequence_parallel"]),
        "recompute": Text(f"formula.recompute.{run.recompute}"), "kernels": Text(f"formula.kernels.{o.kernels}"),
        "flash": _on_off(o.flash_attention)})
    per_layer = Term(per_layer_mib, Text("formula.mib_per_layer", {"mib": per_layer_mib}))
    layers = Term(n, Text("formula.layers", {"n": n})).times(per_layer).worded(
        after=Text("formula.per_layer_tensors", {"shape": shape, "tensors": _terms_text(tensors)}))
    extra = passes - v
    inflight = (Term(extra, Text("formula.in_flight_passes", {
                    "passes": passes, "schedule": schedule_formula(o.schedule, stage, c.pp, c.chunks, v), "v": v,
                    "extra": extra}))
                .times(Term(n / v, Text("formula.layers_of", {"n": n, "v": v})))
                .times(Term(per_layer_mib, f"{per_layer_mib:.4g} MiB")))
    return (Block.of("activation.layers", ACTIVATION, layers, n, SRC_ACTIVATION),
            Block.of("activation.inflight", ACTIVATION, inflight, extra, SRC_SCHEDULE))


def _on_off(flag: bool) -> Text:
    return Text("formula.on" if flag else "formula.off")


def _per_microbatch(tensors: list[act.SavedTensor], empty: str = "") -> Term:
    """The tensors one micro-batch saves, in MiB, each shown with its formula."""
    return Term(_mib(sum(t.nbytes for t in tensors)), Joined("(", _terms_text(tensors) or empty, ") MiB"))


def embedding_activation_block(run: Run) -> Block:
    tensors = act.embedding_saved_tensors(run.arch, run.shape(), dropout=run.arch.hidden_dropout > 0,
                                          kernels=run.options.kernels)
    o = run.options
    count = first_chunk_microbatches(o.schedule, 0, run.config.pp, run.config.chunks, o.virtual_stages)
    held = Term(count, Text("formula.microbatches", {"n": count})).times(
        _per_microbatch(tensors, Text("formula.nothing_saved")))
    return Block.of("activation.embedding", ACTIVATION, held, count, SRC_ACTIVATION)


def logits_activation_block(run: Run) -> Block:
    c, o = run.config, run.options
    vocab = padded_vocab_size(run.arch, c.tp, o.vocab_pad_multiple)
    tensors = act.logits_saved_tensors(run.arch, run.shape(), padded_vocab=vocab,
                                       fp32_copies=o.cross_entropy_fp32_copies, kernels=o.kernels)
    count = c.chunks if o.schedule == "gpipe" else 1  # 1F1B runs each loss's backward right away
    held = Term(count, Text("formula.microbatches_maybe_one", {"n": count})).times(_per_microbatch(tensors)).worded(
        after=Text("formula.vocab_padded", {"vocab": vocab}))
    return Block.of("activation.logits", ACTIVATION, held, count, SRC_ACTIVATION)


def recompute_block(run: Run, stage: int, loss_peak_mib: float) -> Block:
    """Backward re-runs one layer's forward at a time (Chen et al. 2016): for that moment the layer
    holds its full activations again. On the last stage this happens after the loss's peak has
    passed, so only what exceeds the loss block adds to the stage's peak."""
    c = run.config
    shape = (run.arch, c.seq_length, c.micro_batch_size)
    full_mib = _mib(act.layer_activation_bytes(*shape, **{**run.saved(), "recompute": "none"}))
    kept_mib = _mib(act.layer_activation_bytes(*shape, **run.saved()))
    # Exact: a difference of MiB values equals the MiB of the byte difference (2^20 is a power of two).
    transient = Term(full_mib, Text("formula.recomputed_layer", {"mib": full_mib})).minus(
        Term(kept_mib, Text("formula.mib_kept", {"mib": kept_mib})))
    if stage == c.pp - 1:
        transient = Term(max(0.0, transient.value - loss_peak_mib),
                         Text("formula.after_loss", {"term": transient.text, "mib": loss_peak_mib}))
    return Block.of("activation.recompute", ACTIVATION, transient, 1, SRC_RECOMPUTE)


def state_blocks(run: Run, stage: int, per_param: BytesPerParam) -> list[Block]:
    """Parameters, gradients, optimizer states and accumulation, split layers / embedding / head."""
    c, o, arch = run.config, run.options, run.arch
    per_layer = layer_parameter_count(arch, c.tp)
    groups = [("layers", run.layers[stage] * per_layer,
               Text("formula.layers_params", {"n": run.layers[stage], "params": per_layer}))]
    if stage == 0:
        groups.append(("embedding", embedding_parameter_count(arch, c.tp, o.vocab_pad_multiple),
                       Text("formula.embedding_params")))
    if stage == c.pp - 1:
        head = head_parameter_count(arch, c.tp, o.vocab_pad_multiple, c.pp) + norm_parameter_count(arch)
        head_text = Text("formula.head_params_tied" if arch.tie_embeddings else "formula.head_params")
        groups.append(("head", head, head_text))
    blocks = []
    for part in MODEL_STATE_PARTS:
        for group, params, text in groups:
            state_bytes = Term(params, Joined(text, f": {params:,}")).times(per_param.terms[part])
            blocks.append(Block.of(f"model_states.{part}.{group}", MODEL_STATES, _in_mib(state_bytes),
                                   run.layers[stage] if group == "layers" else 1, SRC_PARAMS))
    shards = zero_shard_degree(c.dp, o.context_parallel, o.zero_shards_over_cp)
    if zero_shards("parameter", c.zero_stage) and shards > 1:
        stage_params = Term(sum(params for _group, params, _text in groups), Text("formula.stage_params"))
        if fsdp_keeps_stage_unsharded(run):
            blocks += fsdp_unsharded_blocks(run, stage_params)
        else:
            blocks.append(gathered_block(run, stage, per_layer))
    return blocks


def fsdp_keeps_stage_unsharded(run: Run) -> bool:
    """FSDP2 under pipeline parallelism, as torchtitan applies it (the fsdp_unsharded_under_pp option)."""
    return run.options.fsdp_unsharded_under_pp and run.config.pp > 1


def fsdp_unsharded_blocks(run: Run, stage_params: Term) -> list[Block]:
    """What FSDP2 keeps unsharded on a pipeline stage: the stage's parameters, all gathered at once
    (no reshard after forward; the ZeRO-3 gathered layers are part of them), and, with more than one
    micro-batch, the gradients of the micro-batches before the last, accumulated unsharded in the
    reduce dtype (no gradient sync until the last micro-batch's backward)."""
    c = run.config
    params = stage_params.worded(f"{stage_params.value:,.0f} (", ")")
    gathered = params.times(Term(run.dtype_bytes, Text("formula.bytes_gathered", {"bytes": run.dtype_bytes})))
    blocks = [Block.of("model_states.parameter.unsharded", MODEL_STATES, _in_mib(gathered), 1, SRC_FSDP_PP)]
    if c.chunks > 1:
        reduce_bytes = gradient_bytes(c, run.options)
        grads = params.times(Term(reduce_bytes, Text("formula.unsharded_gradient_bytes", {"bytes": reduce_bytes})))
        blocks.append(Block.of("model_states.gradient.unsharded", MODEL_STATES, _in_mib(grads), 1, SRC_FSDP_PP))
    return blocks


def gathered_block(run: Run, stage: int, per_layer: int) -> Block:
    """ZeRO-3/FSDP all-gathers full weights, in the compute dtype, for the layers being computed and
    prefetched; on the last stage the output head's weight is gathered at the loss (tied or not)."""
    c, o = run.config, run.options
    layers = min(o.zero3_prefetch_layers, run.layers[stage])
    params = Term(layers, Text("formula.layers", {"n": layers})).times(
        Term(per_layer, Text("formula.params", {"params": per_layer})))
    if stage == c.pp - 1:
        head = vocab_shard_parameter_count(run.arch, c.tp, o.vocab_pad_multiple)
        params = params.plus(Term(head, Text("formula.output_head_params", {"params": head})))
    gathered = params.phrased("formula.zero3_gathers").times(Term(run.dtype_bytes, f"{run.dtype_bytes} B"))
    return Block.of("model_states.parameter.gathered", MODEL_STATES, _in_mib(gathered), layers, SRC_PARAMS)


def overhead_blocks(run: Run, allocated_mib: float) -> list[Block]:
    c, o = run.config, run.options
    comm = comm_buffers_mib(c, o)
    return [
        Block.of("overhead.cuda_context", OVERHEAD, cuda_context_mib(o), 1, SRC_OVERHEAD),
        Block.of("overhead.fragmentation", OVERHEAD, fragmentation_mib(allocated_mib, o), 1, SRC_OVERHEAD),
        Block.of("overhead.comm_buffers", OVERHEAD, comm, communicator_count(c, o), SRC_OVERHEAD),
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
        loss_peak_mib = 0.0
        if stage == config.pp - 1:
            logits = logits_activation_block(run)
            blocks.append(logits)
            loss_peak_mib = logits.mib
        if run.recompute != "none":
            blocks.append(recompute_block(run, stage, loss_peak_mib))
        blocks += state_blocks(run, stage, per_param)
        blocks += overhead_blocks(run, sum(b.mib for b in blocks))
        stages.append(StageEstimate(stage, run.layers[stage], tuple(blocks)))
    return Estimate("analytic", tuple(stages), tuple(config.constraint_notices()))
