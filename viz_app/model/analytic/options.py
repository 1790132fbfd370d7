"""The analytic mode's knobs beyond `TrainingConfig`: optimizer, kernels, schedule, overheads."""

from __future__ import annotations

import param

from ..limits import bounds

OPTIMIZERS = ("adam", "adamw", "sgd_momentum", "adam_8bit", "none")
GRAD_DTYPES = ("fp32", "bf16", "bf16+fp32_accumulation")
SCHEDULES = ("1f1b", "interleaved", "gpipe")
RECOMPUTE = ("none", "selective", "full", "op_sac")
KERNELS = ("fused", "eager")
FRAMEWORKS = ("custom", "megatron", "torchtitan", "deepspeed", "torchtune")
MASTER_WEIGHTS = ("fp32", "none")
STATE_DTYPES = ("fp32", "bf16")
GRADIENT_ALLOCATIONS = ("buffer", "autograd")
OPTIMIZER_IMPLEMENTATIONS = ("fused", "foreach")


class AnalyticOptions(param.Parameterized):
    """Assumptions of the analytic estimate that the training configuration does not carry.

    Choosing a `framework` sets the options that framework fixes (frameworks.apply_options, and the
    session when the user picks one); every option stays editable afterwards. `custom` changes nothing.
    """

    framework = param.Selector(
        default="custom", objects=list(FRAMEWORKS),
        doc="The training framework whose allocation behaviour to apply (docs/frameworks.md); custom: the "
            "options as set.",
    )
    optimizer = param.Selector(default="adamw", objects=list(OPTIMIZERS), doc="Optimizer whose states are kept.")
    grad_dtype = param.Selector(
        default="fp32", objects=list(GRAD_DTYPES),
        doc="fp32: Megatron main_grad buffer (accumulates across micro-batches); bf16: half gradients; "
            "bf16+fp32_accumulation: half gradients plus an fp32 accumulation buffer when chunks > 1 "
            "(Galvatron/DeepSpeed style).",
    )
    optimizer_state_dtype = param.Selector(
        default="fp32", objects=list(STATE_DTYPES),
        doc="Dtype of the optimizer's moments (Adam's exp_avg and exp_avg_sq): fp32, or bf16 as Megatron's "
            "precision-aware optimizer allows (exp_avg_dtype, exp_avg_sq_dtype); master weights stay fp32.",
    )
    master_weights = param.Selector(
        default="fp32", objects=list(MASTER_WEIGHTS),
        doc="Mixed precision's master weights: fp32 copies inside the optimizer, or none (pure bf16: the "
            "optimizer updates the half-precision weights, as torchtune with dtype bf16).",
    )
    optimizer_offload_fraction = param.Number(
        0.0, bounds=bounds("optimizer_offload_fraction"),
        doc="Share of the optimizer (master weights and moments) kept in CPU memory instead (Megatron's "
            "--optimizer-cpu-offload with --optimizer-offload-fraction, DeepSpeed's offload_optimizer).",
    )
    gradient_allocation = param.Selector(
        default="buffer", objects=list(GRADIENT_ALLOCATIONS),
        doc="buffer: gradients live in buffers allocated before the step (Megatron's grad buffer); autograd: "
            "each gradient is allocated when backward reaches its layer and freed after the optimizer step "
            "(plain PyTorch, zero_grad(set_to_none=True)).",
    )
    optimizer_implementation = param.Selector(
        default="fused", objects=list(OPTIMIZER_IMPLEMENTATIONS),
        doc="fused: the optimizer updates in place (Apex/Transformer Engine FusedAdam, torch fused=True); foreach: "
            "torch's foreach Adam(W) also holds sqrt(exp_avg_sq) for every parameter during the step.",
    )
    optimizer_sub_group_size = param.Integer(
        0, bounds=bounds("optimizer_sub_group_size"),
        doc="DeepSpeed sub_group_size: the optimizer step casts one ZeRO-3 sub-group's gradients (ZeRO-1/2: the "
            "rank's whole partition) to fp32 (elements; 0: no such copy).",
    )
    fsdp_reduce_scatter_buffers = param.Boolean(
        False, doc="FSDP2 (ZeRO-3 sharding): while a layer's backward runs, its unsharded gradients (compute dtype) "
                   "and the reduce-scatter input they are copied into (reduce dtype) are alive together.",
    )
    fsdp_unsharded_under_pp = param.Boolean(
        False, doc="FSDP2 under pipeline parallelism (torchtitan): a stage's parameters stay unsharded after "
                   "forward, and the gradients of micro-batches before the last accumulate unsharded.",
    )
    recompute = param.Selector(
        default="none", objects=list(RECOMPUTE),
        doc="Activation recomputation: none, selective (attention core, Korthikanti et al. 2022), full "
            "(keep only each layer's input) or op_sac (torchtitan's per-op selective checkpointing: layer "
            "input, attention output, every other matmul output). TrainingConfig.checkpoint forces full.",
    )
    recompute_modules = param.List(
        default=["core_attn"], item_type=str,
        doc="With selective recompute, the modules recomputed in backward (Megatron --recompute-modules): core_attn, "
            "mla_up_proj, layernorm, mlp, moe_act, moe, shared_experts.",
    )
    moe_load_factor = param.Number(
        1.0, bounds=bounds("moe_load_factor"), softbounds=(1.0, 4.0),
        doc="Tokens the busiest expert rank computes, over its balanced share (routing imbalance; 1: balanced).",
    )
    flash_attention = param.Boolean(True, doc="Fused attention (FlashAttention/SDPA): no s^2 scores are stored.")
    kernels = param.Selector(
        default="fused", objects=list(KERNELS),
        doc="fused: Megatron/Transformer Engine kernels (Korthikanti accounting); eager: plain PyTorch / "
            "Hugging Face modules, which save extra intermediates (see docs/analytic.md).",
    )
    schedule = param.Selector(default="1f1b", objects=list(SCHEDULES), doc="Pipeline schedule.")
    virtual_stages = param.Integer(
        1, bounds=bounds("virtual_stages"), softbounds=(1, 8),
        doc="Model chunks per pipeline stage (interleaved schedule).",
    )
    context_parallel = param.Integer(
        1, bounds=bounds("context_parallel"), softbounds=(1, 16),
        doc="Context-parallel degree cp (sequence split over GPUs).",
    )
    fp32_sharded_params = param.Boolean(
        False, doc="FSDP2 mixed precision (torchtitan): the sharded parameters are the fp32 master weights, "
                   "cast to bf16 only when gathered; no separate half-precision copy is kept.",
    )
    zero_shards_over_cp = param.Boolean(
        True, doc="ZeRO/FSDP shards over dp x cp (Megatron distributed optimizer, torchtitan FSDP do).",
    )
    pp_division = param.List(
        default=None, item_type=int, allow_None=True,
        doc="Layers per pipeline stage, like Galvatron's pp_division; None splits as evenly as possible.",
    )
    first_stage_layers = param.Integer(
        0, bounds=bounds("first_stage_layers"),
        doc="Layers on the first pipeline stage (Megatron --decoder-first-pipeline-num-layers); 0: not set. The "
            "stages between split the rest evenly.",
    )
    last_stage_layers = param.Integer(
        0, bounds=bounds("last_stage_layers"),
        doc="Layers on the last pipeline stage (Megatron --decoder-last-pipeline-num-layers); 0: not set.",
    )
    embedding_in_pipeline_split = param.Boolean(
        False, doc="Count the embedding as one layer when splitting (Megatron "
                   "--account-for-embedding-in-pipeline-split): the first model chunk gets one layer fewer.",
    )
    loss_in_pipeline_split = param.Boolean(
        False, doc="Count the loss as one layer when splitting (Megatron --account-for-loss-in-pipeline-split): "
                   "the last model chunk gets one layer fewer.",
    )
    vocab_pad_multiple = param.Integer(
        1, bounds=bounds("vocab_pad_multiple"),
        doc="Pad the vocabulary to a multiple of this x tp (Megatron default 128; HF 1).",
    )
    cross_entropy_fp32_copies = param.Number(
        1.5, bounds=bounds("cross_entropy_fp32_copies"),
        doc="fp32 logits-sized buffers alive at the loss's peak: 1.5 for Megatron's vocab-parallel cross "
            "entropy (fp32 softmax kept and updated in place, plus a bf16 copy); 3 for PyTorch's "
            "cross_entropy(logits.float()) (in backward: saved log-probs, their gradient and the input "
            "gradient); 0 for fused linear + loss kernels that never form the logits (Liger, chunked).",
    )
    cp_cross_entropy_fp32_copies = param.Number(
        -1, bounds=bounds("cp_cross_entropy_fp32_copies"),
        doc="The same, for the loss of each rank's sequence shard when context_parallel > 1, where a framework "
            "computes it differently (-1: as cross_entropy_fp32_copies). 1.5 for ms-swift's Ulysses loss: "
            "cross_entropy on the bf16 logits, no upcast (3 bf16 buffers).",
    )
    compiled_loss = param.Boolean(
        False, doc="The loss runs under torch.compile (torchtitan's loss.py compiles it with training.compile, "
                   "not at its Dec 2024 commit): Inductor keeps the logits in their dtype for backward and recomputes "
                   "the fp32 softmax there, so the loss's peak is the logits and their gradient, 2 logits-sized "
                   "buffers in the compute dtype (benchmarks/compiled_loss.py), in place of the fp32 copies.",
    )
    zero3_prefetch_layers = param.Integer(
        2, bounds=bounds("zero3_prefetch_layers"),
        doc="Layers whose parameters ZeRO-3/FSDP holds gathered at once (current + prefetch).",
    )
    zero3_max_reuse_distance = param.Integer(
        0, bounds=bounds("zero3_max_reuse_distance"),
        doc="DeepSpeed ZeRO-3 stage3_max_reuse_distance (parameters): gathered weights used again within it stay "
            "gathered, so the last layers stay gathered from their forward to their backward; 0: use "
            "zero3_prefetch_layers.",
    )
    zero_reduce_bucket_size = param.Integer(
        0, bounds=bounds("zero_reduce_bucket_size"),
        doc="DeepSpeed reduce_bucket_size (elements): the flat bucket gradients are copied into and reduced from; "
            "-1: 'auto', h^2 as the HF Trainer fills it; 0: no DeepSpeed bucket.",
    )
    zero_contiguous_gradients = param.Boolean(
        False, doc="DeepSpeed contiguous_gradients: gradients are copied into the reduce bucket (a buffer of "
                   "reduce_bucket_size elements) and their partitions into one contiguous buffer.",
    )
    zero_overlap_comm = param.Boolean(
        False, doc="DeepSpeed overlap_comm under ZeRO-1/2: two reduce buckets, so one is reduced while the other "
                   "fills (DeepSpeed's default is on for ZeRO-3 only, where it adds no bucket).",
    )
    zero3_prefetch_bucket_size = param.Integer(
        0, bounds=bounds("zero3_prefetch_bucket_size"),
        doc="DeepSpeed stage3_prefetch_bucket_size (elements): parameters gathered ahead of the module being "
            "computed; -1: 'auto', 0.9 h^2 as the HF Trainer fills it; 0: none.",
    )
    zero3_max_live_parameters = param.Integer(
        1_000_000_000, bounds=bounds("zero3_max_live_parameters"),
        doc="DeepSpeed stage3_max_live_parameters (elements): no prefetch beyond this many gathered parameters.",
    )
    zero3_param_persistence_threshold = param.Integer(
        0, bounds=bounds("zero3_param_persistence_threshold"),
        doc="DeepSpeed stage3_param_persistence_threshold (elements): smaller parameters (norms, biases) stay "
            "gathered the whole step; -1: 'auto', 10 h as the HF Trainer fills it; 0: none.",
    )
    cuda_context_mib = param.Number(
        500.0, bounds=bounds("cuda_context_mib"),
        doc="CUDA context and kernels, outside PyTorch's allocator (nvidia-smi only).",
    )
    allocator_fragmentation = param.Number(
        0.05, bounds=bounds("allocator_fragmentation"),
        doc="Caching-allocator reserve above allocated memory, as a fraction of it.",
    )
    nccl_buffer_mib_per_group = param.Number(
        128.0, bounds=bounds("nccl_buffer_mib_per_group"),
        doc="NCCL buffers per communicator of size > 1 (nvidia-smi only).",
    )

    def values(self) -> dict:
        """The options as plain values (for JSON and tests)."""
        return {name: getattr(self, name) for name in self.param if name != "name"}
