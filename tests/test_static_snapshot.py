"""`memviz build --ship-snapshot`: a first visit restores the memory snapshot the build made in Chromium.

The site is served on another port than the one the build used, so a URL of the build's origin in
the snapshot would show up as a request leaving the site.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import pytest

from viz_app.cli import main
from viz_app.model.galvatron.presets import DEFAULT_PRESET

from .test_app_browser import wait_stage_chart, wait_total
from .test_static_site import Visit, browser, serve  # noqa: F401 (browser: the module's fixture)

# Run in the worker after the copy for later visits is stored: a module the app never imported
# reads its files from MEMFS, which the stored copy shares its bytes with.
LAZY_IMPORT_JS = """() => self.pyodide.runPython(
  "import pandas.tseries.holiday as h; int(h.USFederalHolidayCalendar().holidays('2026-01-01', '2026-12-31').size)")"""


@pytest.fixture(scope="module")
def shipped(shipped_site):
    return shipped_site


def marks(visit) -> dict:
    return visit.page.evaluate("window.memvizMarks")


def total_for_tp(cli_json, tp: int) -> float:
    return cli_json("--preset", DEFAULT_PRESET, "--tp", str(tp))["peak_total_mib"]


def change_tp_and_check(visit, cli_json, tp: int, when: str) -> float:
    """Select `tp` in the page; wait for the CLI's total for it."""
    visit.set_tp(tp)
    expected = total_for_tp(cli_json, tp)
    wait_total(visit.page, expected, f"the TP {tp} total {when}")
    return expected


def test_without_chromium_the_build_stops_at_once_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("viz_app.site.ship.shutil.which", lambda name: None)
    assert main(["build", "--out", str(tmp_path / "site"), "--ship-snapshot"]) == 2
    assert capsys.readouterr().err.strip() == (
        "memviz: error: --ship-snapshot runs the site once in Debian's Chromium: apt-get install chromium")
    assert not (tmp_path / "site").exists() and not (tmp_path / "site.partial").exists()


@pytest.mark.browser
@pytest.mark.slow
def test_the_build_ships_a_checked_snapshot(shipped):
    out, summary = shipped
    meta = json.loads((out / "snapshot" / "meta.json").read_text())
    manifest = {e["path"]: e for e in json.loads((out / "memviz-manifest.json").read_text())["files"]}
    for name in ("heap", "files"):
        packed = (out / "snapshot" / meta["shipped"][name]).read_bytes()
        entry = manifest[f"snapshot/{meta['shipped'][name]}"]
        assert hashlib.sha256(packed).hexdigest() == entry["sha256"]  # the service worker checks its copy
        assert hashlib.sha256(packed).hexdigest()[:10] in meta["shipped"][name]  # named by content
        assert len(gzip.decompress(packed)) == meta[f"{name}Bytes"] == summary["snapshot"][f"{name}_bytes"]
        assert "memviz build --ship-snapshot" in entry["source"]
    assert "snapshot/meta.json" in manifest
    assert summary["snapshot"]["shipped_bytes"] < (meta["heapBytes"] + meta["filesBytes"]) / 2
    worker = next((out / "static").glob("app.*.js")).read_text()
    assert f"const MEMVIZ_SNAPSHOT_KEY = {json.dumps(meta['key'])};" in worker
    assert "const MEMVIZ_SHIPS_SNAPSHOT = true;" in worker


@pytest.mark.browser
@pytest.mark.slow
def test_a_first_visit_restores_the_shipped_snapshot(browser, shipped, cli_json):  # noqa: F811
    origin, server = serve(shipped[0])
    with server:
        visit = Visit(browser, origin)
        visit.open("?tp=2")  # a shared link: its configuration is applied after the restore
        assert "snapshot-restored-shipped" in marks(visit) and "packages-loaded" not in marks(visit), marks(visit)
        wait_total(visit.page, total_for_tp(cli_json, 2), "the TP 2 total from the link, after the restore")
        expected = change_tp_and_check(visit, cli_json, 4, "on a first visit restored from the site's snapshot")
        wait_stage_chart(visit.page, expected, "the stage chart at TP 4")
        # A copy is stored for the next visit, and the files it shares with MEMFS stay intact.
        visit.page.wait_for_function("window.memvizMarks['snapshot-stored'] !== undefined", timeout=60_000)
        assert visit.page.workers[0].evaluate(LAZY_IMPORT_JS) == 11  # US federal holidays in 2026
        visit.page.reload()
        visit.wait_live()
        assert "snapshot-restored" in marks(visit) and "snapshot-restored-shipped" not in marks(visit), marks(visit)
        change_tp_and_check(visit, cli_json, 1, "on a second visit, restored from the stored copy")
        visit.close_and_check()


@pytest.mark.browser
@pytest.mark.slow
def test_a_damaged_shipped_snapshot_means_a_normal_start(browser, shipped, cli_json, tmp_path):  # noqa: F811
    out = tmp_path / "pyodide_dist"
    shutil.copytree(shipped[0], out)
    meta = json.loads((out / "snapshot" / "meta.json").read_text())
    heap = out / "snapshot" / meta["shipped"]["heap"]
    damaged = bytearray(heap.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one byte changed in transit: the data or gzip's CRC-32 is wrong
    heap.write_bytes(bytes(damaged))
    origin, server = serve(out)
    with server:
        visit = Visit(browser, origin)
        visit.open()
        assert "packages-loaded" in marks(visit) and "snapshot-restored" not in marks(visit), marks(visit)
        change_tp_and_check(visit, cli_json, 4, "after a normal start")
        visit.close_and_check()
