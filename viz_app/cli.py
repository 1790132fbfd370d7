"""`memviz` command line: the model layer's numbers as a table or JSON.

Imports only the model layer at start (the app and the site builder are imported lazily by their
own subcommands), so `memviz estimate` starts fast. Bad input exits with status 2 and one
readable line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .model.errors import MemvizError
from .model.text_report import format_stages

EXIT_BAD_INPUT = 2

# CLI flag -> TrainingConfig parameter (flags are a public interface: only add, never rename).
STRATEGY_FLAGS = {
    "tp": "tp", "pp": "pp", "dp": "dp", "gpus": "total_gpus", "mbs": "micro_batch_size",
    "gbs": "global_batch_size", "chunks": "chunks", "seq_length": "seq_length", "layers": "num_layers",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memviz", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    est = commands.add_parser("estimate", help="per-GPU memory of every pipeline stage")
    source = est.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a bundled Galvatron profile (see `memviz presets`)")
    source.add_argument("--profile", help="a Galvatron memory-profiling JSON file")
    for flag, help_text in (
        ("tp", "tensor-parallel degree"), ("pp", "pipeline-parallel degree"),
        ("dp", "data-parallel degree (default: GPUs / (TP x PP))"), ("gpus", "total GPUs"),
        ("mbs", "micro-batch size"), ("gbs", "global batch size"),
        ("chunks", "micro-batches per step (default: GBS / (DP x MBS))"),
        ("seq_length", "sequence length (default: the profile's)"),
        ("layers", "number of layers (default: the profile's model_config)"),
    ):
        est.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=_positive_int, metavar="N", help=help_text)
    est.add_argument("--zero", type=int, choices=range(4), metavar="{0,1,2,3}", help="ZeRO stage")
    est.add_argument("--checkpoint", action="store_true", help="full activation checkpointing")
    est.add_argument("--no-sequence-parallel", action="store_true", help="turn sequence parallel off")
    est.add_argument("--fp32", action="store_true", help="pure fp32 training instead of mixed precision")
    est.add_argument("--json", action="store_true", help="print JSON instead of a table")

    commands.add_parser("presets", help="list the bundled presets")

    serve = commands.add_parser("serve", help="run the web app locally (panel serve)")
    serve.add_argument("--port", type=_positive_int, default=5006)
    serve.add_argument("--show", action="store_true", help="open a browser")

    build = commands.add_parser("build", help="build the static, offline Pyodide site")
    build.add_argument("--out", default="pyodide_dist", help="output folder (default: pyodide_dist)")
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


def run_estimate(args: argparse.Namespace) -> int:
    from .model.config import TrainingConfig
    from .model.galvatron import estimate_galvatron
    from .model.presets import load_preset
    from .model.profile import load_profile

    profile = load_preset(args.preset) if args.preset else load_profile(args.profile)
    config = TrainingConfig()
    given = config_values(args)
    config.apply(**{**profile.config_defaults(), **given})
    if "num_layers" not in given and not profile.model.num_layers:
        raise MemvizError(f"{profile.name} has no model_config.n_layers: give the number of layers with --layers N")
    estimate = estimate_galvatron(config, profile)
    if args.json:
        print(json.dumps({"source": profile.name, "config": config.values(), **estimate.to_json()}, indent=2))
    else:
        print(format_stages(estimate, title=f"{profile.name}: {_strategy_line(config)}"))
    return 0


def _strategy_line(config) -> str:
    v = config.values()
    return (f"tp {v['tp']} pp {v['pp']} dp {v['dp']} (GPUs {v['total_gpus']}), mbs {v['micro_batch_size']}, "
            f"gbs {v['global_batch_size']}, chunks {v['chunks']}, ZeRO {v['zero_stage']}, seq {v['seq_length']}, "
            f"layers {v['num_layers']}, SP {'on' if v['sequence_parallel'] else 'off'}, "
            f"checkpoint {'on' if v['checkpoint'] else 'off'}, {'mixed' if v['mixed_precision'] else 'fp32'}")


def run_presets(_args: argparse.Namespace) -> int:
    from .model.presets import list_presets

    for name in list_presets():
        print(name)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    serve(port=args.port, show=args.show)
    return 0


def run_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .build import build_site

    summary = build_site(Path(args.out))
    print(json.dumps(summary, indent=2))
    return 0


COMMANDS = {"estimate": run_estimate, "presets": run_presets, "serve": run_serve, "build": run_build}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MemvizError as exc:
        print(f"memviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:  # param rejects out-of-bounds values with a ValueError
        print(f"memviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
