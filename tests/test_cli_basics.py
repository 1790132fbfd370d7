"""What users expect of any well-kept CLI: --version, `python -m`, distinct exit codes, a private server."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

import viz_app
from viz_app import cli, serve
from viz_app.site.fetch import BuildError


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"memviz {version('memviz')}" == f"memviz {viz_app.__version__}"


def test_python_dash_m_prints_what_the_memviz_command_prints():
    argv = ["estimate", "--preset", "llama3-8b", "--json"]
    as_module = subprocess.run([sys.executable, "-m", "viz_app", *argv], capture_output=True, text=True, check=True)
    as_script = subprocess.run([sys.executable, "-c", "import sys; from viz_app.cli import main; sys.exit(main())",
                                *argv], capture_output=True, text=True, check=True)
    assert as_module.stdout == as_script.stdout
    assert json.loads(as_module.stdout)["peak_total_mib"] > 0


def test_exit_0_on_success(capsys):
    assert cli.main(["estimate", "--preset", "llama3-8b", "--tp", "4"]) == 0
    assert "llama3-8b" in capsys.readouterr().out


def test_exit_2_names_the_bad_input(capsys):
    assert cli.main(["estimate", "--preset", "llama3-8b", "--tp", "3"]) == cli.EXIT_BAD_INPUT == 2
    err = capsys.readouterr().err
    assert err == "memviz: error: profile 'llama3-8b' has no measurements for TP 3; available: 1, 2, 4, 8\n"


def test_an_out_of_range_value_is_bad_input_not_a_bug(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["estimate", "--model", "llama-3-8b", "--fragmentation", "7"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("memviz: error: argument --fragmentation: expected a number from 0 to 1, "
                                       "got 7.0 (see memviz estimate --help)\n")


def _raise(error: Exception):
    def command(*_args, **_kwargs):
        raise error
    return command


def test_exit_1_says_it_is_a_bug_in_one_line_and_how_to_see_more(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "presets", _raise(ZeroDivisionError("division by zero")))
    assert cli.main(["presets"]) == cli.EXIT_INTERNAL_ERROR == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("memviz: internal error (a bug in memviz, please report it): ZeroDivisionError: ")
    assert "--debug" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "presets"], ["presets", "--debug"]])
def test_debug_shows_the_traceback(monkeypatch, argv):
    monkeypatch.setitem(cli.COMMANDS, "presets", _raise(ZeroDivisionError("division by zero")))
    with pytest.raises(ZeroDivisionError):
        cli.main(argv)


def test_exit_3_for_a_failed_build_step_which_is_not_bad_input(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("viz_app.site.build_site", _raise(BuildError("npm pack pyodide@0.27.7 failed: E404")))
    assert cli.main(["build", "--out", str(tmp_path / "site")]) == cli.EXIT_STEP_FAILED == 3
    assert capsys.readouterr().err == "memviz: build failed: npm pack pyodide@0.27.7 failed: E404\n"


def test_serve_listens_on_loopback_unless_told():
    command = serve.serve_command(5006)
    assert command[command.index("--address") + 1] == "127.0.0.1"
    origins = [command[i + 1] for i, part in enumerate(command) if part == "--allow-websocket-origin"]
    assert origins == ["127.0.0.1:5006", "localhost:5006"]
    shared = serve.serve_command(5007, address="0.0.0.0")
    assert shared[shared.index("--address") + 1] == "0.0.0.0"
    assert "0.0.0.0:5007" in shared


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False)])
def test_loopback_addresses(address, loopback):
    assert serve.is_loopback(address) is loopback


def test_serving_beyond_this_machine_warns(monkeypatch, capsys):
    started = []
    monkeypatch.setattr("viz_app.serve.os.execv", lambda path, command: started.append(command))
    serve.serve(5008, address="0.0.0.0")
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err and started
    serve.serve(5008)
    assert capsys.readouterr().err == ""
