"""One parser for "8,8,8,8" (layers per pipeline stage), for the CLI flag and the app's field."""

from __future__ import annotations

import pytest

from viz_app.cli import main
from viz_app.model.analytic.pipeline_division import format_pp_division, parse_pp_division
from viz_app.model.errors import StrategyError


@pytest.mark.parametrize(("text", "division"), [
    ("8,8,8,8", [8, 8, 8, 8]), (" 10, 18 ", [10, 18]), ("32", [32]), ("", None), ("  ", None),
])
def test_parses_layers_per_stage(text, division):
    assert parse_pp_division(text) == division


@pytest.mark.parametrize(("text", "message"), [
    ("8,x", "expected layers per stage like 8,8,8,8 (expected a whole number, got 'x')"),
    ("8,,8", "expected layers per stage like 8,8,8,8 (expected a whole number, got '')"),
    ("8, 7.5", "expected layers per stage like 8,8,8,8 (expected a whole number, got '7.5')"),
    ("16,16,0", "expected layers per stage like 8,8,8,8 (must be at least 1, got 0)"),
    ("-4,36", "expected layers per stage like 8,8,8,8 (must be at least 1, got -4)"),
])
def test_bad_text_names_the_problem(text, message):
    with pytest.raises(StrategyError) as error:
        parse_pp_division(text)
    assert str(error.value) == message


@pytest.mark.parametrize("division", [[8, 8, 8, 8], [10, 18], None])
def test_format_reads_back(division):
    assert parse_pp_division(format_pp_division(division)) == division


def test_the_cli_reports_a_bad_division_as_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "--model", "gpt2", "--pp", "2", "--pp-division", "6,0"])
    assert exit_info.value.code == 2
    assert "argument --pp-division: expected layers per stage like 8,8,8,8 (must be at least 1, got 0)" in \
        capsys.readouterr().err
