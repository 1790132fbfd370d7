"""Shared fixtures: paths to bundled presets and test data; the CLI's numbers for a configuration."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples on every run (a red CI blocks a landing, so it must not depend on
# the draw); local runs keep exploring new random examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def cli_flags(values: dict) -> list[str]:
    """`memviz estimate` flags that reproduce a TrainingConfig's values (`config.values()`)."""
    from viz_app.cli import STRATEGY_FLAGS

    flags = [f"--{flag.replace('_', '-')}={values[name]}" for flag, name in STRATEGY_FLAGS.items()]
    flags.append(f"--zero={values['zero_stage']}")
    switches = {"--checkpoint": values["checkpoint"], "--no-sequence-parallel": not values["sequence_parallel"],
                "--fp32": not values["mixed_precision"]}
    return flags + [flag for flag, on in switches.items() if on]


@pytest.fixture
def cli_json(capsys):
    """Run `memviz estimate ARGS --json` in this process and return the printed object."""
    from viz_app.cli import main

    def run(*args: str) -> dict:
        code = main(["estimate", *args, "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    return run

