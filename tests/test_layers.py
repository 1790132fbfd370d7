"""The one-way layer rule: the model layer and the CLI never import Panel, HoloViews or Bokeh."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UI_PACKAGES = ("panel", "holoviews", "bokeh")


def test_cli_estimate_imports_no_ui_package():
    code = (
        "import sys; from viz_app.cli import main; main(['estimate', '--preset', 'llama3-8b', '--json']); "
        f"print('UI:', sorted(m for m in sys.modules if m.split('.')[0] in {UI_PACKAGES!r}), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stderr.strip() == "UI: []"


@pytest.mark.parametrize("path", sorted((ROOT / "viz_app" / "model").rglob("*.py")), ids=lambda p: p.name)
def test_model_sources_do_not_import_ui(path):
    text = path.read_text()
    for package in UI_PACKAGES:
        assert f"import {package}" not in text and f"from {package}" not in text, f"{path} imports {package}"
