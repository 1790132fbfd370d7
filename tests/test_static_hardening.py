"""The static site under netlify.toml's headers, fed hostile input: live with no CSP violation, the worker alive.

The built site is served by a tiny server that applies netlify.toml's [[headers]] rules as Netlify
does (tests/netlify_rules.py). One visit (Pyodide starts once): a 20000-deep file, an empty file and
a file with a 401-digit value each get the model layer's message, keep the total, and a later change
still recomputes; then the PP-80 link goes live with the CLI's total.
"""

from __future__ import annotations

import pytest

from viz_app.i18n import t
from viz_app.model.errors import MemvizError
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.model.uploads import read_upload

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
    with pytest.raises(MemvizError) as problem:
        read_upload(path.read_bytes(), path.name)
    return t("msg.upload_failed", "en", error=str(problem.value))


def test_hostile_files_and_the_pp_80_link_under_the_sites_headers(browser, built_site, cli_json, tmp_path):  # noqa: F811
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    absurd = tmp_path / "absurd.json"
    absurd.write_text('{"model_type": "llama", "hidden_size": ' + "9" * 401 + ', "num_hidden_layers": 32}')
    with netlify_server(built_site[0]) as origin:
        visit = Visit(browser, origin)
        visit.page.add_init_script(RECORD_CSP_JS)
        response = visit.page.goto(origin)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        visit.wait_live()
        page = visit.page
        before = total_mib(page)
        for tp, bad in ((4, deep), (2, empty), (4, absurd)):
            page.locator(".memviz-upload input[type=file]").set_input_files(str(bad))
            message = page.locator(".memviz-message").first
            expected = _message_for(bad)
            wait_until(lambda message=message: (message.get_attribute("data-kind"), message.inner_text()),
                       lambda v, expected=expected: v[0] == "error" and expected in v[1], f"the message for {bad.name}")
            assert total_mib(page) == before
            visit.set_tp(tp)  # the worker is alive and recomputes
            before = wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", str(tp))["peak_total_mib"],
                                f"the TP {tp} total after {bad.name}")

        page.goto(origin + "?preset=llama2-70b&pp=80&gpus=640")
        visit.wait_live()
        wait_total(page, cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")["peak_total_mib"],
                   "the PP 80 total")
        assert page.evaluate("window.memvizCsp") == []
        visit.close_and_check()
