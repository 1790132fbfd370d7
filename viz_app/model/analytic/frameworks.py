"""Framework presets: what each training framework allocates, as values of the analytic options.

A preset is written once, with the source of every value in that framework's code, and applies
to every run of that framework (never tuned to one measurement). The user picks a framework;
every option it sets stays editable. docs/frameworks.md explains each behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

MEGATRON_COMMIT = "NVIDIA/Megatron-LM@d98e8a64ddf34856e74b24714e3bedb2f5a39553"
TORCHTITAN_COMMIT = "pytorch/torchtitan@9dec370ad26b5f8e9a7333a0e36165018262644b"
TRANSFORMERS_VERSION = "huggingface/transformers 5.24.0"
TORCHTUNE_COMMIT = "pytorch/torchtune@1814feb17a9038e1a8053ce93111bd26774a8db6"
DEEPSPEED_COMMIT = "deepspeedai/DeepSpeed@edaa7221267243c7be7fb49c5d5f5c4fb97b4641"
# ms-swift's Ulysses sequence parallelism, the HF Trainer + DeepSpeed runs memviz validates with
# context parallelism; the loss is the same at both commits (the rows' sequence_parallel.sh).
MSSWIFT_COMMITS = "modelscope/ms-swift@e3f270866 and @70ec3155d"
MSSWIFT_NOW = "modelscope/ms-swift@3602360a5"
TRANSFORMERS_ROWS_VERSION = "huggingface/transformers 4.51.3"  # ms-swift then required transformers<4.52/<4.53


@dataclass(frozen=True)
class Setting:
    """One option a framework fixes, and where its code says so."""

    value: object
    source: str


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    settings: dict[str, Setting]

    def values(self) -> dict:
        return {option: setting.value for option, setting in self.settings.items()}


# What the presets below leave as the user set it: the strategy (tp, pp, dp, ZeRO stage / FSDP,
# recompute, cp, schedule) and the overheads.
_SHARED_OFF = {"fp32_sharded_params": False, "fsdp_unsharded_under_pp": False, "fsdp_reduce_scatter_buffers": False}
# DeepSpeed's own buffers (deepspeed_buffers.py): off under the other frameworks.
_DEEPSPEED_OFF = {"zero_reduce_bucket_size": 0, "zero_contiguous_gradients": False, "zero_overlap_comm": False,
                  "zero3_prefetch_bucket_size": 0, "zero3_param_persistence_threshold": 0}
_HF_AUTO = (f"{TRANSFORMERS_VERSION} transformers/integrations/deepspeed.py L202-242 (trainer_config_finalize "
            "fills 'auto' from the hidden size h; ms-swift's zero2.json/zero3.json and the HF examples say 'auto')")
_FP32_MASTER = Setting("fp32", "mixed precision with fp32 master weights in the optimizer")
# ms-swift's Ulysses loss: in backward the bf16 log-probs, their gradient and the logits' gradient,
# 3 x 2 B = 1.5 x 4 B per logit of the rank's sequence shard.
_ULYSSES_LOSS = (f"{MSSWIFT_COMMITS} swift/trainers/sequence_parallel/ulysses.py L58-69 (loss_scale_sp_func: "
                 "CrossEntropyLoss(reduction='none') on outputs.logits, no .float()), L517 / L556 (set as the "
                 "trainer's compute_loss_func); swift/trainers/trainers.py L157-158, L192 (labels popped: the "
                 f"model returns its bf16 logits and computes no loss); {TRANSFORMERS_ROWS_VERSION} "
                 "models/qwen2/modeling_qwen2.py L839 (logits = lm_head(...), not upcast); the same at "
                 f"{MSSWIFT_NOW}: swift/trainers/utils.py L142-158 (per_token_loss_func_sp), "
                 "swift/trainers/seq2seq_trainer.py L136, L161-163")
# The loss on each rank's sequence shard is the one the framework computes without context parallelism.
_CP_SAME_LOSS = {"cp_cross_entropy_fp32_copies": -1}

FRAMEWORK_PRESETS: dict[str, Framework] = {
    "custom": Framework("custom", "Custom (the options as set)", {}),
    "megatron": Framework("megatron", "Megatron-LM / Megatron-Core (distributed optimizer)", {
        "grad_dtype": Setting("fp32", f"{MEGATRON_COMMIT} megatron/training/arguments.py L1209-1217 (bf16 "
                                      "accumulates and all-reduces gradients in fp32); megatron/core/distributed/"
                                      "param_and_grad_buffer.py L924 (the grad buffer's dtype)"),
        "optimizer_state_dtype": Setting("fp32", f"{MEGATRON_COMMIT} megatron/core/optimizer/optimizer_config.py "
                                                 "L187-206 (main_params_dtype, exp_avg_dtype, exp_avg_sq_dtype "
                                                 "default fp32; bf16 with use_precision_aware_optimizer)"),
        "gradient_allocation": Setting("buffer", f"{MEGATRON_COMMIT} megatron/core/distributed/"
                                                 "param_and_grad_buffer.py L1027, L1190-1195 (the bucket group's "
                                                 "grad_data allocated whole when the model is wrapped)"),
        "optimizer_implementation": Setting("fused", f"{MEGATRON_COMMIT} megatron/core/optimizer/__init__.py "
                                                     "L14, L20 (Transformer Engine or Apex FusedAdam)"),
        "optimizer_sub_group_size": Setting(0, "not a Megatron-Core behaviour"),
        "zero3_max_reuse_distance": Setting(0, "not a Megatron-Core behaviour"),
        "kernels": Setting("fused", "Transformer Engine fused kernels (Korthikanti et al. 2022 accounting)"),
        "vocab_pad_multiple": Setting(128, f"{MEGATRON_COMMIT} megatron/training/arguments.py L2441 "
                                           "(--make-vocab-size-divisible-by default 128, times tp)"),
        "cross_entropy_fp32_copies": Setting(1.5, f"{MEGATRON_COMMIT} megatron/core/tensor_parallel/"
                                                  "cross_entropy.py L25 (fp32 cast of the vocab shard), L62 "
                                                  "(exp in place), L77 (softmax in place, saved for backward)"),
        "compiled_loss": Setting(False, "not a Megatron-Core behaviour (its own vocab-parallel cross entropy, "
                                        "cross_entropy_fp32_copies above)"),
        "zero_shards_over_cp": Setting(True, f"{MEGATRON_COMMIT} megatron/core/optimizer/__init__.py L934, "
                                             "L1141 (the distributed optimizer's group is dp_cp_group)"),
        "master_weights": _FP32_MASTER,
        **{option: Setting(value, "not a Megatron-Core behaviour") for option, value in _SHARED_OFF.items()},
        **{option: Setting(value, "not a Megatron-Core behaviour") for option, value in _DEEPSPEED_OFF.items()},
        **{option: Setting(value, f"{MEGATRON_COMMIT} megatron/core/models/gpt/gpt_model.py L839, "
                                  "common/language_module/language_module.py L161-200 (the same vocab-parallel "
                                  "cross entropy on each context-parallel rank's tokens)")
           for option, value in _CP_SAME_LOSS.items()},
    }),
    "torchtitan": Framework("torchtitan", "torchtitan (FSDP2)", {
        "fp32_sharded_params": Setting(True, f"{TORCHTITAN_COMMIT} torchtitan/parallelisms/parallelize_llama.py "
                                             "L320 (MixedPrecisionPolicy: fp32 sharded params, bf16 when "
                                             "gathered); torchtitan/config_manager.py L379-391"),
        "grad_dtype": Setting("fp32", f"{TORCHTITAN_COMMIT} torchtitan/config_manager.py L389-391 "
                                      "(mixed_precision_reduce float32: fp32 gradient shards)"),
        "optimizer_state_dtype": Setting("fp32", f"{TORCHTITAN_COMMIT} AdamW on the fp32 sharded parameters"),
        "fsdp_unsharded_under_pp": Setting(True, f"{TORCHTITAN_COMMIT} torchtitan/parallelisms/"
                                                 "parallelize_llama.py L326-329, L339 (reshard_after_forward=False "
                                                 "with pipeline parallelism)"),
        "gradient_allocation": Setting("autograd", f"{TORCHTITAN_COMMIT} train.py L266 (optimizers.zero_grad() "
                                                   "each step: set_to_none=True, the torch.optim default), so "
                                                   "FSDP2 assigns new gradient shards in backward"),
        "optimizer_implementation": Setting("foreach", f"{TORCHTITAN_COMMIT} torchtitan/optimizer.py L132-138 "
                                                       "(foreach = not fused), torchtitan/config_manager.py "
                                                       "L193-197 (--optimizer.fused off by default)"),
        "optimizer_sub_group_size": Setting(0, "not a torchtitan behaviour"),
        "zero3_max_reuse_distance": Setting(0, "not an FSDP2 behaviour (it gathers zero3_prefetch_layers at once)"),
        "fsdp_reduce_scatter_buffers": Setting(True, "PyTorch 2.13.0 torch/distributed/fsdp/_fully_shard/"
                                                     "_fsdp_collectives.py L597-606 (FSDP2's foreach_reduce)"),
        "kernels": Setting("eager", "plain PyTorch modules (torch.compile is off by default)"),
        "master_weights": Setting("fp32", f"{TORCHTITAN_COMMIT}: the fp32 sharded parameters are the master weights"),
        "cross_entropy_fp32_copies": Setting(3, f"{TORCHTITAN_COMMIT} train.py L133 "
                                                "(cross_entropy(pred.flatten(0, 1).float(), ...))"),
        "compiled_loss": Setting(False, f"{TORCHTITAN_COMMIT} train.py L136-138 (torch.compile of the loss "
                                        "commented out); at later commits torchtitan/components/loss.py compiles it "
                                        "when compile is on (L25-30 at 6fc499f6f5b3): a run setting"),
        "vocab_pad_multiple": Setting(1, "the tokenizer's vocabulary, unpadded"),
        "zero_shards_over_cp": Setting(True, f"{TORCHTITAN_COMMIT} torchtitan/parallelisms/parallelize_llama.py "
                                             "L83-89 (FSDP's mesh is dp_shard_cp)"),
        **{option: Setting(value, "not a torchtitan behaviour") for option, value in _DEEPSPEED_OFF.items()},
        **{option: Setting(value, f"{TORCHTITAN_COMMIT} train.py L133 (the same loss on each context-parallel "
                                  "rank's sequence shard)") for option, value in _CP_SAME_LOSS.items()},
    }),
    "deepspeed": Framework("deepspeed", "DeepSpeed ZeRO through the HF Trainer / accelerate", {
        "grad_dtype": Setting("bf16", f"{DEEPSPEED_COMMIT} deepspeed/runtime/engine.py L1485-1496 (gradients "
                                      "accumulate in the model's dtype unless data_types.grad_accum_dtype is set; "
                                      "the HF Trainer's and ms-swift's configs do not set it); "
                                      "deepspeed/runtime/zero/stage3.py L742-744 (the gradient partitions)"),
        "optimizer_state_dtype": Setting("fp32", f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/stage_1_and_2.py L509, "
                                                 "stage3.py L1105-1122 (fp32 master partitions; Adam on them)"),
        "gradient_allocation": Setting("buffer", f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/stage3.py L742-744 "
                                                 "(grad_partitions_flat_buffer allocated when the optimizer is "
                                                 "built)"),
        "optimizer_implementation": Setting("fused", f"{TRANSFORMERS_VERSION} transformers/training_args.py "
                                                     "L806-811 (the Trainer's default optim is adamw_torch_fused "
                                                     "with torch >= 2.8)"),
        "optimizer_sub_group_size": Setting(1_000_000_000, f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py "
                                                           "L175 (sub_group_size default 1e9); "
                                                           "stage_1_and_2.py L2350-2383 (ZeRO-1/2); stage3.py "
                                                           "L2398-2408 (each "
                                                           "sub-group's gradients cast to fp32 for the step)"),
        "zero3_max_reuse_distance": Setting(1_000_000_000, f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py "
                                                           "L244 (stage3_max_reuse_distance default 1e9); "
                                                           "partitioned_param_coordinator.py L634-664"),
        "kernels": Setting("eager", f"{TRANSFORMERS_VERSION}: Hugging Face modules"),
        "cross_entropy_fp32_copies": Setting(3, f"{TRANSFORMERS_VERSION} transformers/loss/loss_utils.py L61 "
                                                "(ForCausalLMLoss: logits.float())"),
        "cp_cross_entropy_fp32_copies": Setting(1.5, _ULYSSES_LOSS),
        "compiled_loss": Setting(False, f"{TRANSFORMERS_VERSION} transformers/training_args.py L940-942 "
                                        "(torch_compile off by default)"),
        "vocab_pad_multiple": Setting(1, "the tokenizer's vocabulary, unpadded"),
        "master_weights": _FP32_MASTER,
        "zero_reduce_bucket_size": Setting(-1, f"'auto' = h^2: {_HF_AUTO} L232; DeepSpeed's own default 5e8 "
                                               f"({DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py L113)"),
        "zero_contiguous_gradients": Setting(True, f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py L102 "
                                                   "(contiguous_gradients default True)"),
        "zero_overlap_comm": Setting(False, f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py L138, L383-386 "
                                            "(overlap_comm defaults to on for ZeRO-3 only, where it adds no bucket)"),
        "zero3_prefetch_bucket_size": Setting(-1, f"'auto' = 0.9 h^2: {_HF_AUTO} L234-238; DeepSpeed's own "
                                                  f"default 5e7 ({DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py "
                                                  "L215)"),
        "zero3_max_live_parameters": Setting(1_000_000_000, f"{DEEPSPEED_COMMIT} deepspeed/runtime/zero/config.py "
                                                            "L238 (stage3_max_live_parameters default 1e9)"),
        "zero3_param_persistence_threshold": Setting(-1, f"'auto' = 10 h: {_HF_AUTO} L239-242; DeepSpeed's own "
                                                         f"default 1e5 ({DEEPSPEED_COMMIT} deepspeed/runtime/zero/"
                                                         "config.py L221)"),
        **{option: Setting(value, "not a DeepSpeed behaviour") for option, value in _SHARED_OFF.items()},
    }),
    "torchtune": Framework("torchtune", "torchtune (single-device / FSDP recipes, dtype bf16)", {
        "master_weights": Setting("none", f"{TORCHTUNE_COMMIT} recipes/full_finetune_single_device.py L59-62, L421-436 "
                                          "(dtype bf16: the model is built in bf16 and the optimizer steps those "
                                          "parameters; no fp32 copy)"),
        "grad_dtype": Setting("bf16", f"{TORCHTUNE_COMMIT} recipes/full_finetune_single_device.py L59-62 "
                                      "(gradients in bf16, the parameters' dtype)"),
        "optimizer_state_dtype": Setting("bf16", f"{TORCHTUNE_COMMIT} recipes/full_finetune_single_device.py L59-62 "
                                                 "(optimizer states in bf16, created like the parameters)"),
        "kernels": Setting("eager", f"{TORCHTUNE_COMMIT} torchtune/modules (plain PyTorch modules; compile off "
                                    "by default)"),
        "cross_entropy_fp32_copies": Setting(3, f"{TORCHTUNE_COMMIT} torchtune/modules/transformer.py L652, L937 "
                                                "(logits .float()), recipes/full_finetune_single_device.py L643-645 "
                                                "(loss, then del logits): log-probabilities, their gradient and "
                                                "the logits' gradient in fp32 at the start of backward"),
        "compiled_loss": Setting(False, f"{TORCHTUNE_COMMIT} recipes/full_finetune_single_device.py L291-292 "
                                        "(training.compile_loss(self._loss_fn) with compile on: its result is "
                                        "dropped), torchtune/training/_compile.py L80-82 (a plain loss such as "
                                        "CrossEntropyLoss is compiled into a new module, returned; only the chunked "
                                        "losses are compiled in place, L74-79): a plain loss runs eagerly"),
        "vocab_pad_multiple": Setting(1, "the tokenizer's vocabulary, unpadded"),
        "gradient_allocation": Setting("autograd", f"{TORCHTUNE_COMMIT} recipes/full_finetune_single_device.py L716 "
                                                   "(zero_grad(set_to_none=True) after each step)"),
        "optimizer_implementation": Setting("foreach", f"{TORCHTUNE_COMMIT} torch.optim.AdamW as configured (no "
                                                       "fused=True): PyTorch's foreach implementation on CUDA"),
        "optimizer_sub_group_size": Setting(0, "not a torchtune behaviour"),
        **{option: Setting(value, "not a torchtune behaviour") for option, value in _SHARED_OFF.items()},
        **{option: Setting(value, "not a torchtune behaviour") for option, value in _DEEPSPEED_OFF.items()},
        **{option: Setting(value, "no context parallelism in torchtune's recipes") for option, value in
           _CP_SAME_LOSS.items()},
    }),
}


def framework_values(key: str) -> dict:
    """The option values framework `key` sets (none for custom)."""
    return FRAMEWORK_PRESETS[key].values()


def apply_options(options, values: dict) -> None:
    """Set `values` on AnalyticOptions `options` as a user would: the framework's preset first, then
    every other value given, which wins over the preset."""
    values = dict(values)
    if "framework" in values:
        framework = values.pop("framework")
        options.param.update(framework=framework, **framework_values(framework))
    options.param.update(**values)


def options_for(values: dict):
    """New AnalyticOptions from `values` (a framework name and explicit options), preset applied first."""
    from .options import AnalyticOptions

    options = AnalyticOptions()
    apply_options(options, values)
    return options
