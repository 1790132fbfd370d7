"""The static Pyodide site (`memviz build`) in Debian's Chromium, served from 127.0.0.1 only, under
netlify.toml's headers as the site is deployed (tests/netlify_rules.py applies them as Netlify does).

The session fixture builds the site (reusing build_cache/, or filling it from the registries on a
fresh machine). Every request to any other origin is aborted and recorded, and each test asserts
there was none. Expected numbers come from the CLI.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile

import pytest

from viz_app.i18n import t
from viz_app.model.errors import MemvizError
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.model.json_input import MAX_PROFILE_BYTES
from viz_app.model.uploads import read_upload
from viz_app.session import Session
from viz_app.site import BuildSetupError, build_site
from viz_app.url_state import parse_query, restore
from viz_app.view import View

from .browser_support import ROOT, chromium, screenshot_path, static_server
from .conftest import DATA
from .test_app_browser import CARD_TITLES, select_language, total_mib, wait_stage_chart, wait_total, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UPLOAD = DATA / "main_memory_profiling_bf16_llama2-7b_all.json"
VIEWPORT = {"width": 1280, "height": 2300}
# Every Content-Security-Policy violation the page or its worker reports (since the page loaded).
RECORD_CSP_JS = """
window.memvizCsp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.memvizCsp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
LIVE_TIMEOUT_MS = 120_000  # Python starting in wasm on a busy 2-core CI machine


@pytest.fixture(scope="module")
def site(built_site, tmp_path_factory):
    """This module's copy of the run's build: it builds a new release over it."""
    out = tmp_path_factory.mktemp("static") / "pyodide_dist"
    shutil.copytree(built_site[0], out)
    return out, {**built_site[1], "out": str(out)}


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

    def open(self, query: str = "") -> None:
        self.page.goto(self.origin + query)
        self.wait_live()

    def wait_live(self) -> None:
        self.page.wait_for_selector('.memviz-status[data-live="1"]', state="attached", timeout=LIVE_TIMEOUT_MS)
        self.page.wait_for_selector(".memviz-total[data-mib]", timeout=30_000)

    def check(self) -> None:
        """Nothing left the site's origin and the page raised no unexpected error."""
        assert self.outside == []
        assert self.unexpected_errors() == []

    def close_and_check(self) -> None:
        """End the visit, then check it."""
        self.context.close()
        self.check()

    def set_tp(self, tp: int) -> None:
        self.page.locator(".memviz-tp select").select_option(str(tp))


def serve(directory):
    return static_server(directory)


@pytest.fixture(scope="module")
def served(site):
    origin, server = static_server(site[0], netlify_headers=True)
    with server as process:
        yield origin, process


@pytest.fixture(scope="module")
def visit(browser, served):
    """One browser profile through the module's browser tests, in file order.

    Booting Python in wasm is the slow part of every test here, so the tests continue one visit
    the way a user would: a first visit from a shared link, uploads, a language, a new release of
    the site, then offline. Each test checks its own part (and that nothing left the origin).
    """
    one = Visit(browser, served[0])
    one.context.add_init_script(RECORD_CSP_JS)
    yield one
    one.context.close()


def test_build_summary_and_manifest(site):
    out, summary = site
    manifest = json.loads((out / "memviz-manifest.json").read_text())
    listed = {entry["path"] for entry in manifest["files"]} | {"memviz-manifest.json"}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert listed == on_disk
    for entry in manifest["files"]:
        assert entry["source"], entry["path"]
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    manifest_bytes = (out / "memviz-manifest.json").stat().st_size
    assert summary["site_bytes"] == sum(e["bytes"] for e in manifest["files"]) + manifest_bytes
    # Every wheel is in the lock Pyodide loads from, with the hash it checks.
    lock = json.loads((out / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    shipped = {p.name for p in (out / "pyodide").glob("*.whl")}
    assert {e["file_name"] for e in lock.values()} == shipped
    for e in lock.values():
        assert hashlib.sha256((out / "pyodide" / e["file_name"]).read_bytes()).hexdigest() == e["sha256"]
    assert {"panel", "bokeh", "holoviews", "numpy", "pandas", "memviz"} <= set(summary["packages"])
    # Lean: no page JS (or its TypeScript) inside the wheels, no full Panel dist, no WebGL/MathJax bundles.
    for name, page_js in (("bokeh", "bokeh/server/static/"), ("panel", "panel/dist/")):
        with zipfile.ZipFile(next((out / "pyodide").glob(f"{name}-*.whl"))) as wheel:
            assert not [n for n in wheel.namelist() if n.startswith(page_js) and n.endswith(".js") or n.endswith(".ts")]
    assert not any(p.startswith("static/panel/1.9.4/dist/bundled/aceplot") for p in on_disk)
    # The template's own stylesheets (its two-column layout, theme, spinner) from the site, linked by the page.
    page = (out / "index.html").read_text()
    for css in ("bundled/vanillatemplate/vanilla.css", "bundled/theme/default.css", "css/loading.css"):
        assert f"static/panel/1.9.4/dist/{css}" in on_disk and f'href="./static/panel/1.9.4/dist/{css}' in page, css
    assert not any("mathjax" in p or "bokeh-gl" in p for p in on_disk)


def test_build_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(BuildSetupError, match="not a memviz build"):
        build_site(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_first_visit_from_a_shared_link_prerendered_then_live(visit, cli_json):
    page = visit.page
    page.goto(visit.origin + "?tp=2", wait_until="domcontentloaded")
    # Before Python runs, the pre-rendered page already shows the default preset's real numbers.
    page.wait_for_selector(".memviz-total[data-mib]", timeout=30_000)
    assert page.locator('.memviz-status[data-live="0"]').count() == 1
    assert total_mib(page) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], rel=1e-9)
    page.screenshot(path=screenshot_path("static-prerendered.png"))

    # Under Pyodide the URL reaches Python after the app is built.
    visit.wait_live()
    # The template's layout, as served: the results beside the settings, not below them.
    settings, total = page.locator(".memviz-tp select").bounding_box(), page.locator(".memviz-total").bounding_box()
    assert total["x"] > settings["x"] + settings["width"] and total["y"] < settings["y"], (settings, total)
    from_link = cli_json("--preset", DEFAULT_PRESET, "--tp", "2")["peak_total_mib"]
    wait_total(page, from_link, "the TP 2 total from the link")
    visit.set_tp(4)
    tp4_total = wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "4")["peak_total_mib"], "the TP 4 total")
    wait_stage_chart(page, tp4_total, "the stage chart at TP 4")
    page.screenshot(path=screenshot_path("static-live-tp4.png"), full_page=True)
    visit.check()


def test_upload_then_a_malformed_file_then_chinese(visit, cli_json, tmp_path):
    page = visit.page
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
    visit.check()


def _message_for(path) -> str:
    if path.stat().st_size > MAX_PROFILE_BYTES:  # refused in the browser, before Python reads it
        return t("msg.upload_failed", "en", error=t("error.too_large", "en", name=path.name,
                                                    mib=f"{path.stat().st_size / 2**20:.1f}",
                                                    max_mib=MAX_PROFILE_BYTES // 2**20))
    with pytest.raises(MemvizError) as problem:
        read_upload(path.read_bytes(), path.name)
    return t("msg.upload_failed", "en", error=str(problem.value))


def _wait_message(page, kind: str, expected: str, what: str) -> None:
    message = page.locator(".memviz-message").first
    wait_until(lambda: (message.get_attribute("data-kind"), message.inner_text()),
               lambda v: v[0] == kind and expected in v[1], what)


def test_hostile_files_and_links_under_the_sites_headers(visit, cli_json, tmp_path):
    """A 20000-deep file, an empty file, a model config with a 401-digit value and a 20 MiB file each get
    the model layer's message and keep the total, and a later change still recomputes (the worker is
    alive); those changes keep the link current and add no history entry. Then the PP-80 link goes live
    with the CLI's total, and a link with a 5000-digit value gets a message naming it and applies
    nothing. No Content-Security-Policy violation on the way."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    absurd = tmp_path / "absurd.json"
    config = (ROOT / "presets/analytic/llama-3-8b.json").read_text()
    absurd.write_text(config.replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 401))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (20 * 2**20))
    page = visit.page
    response = page.goto(visit.origin)  # a new visit to the start page, in English
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    visit.wait_live()
    before = total_mib(page)
    history_length = page.evaluate("history.length")
    for tp, bad in ((4, deep), (2, empty), (4, absurd), (2, big)):
        page.locator(".memviz-upload input[type=file]").set_input_files(str(bad))
        _wait_message(page, "error", _message_for(bad), f"the message for {bad.name}")
        assert total_mib(page) == before
        visit.set_tp(tp)  # the worker is alive and recomputes
        before = wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", str(tp))["peak_total_mib"],
                            f"the TP {tp} total after {bad.name}")
        wait_until(lambda: page.evaluate("location.search"), lambda search, tp=tp: f"tp={tp}" in search,
                   f"the link to follow TP {tp}")
    assert page.evaluate("history.length") == history_length
    assert page.evaluate("window.memvizCsp") == []

    page.goto(visit.origin + "?preset=llama2-70b&pp=80&gpus=640")
    visit.wait_live()
    wait_total(page, cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")["peak_total_mib"],
               "the PP 80 total")

    search = "?tp=" + "9" * 5000  # beyond the 4300 digits Python converts to an int
    page.goto(visit.origin + search)
    visit.wait_live()
    refused = restore(Session(), View(), parse_query(search))
    _wait_message(page, "error", t("msg.url_ignored", "en", keys=refused), "the message naming tp")
    assert total_mib(page) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], rel=1e-9)
    visit.set_tp(2)
    wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "2")["peak_total_mib"], "the TP 2 total")
    assert page.evaluate("window.memvizCsp") == []
    visit.check()


def test_a_new_build_replaces_the_offline_cache(visit, site, tmp_path):
    out, old = site
    page = visit.page
    page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert page.evaluate("caches.keys()") == [f"memviz-{old['version']}"]
    # The next release of the app, built over the served folder: another title is enough to change the site.
    entry = tmp_path / "main.py"
    entry.write_text("from viz_app.app import configure_process, create_app\n\nconfigure_process()\n"
                     'app = create_app()\napp.title = "memviz next"\napp.servable()\n')
    new = build_site(out, entry=entry, cache=ROOT / "build_cache")
    assert new["version"] != old["version"]
    # A new visit (the earlier tests' link and upload left behind): the browser finds the new sw.js;
    # it precaches the new build and drops the old.
    page.goto(visit.origin)
    visit.wait_live()
    wait_until(lambda: page.evaluate("caches.keys()"), lambda keys: keys == [f"memviz-{new['version']}"],
               "the new build's cache alone", timeout_s=60)
    page.reload()
    wait_until(page.title, lambda title: title == "memviz next", "the new build's page")
    visit.wait_live()
    visit.check()


def test_offline_after_a_visit_from_the_snapshot(visit, served, cli_json):
    origin, process = served
    page = visit.page
    # The service worker precaches the whole site once the app is live.
    assert page.evaluate("async () => (await navigator.serviceWorker.ready).active.state") in ("activating",
                                                                                             "activated")
    # This build's memory snapshot is stored once it is live (browser/templates/snapshot.js); this
    # page load either stored it or restored an earlier load's copy.
    page.wait_for_function("['snapshot-stored', 'snapshot-restored'].some(m => window.memvizMarks[m] !== undefined)",
                           timeout=60_000)
    process.terminate()
    process.wait(timeout=10)
    page.reload()
    visit.wait_live()
    marks = page.evaluate("window.memvizMarks")
    assert "snapshot-restored" in marks and "packages-loaded" not in marks, marks  # no boot from scratch
    visit.set_tp(2)
    expected = cli_json("--preset", DEFAULT_PRESET, "--tp", "2")["peak_total_mib"]
    wait_total(page, expected, "the TP 2 total with the server stopped")
    wait_stage_chart(page, expected, "the restored app's stage chart at TP 2")
    # The restored worker ran a redraw's Python off the page once it was idle (browser/templates/warmup.py).
    page.wait_for_function("window.memvizMarks['warmed-up'] !== undefined", timeout=30_000)
    page.screenshot(path=screenshot_path("static-offline.png"), full_page=True)
    visit.check()
