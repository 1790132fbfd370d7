"""Analytic mode: per-GPU memory of every pipeline stage from the architecture alone.

Assembles the terms of parameters.py, states.py, activations.py, schedule.py and overheads.py
into an `Estimate`. Transformer-block terms are separate blocks (`*.layers`, `activation.inflight`)
from the embedding and head terms, so the paper's block-only numbers can be read off directly.
All values are MiB (2^20 bytes) per GPU; each block's value and formula come from one `Term`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...i18n import Joined, Text
from ..config import TrainingConfig
from ..errors import StrategyError
from ..plain import plain_copy
from ..precision import compute_dtype_bytes
from ..result import ACTIVATION, MODEL_STATES, OVERHEAD, Block, Estimate, StageEstimate
from ..sharding import MODEL_STATE_PARTS, zero_shard_degree, zero_shards
from ..terms import Term
from . import activations as act
from . import step
from .architecture import Architecture
from .deepspeed_buffers import deepspeed_blocks
from .expert_parallel import check_expert_parallel, expert_data_parallel_degree
from .frameworks import DEEPSPEED_COMMIT
from .moe_activations import check_recompute_modules
from .optimizer_step import TORCH_VERSION, optimizer_step_term
from .options import AnalyticOptions
from .overheads import comm_buffers_mib, communicator_count, cuda_context_mib, fragmentation_mib
from .parameters import (
    check_tensor_parallel,
    chunk_layer_indices,
    embedding_parameter_count,
    head_parameter_count,
    layers_parameters,
    mtp_parameters,
    norm_parameter_count,
    padded_vocab_size,
    vocab_shard_parameter_count,
)
from .pipeline_split import chunk_layer_counts
from .schedule import check_schedule, first_chunk_microbatches, inflight_chunk_passes, pass_chunks, schedule_formula
from .states import BytesPerParam, bytes_per_param, gradient_bytes

MIB = 1 << 20
# Where each formula comes from: catalog entries (source.*), so the page shows them in its language.
SRC_ACTIVATION = Text("source.activation")
SRC_SCHEDULE = Text("source.schedule")
SRC_PARAMS = Text("source.params")
SRC_FSDP_PP = Text("source.fsdp_pp")
SRC_OVERHEAD = Text("source.overhead")
SRC_RECOMPUTE = Text("source.recompute")
SRC_MOE_ACTIVATION = Text("source.moe_activation")
SRC_REDUCE_SCATTER = Text("source.reduce_scatter", {"torch": TORCH_VERSION})
SRC_REUSE = Text("source.reuse", {"commit": DEEPSPEED_COMMIT})
SRC_COMPILED_LOSS = Text("source.compiled_loss", {"torch": TORCH_VERSION})
FRAGMENTATION = "overhead.fragmentation"


@dataclass(frozen=True)
class Run:
    """The per-run numbers every term needs, resolved once."""

    config: TrainingConfig
    arch: Architecture
    options: AnalyticOptions
    recompute: str
    layers: list[int]
    chunk_layers: list[list[int]]  # layers of each model chunk of each stage (pipeline_split.py)

    def pass_layers(self, stage: int) -> list[int]:
        """Layers of each in-flight (micro-batch, chunk) pass of `stage`, in the order they run."""
        c, o = self.config, self.options
        return [self.chunk_layers[stage][chunk]
                for chunk in pass_chunks(o.schedule, stage, c.pp, c.chunks, o.virtual_stages)]

    @property
    def dtype_bytes(self) -> int:
        return compute_dtype_bytes(self.config)

    def saved(self) -> dict:
        """Keyword arguments of the activation functions for this run."""
        c, o = self.config, self.options
        return dict(tp=c.tp, sequence_parallel=c.sequence_parallel and c.tp > 1, recompute=self.recompute,
                    flash_attention=o.flash_attention, kernels=o.kernels, dtype_bytes=self.dtype_bytes,
                    context_parallel=o.context_parallel, etp=c.etp, moe_load_factor=o.moe_load_factor,
                    recompute_modules=tuple(o.recompute_modules))

    def stage_indices(self, stage: int) -> list[int]:
        return chunk_layer_indices(self.chunk_layers, stage)

    def shape(self) -> act.LayerShape:
        c, kwargs = self.config, self.saved()
        return act.layer_shape(self.arch, c.seq_length, c.micro_batch_size, c.tp, kwargs["sequence_parallel"],
                               self.dtype_bytes, self.options.context_parallel)


def check_context_parallel(cp: int, seq_length: int) -> None:
    """Context parallelism splits the sequence into cp equal parts."""
    if seq_length % cp:
        raise StrategyError(key="error.cp_divides_seq", cp=cp, seq=seq_length)


def resolve_run(config: TrainingConfig, arch: Architecture, options: AnalyticOptions) -> Run:
    """Check the strategy against the architecture; raise StrategyError with the reason."""
    check_tensor_parallel(arch, config.tp)
    check_expert_parallel(arch, tp=config.tp, dp=config.dp, ep=config.ep, etp=config.etp,
                          context_parallel=options.context_parallel)
    check_context_parallel(options.context_parallel, config.seq_length)
    check_recompute_modules(options.recompute_modules)
    check_schedule(options.schedule, options.virtual_stages)
    chunk_layers = chunk_layer_counts(config.num_layers, config.pp, options)
    recompute = "full" if config.checkpoint else options.recompute
    return Run(config, arch, options, recompute, [sum(chunk) for chunk in chunk_layers], chunk_layers)


def _mib(nbytes: float) -> float:
    return nbytes / MIB


def _in_mib(nbytes: Term) -> Term:
    """The same quantity in MiB; the text keeps its bytes."""
    return Term(_mib(nbytes.value), nbytes.text)


def _terms_text(tensors: list[act.SavedTensor]) -> Joined:
    return Joined(*(piece for i, t in enumerate(tensors)
                    for piece in (" + " if i else "", t.name, f" {t.formula} = {_mib(t.nbytes):.4g}")))


def _layer_kinds(run: Run, stage: int) -> list[tuple[str, int, list[act.SavedTensor]]]:
    """The stage's layers grouped by what they save: (kind, count, tensors), dense before MoE."""
    c, arch = run.config, run.arch
    indices = run.stage_indices(stage)
    if stage == c.pp - 1:  # the MTP depths' decoder layers run on the last stage, like its last layer
        indices = indices + [arch.num_layers - 1] * arch.mtp_layers
    moe = arch.moe_layer_count(indices)
    kinds = []
    for kind, count in (("dense", len(indices) - moe), ("MoE", moe)):
        if count:
            index = next(i for i in indices if arch.is_moe_layer(i) == (kind == "MoE"))
            kinds.append((kind, count, act.layer_saved_tensors(arch, c.seq_length, c.micro_batch_size,
                                                               layer_index=index, **run.saved())))
    return kinds


def layer_activation_blocks(run: Run, stage: int) -> list[Block]:
    """One micro-batch through the stage's layers (their MoE MLPs apart), and the other in-flight
    (micro-batch, chunk) passes."""
    c, o = run.config, run.options
    kinds = _layer_kinds(run, stage)
    n = sum(count for _kind, count, _tensors in kinds)  # the stage's layers (+ MTP depths on the last)
    v = o.virtual_stages
    passes = inflight_chunk_passes(o.schedule, stage, c.pp, c.chunks, v)
    arch = run.arch
    shape = Text("formula.layer_shape", {
        "s": c.seq_length, "cp": o.context_parallel, "b": c.micro_batch_size, "h": arch.hidden_size,
        "a": arch.num_attention_heads, "g": arch.kv_heads, "d": arch.head_width, "f": arch.ffn_hidden_size,
        "t": c.tp, "sp": _on_off(run.saved()["sequence_parallel"]),
        "recompute": Text(f"formula.recompute.{run.recompute}"), "kernels": Text(f"formula.kernels.{o.kernels}"),
        "flash": _on_off(o.flash_attention)})
    if arch.is_moe:
        shape = Joined(shape, Text("formula.moe_shape", {
            "experts": arch.num_experts, "k": arch.moe_top_k, "f_e": arch.expert_ffn, "f_s": arch.shared_ffn,
            "etp": c.etp, "load": o.moe_load_factor}))
    layers, experts, moe_layers = None, None, 0
    details = []
    for kind, count, tensors in kinds:
        kind_text = None if len(kinds) == 1 else Text(f"formula.kind.{kind}")
        for part in (False, True):  # the layer's own tensors, then its MoE MLP's (a block of their own)
            mib = _mib(sum(t.nbytes for t in tensors if t.expert == part))
            if part and not mib:
                continue
            counted = (Text("formula.layers", {"n": count}) if kind_text is None
                       else Text("formula.kind_layers", {"n": count, "kind": kind_text}))
            term = Term(count, counted).times(Term(mib, Text("formula.mib_per_layer", {"mib": mib})))
            if part:
                experts, moe_layers = term if experts is None else experts.plus(term), moe_layers + count
            else:
                layers = term if layers is None else layers.plus(term)
        details.append(Text("formula.layer_tensors", {"tensors": _terms_text(tensors)}) if kind_text is None
                       else Text("formula.kind_layer_tensors", {"kind": kind_text, "tensors": _terms_text(tensors)}))
    pieces = [Text("formula.moe_mlps_apart")] if experts else []
    pieces += ["; (", shape, ") "]
    for i, detail in enumerate(details):
        pieces += ["; " if i else "", detail]
    layers = layers.worded(after=Joined(*pieces))
    per_layer_mib = (layers.value + (experts.value if experts else 0.0)) / n
    extra = passes - v
    schedule = schedule_formula(o.schedule, stage, c.pp, c.chunks, v)
    if len(set(run.chunk_layers[stage])) == 1:
        inflight = (Term(extra, Text("formula.in_flight_passes", {"passes": passes, "schedule": schedule, "v": v,
                                                                  "extra": extra}))
                    .times(Term(n / v, Text("formula.layers_of", {"n": n, "v": v}))))
    else:  # uneven model chunks (pipeline_split.py): each pass holds its own chunk's layers
        pass_layers, stage_layers = run.pass_layers(stage), run.layers[stage]
        extra_layers = sum(pass_layers) - stage_layers
        inflight = Term(extra_layers, Text("formula.in_flight_uneven", {
            "passes": passes, "schedule": schedule, "pass_layers": "+".join(map(str, pass_layers)),
            "layers": stage_layers, "extra": extra_layers}))
    mean = Text("formula.mean") if len(kinds) > 1 or experts else ""
    inflight = inflight.times(Term(per_layer_mib, Joined(f"{per_layer_mib:.4g} MiB", mean)))
    blocks = [Block.of("activation.layers", ACTIVATION, layers, n, SRC_ACTIVATION)]
    if experts:
        blocks.append(Block.of("activation.experts", ACTIVATION, experts.worded(after=Text("formula.experts_what")),
                               moe_layers, SRC_MOE_ACTIVATION))
    return blocks + [Block.of("activation.inflight", ACTIVATION, inflight, extra, SRC_SCHEDULE)]


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
    tensors = act.logits_saved_tensors(run.arch, run.shape(), padded_vocab=vocab, fp32_copies=loss_fp32_copies(o),
                                       kernels=o.kernels, compiled_loss=o.compiled_loss)
    count = c.chunks if o.schedule == "gpipe" else 1  # 1F1B runs each loss's backward right away
    held = Term(count, Text("formula.microbatches_maybe_one", {"n": count})).times(_per_microbatch(tensors)).worded(
        after=Text("formula.vocab_padded", {"vocab": vocab}))
    if run.arch.mtp_layers:  # each MTP depth computes its own logits and loss in the same forward pass
        heads = 1 + run.arch.mtp_layers
        held = Term(heads, Text("formula.mtp_heads", {"mtp": run.arch.mtp_layers})).times(held)
    source = Joined(SRC_ACTIVATION, "; ", SRC_COMPILED_LOSS) if o.compiled_loss else SRC_ACTIVATION
    return Block.of("activation.logits", ACTIVATION, held, count, source)


def loss_fp32_copies(options: AnalyticOptions) -> float:
    """fp32 logits-sized buffers at the loss's peak: under context parallelism the framework's own
    count for each rank's sequence shard, when it sets one (cp_cross_entropy_fp32_copies >= 0)."""
    if options.context_parallel > 1 and options.cp_cross_entropy_fp32_copies >= 0:
        return options.cp_cross_entropy_fp32_copies
    return options.cross_entropy_fp32_copies


def recompute_block(run: Run, stage: int) -> Block:
    """Backward re-runs one layer's forward at a time (Chen et al. 2016): while that layer's backward
    runs it holds its full activations again (step.py places it in the backward phases)."""
    c = run.config
    shape = (run.arch, c.seq_length, c.micro_batch_size)
    index = max(run.stage_indices(stage), key=lambda i: act.layer_activation_bytes(
        *shape, layer_index=i, **{**run.saved(), "recompute": "none"}))  # the stage's largest layer
    full_mib = _mib(act.layer_activation_bytes(*shape, layer_index=index, **{**run.saved(), "recompute": "none"}))
    kept_mib = _mib(act.layer_activation_bytes(*shape, layer_index=index, **run.saved()))
    # Exact: a difference of MiB values equals the MiB of the byte difference (2^20 is a power of two).
    transient = Term(full_mib, Text("formula.recomputed_layer", {"mib": full_mib})).minus(
        Term(kept_mib, Text("formula.mib_kept", {"mib": kept_mib})))
    return Block.of("activation.recompute", ACTIVATION, transient, 1, SRC_RECOMPUTE)


def optimizer_step_block(run: Run, stage: int) -> Block | None:
    """The optimizer step's temporaries (optimizer_step.py), when the options give any."""
    params = sum(count for _group, count, _text, _bytes in parameter_groups(run, stage))
    nbytes, source = optimizer_step_term(run.config, run.options, params)
    return Block.of(step.OPTIMIZER_STEP, MODEL_STATES, _in_mib(nbytes), 1, source) if nbytes.value else None


def reduce_scatter_block(run: Run, stage: int) -> Block:
    """FSDP2's backward of one layer (the stage's largest): its unsharded gradients and the
    reduce-scatter input they are copied into, alive together until the copy-in finishes."""
    c = run.config
    per_layer = max(layers_parameters(run.arch, [i], c.tp, c.ep, c.etp).total for i in run.stage_indices(stage))
    compute, reduce = run.dtype_bytes, gradient_bytes(c, run.options)
    per_param = Term(compute, Text("formula.unsharded_gradient", {"bytes": compute})).plus(
        Term(reduce, Text("formula.reduce_scatter_input", {"bytes": reduce}))).worded("(", ")")
    nbytes = Term(per_layer, Text("formula.one_layer_params", {"params": per_layer})).times(per_param)
    return Block.of(step.REDUCE_SCATTER, MODEL_STATES, _in_mib(nbytes), 1, SRC_REDUCE_SCATTER)


def backward_gradients_block(run: Run) -> Block:
    return Block.of(step.WORKING, ACTIVATION, step.backward_gradients_term(run), 1, step.SRC_BACKWARD)


def stage_parameters(run: Run, stage: int):
    """The stage's decoder layers (and, on the last stage, the MTP depths) per GPU, by bucket."""
    c, arch = run.config, run.arch
    params = layers_parameters(arch, run.stage_indices(stage), c.tp, c.ep, c.etp)
    if stage == c.pp - 1:
        for _ in range(arch.mtp_layers):
            params = params.plus(mtp_parameters(arch, c.tp, c.ep, c.etp))
    return params


def expert_bytes_per_param(run: Run) -> BytesPerParam:
    """Routed experts: their states shard over the expert-data-parallel group (tp cp dp / (ep etp))."""
    c = run.config
    shards = expert_data_parallel_degree(tp=c.tp, dp=c.dp, ep=c.ep, etp=c.etp,
                                         context_parallel=run.options.context_parallel)
    return bytes_per_param(c, run.options, shards, Text("formula.expert_data_parallel"))


def parameter_groups(run: Run, stage: int, per_param: BytesPerParam | None = None) -> list[tuple]:
    """The stage's parameters on one GPU as (group, count, text, bytes per parameter): layers,
    experts, embedding, head."""
    per_param = per_param or bytes_per_param(run.config, run.options)
    c, o, arch = run.config, run.options, run.arch
    params = stage_parameters(run, stage)
    n = run.layers[stage]
    mtp = Text("formula.plus_mtp", {"n": arch.mtp_layers}) if stage == c.pp - 1 and arch.mtp_layers else ""
    indices = run.stage_indices(stage)
    dense_each = {layers_parameters(arch, [i], c.tp, c.ep, c.etp).dense for i in indices}
    if len(dense_each) == 1 and not mtp:
        text = Text("formula.layers_params", {"n": n, "params": dense_each.pop()})
    else:
        text = Text("formula.dense_params", {"n": n, "mtp": mtp, "sharded": params.sharded,
                                              "replicated": params.replicated})
    groups = [("layers", params.dense, text, per_param)]
    if params.expert:
        moe_layers = arch.moe_layer_count(indices)
        text = Text("formula.routed_experts", {"layers": moe_layers, "mtp": mtp, "experts": arch.num_experts,
                                                "ep": c.ep, "etp": c.etp})
        groups.append(("experts", params.expert, text, expert_bytes_per_param(run)))
    if stage == 0:
        groups.append(("embedding", embedding_parameter_count(arch, c.tp, o.vocab_pad_multiple),
                       Text("formula.embedding_params"), per_param))
    if stage == c.pp - 1:
        head = head_parameter_count(arch, c.tp, o.vocab_pad_multiple, c.pp) + norm_parameter_count(arch)
        head_text = Text("formula.head_params_tied" if arch.tie_embeddings else "formula.head_params")
        groups.append(("head", head, head_text, per_param))
    return groups


def state_blocks(run: Run, stage: int, per_param: BytesPerParam) -> list[Block]:
    """Parameters, gradients, optimizer states and accumulation, split layers / experts / embedding / head."""
    c, o = run.config, run.options
    groups = parameter_groups(run, stage, per_param)
    n = run.layers[stage]
    params = stage_parameters(run, stage)
    blocks = []
    for part in MODEL_STATE_PARTS:
        for group, count, text, bytes_each in groups:
            state_bytes = Term(count, Joined(text, f": {count:,}")).times(bytes_each.terms[part])
            blocks.append(Block.of(f"model_states.{part}.{group}", MODEL_STATES, _in_mib(state_bytes),
                                   n if group in ("layers", "experts") else 1, SRC_PARAMS))
    shards = zero_shard_degree(c.dp, o.context_parallel, o.zero_shards_over_cp)
    gathered_numel, sharded = 0, zero_shards("parameter", c.zero_stage) and shards > 1
    if sharded:
        stage_params = Term(sum(count for _group, count, _text, _bytes in groups), Text("formula.stage_params"))
        if fsdp_keeps_stage_unsharded(run):
            blocks += fsdp_unsharded_blocks(run, stage_params)
        else:
            gathered = gathered_params(run, stage, params.total // max(n, 1))
            blocks.append(gathered_block(run, gathered))
            gathered_numel = int(gathered[0].value)
    return blocks + deepspeed_blocks(run, stage, gathered_numel, sharded)


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


def gathered_block(run: Run, gathered: tuple[Term, int, str]) -> Block:
    """ZeRO-3/FSDP all-gathers full weights, in the compute dtype, for the layers being computed and
    prefetched (for MoE stages, the stage's mean layer); on the last stage the output head's weight is
    gathered at the loss (tied or not). `gathered` is gathered_params'."""
    params, layers, source = gathered
    gathered = params.phrased("formula.zero3_gathers").times(Term(run.dtype_bytes, f"{run.dtype_bytes} B"))
    return Block.of("model_states.parameter.gathered", MODEL_STATES, _in_mib(gathered), layers, source)


def gathered_params(run: Run, stage: int, per_layer: int) -> tuple[Term, int, str]:
    """The parameters ZeRO-3/FSDP holds gathered (gathered_block), how many layers, and the source."""
    c, o = run.config, run.options
    head = vocab_shard_parameter_count(run.arch, c.tp, o.vocab_pad_multiple) if stage == c.pp - 1 else 0
    if o.zero3_max_reuse_distance:
        layers = reuse_kept_layers(o.zero3_max_reuse_distance, per_layer, head, run.layers[stage])
        count = Term(layers, Text("formula.reused_layers", {"n": layers, "distance": o.zero3_max_reuse_distance}))
    else:
        layers = min(o.zero3_prefetch_layers, run.layers[stage])
        count = Term(layers, Text("formula.layers", {"n": layers}))
    params = count.times(Term(per_layer, Text("formula.params", {"params": per_layer})))
    if head:
        params = params.plus(Term(head, Text("formula.output_head_params", {"params": head})))
    return params, layers, SRC_REUSE if o.zero3_max_reuse_distance else SRC_PARAMS


def reuse_kept_layers(max_reuse_distance: int, per_layer: int, head: int, layers: int) -> int:
    """DeepSpeed ZeRO-3 keeps a gathered parameter when it is used again within max_reuse_distance
    parameters of trace (SRC_REUSE): a layer's forward parameters come back in its backward after the
    layers behind it and the head ran forward and backward, so the last j layers stay gathered while
    2 (j - 1) per_layer + 2 head < max_reuse_distance; at least the layer being computed."""
    kept = 0
    while kept < layers and 2 * (kept * per_layer + head) < max_reuse_distance:
        kept += 1
    return max(kept, 1)


def overhead_blocks(run: Run, allocated_mib: float) -> list[Block]:
    c, o = run.config, run.options
    comm = comm_buffers_mib(c, o)
    return [
        Block.of("overhead.cuda_context", OVERHEAD, cuda_context_mib(o), 1, SRC_OVERHEAD),
        Block.of(FRAGMENTATION, OVERHEAD, fragmentation_mib(allocated_mib, o), 1, SRC_OVERHEAD),
        Block.of("overhead.comm_buffers", OVERHEAD, comm, communicator_count(c, o), SRC_OVERHEAD),
    ]


def stage_at_peak(run: Run, stage: int, blocks: list[Block]) -> StageEstimate:
    """The stage through one step (step.py); its blocks as alive at the step's peak, plus overheads."""
    # Overheads per phase: the fixed ones once; fragmentation is proportional to the phase's memory.
    fixed = {b.key: b.mib for b in overhead_blocks(run, 0.0) if b.key != FRAGMENTATION}
    per_mib = fragmentation_mib(1.0, run.options).value
    phases = [replace(phase, blocks={**phase.blocks, **fixed, FRAGMENTATION: per_mib * phase.total_mib})
              for phase in step.step_timeline(step.step_inputs(run, stage), blocks)]
    peak = step.peak_phase(phases)
    at_peak = step.blocks_at(peak, blocks)
    at_peak += overhead_blocks(run, sum(b.mib for b in at_peak))
    return StageEstimate(stage, run.layers[stage], tuple(at_peak), tuple(phases))


def estimate_analytic(config: TrainingConfig, arch: Architecture, options: AnalyticOptions | None = None) -> Estimate:
    """Per-GPU memory of every pipeline stage of `arch` trained with `config`, at each stage's peak
    over one training step."""
    options = options or AnalyticOptions()
    notices = tuple(config.constraint_notices())
    config, arch, options = plain_copy(config), plain_copy(arch), plain_copy(options)
    run = resolve_run(config, arch, options)
    per_param = bytes_per_param(config, options)
    stages = []
    for stage in range(config.pp):
        blocks = layer_activation_blocks(run, stage)
        if stage == 0:
            blocks.append(embedding_activation_block(run))
        if stage == config.pp - 1:
            blocks.append(logits_activation_block(run))
        if run.recompute != "none":
            blocks.append(recompute_block(run, stage))
        blocks.append(backward_gradients_block(run))
        blocks += state_blocks(run, stage, per_param)
        if options.fsdp_reduce_scatter_buffers and zero_shards("parameter", config.zero_stage):
            blocks.append(reduce_scatter_block(run, stage))
        temporaries = optimizer_step_block(run, stage)
        blocks += [temporaries] if temporaries else []
        stages.append(stage_at_peak(run, stage, blocks))
    return Estimate("analytic", tuple(stages), notices)
