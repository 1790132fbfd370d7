"""`memviz` command line: the model layer's numbers as a table or JSON.

Imports only the model layer at start (the app and the site builder are imported lazily by their
own subcommands), so `memviz estimate` starts fast.

Exit status: 0 done; 1 an internal error (a bug: one line saying so, `--debug` shows the
traceback); 2 bad input (one line naming the problem); 3 a build step outside memviz failed (a
download, a hash check, a tool it runs).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence

from . import __version__
from .model.analytic.moe_activations import parse_recompute_modules
from .model.analytic.options import (
    FRAMEWORKS,
    GRAD_DTYPES,
    GRADIENT_ALLOCATIONS,
    KERNELS,
    MASTER_WEIGHTS,
    OPTIMIZER_IMPLEMENTATIONS,
    OPTIMIZERS,
    RECOMPUTE,
    SCHEDULES,
    STATE_DTYPES,
)
from .model.analytic.pipeline_division import parse_pp_division
from .model.config import ZERO_STAGES
from .model.errors import MemvizError, StrategyError, param_values_checked
from .model.gpus import GPUS
from .model.limits import LIMITS
from .model.report import estimate_document
from .model.text_report import format_stages

EXIT_INTERNAL_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_STEP_FAILED = 3

# CLI flag -> TrainingConfig parameter (flags are a public interface: only add, never rename).
STRATEGY_FLAGS = {
    "tp": "tp", "pp": "pp", "dp": "dp", "gpus": "total_gpus", "mbs": "micro_batch_size",
    "gbs": "global_batch_size", "chunks": "chunks", "seq_length": "seq_length", "layers": "num_layers",
    "ep": "ep", "etp": "etp",
}
EXPERT_FLAGS = ("ep", "etp")  # analytic mode only: Galvatron profiles have no experts


def _limited(name: str):
    """An argparse type: a number within the limit `name` (model/limits.py), refused with the page's message."""
    whole = LIMITS[name].whole

    def convert(text: str):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            value = text  # the limit's message names what was expected
        reason = LIMITS[name].reason(value)
        if reason is not None:
            raise argparse.ArgumentTypeError(str(reason))
        return value

    convert.__name__ = name  # argparse names the type in some messages
    return convert


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags exit 2 with one line naming the flag (argparse would print the usage first)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"memviz: error: {message} (see memviz {self.prog.split()[-1]} --help)\n")


def _model_parser(parse):
    """An argparse type from a model-layer parser: its StrategyError becomes argparse's message."""
    def convert(text: str):
        try:
            return parse(text)
        except StrategyError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


_pp_division = _model_parser(parse_pp_division)
_recompute_modules = _model_parser(parse_recompute_modules)


def _valued(kind, metavar: str, help_text: str) -> dict:
    """A flag with a value; `kind` a type, or the name of its limit in model/limits.py."""
    return {"type": _limited(kind) if isinstance(kind, str) else kind, "metavar": metavar, "help": help_text}


def _switch(action: str, help_text: str) -> dict:
    return {"action": action, "default": None, "help": help_text}


# Analytic-mode flag -> (AnalyticOptions parameter, argparse keywords); only with --model / --model-config.
ANALYTIC_FLAGS = {
    "framework": ("framework", dict(choices=FRAMEWORKS,
                                    help="the training framework whose allocation to model (docs/frameworks.md); "
                                         "its preset sets other options, which flags given here override")),
    "optimizer_state_dtype": ("optimizer_state_dtype", dict(choices=STATE_DTYPES,
                                                            help="optimizer moments' dtype (default fp32)")),
    "master_weights": ("master_weights", dict(choices=MASTER_WEIGHTS,
                                              help="fp32 master weights, or none (pure bf16, torchtune)")),
    "optimizer_offload_fraction": ("optimizer_offload_fraction", _valued(
        "optimizer_offload_fraction", "FRACTION", "share of master weights and optimizer states on the CPU (0 to 1)")),
    "gradient_allocation": ("gradient_allocation", dict(
        choices=GRADIENT_ALLOCATIONS, help="buffer: gradients allocated before the step (default); autograd: "
                                           "as backward reaches each layer, freed after the step")),
    "optimizer_implementation": ("optimizer_implementation", dict(
        choices=OPTIMIZER_IMPLEMENTATIONS, help="fused (in place, default) or foreach (torch: sqrt(exp_avg_sq) "
                                                "held for every parameter during the step)")),
    "optimizer_sub_group_size": ("optimizer_sub_group_size", _valued(
        "optimizer_sub_group_size", "N", "DeepSpeed ZeRO-3 sub_group_size: fp32 gradient copy per sub-group")),
    "fsdp_reduce_scatter_buffers": ("fsdp_reduce_scatter_buffers", _switch(
        "store_true", "FSDP2: a layer's unsharded gradients and reduce-scatter input alive in its backward")),
    "fsdp_unsharded_under_pp": ("fsdp_unsharded_under_pp", _switch(
        "store_true", "FSDP2 under PP (torchtitan): stage params and accumulated gradients stay unsharded")),
    "optimizer": ("optimizer", dict(choices=OPTIMIZERS,
                                    help="optimizer whose states are kept (default adamw)")),
    "grad_dtype": ("grad_dtype", dict(choices=GRAD_DTYPES,
                                      help="gradient dtype (default fp32 main gradients)")),
    "recompute": ("recompute", dict(choices=RECOMPUTE,
                                    help="activation recomputation (--checkpoint forces full)")),
    "recompute_modules": ("recompute_modules", _valued(
        _recompute_modules, "M1,M2", "with --recompute selective: the modules recomputed (Megatron names: core_attn, "
                                     "mla_up_proj, layernorm, mlp, moe_act, moe, shared_experts; default core_attn)")),
    "moe_load_factor": ("moe_load_factor", _valued(
        "moe_load_factor", "X", "MoE: tokens of the busiest expert rank over the balanced share (default 1)")),
    "no_flash_attention": ("flash_attention", _switch("store_false", "unfused attention: keep the s^2 scores")),
    "kernels": ("kernels", dict(choices=KERNELS, help="fused (Megatron) or eager (plain PyTorch/HF)")),
    "schedule": ("schedule", dict(choices=SCHEDULES, help="pipeline schedule")),
    "virtual_stages": ("virtual_stages", _valued("virtual_stages", "N", "model chunks per stage")),
    "cp": ("context_parallel", _valued("context_parallel", "N", "context-parallel degree")),
    "fp32_sharded_params": ("fp32_sharded_params",
                            _switch("store_true", "FSDP2: fp32 sharded parameters are the master weights")),
    "no_zero_over_cp": ("zero_shards_over_cp", _switch("store_false", "ZeRO shards over dp only, not dp x cp")),
    "zero3_max_reuse_distance": ("zero3_max_reuse_distance", _valued(
        "zero3_max_reuse_distance", "N", "DeepSpeed stage3_max_reuse_distance (0: --zero3-prefetch-layers)")),
    "zero_reduce_bucket_size": ("zero_reduce_bucket_size", _valued(
        "zero_reduce_bucket_size", "N", "DeepSpeed reduce_bucket_size in elements (-1: auto = hidden^2, as the HF "
                                        "Trainer fills it; 0: no bucket)")),
    "zero_contiguous_gradients": ("zero_contiguous_gradients", _switch(
        "store_true", "DeepSpeed contiguous_gradients on: the reduce bucket is a buffer of its own")),
    "no_zero_contiguous_gradients": ("zero_contiguous_gradients", _switch(
        "store_false", "DeepSpeed contiguous_gradients off (the deepspeed preset turns it on)")),
    "zero_overlap_comm": ("zero_overlap_comm", _switch(
        "store_true", "DeepSpeed overlap_comm under ZeRO-1/2: two reduce buckets")),
    "zero3_prefetch_bucket_size": ("zero3_prefetch_bucket_size", _valued(
        "zero3_prefetch_bucket_size", "N", "DeepSpeed stage3_prefetch_bucket_size in elements (-1: auto = 0.9 "
                                           "hidden^2; 0: no prefetch)")),
    "zero3_max_live_parameters": ("zero3_max_live_parameters", _valued(
        "zero3_max_live_parameters", "N", "DeepSpeed stage3_max_live_parameters (default 1e9): caps the prefetch")),
    "zero3_param_persistence_threshold": ("zero3_param_persistence_threshold", _valued(
        "zero3_param_persistence_threshold", "N", "DeepSpeed stage3_param_persistence_threshold in elements (-1: "
                                                  "auto = 10 hidden; 0: none persistent)")),
    "first_stage_layers": ("first_stage_layers", _valued(
        "first_stage_layers", "N", "layers on the first pipeline stage (--decoder-first-pipeline-num-layers)")),
    "last_stage_layers": ("last_stage_layers", _valued(
        "last_stage_layers", "N", "layers on the last pipeline stage (--decoder-last-pipeline-num-layers)")),
    "embedding_in_pipeline_split": ("embedding_in_pipeline_split", _switch(
        "store_true", "count the embedding as a layer in the pipeline split (Megatron)")),
    "loss_in_pipeline_split": ("loss_in_pipeline_split", _switch(
        "store_true", "count the loss as a layer in the pipeline split (Megatron)")),
    "pp_division": ("pp_division", _valued(_pp_division, "L1,L2,...", "layers per pipeline stage")),
    "vocab_pad_multiple": ("vocab_pad_multiple", _valued("vocab_pad_multiple", "N", "pad the vocabulary to N x tp")),
    "ce_fp32_copies": ("cross_entropy_fp32_copies",
                       _valued("cross_entropy_fp32_copies", "N", "fp32 logits-sized buffers at the loss peak")),
    "cp_ce_fp32_copies": ("cp_cross_entropy_fp32_copies", _valued(
        "cp_cross_entropy_fp32_copies", "N", "the same with context parallel > 1 (-1: as --ce-fp32-copies)")),
    "compiled_loss": ("compiled_loss", _switch(
        "store_true", "the loss runs under torch.compile: logits and their gradient in the compute dtype at its "
                      "peak, in place of the fp32 copies")),
    "zero3_prefetch_layers": ("zero3_prefetch_layers",
                              _valued("zero3_prefetch_layers", "N", "layers ZeRO-3 holds gathered at once")),
    "cuda_context_mib": ("cuda_context_mib", _valued("cuda_context_mib", "MIB", "CUDA context (default 500)")),
    "fragmentation": ("allocator_fragmentation",
                      _valued("allocator_fragmentation", "FRACTION", "allocator reserve, fraction of allocated")),
    "nccl_mib": ("nccl_buffer_mib_per_group",
                 _valued("nccl_buffer_mib_per_group", "MIB", "NCCL buffers per communicator")),
}


def _add_sources(command: argparse.ArgumentParser) -> None:
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a bundled Galvatron profile (see `memviz presets`)")
    source.add_argument("--profile", help="a Galvatron memory-profiling JSON file")
    source.add_argument("--model", help="analytic mode: a bundled model architecture (see `memviz models`)")
    source.add_argument("--model-config", dest="model_config",
                        help="analytic mode: a Hugging Face config.json or a Galvatron model meta config")


GPU_KEYS = ", ".join(f"{g.key} ({g.name})" for g in GPUS)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="memviz", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"memviz {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an internal error, print the full traceback")
    # --debug after the command too; SUPPRESS keeps a subcommand from resetting one given before it
    debug = _OneLineParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    add_command = functools.partial(commands.add_parser, parents=[debug])

    est = add_command("estimate", help="per-GPU memory of every pipeline stage")
    _add_sources(est)
    for flag, help_text in (
        ("tp", "tensor-parallel degree"), ("pp", "pipeline-parallel degree"),
        ("dp", "data-parallel degree (default: GPUs / (TP x PP))"), ("gpus", "total GPUs"),
        ("mbs", "micro-batch size"), ("gbs", "global batch size"),
        ("chunks", "micro-batches per step (default: GBS / (DP x MBS))"),
        ("seq_length", "sequence length (default: the profile's)"),
        ("layers", "number of layers (default: the profile's model_config)"),
        ("ep", "analytic mode, MoE models: expert-parallel degree (default 1)"),
        ("etp", "analytic mode, MoE models: expert tensor-parallel degree (default 1)"),
    ):
        est.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=_limited(STRATEGY_FLAGS[flag]), metavar="N",
                         help=help_text)
    est.add_argument("--zero", type=int, choices=ZERO_STAGES, metavar="{" + ",".join(map(str, ZERO_STAGES)) + "}",
                     help="ZeRO stage")
    est.add_argument("--checkpoint", action="store_true", help="full activation checkpointing")
    est.add_argument("--no-sequence-parallel", action="store_true", help="turn sequence parallel off")
    est.add_argument("--fp32", action="store_true", help="pure fp32 training instead of mixed precision")
    output = est.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument("--csv", action="store_true",
                        help="print CSV instead of a table: one row per block of each stage (MiB per GPU)")
    est.add_argument("--strategy-file", dest="strategy_file", metavar="FILE",
                     help="a Galvatron strategy file (galvatron_config_*.json): per-layer strategies, with a profile")
    analytic = est.add_argument_group("analytic mode (with --model or --model-config)")
    for flag, (_, keywords) in ANALYTIC_FLAGS.items():
        analytic.add_argument(f"--{flag.replace('_', '-')}", dest=flag, **keywords)

    explore = add_command("explore", help="every valid parallel strategy for a model on N GPUs, best first")
    _add_sources(explore)
    explore.add_argument("--gpus", type=_limited("total_gpus"), metavar="N", required=True,
                         help="GPUs in the job")
    capacity = explore.add_mutually_exclusive_group(required=True)
    capacity.add_argument("--gpu", metavar="NAME", help="a catalogue GPU by its size in GB: " + GPU_KEYS)
    capacity.add_argument("--gpu-mib", dest="gpu_mib", type=_limited("mib"), metavar="MIB", help="GPU memory in MiB")
    explore.add_argument("--gbs", type=_limited("global_batch_size"), metavar="N",
                         help="global batch size (default: the GPUs)")
    explore.add_argument("--seq-length", dest="seq_length", type=_limited("seq_length"), metavar="N",
                         help="sequence length (default: the profile's or model's)")
    explore.add_argument("--layers", type=_limited("num_layers"), metavar="N",
                         help="number of layers (default: the profile's or model's)")
    explore.add_argument("--framework", choices=FRAMEWORKS, help="analytic mode: the training framework's preset")
    explore.add_argument("--top", type=_limited("total_gpus"), default=20, metavar="N",
                         help="table only: how many strategies to print (default 20; --json lists all)")
    explore_output = explore.add_mutually_exclusive_group()
    explore_output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    explore_output.add_argument("--csv", action="store_true",
                                help="print every strategy as CSV, one row each, in the explorer's order")

    add_command("presets", help="list the bundled presets")
    add_command("models", help="list the bundled model architectures of the analytic mode")

    validate = add_command("validate", help="the analytic mode against published peak-memory measurements")
    validate.add_argument("--file", help="a measurements JSON file (default: the bundled validation/measured.json)")
    validate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    serve = add_command("serve", help="run the web app locally (panel serve)")
    serve.add_argument("--port", type=int, choices=range(1, 65536), metavar="PORT", default=5006)
    serve.add_argument("--address", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every "
                            "interface, with a warning)")
    serve.add_argument("--show", action="store_true", help="open a browser")

    build = add_command("build", help="build the static, offline Pyodide site")
    build.add_argument("--out", default="pyodide_dist", help="output folder (default: pyodide_dist)")
    build.add_argument("--ship-snapshot", action="store_true",
                       help="also ship a memory snapshot of the started app, made in Chromium at build time: a "
                            "first visit starts in about half the time, for ~47 MB more to download "
                            "(needs Debian's chromium and playwright)")
    return parser


def config_values(args: argparse.Namespace) -> dict:
    """The TrainingConfig values the user gave explicitly."""
    values = {param: getattr(args, flag) for flag, param in STRATEGY_FLAGS.items() if getattr(args, flag) is not None}
    if args.zero is not None:
        values["zero_stage"] = args.zero
    if args.checkpoint:
        values["checkpoint"] = True
    if args.no_sequence_parallel:
        values["sequence_parallel"] = False
    if args.fp32:
        values["mixed_precision"] = False
    return values


def analytic_option_values(args: argparse.Namespace) -> dict:
    """The AnalyticOptions values the user gave explicitly."""
    return {name: getattr(args, flag) for flag, (name, _) in ANALYTIC_FLAGS.items() if getattr(args, flag) is not None}


def run_estimate(args: argparse.Namespace) -> int:
    if args.model or args.model_config:
        return run_analytic_estimate(args)
    experts = [f for f in EXPERT_FLAGS if (getattr(args, f) or 1) > 1]  # 1 (no expert parallelism) is harmless
    if analytic_option_values(args) or experts:
        given = ", ".join(f"--{f.replace('_', '-')}" for f in (*ANALYTIC_FLAGS, *experts)
                          if getattr(args, f) is not None)
        raise MemvizError(f"{given}: analytic-mode options; use them with --model or --model-config, not a profile")
    from .model.galvatron.estimate import estimate_galvatron

    if args.strategy_file:
        from .model.config import TrainingConfig

        return _print_strategy_estimate(args, _load_profile(args), TrainingConfig(), config_values(args))
    profile, config = _profile_config(args, config_values(args))
    estimate = estimate_galvatron(config, profile)
    return _print_estimate(args, estimate, lambda: estimate_document(profile.name, config, estimate),
                           f"{profile.name}: {_strategy_line(config)}")


# Flags a strategy file decides (per layer, or for its pipeline and batch).
STRATEGY_FILE_DECIDES = ("tp", "pp", "dp", "mbs", "gbs", "chunks", "layers", "zero", "checkpoint")


def _print_strategy_estimate(args: argparse.Namespace, profile, config, given: dict) -> int:
    """`estimate --strategy-file F`: per-layer strategies; GPUs, sequence, SP and precision stay flags."""
    from .model.galvatron.hybrid import estimate_strategy, strategy_config_values
    from .model.galvatron.strategy_file import load_strategy_file

    clashing = [f"--{flag}" for flag in STRATEGY_FILE_DECIDES if getattr(args, flag) not in (None, False)]
    if clashing:
        raise MemvizError(f"{', '.join(clashing)}: set by the strategy file {args.strategy_file}; leave out")
    strategy = load_strategy_file(args.strategy_file)
    config.apply(**{**profile.config_defaults(), **given})
    config.apply(**strategy_config_values(strategy, config.total_gpus, gpus_given=args.gpus is not None))
    estimate = estimate_strategy(config, profile, strategy)
    return _print_estimate(args, estimate, lambda: estimate_document(profile.name, config, estimate,
                                                                      strategy=strategy),
                           f"{profile.name} with {strategy.name}: {_strategy_line(config)}")


def run_analytic_estimate(args: argparse.Namespace) -> int:
    from .model.analytic import estimate_analytic
    from .model.analytic.frameworks import options_for
    from .model.analytic.model_config_import import read_model_config
    from .model.analytic.model_presets import load_model_preset
    from .model.analytic.parameters import tensor_parallel_choices
    from .model.config import TrainingConfig, nearest_at_most

    arch = load_model_preset(args.model) if args.model else read_model_config(args.model_config)
    with param_values_checked():
        options = options_for(analytic_option_values(args))
    config = TrainingConfig()
    # Unless --tp is given, the default TP is lowered to one the model's heads divide (as the app does).
    defaults = {**arch.config_defaults(), "tp": nearest_at_most(config.tp, tensor_parallel_choices(arch))}
    config.apply(**{**defaults, **config_values(args)})
    estimate = estimate_analytic(config, arch, options)
    return _print_estimate(args, estimate, lambda: estimate_document(arch.model_name, config, estimate, arch, options),
                           f"{arch.model_name} (analytic): {_strategy_line(config)}")


def _print_estimate(args: argparse.Namespace, estimate, document, title: str) -> int:
    """The estimate as --json (the `document()`), --csv, or a table under `title`."""
    if args.json:
        print(json.dumps(document(), indent=2, allow_nan=False))
    elif args.csv:
        from .model.csv_export import estimate_csv

        print(estimate_csv(estimate), end="")
    else:
        print(format_stages(estimate, title=title))
    return 0


def _strategy_line(config) -> str:
    v = config.values()
    return (f"tp {v['tp']} pp {v['pp']} dp {v['dp']} (GPUs {v['total_gpus']}), mbs {v['micro_batch_size']}, "
            f"gbs {v['global_batch_size']}, chunks {v['chunks']}, ZeRO {v['zero_stage']}, seq {v['seq_length']}, "
            f"layers {v['num_layers']}, SP {'on' if v['sequence_parallel'] else 'off'}, "
            f"checkpoint {'on' if v['checkpoint'] else 'off'}, {'mixed' if v['mixed_precision'] else 'fp32'}"
            + (f", ep {v['ep']} etp {v['etp']}" if v["ep"] > 1 or v["etp"] > 1 else ""))


def run_explore(args: argparse.Namespace) -> int:
    from .model.explore.text_table import format_exploration
    from .model.gpus import catalogue_capacity_mib

    capacity_mib = args.gpu_mib if args.gpu_mib is not None else catalogue_capacity_mib(args.gpu)
    given = {"global_batch_size": args.gbs or args.gpus}
    given.update({key: value for key, value in (("seq_length", args.seq_length), ("num_layers", args.layers)) if value})
    if args.model or args.model_config:
        from .model.analytic.explore import explore_analytic
        from .model.analytic.frameworks import options_for
        from .model.analytic.model_config_import import read_model_config
        from .model.analytic.model_presets import load_model_preset
        from .model.config import TrainingConfig

        arch = load_model_preset(args.model) if args.model else read_model_config(args.model_config)
        config = TrainingConfig()
        config.apply(**{**arch.config_defaults(), **given})
        options = options_for({"framework": args.framework} if args.framework else {})
        source, exploration = arch.model_name, explore_analytic(arch, config, options, args.gpus, capacity_mib)
    else:
        if args.framework:
            raise MemvizError("--framework: an analytic-mode option; use it with --model or --model-config")
        from .model.galvatron.explore import explore_galvatron

        profile, config = _profile_config(args, given)
        source, exploration = profile.name, explore_galvatron(profile, config, args.gpus, capacity_mib)
    if args.json:
        print(json.dumps({"source": source, "gpus": args.gpus, "config": config.values(), **exploration.to_json()}))
    elif args.csv:
        from .model.csv_export import exploration_csv

        print(exploration_csv(exploration), end="")
    else:
        print(format_exploration(exploration, args.top, title=f"{source} on {args.gpus} GPUs of {capacity_mib:g} MiB"))
    return 0


def _profile_config(args: argparse.Namespace, given: dict):
    """The profile named by --preset / --profile and a configuration with its defaults and `given`."""
    from .model.config import TrainingConfig

    profile = _load_profile(args)
    config = TrainingConfig()
    config.apply(**{**profile.config_defaults(), **given})
    if "num_layers" not in given and not profile.model.num_layers:
        raise MemvizError(f"{profile.name} has no model_config.n_layers: give the number of layers with --layers N")
    return profile, config


def _load_profile(args: argparse.Namespace):
    from .model.galvatron.presets import load_preset
    from .model.galvatron.profile import load_profile

    return load_preset(args.preset) if args.preset else load_profile(args.profile)


def run_presets(_args: argparse.Namespace) -> int:
    from .model.galvatron.presets import list_presets

    for name in list_presets():
        print(name)
    return 0


def run_models(_args: argparse.Namespace) -> int:
    from .model.analytic import parameter_counts
    from .model.analytic.model_presets import list_model_presets, load_model_preset

    for name in list_model_presets():
        print(f"{name:20} {parameter_counts(load_model_preset(name))['total']:>17,} parameters")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from .model.analytic.validation import format_validation, load_measurements, validate_rows

    results = validate_rows(load_measurements(args.file))
    if args.json:
        print(json.dumps(results.to_json(), indent=2))
    else:
        print(format_validation(results))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    serve(port=args.port, show=args.show, address=args.address)
    return 0


def run_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .site import build_site

    summary = build_site(Path(args.out), ship_snapshot=args.ship_snapshot)
    print(json.dumps(summary, indent=2))
    return 0


COMMANDS = {"estimate": run_estimate, "explore": run_explore, "presets": run_presets, "models": run_models,
            "validate": run_validate, "serve": run_serve, "build": run_build}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MemvizError as exc:
        print(f"memviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        from .site.fetch import BuildError  # the builder only when the error may be one of its

        if isinstance(exc, BuildError):
            print(f"memviz: build failed: {exc}", file=sys.stderr)
            return EXIT_STEP_FAILED
        if args.debug:
            raise
        print(f"memviz: internal error (a bug in memviz, please report it): {type(exc).__name__}: {exc}. "
              "Run again with --debug for the traceback.", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
