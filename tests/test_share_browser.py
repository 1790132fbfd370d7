"""Sharing in Debian's Chromium: a copied link with pinned configurations opens the same comparison in
the served app and in the static site; each chart saves as a PNG in the browser; the CSV and JSON
downloads, the JSON uploaded back restoring the state.

Expected numbers come from the model layer (the CLI's), never from literals.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from viz_app import url_state
from viz_app.model.csv_export import estimate_csv
from viz_app.pins import decode_pins
from viz_app.session import Session
from viz_app.view import View

from .browser_support import screenshot_path
from .test_app_browser import browser, open_app, requests_elsewhere, total_mib, wait_total, wait_until  # noqa: F401
from .test_static_site import Visit, serve

pytestmark = pytest.mark.browser

# The comparison table's cells, as text per row (inside Panel's shadow roots).
COMPARE_JS = """() => {
  const find = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.matches("table.memviz-compare")) return el;
      if (el.shadowRoot) { const found = find(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  const table = find(document);
  return table ? [...table.rows].map((row) => [...row.cells].map((cell) => cell.innerText.trim())) : null;
}"""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def comparison(page) -> list[list[str]] | None:
    return page.evaluate(COMPARE_JS)


def pins_in(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("pins", [""])[0]


def linked_state(url: str) -> Session:
    """The state a link describes, restored as the app restores it."""
    session = Session()
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url_state.restore(session, View(), {k: v for k, v in query.items() if k != "pins"}) == []
    return session


def pin(page, count: int) -> str:
    """Once the page shows its link's state (so the link follows the page), click "Pin this configuration";
    wait until the link carries `count` pins; return the link."""
    linked = linked_state(page.evaluate("() => location.href"))
    wait_total(page, linked.estimate.peak_stage.total_mib, "the linked state's total")
    page.locator(".memviz-pin button").click()
    # location.href, not page.url: the sync API refreshes page.url only while it talks to the browser
    href = "() => location.href"
    wait_until(lambda: pins_in(page.evaluate(href)), lambda pins: pins.count("preset:") == count,
               f"{count} pins in the link")
    return page.evaluate(href)


def test_a_copied_link_with_pins_opens_the_same_comparison_in_both_runtimes(browser, app_url,  # noqa: F811
                                                                             static_origin):
    first = open_app(browser, f"{app_url}?preset=llama2-70b&tp=4&pp=4&gpus=32&zero=1")
    link = pin(first, 1)
    first.close()
    # The copied link, with another strategy in the main view: pin it too.
    second = open_app(browser, re.sub(r"([?&])tp=4", r"\g<1>tp=8", link))
    link = pin(second, 2)
    shown = wait_until(lambda: comparison(second), lambda rows: rows is not None and len(rows[0]) == 3,
                       "both pins in the table")
    second.close()
    pins, ignored = decode_pins(pins_in(link))
    assert ignored == [] and [p.document["config"]["tp"] for p in pins] == [4, 8]
    peaks = dict((row[0], row[1:]) for row in shown)["Peak memory per GPU"]
    assert [float(cell.split()[0]) for cell in peaks] == [round(p.estimate.peak_stage.total_mib, 1) for p in pins]
    assert "\n+" in peaks[1] or "\n−" in peaks[1]  # the second pin's difference from the first is marked

    served = open_app(browser, link)
    wait_until(lambda: comparison(served), lambda rows: rows == shown, "the same comparison in the served app")
    served.screenshot(path=screenshot_path("app-compare.png"), full_page=True)
    assert requests_elsewhere(served) == []
    served.close()

    static = Visit(browser, static_origin)
    static.open("?" + urlsplit(link).query)
    wait_until(lambda: comparison(static.page), lambda rows: rows == shown, "the same comparison in the static site",
               timeout_s=60)
    static.page.screenshot(path=screenshot_path("static-compare.png"), full_page=True)
    static.close_and_check()


@pytest.fixture(scope="module")
def static_origin(shipped_site):
    origin, server = serve(shipped_site[0])
    with server:
        yield origin


def test_each_chart_saves_as_a_png_made_in_the_browser(browser, app_url):  # noqa: F811
    page = open_app(browser, app_url)
    for chart in ("treemap", "stages", "bars"):
        button = page.locator(f".memviz-png-memviz-{chart} button")
        with page.expect_download() as info:
            button.click()
        download = info.value
        assert download.suggested_filename == f"memviz-{chart}.png"
        data = Path(download.path()).read_bytes()
        assert data[:8] == PNG_MAGIC, chart
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert width > 400 and height > 200, chart
        (screenshot_path(f"app-export-{chart}.png")).write_bytes(data)
    page.close()


def test_csv_and_json_downloads_and_the_json_uploaded_back(browser, app_url, tmp_path):  # noqa: F811
    page = open_app(browser, f"{app_url}?tp=2&pp=2&gpus=8&zero=2")
    expected = Session()
    expected.config.apply(tp=2, pp=2, total_gpus=8, zero_stage=2)
    wait_total(page, expected.estimate.peak_stage.total_mib, "the linked strategy's total")
    with page.expect_download() as info:
        page.locator(".memviz-download-csv button").click()
    assert Path(info.value.path()).read_text() == estimate_csv(expected.estimate)
    with page.expect_download() as info:
        page.locator(".memviz-download button").click()
    document = json.loads(Path(info.value.path()).read_text())
    assert document == expected.document()
    page.close()

    fresh = open_app(browser, f"{app_url}?preset=llama2-70b")
    saved = tmp_path / "memviz-estimate.json"
    saved.write_text(json.dumps(document))
    fresh.locator(".memviz-upload input[type=file]").set_input_files(str(saved))
    wait_total(fresh, expected.estimate.peak_stage.total_mib, "the restored state's total")
    assert fresh.locator(".memviz-tp select").input_value() == "2"
    fresh.close()
