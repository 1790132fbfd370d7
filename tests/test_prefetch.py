"""The build cache's prefetch (CI runs it beside pip install, before the project is installed)."""

from __future__ import annotations

import subprocess
import sys

from viz_app.site import prefetch
from viz_app.site.fetch import BuildError

from .browser_support import ROOT


def test_prefetch_needs_only_the_standard_library():
    # -S: no site-packages, as on a brand-new machine before `pip install`
    probe = subprocess.run([sys.executable, "-S", "-c", "import viz_app.site.prefetch"], cwd=ROOT,
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert probe.returncode == 0, probe.stderr


def test_a_failed_download_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    def offline(cache, work):
        raise BuildError("npm pack pyodide@0.27.7 failed: network unreachable")

    monkeypatch.setattr(prefetch, "fetch_downloads", offline)
    assert prefetch.main([str(tmp_path / "cache")]) == 1
    assert capsys.readouterr().err == ("memviz prefetch: npm pack pyodide@0.27.7 failed: network unreachable "
                                       "(a build fetches what is missing itself)\n")
    assert (tmp_path / "cache").is_dir()
