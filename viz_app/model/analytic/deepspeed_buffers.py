"""DeepSpeed ZeRO's own buffers: the reduce (IPG) bucket, gradients waiting for their reduction,
ZeRO-3's prefetched and persistent parameters. docs/frameworks.md has each with its source.

- Reduce bucket (`zero_reduce_bucket_size` elements, with `zero_contiguous_gradients`): gradients
  are copied into one flat buffer of reduce_bucket_size elements, reduced when it is full. ZeRO-3
  allocates it when the optimizer is built (alive all step); ZeRO-1/2 at the start of each
  backward and release it at its end, two of them with overlap_comm.
- Unreduced gradients (ZeRO-2/3, backward): the largest unsharded gradient alive beside the
  bucket: a weight's gradient as autograd produces it (before it is copied into the bucket, or
  reduced on its own when larger than the bucket), or the bucket's copy made to reduce it (ZeRO-3's
  reduce_scatter_coalesced interleaves it, ZeRO-1/2's allreduce_bucket flattens it; without
  contiguous gradients, the bucket's gradients themselves).
- Prefetch (ZeRO-3): besides the module being computed, the next parameters of the trace are
  gathered, up to stage3_prefetch_bucket_size elements and no more than stage3_max_live_parameters.
- Persistent parameters (ZeRO-3): parameters of at most stage3_param_persistence_threshold
  elements stay gathered the whole step (norms, biases).

"auto" (-1): the HF Trainer / accelerate fill the value from the model's hidden size h.
"""

from __future__ import annotations

from ...i18n import Joined, Text
from ..result import MODEL_STATES, Block
from ..terms import Term
from .architecture import Architecture
from .frameworks import DEEPSPEED_COMMIT, TRANSFORMERS_VERSION
from .parameters import NORM_PARAMS_PER_WIDTH
from .step import PREFETCH, REDUCE_BUCKET, UNREDUCED

AUTO = -1
MIB = 1 << 20
PERSISTENT = "model_states.parameter.persistent"  # alive all step (step.py counts it with the fixed states)
# Sources through the catalog (the Chinese page translates their explanations); versions as fields.
SRC_HF_AUTO = Text("source.ds_hf_auto", {"transformers": TRANSFORMERS_VERSION})
SRC_BUCKET_ZERO3 = Text("source.ds_bucket_zero3", {"commit": DEEPSPEED_COMMIT})
SRC_BUCKET_ZERO12 = Text("source.ds_bucket_zero12", {"commit": DEEPSPEED_COMMIT})
SRC_UNREDUCED = Text("source.ds_unreduced", {"commit": DEEPSPEED_COMMIT})
SRC_PREFETCH = Text("source.ds_prefetch", {"commit": DEEPSPEED_COMMIT})
SRC_PERSISTENT = Text("source.ds_persistent", {"commit": DEEPSPEED_COMMIT})


def reduce_bucket_numel(arch: Architecture, reduce_bucket_size: int) -> Term:
    """reduce_bucket_size in elements; "auto" is h^2 (the HF Trainer's fill)."""
    if reduce_bucket_size == AUTO:
        h = arch.hidden_size
        return Term(h * h, Text("formula.ds_auto_square", {"h": h, "numel": h * h}))
    return Term(reduce_bucket_size, Text("formula.ds_elements", {"numel": reduce_bucket_size}))


def prefetch_bucket_numel(arch: Architecture, prefetch_bucket_size: int) -> Term:
    """stage3_prefetch_bucket_size in elements; "auto" is int(0.9 h^2)."""
    if prefetch_bucket_size == AUTO:
        h = arch.hidden_size
        numel = int(0.9 * h * h)
        return Term(numel, Text("formula.ds_auto_prefetch", {"h": h, "numel": numel}))
    return Term(prefetch_bucket_size, Text("formula.ds_elements", {"numel": prefetch_bucket_size}))


def persistence_threshold_numel(arch: Architecture, threshold: int) -> int:
    """stage3_param_persistence_threshold in elements; "auto" is 10 h."""
    return 10 * arch.hidden_size if threshold == AUTO else threshold


def small_layer_tensors(arch: Architecture) -> list[int]:
    """Elements of each norm and bias tensor of one dense decoder layer (as Hugging Face modules hold
    them, no tensor parallelism): the tensors a persistence threshold can keep gathered."""
    h = arch.hidden_size
    norms = [h] * (2 * NORM_PARAMS_PER_WIDTH[arch.norm_type])  # input and post-attention norms
    biases = []
    if arch.qkv_bias or arch.linear_bias:
        biases += [arch.query_width, arch.kv_width, arch.kv_width]
    if arch.linear_bias:
        mlp_in = [arch.ffn_hidden_size] * (2 if arch.gated_mlp else 1)
        biases += [h, *mlp_in, h]
    qk_norms = []
    if arch.qk_norm:
        qk_norms = [arch.query_width, arch.kv_width] if arch.qk_norm_full_width else [arch.head_width] * 2
    return norms + biases + qk_norms


def persistent_numel(arch: Architecture, layers: int, last_stage: bool, threshold: int) -> int:
    """Elements ZeRO-3 keeps gathered for good on a stage: its layers' small tensors under the
    threshold, and the final norm on the last stage."""
    per_layer = sum(n for n in small_layer_tensors(arch) if n <= threshold)
    final_norm = [arch.hidden_size] * NORM_PARAMS_PER_WIDTH[arch.norm_type] if last_stage else []
    return layers * per_layer + sum(n for n in final_norm if n <= threshold)


def largest_layer_tensor(arch: Architecture, tp: int) -> int:
    """Elements of a decoder layer's largest weight on one GPU: q or o projection, or one MLP projection
    (a dense MLP's, an expert's or the shared experts')."""
    widths = [arch.query_width, arch.ffn_hidden_size]
    if arch.is_moe:
        widths += [arch.expert_ffn, arch.shared_ffn]
    return arch.hidden_size * max(widths) // tp


def _sourced(source: str, value: int) -> str:
    """`source`, and the HF Trainer's fill where the value is "auto"."""
    return Joined(source, "; ", SRC_HF_AUTO) if value == AUTO else source


def _mib(numel: Term, nbytes: int, what: str) -> Term:
    total = numel.times(Term(nbytes, Text(what, {"bytes": nbytes})))
    return Term(total.value / MIB, total.text)


def deepspeed_blocks(run, stage: int, gathered_numel: int, sharded_params: bool) -> list[Block]:
    """The DeepSpeed ZeRO buffers of `stage` the options ask for; `gathered_numel` is what ZeRO-3 holds
    gathered besides the prefetch (the gathered-parameters block), `sharded_params` whether ZeRO-3
    shards the parameters at all."""
    c, o, arch = run.config, run.options, run.arch
    zero, nbytes = c.zero_stage, run.dtype_bytes
    blocks = []
    bucket = reduce_bucket_numel(arch, o.zero_reduce_bucket_size)
    if zero >= 1 and bucket.value and o.zero_contiguous_gradients:
        buffers = 2 if o.zero_overlap_comm and zero < 3 else 1
        term = _mib(Term(buffers, Text("formula.ds_buffers", {"n": buffers})).times(bucket), nbytes,
                    "formula.ds_bucket_bytes")
        blocks.append(Block.of(REDUCE_BUCKET, MODEL_STATES, term, buffers,
                               _sourced(SRC_BUCKET_ZERO3 if zero == 3 else SRC_BUCKET_ZERO12,
                                        o.zero_reduce_bucket_size)))
    if zero >= 2 and bucket.value:
        largest = largest_layer_tensor(arch, c.tp)
        waiting = Term(max(bucket.value, largest), Text("formula.ds_unreduced", {
            "bucket": bucket.text, "largest": largest}))
        blocks.append(Block.of(UNREDUCED, MODEL_STATES, _mib(waiting, nbytes, "formula.ds_gradient_bytes"), 1,
                               _sourced(SRC_UNREDUCED, o.zero_reduce_bucket_size)))
    if zero == 3 and sharded_params:
        prefetch = prefetch_bucket_numel(arch, o.zero3_prefetch_bucket_size)
        room = max(o.zero3_max_live_parameters - gathered_numel, 0)
        if prefetch.value and room:
            numel = Term(min(prefetch.value, room), Text("formula.ds_prefetch", {
                "bucket": prefetch.text, "live": o.zero3_max_live_parameters, "gathered": gathered_numel}))
            blocks.append(Block.of(PREFETCH, MODEL_STATES, _mib(numel, nbytes, "formula.bytes_gathered"), 1,
                                   _sourced(SRC_PREFETCH, o.zero3_prefetch_bucket_size)))
        threshold = persistence_threshold_numel(arch, o.zero3_param_persistence_threshold)
        kept = persistent_numel(arch, run.layers[stage], stage == c.pp - 1, threshold)
        if kept:
            numel = Term(kept, Text("formula.ds_persistent", {"numel": kept, "threshold": threshold}))
            blocks.append(Block.of(PERSISTENT, MODEL_STATES, _mib(numel, nbytes, "formula.bytes_gathered"), 1,
                                   _sourced(SRC_PERSISTENT, o.zero3_param_persistence_threshold)))
    return blocks
