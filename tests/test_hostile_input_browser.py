"""Hostile and broken input in the served app (Chromium): a message, the previous state kept, the session alive.

Issue 16's cases: absurd values in a valid file, a 20000-deep file, an empty file, a file larger
than one websocket message, links with values out of range or of 5000 digits, the PP-80 link, and
tabs closed during an update (no traceback in the server's log). Expected texts come from the model
layer and the catalogs, expected totals from the CLI.
"""

from __future__ import annotations

import json
import time

import pytest

from viz_app.i18n import t
from viz_app.model.errors import MemvizError
from viz_app.model.galvatron.presets import DEFAULT_PRESET
from viz_app.model.json_input import MAX_PROFILE_BYTES
from viz_app.model.uploads import read_upload
from viz_app.serve import serve_command
from viz_app.session import Session
from viz_app.url_state import parse_query, restore
from viz_app.view import View

from .browser_support import free_port, server_process
from .conftest import ROOT
from .test_app_browser import (  # noqa: F401  (fixtures)
    UPLOAD,
    browser,
    open_app,
    requests_elsewhere,
    total_mib,
    wait_total,
    wait_until,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, log): one `memviz serve` for the module, its output in a file."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    port = free_port()
    url = f"http://localhost:{port}/"
    with server_process(serve_command(port), f"{url}static/js/bokeh.min.js", log=log):
        yield url, log


@pytest.fixture(scope="module")
def app_url(served):
    return served[0]


@pytest.fixture(scope="module")
def page(browser, app_url):  # noqa: F811
    """One page through the module's upload and change tests, in file order, as a user goes on after a
    refused input: each test's message replaces the last one, and the session must still respond."""
    def watch_the_websocket(page) -> None:  # before the page loads: its websocket opens at once
        page.memviz_closed, page.memviz_sent = [], []
        page.on("websocket", lambda ws: (ws.on("close", lambda _ws: page.memviz_closed.append(True)),
                                         ws.on("framesent", lambda frame: page.memviz_sent.append(len(frame)))))

    page = open_app(browser, app_url, before_load=watch_the_websocket)
    yield page
    page.close()
    assert requests_elsewhere(page) == []


def upload(page, path) -> None:
    page.locator(".memviz-upload input[type=file]").set_input_files(str(path))


def error_for(path) -> str:
    """The page's message for a file the model layer refuses."""
    with pytest.raises(MemvizError) as problem:
        read_upload(path.read_bytes(), path.name)
    return t("msg.upload_failed", "en", error=str(problem.value))


def wait_message(page, kind: str, text: str) -> None:
    message = page.locator(".memviz-message").first
    wait_until(lambda: (message.get_attribute("data-kind"), message.inner_text()),
               lambda v: v[0] == kind and text in v[1], f"the {kind} message {text!r}")


def still_responds(page, cli_json, tp: str = "2") -> None:
    """A later change still recomputes: the session is alive and not stuck."""
    page.locator(".memviz-tp select").select_option(tp)
    wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", tp)["peak_total_mib"], f"the TP {tp} total")
    assert page.memviz_closed == []


def test_absurd_values_get_a_message_keep_the_total_and_later_changes_work(page, cli_json, tmp_path):
    page.locator(".memviz-tp select").select_option("4")
    before = wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "4")["peak_total_mib"], "the TP 4 total")
    config = json.loads((ROOT / "presets/analytic/llama-3-8b.json").read_text())
    absurd = tmp_path / "absurd.json"
    absurd.write_text(json.dumps(config).replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 401))
    upload(page, absurd)
    wait_message(page, "error", error_for(absurd))
    assert total_mib(page) == before
    still_responds(page, cli_json)


def test_an_empty_file_gets_a_message(page, cli_json, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    upload(page, empty)
    wait_message(page, "error", error_for(empty))
    still_responds(page, cli_json)


def test_a_20000_deep_file_gets_a_message(page, cli_json, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    upload(page, deep)
    wait_message(page, "error", error_for(deep))
    still_responds(page, cli_json)


def test_a_20_mib_upload_is_refused_in_the_browser_and_the_session_lives(page, cli_json, tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (20 * 2**20))
    sent_before = len(page.memviz_sent)
    upload(page, big)
    expected = t("msg.upload_failed", "en", error=t("error.too_large", "en", name="big.json", mib="20.0",
                                                    max_mib=MAX_PROFILE_BYTES // 2**20))
    wait_message(page, "error", expected)
    sent = page.memviz_sent[sent_before:]
    assert sent and max(sent) < 2**20  # the name and size went to the server, not the file
    still_responds(page, cli_json)


def test_the_pp_80_link_goes_live_with_the_clis_total(browser, app_url, cli_json):  # noqa: F811
    page = open_app(browser, app_url + "?preset=llama2-70b&pp=80&gpus=640")
    expected = cli_json("--preset", "llama2-70b", "--pp", "80", "--gpus", "640")["peak_total_mib"]
    wait_total(page, expected, "the PP 80 total")
    assert page.locator(".memviz-pp input").first.input_value() == "80"
    assert page.locator(".memviz-error").count() == 0
    page.close()


def test_out_of_range_link_values_are_named_and_not_applied(browser, app_url, cli_json):  # noqa: F811
    search = "?tp=-1&stage=999&layers=30000&pp=30000&gpus=240000&seq=" + "x" * 50_000
    page = open_app(browser, app_url + search)
    refused = restore(Session(), View(), parse_query(search))
    wait_message(page, "error", t("msg.url_ignored", "en", keys=refused))
    box = page.locator(".memviz-message").first.bounding_box()
    assert box["height"] < 400  # a 50 KB value is cut, not echoed
    default = cli_json("--preset", DEFAULT_PRESET, "--gpus", "240000")["peak_total_mib"]
    assert total_mib(page) == pytest.approx(default, rel=1e-9)
    page.close()


def test_changes_add_no_history_entries(page, cli_json):
    """Back leaves the app rather than stepping through states the page would not restore."""
    length = page.evaluate("history.length")
    still_responds(page, cli_json, "4")
    still_responds(page, cli_json, "2")
    wait_until(lambda: page.evaluate("location.search"), lambda s: "tp=2" in s, "the link to follow the change")
    assert page.evaluate("history.length") == length


def test_a_failed_upload_replaces_the_success_message(page, tmp_path):
    """Last on the shared page: the uploaded profile stays its model."""
    upload(page, UPLOAD)
    wait_message(page, "success", UPLOAD.name)
    zero = tmp_path / "kv0.json"
    config = json.loads((ROOT / "presets/analytic/llama-3-8b.json").read_text())
    zero.write_text(json.dumps({**config, "num_key_value_heads": 0}))
    upload(page, zero)
    wait_message(page, "error", error_for(zero))
    assert page.locator(".memviz-success").count() == 0


def test_a_5000_digit_link_value_is_named_and_not_applied(browser, app_url, cli_json):  # noqa: F811
    """Beyond Python's 4300-digit int conversion: Panel's own parsing of the link raised before."""
    search = "?tp=" + "9" * 5000
    page = open_app(browser, app_url + search)
    page.memviz_closed = []
    wait_message(page, "error", t("msg.url_ignored", "en", keys=restore(Session(), View(), parse_query(search))))
    assert total_mib(page) == pytest.approx(cli_json("--preset", DEFAULT_PRESET)["peak_total_mib"], rel=1e-9)
    still_responds(page, cli_json, "4")
    page.close()


def test_zz_tabs_closed_during_an_update_leave_no_traceback(browser, served, page):  # noqa: F811
    """Last in the module: the server's log of every page here (the shared one closed first), two of them
    closed mid-update.

    A tab closing while Panel wrote an update's frames logged WebSocketClosedError tracebacks
    (viz_app/ui/private_panel.py `write_until_the_tab_closes`).
    """
    url, log = served
    page.close()
    for tp, wait_s in (("4", 0), ("2", 0.05)):
        tab = open_app(browser, url)
        tab.locator(".memviz-tp select").select_option(tp)
        time.sleep(wait_s)
        tab.close()
    text = log.read_text(errors="replace")
    wait_until(lambda: log.read_text(errors="replace").count("WebSocket connection closed"),
               lambda closed: closed >= text.count("WebSocket connection opened"), "every session to close")
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "exception was never retrieved" not in text, text[-3000:]
