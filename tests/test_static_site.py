"""The static Pyodide site (`memviz build`) in Debian's Chromium, served from 127.0.0.1 only.

The session fixture builds the site (reusing build_cache/, or filling it from the registries on a
fresh machine) and serves it with `python -m http.server`. Every request to any other origin is
aborted and recorded, and each test asserts there was none. Expected numbers come from the CLI.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from viz_app.build import build_site
from viz_app.i18n import t
from viz_app.model.presets import DEFAULT_PRESET

from .browser_support import ROOT, chromium, free_port, screenshot_path, server_process
from .conftest import DATA
from .test_app_browser import CARD_TITLES, select_language, total_mib, wait_total, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UPLOAD = DATA / "main_memory_profiling_bf16_llama2-7b_all.json"
VIEWPORT = {"width": 1280, "height": 2300}
LIVE_TIMEOUT_MS = 120_000  # Python starting in wasm on a busy 2-core CI machine


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("static") / "pyodide_dist"
    summary = build_site(out, cache=ROOT / "build_cache")
    return out, summary


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Visit:
    """A fresh browser profile on the served site that aborts and records requests leaving it."""

    def __init__(self, browser, origin: str):
        self.origin, self.outside = origin, []
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.route("**/*", self._route)
        # Requests the routes cannot see (e.g. a service worker's own) still show up as events.
        self.context.on("request", self._seen)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route) -> None:
        if route.request.url.startswith(self.origin):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _seen(self, request) -> None:
        if not request.url.startswith((self.origin, "data:", "blob:")) and request.url not in self.outside:
            self.outside.append(request.url)

    def unexpected_errors(self) -> list[str]:
        # Panel's worker patches the loading spinner's stylesheets after load, naming stylesheets
        # by id only; BokehJS reports each unknown id. Cosmetic (the spinner is gone by then).
        return [e for e in self.errors if not re.fullmatch(r"reference [0-9a-f-]{36} isn't known", e)]

    def open(self) -> None:
        self.page.goto(self.origin)
        self.wait_live()

    def wait_live(self) -> None:
        self.page.wait_for_selector('.memviz-status[data-live="1"]', state="attached", timeout=LIVE_TIMEOUT_MS)
        self.page.wait_for_selector(".memviz-total[data-mib]", timeout=30_000)

    def set_tp(self, tp: int) -> None:
        self.page.locator(".memviz-tp select").select_option(str(tp))


@pytest.fixture
def served(site):
    out, _summary = site
    port = free_port()
    origin = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)]
    with server_process(command, origin) as process:
        yield origin, process


def test_build_summary_and_manifest(site):
    out, summary = site
    manifest = json.loads((out / "memviz-manifest.json").read_text())
    listed = {entry["path"] for entry in manifest["files"]} | {"memviz-manifest.json"}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert all(len(entry["sha256"]) == 64 and entry["source"] for entry in manifest["files"])
    assert summary["site_bytes"] == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert {"panel", "bokeh", "holoviews", "numpy", "pandas", "memviz"} <= set(summary["packages"])
    # Lean: no JS inside the wheels, no full Panel dist, no WebGL/MathJax bundles.
    assert not any(p.startswith("static/panel/1.9.4/dist/bundled/aceplot") for p in on_disk)
    assert not any("mathjax" in p or "bokeh-gl" in p for p in on_disk)


def test_pre_rendered_page_then_live_app_tp_upload_language(browser, served, cli_json, tmp_path):
    origin, _process = served
    visit = Visit(browser, origin)
    page = visit.page
    page.goto(origin, wait_until="domcontentloaded")
    # Before Python runs, the pre-rendered page already shows the default preset's real numbers.
    page.wait_for_selector(".memviz-total[data-mib]", timeout=30_000)
    assert page.locator('.memviz-status[data-live="0"]').count() == 1
    assert total_mib(page) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], rel=1e-9)
    page.screenshot(path=screenshot_path("static-prerendered.png"))

    visit.wait_live()
    visit.set_tp(4)
    wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "4")["peak_total_mib"], "the TP 4 total")
    page.screenshot(path=screenshot_path("static-live-tp4.png"), full_page=True)

    page.locator(".memviz-upload input[type=file]").set_input_files(str(UPLOAD))
    message = page.locator(".memviz-message")
    wait_until(lambda: message.first.get_attribute("data-kind"), lambda kind: kind == "success", "the upload message")
    layers = page.locator(".memviz-num-layers input").first.input_value()
    expected = cli_json("--profile", str(UPLOAD), "--tp", "4", "--layers", layers)
    uploaded_total = wait_total(page, expected["peak_total_mib"], "the uploaded profile's total")

    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"layertype_0_sp": ')
    page.locator(".memviz-upload input[type=file]").set_input_files(str(malformed))
    wait_until(lambda: message.first.get_attribute("data-kind"), lambda kind: kind == "error", "the error message")
    assert malformed.name in message.first.inner_text()
    assert total_mib(page) == uploaded_total
    page.screenshot(path=screenshot_path("static-upload-error.png"), full_page=True)

    select_language(page, "zh")
    titles = page.locator(".memviz-card-title")
    wait_until(titles.all_inner_texts, lambda v: set(v) >= {t(k, "zh") for k in CARD_TITLES}, "Chinese card titles")
    assert page.locator(".memviz-tp label").first.inner_text().strip() == t("param.tp", "zh")
    page.screenshot(path=screenshot_path("static-zh.png"), full_page=True)
    visit.context.close()
    assert visit.outside == []
    assert visit.unexpected_errors() == []


def test_offline_after_first_visit(browser, served, cli_json):
    origin, process = served
    visit = Visit(browser, origin)
    visit.open()
    # The service worker precaches the whole site once the app is live.
    state = visit.page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert state in ("activating", "activated")
    process.terminate()
    process.wait(timeout=10)
    visit.page.reload()
    visit.wait_live()
    visit.set_tp(2)
    expected = cli_json("--preset", DEFAULT_PRESET, "--tp", "2")["peak_total_mib"]
    wait_total(visit.page, expected, "the TP 2 total with the server stopped")
    visit.page.screenshot(path=screenshot_path("static-offline.png"), full_page=True)
    visit.context.close()
    assert visit.outside == []
    assert visit.unexpected_errors() == []
