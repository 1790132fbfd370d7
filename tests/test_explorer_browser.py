"""The explorer in the served app (Debian's Chromium): a shared link's explorer inputs, the table, and a
click on a row that loads its strategy. Expected numbers come from the model layer, texts from the
catalogs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from viz_app.i18n import t
from viz_app.model.analytic.explore import explore_analytic
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.analytic.options import AnalyticOptions
from viz_app.model.config import TrainingConfig
from viz_app.model.csv_export import exploration_csv
from viz_app.model.gpus import GPU_BY_KEY
from viz_app.ui.explorer import CSV_ROWS

from .browser_support import chromium, screenshot_path, wait_until_quiet
from .test_app_browser import open_app, requests_elsewhere, total_mib, wait_until
from .test_share_browser import PNG_MAGIC, static_origin  # noqa: F401 (fixture: the shipped site, served)
from .test_static_site import Visit

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 120_000  # a session builds every chart and the explorer on a busy 2-core machine
QUERY = "?mode=analytic&model=llama-3-8b&explore_gpus=16&explore_gbs=32&explore_seq=2048&gpu=40"


def expected_exploration():
    arch = load_model_preset("llama-3-8b")
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "global_batch_size": 32, "seq_length": 2048})
    return explore_analytic(arch, config, AnalyticOptions(), 16, GPU_BY_KEY["40"].capacity_mib)


def shows_the_linked_exploration(page, expected, rows):
    """Wait until the page shows the linked exploration: its strategy count, GPUs and fourth row."""
    summary = page.locator(".memviz-explore-summary [data-count]")
    wait_until(lambda: summary.get_attribute("data-count") if summary.count() else None,
               lambda v: v == str(len(expected)), "the explorer's strategy count", timeout_s=60)
    assert page.locator(".memviz-explore-gpus input").input_value() == "16"
    table_rows = page.locator(".memviz-explore-table .slick-row")
    wait_until(table_rows.count, lambda n: n > 5, "the explorer table's rows")
    # Cell 0 is the grid's row number; then tp, pp, dp, cp, ep, etp, ZeRO, mbs. The table follows the
    # linked inputs.
    expected_cells = [str(rows[3][key]) for key in ("tp", "pp", "dp", "context_parallel", "ep", "etp",
                                                     "zero_stage", "micro_batch_size")]
    wait_until(lambda: table_rows.nth(3).locator(".slick-cell").all_inner_texts()[1:9],
               lambda cells: cells == expected_cells, "the explorer table's fourth row")
    return table_rows


def test_shared_explorer_link_shows_the_table_and_a_click_loads_the_strategy(app_url):
    expected = expected_exploration()
    rows = expected.rows(10)
    with chromium() as browser:
        page = open_app(browser, app_url + QUERY, live_timeout_ms=LIVE_TIMEOUT_MS)
        table_rows = shows_the_linked_exploration(page, expected, rows)
        page.locator(".memviz-explorer").scroll_into_view_if_needed()
        wait_until_quiet(page)
        page.screenshot(path=screenshot_path("explorer-en.png"), full_page=True)
        table_rows.nth(3).locator(".slick-cell").nth(1).click()
        wait_until(lambda: total_mib(page), lambda v: v == pytest.approx(rows[3]["peak_mib"], rel=1e-9),
                   "the clicked strategy's total")
        assert page.locator(".memviz-tp select").input_value() == str(rows[3]["tp"])
        # Closed, it shows why to open it and the link says so; opened again, the same search is back.
        toggle = page.locator(".memviz-explore-show button")
        toggle.click()
        closed_hint = page.locator(".memviz-explorer .memviz-hint")
        wait_until(closed_hint.all_inner_texts, lambda texts: texts == [t("explore.closed", "en")],
                   "the closed explorer's hint")
        assert page.locator(".memviz-explore-summary").count() == 0
        wait_until(lambda: page.url, lambda url: "explore=false" in url, "the link of the closed explorer")
        toggle.click()
        shows_the_linked_exploration(page, expected, rows)
        # Its strategies as CSV (the first CSV_ROWS in its order) and its chart as a PNG made in the browser.
        with page.expect_download() as info:
            page.locator(".memviz-explore-csv button").click()
        assert Path(info.value.path()).read_text() == exploration_csv(expected, CSV_ROWS)
        with page.expect_download() as info:
            page.locator(".memviz-png-memviz-explorer button").click()
        png = Path(info.value.path()).read_bytes()
        assert png[:8] == PNG_MAGIC and struct.unpack(">II", png[16:24])[0] > 400  # IHDR width
        assert requests_elsewhere(page) == []
        page.close()


def test_the_same_link_in_the_static_site(static_origin):  # noqa: F811 (the fixture)
    """The shared link in the static site (Pyodide): the same exploration, and nothing leaves the origin."""
    expected = expected_exploration()
    with chromium() as browser:
        visit = Visit(browser, static_origin)
        visit.open(QUERY)
        shows_the_linked_exploration(visit.page, expected, expected.rows(10))
        visit.page.locator(".memviz-explorer").scroll_into_view_if_needed()
        visit.page.screenshot(path=screenshot_path("static-explorer.png"), full_page=True)
        visit.close_and_check()
