"""The one-way layers: model -> plots -> UI and app -> static-site builder; the CLI uses the model only.

Read from the sources' import statements (every import, also inside functions and TYPE_CHECKING
blocks), so a new file is checked the day it is added.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "viz_app"
UI_LIBRARIES = ("panel", "holoviews", "bokeh")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# The worker templates are Python run in the browser from strings, not modules of the package.
MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "templates" not in p.parts}


def imports_of(name: str, top_level_only: bool = False) -> set[str]:
    """The modules (of viz_app and third parties) that module `name` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            # `from . import plots`: the names may be modules themselves
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def own(imports: set[str]) -> set[str]:
    return {m for m in imports if m == "viz_app" or m.startswith("viz_app.")}


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def in_layer(*prefixes: str) -> list[str]:
    return sorted(m for m in MODULES if under(m, *prefixes))


def third_party(imports: set[str]) -> set[str]:
    return {m.split(".")[0] for m in imports} & set(UI_LIBRARIES)


@pytest.mark.parametrize("name", in_layer("viz_app.model"))
def test_the_model_layer_imports_only_itself_and_the_message_catalog(name):
    imports = imports_of(name)
    assert not third_party(imports), f"{name} imports {third_party(imports)}"
    outside = {m for m in own(imports) if not under(m, "viz_app.model", "viz_app.i18n") and m != "viz_app"}
    assert not outside, f"{name} imports {outside}"


@pytest.mark.parametrize(("side", "other"), [("galvatron", "analytic"), ("analytic", "galvatron")])
def test_the_two_cost_models_do_not_import_each_other(side, other):
    for name in in_layer(f"viz_app.model.{side}"):
        crossing = {m for m in own(imports_of(name)) if under(m, f"viz_app.model.{other}")}
        assert not crossing, f"{name} imports {crossing}"


def test_shared_model_modules_use_a_cost_model_only_to_route_a_file_to_it():
    shared = [m for m in in_layer("viz_app.model") if not under(m, "viz_app.model.galvatron", "viz_app.model.analytic")]
    users = {m for m in shared
             if any(under(i, "viz_app.model.galvatron", "viz_app.model.analytic") for i in imports_of(m))}
    assert users == {"viz_app.model.uploads"}


@pytest.mark.parametrize("name", in_layer("viz_app.plots"))
def test_plots_use_holoviews_not_panel_and_nothing_above_them(name):
    imports = imports_of(name)
    assert "panel" not in {m.split(".")[0] for m in imports}, name
    above = {m for m in own(imports) if not under(m, "viz_app.plots", "viz_app.model", "viz_app.i18n")}
    assert not above, f"{name} imports {above}"


@pytest.mark.parametrize("name", ["viz_app.session", "viz_app.view", "viz_app.url_state"])
def test_state_is_plain_param(name):
    imports = imports_of(name)
    assert not third_party(imports), f"{name} imports {third_party(imports)}"
    above = {m for m in own(imports) if under(m, "viz_app.plots", "viz_app.ui", "viz_app.app", "viz_app.site",
                                                   "viz_app.browser")}
    assert not above, f"{name} imports {above}"


@pytest.mark.parametrize("name", in_layer("viz_app.ui", "viz_app.app", "viz_app.plots", "viz_app.model",
                                          "viz_app.session", "viz_app.view", "viz_app.url_state"))
def test_nothing_below_the_site_builder_imports_it(name):
    assert not {m for m in own(imports_of(name)) if under(m, "viz_app.site")}, name


def test_the_cli_imports_only_the_model_at_start():
    top = own(imports_of("viz_app.cli", top_level_only=True))
    assert {m for m in top if not under(m, "viz_app.model", "viz_app.i18n") and m != "viz_app"} == set()


def test_no_two_modules_import_each_other():
    graph = {name: own(imports_of(name)) & set(MODULES) for name in MODULES}
    pairs = sorted({tuple(sorted((a, b))) for a, edges in graph.items() for b in edges
                    if a != b and a in graph.get(b, set()) and not _package_of(a, b)})
    assert pairs == []


def _package_of(a: str, b: str) -> bool:
    # a package's __init__ re-exporting its own modules is not a cycle between two modules
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_the_layer_check_sees_what_it_checks():
    # the rules above would pass vacuously if the import reader found nothing
    assert "viz_app.model.galvatron.profile" in own(imports_of("viz_app.model.galvatron.estimate"))
    assert "holoviews" in imports_of("viz_app.plots.treemap")
    assert "viz_app.site" in own(imports_of("viz_app.cli"))  # lazily, inside `memviz build`
    assert "viz_app.site" not in own(imports_of("viz_app.cli", top_level_only=True))


def test_cli_estimate_imports_no_ui_package():
    code = (
        "import sys; from viz_app.cli import main; main(['estimate', '--preset', 'llama3-8b', '--json']); "
        f"print('UI:', sorted(m for m in sys.modules if m.split('.')[0] in {UI_LIBRARIES!r}), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stderr.strip() == "UI: []"
