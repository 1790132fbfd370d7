"""The static site under netlify.toml's headers, fed hostile input: live with no CSP violation, the worker alive.

The built site is served by a tiny server that applies netlify.toml's [[headers]] rules as Netlify
does (tests/netlify_rules.py). One visit (Pyodide starts once): a 20000-deep file, an empty file, a
model config with a 401-digit value and a 20 MiB file each get the model layer's message, keep the
total, and a later change still recomputes (the worker is alive); those changes keep the link current
and add no history entry (Back and Forward have no state to restore). Then the PP-80 link goes live
with the CLI's total, and a link with a 5000-digit value gets a message naming it and applies nothing.
"""

from __future__ import annotations

import pytest

from viz_app.i18n import t
from viz_app.model.errors import MemvizError
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.model.json_input import MAX_PROFILE_BYTES
from viz_app.model.uploads import read_upload
from viz_app.session import Session
from viz_app.url_state import parse_query, restore
from viz_app.view import View

from .conftest import ROOT
from .netlify_rules import netlify_server
from .test_app_browser import total_mib, wait_total, wait_until
from .test_static_site import Visit, browser  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Every Content-Security-Policy violation the page or its worker reports.
RECORD_CSP_JS = """
window.memvizCsp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.memvizCsp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


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


def test_hostile_files_and_links_under_the_sites_headers(browser, built_site, cli_json, tmp_path):  # noqa: F811
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    absurd = tmp_path / "absurd.json"
    config = (ROOT / "presets/analytic/llama-3-8b.json").read_text()
    absurd.write_text(config.replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 401))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (20 * 2**20))
    with netlify_server(built_site[0]) as origin:
        visit = Visit(browser, origin)
        visit.page.add_init_script(RECORD_CSP_JS)
        response = visit.page.goto(origin)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        visit.wait_live()
        page = visit.page
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

        page.goto(origin + "?preset=llama2-70b&pp=80&gpus=640")
        visit.wait_live()
        wait_total(page, cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")["peak_total_mib"],
                   "the PP 80 total")

        search = "?tp=" + "9" * 5000  # beyond the 4300 digits Python converts to an int
        page.goto(origin + search)
        visit.wait_live()
        refused = restore(Session(), View(), parse_query(search))
        _wait_message(page, "error", t("msg.url_ignored", "en", keys=refused), "the message naming tp")
        assert total_mib(page) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], rel=1e-9)
        visit.set_tp(2)
        wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "2")["peak_total_mib"], "the TP 2 total")
        assert page.evaluate("window.memvizCsp") == []
        visit.close_and_check()
