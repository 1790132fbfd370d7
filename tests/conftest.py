"""Shared fixtures: paths to bundled presets and test data; the CLI's numbers for a configuration; the
built static site."""

import collections
import contextlib
import fcntl
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



@contextlib.contextmanager
def _exclusive(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_build(tmp_path_factory, name: str, **options) -> tuple[Path, dict]:
    """A site built once per test run, under a lock: under pytest-xdist the first worker to need it
    builds it and the others wait for it and reuse it."""
    from viz_app.site import build_site

    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a folder of this run's own base, which the workers share.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, summary_file = shared / name / "pyodide_dist", shared / f"{name}.json"
    with _exclusive(shared / f"{name}.lock"):
        if not summary_file.exists():
            summary_file.write_text(json.dumps(build_site(out, cache=ROOT / "build_cache", **options)))
    return out, json.loads(summary_file.read_text())


@pytest.fixture(scope="session")
def app_url() -> str:
    """One `memviz serve` per test process for the modules that use it: its start and first session
    (imports) are paid once, not once per module."""
    from viz_app.serve import serve_command

    from .browser_support import free_port, server_process

    port = free_port()
    url = f"http://localhost:{port}/"
    # Readiness on a static file: a GET of the page itself builds a whole session (> 2 s here), and
    # the poller's 2 s timeouts would pile abandoned sessions onto the server.
    with server_process(serve_command(port), f"{url}static/js/bokeh.min.js"):
        yield url


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, dict]:
    """`memviz build`'s site, shared read-only by the modules that serve it (a build takes ~15 s). A
    module that changes the site copies it."""
    return _shared_build(tmp_path_factory, "site")


@pytest.fixture(scope="session")
def shipped_site(tmp_path_factory) -> tuple[Path, dict]:
    """`memviz build --ship-snapshot`'s site, shared read-only: its first visits restore the shipped
    memory snapshot instead of loading every package (the build boots it once in Chromium)."""
    return _shared_build(tmp_path_factory, "shipped-site", ship_snapshot=True)


HEAVY_MARKERS = ("browser", "slow", "torch")


def pytest_configure(config):
    """pytest-xdist hands out the modules with the most tests first unless told not to
    (`--no-loadscope-reorder`); the order below must reach the workers as it is."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Modules with the most browser, slow or torch tests first, the rest in their order: with
    `--dist loadfile` pytest-xdist hands out modules in this order (pytest_configure), so the long ones
    start first and no worker is left alone with one at the end."""
    heavy = collections.Counter(item.path for item in items
                                if any(item.get_closest_marker(name) for name in HEAVY_MARKERS))
    items.sort(key=lambda item: -heavy[item.path])


@pytest.fixture(scope="module", autouse=True)
def _torch_modules(request):
    """A module marked `torch` gets `torch`, `vt` (validation_torch) and `measure_step` as globals
    when its tests run, not when pytest collects it: importing torch and transformers takes ~8 s
    in every pytest-xdist worker, and only one of them runs these modules."""
    if request.node.get_closest_marker("torch") is None:
        return
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[test]' installs it)")
    pytest.importorskip("transformers", reason="transformers is not installed (pip install -e '.[test]' installs it)")
    from . import step_memory, validation_torch

    module = request.module
    module.torch, module.vt = torch, validation_torch
    if hasattr(module, "measure_step"):
        module.measure_step = step_memory.measure_step


def pytest_terminal_summary(terminalreporter):
    """Lines tests record as `summary_line` properties (e.g. the fuzz count), printed by the main
    process: an xdist worker's own output never reaches the terminal."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "summary_line":
                terminalreporter.write_line(value)
