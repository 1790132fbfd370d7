"""The served app in Debian's Chromium: totals match the CLI, uploads, languages, units, stages.

One `memviz serve` process (the same `panel serve` command line) for the test run. The tests on the
default page go on in one page (one Panel session), in file order, as a user goes on: a page load is
the costly part (~10 s of CPU on the server and in the browser). Each leaves the page as it found it,
except for what it says; one that fails leaves the page to it, and the next test opens a new one.
Expected numbers come from the CLI and expected texts from the catalogs, never from literals.
Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from viz_app.i18n import CATALOGS, t
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import ProfileError, StrategyError
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import DEFAULT_PRESET, load_preset, preset_path
from viz_app.model.galvatron.profile import parse_profile
from viz_app.model.units import format_memory
from viz_app.view import View

from .browser_support import (
    RECORD_MESSAGES_JS,
    chromium,
    screenshot_path,
    wait_until_quiet,
)
from .conftest import DATA

pytestmark = pytest.mark.browser

UPLOAD = DATA / "main_memory_profiling_bf16_llama2-7b_all.json"
DESKTOP = {"width": 1280, "height": 2300}  # the main area scrolls inside the template: a tall viewport
PHONE = {"width": 390, "height": 3600}
TIMEOUT_S = 20.0
# Catalog texts without fields that differ between the languages: none may show on the Chinese page.
ENGLISH_ONLY = {v for k, v in CATALOGS["en"].items() if "{" not in v and v != CATALOGS["zh"][k]}
CARD_TITLES = ("section.model", "section.strategy", "section.batch", "section.training", "stages.title")

# Every axis label Bokeh currently draws (canvas text is not in the DOM, so read the models).
AXIS_LABELS_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.type !== undefined && m.type.endsWith("Axis") && typeof m.axis_label === "string") out.push(m.axis_label);
  return out;
}"""
# Every text a HoloViews Labels element draws (treemap, donut and proportion labels).
PLOT_TEXTS_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.type === "ColumnDataSource" && m.data.text !== undefined) out.push(...Array.from(m.data.text));
  return out;
}"""
# Visible text of the page, shadow roots included (Panel renders each component in one).
PAGE_TEXT_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (!el.checkVisibility()) continue;  // hidden tabs, invisible widgets
      for (const node of el.childNodes)
        if (node.nodeType === 3 && node.textContent.trim()) out.push(node.textContent.trim());
    }
  };
  walk(document);
  return out;
}"""


def wait_until(read: Callable[[], object], done: Callable[[object], bool], what: str, timeout_s: float = TIMEOUT_S):
    """Poll `read()` until `done(value)`; fail with the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; last value: {value!r}")
        time.sleep(0.05)


def total_mib(page) -> float:
    return float(page.locator(".memviz-total").get_attribute("data-mib"))


def wait_total(page, expected: float, what: str) -> float:
    return wait_until(lambda: total_mib(page), lambda v: v == pytest.approx(expected, rel=1e-9), what)


# The numbers the newest Bokeh document's data sources hold (the static site keeps its pre-rendered
# document after the live one replaced it).
CHART_NUMBERS_JS = """() => {
  const doc = [...Bokeh.documents].at(-1);
  return [...doc.all_models].filter((m) => m.type === "ColumnDataSource")
    .flatMap((m) => Object.values(m.data).flatMap((column) => Array.from(column)))
    .filter((x) => typeof x === "number");
}"""


def wait_stage_chart(page, expected_total: float, what: str) -> None:
    """Wait until the all-stages chart (redrawn after the total and treemap) stacks up to the total."""
    wait_until(lambda: page.evaluate(CHART_NUMBERS_JS),
               lambda numbers: any(x == pytest.approx(expected_total, abs=1e-3) for x in numbers), what)


def plot_texts(page) -> list[str]:
    """Texts drawn in the charts, each on one line (long labels wrap onto two)."""
    return [" ".join(text.split()) for text in page.evaluate(PLOT_TEXTS_JS)]


def select_language(page, lang: str) -> None:
    page.locator(".memviz-lang button", has_text={"en": "EN", "zh": "中文"}[lang]).click()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def requests_elsewhere(page) -> list[str]:
    """Every request the page made to another origin than the app's (recorded by open_app)."""
    return page.memviz_outside


def open_app(browser, url: str, viewport: dict = DESKTOP, live_timeout_ms: int = 30_000, before_load=None):
    """A new page on `url`, once the app is live; `before_load(page)` runs before it loads."""
    page = browser.new_page(viewport=viewport)
    if before_load is not None:
        before_load(page)
    origin = url.split("/", 3)[:3]
    page.memviz_outside = []
    page.on("request", lambda request: None if request.url.split("/", 3)[:3] == origin
            or request.url.startswith(("data:", "blob:")) else page.memviz_outside.append(request.url))
    page.add_init_script(RECORD_MESSAGES_JS)
    page.goto(url)
    page.wait_for_selector('.memviz-status[data-live="1"]', state="attached", timeout=live_timeout_ms)
    page.wait_for_selector(".memviz-total[data-mib]", timeout=live_timeout_ms)
    return page


@pytest.fixture(scope="module")
def _module_page() -> dict:
    """The default page the module's tests go on in ({"page": ...} once opened)."""
    held: dict = {}
    yield held
    if "page" in held:
        held["page"].close()


@pytest.fixture
def page(browser, app_url, _module_page, request):
    """The module's default page, opened by the first test that needs it; after a failed test, a new one."""
    if "page" not in _module_page:
        _module_page["page"] = open_app(browser, app_url)
    page, failed_before = _module_page["page"], request.session.testsfailed
    yield page
    assert requests_elsewhere(page) == []  # no web fonts, CDNs or anything else beyond the app's server
    if request.session.testsfailed != failed_before:
        _module_page.pop("page").close()


def test_the_served_page_asks_no_other_host(page):
    page.wait_for_load_state("networkidle")
    assert requests_elsewhere(page) == []
    stylesheets = page.evaluate("[...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.href)")
    assert stylesheets and not [href for href in stylesheets if "fonts.googleapis" in href]


def test_default_preset_tp_and_impossible_strategy(page, cli_json):
    default = cli_json("--preset", DEFAULT_PRESET)
    assert total_mib(page) == pytest.approx(default["peak_total_mib"], rel=1e-9)
    assert page.locator(".memviz-total").inner_text() == format_memory(default["peak_total_mib"], "MiB")
    assert page.locator(".memviz-tp select").input_value() == str(default["config"]["tp"])
    assert page.locator(".memviz-message").first.get_attribute("data-kind") == "none"  # no error on first screen
    wait_until_quiet(page)
    page.screenshot(path=screenshot_path("app-en.png"), full_page=True)

    page.locator(".memviz-tp select").select_option("4")
    tp4 = wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "4")["peak_total_mib"], "the TP 4 total")

    # Sequence parallel off: the preset has no such measurements; say so, keep the TP 4 charts.
    config = TrainingConfig()
    config.apply(**load_preset(DEFAULT_PRESET).config_defaults(), tp=4, sequence_parallel=False)
    with pytest.raises(StrategyError) as problem:
        estimate_galvatron(config, load_preset(DEFAULT_PRESET))
    text = t("msg.strategy_error", "en", error=str(problem.value))
    errors = page.locator(".memviz-error")
    page.locator(".memviz-sequence-parallel").click()
    wait_until(errors.all_inner_texts, lambda v: any(text in x for x in v), "the strategy error")
    assert total_mib(page) == tp4
    page.locator(".memviz-sequence-parallel").click()
    wait_until(errors.count, lambda n: n == 0, "the strategy error to go away")
    assert total_mib(page) == tp4


def test_chinese_changes_titles_labels_and_axes(page):
    def axes() -> list[str]:
        return page.evaluate(AXIS_LABELS_JS)

    titles = page.locator(".memviz-card-title")
    assert set(titles.all_inner_texts()) >= {t(k, "en") for k in CARD_TITLES}
    assert t("axis.stage", "en") in axes()
    select_language(page, "zh")
    wait_until(titles.all_inner_texts, lambda v: set(v) >= {t(k, "zh") for k in CARD_TITLES}, "Chinese card titles")
    assert page.locator(".memviz-tp label").first.inner_text().strip() == t("param.tp", "zh")
    assert {t("treemap.title", "zh", stage=0), t("analysis.title", "zh", stage=0)} <= set(titles.all_inner_texts())
    english = {t("axis.stage", "en"), t("axis.memory", "en", unit="MiB")}
    # every chart redraws on its own (the explorer's last): wait until none has an English label left
    chinese_axes = wait_until(axes, lambda v: t("axis.stage", "zh") in v and not english & set(v),
                              "every chart's Chinese axis labels")
    assert t("axis.memory", "zh", unit="MiB") in chinese_axes
    assert t("axis.memory", "en", unit="MiB") not in chinese_axes
    wait_until(lambda: plot_texts(page), lambda v: any(t("block.model_states.optimizer", "zh") in x for x in v),
               "Chinese treemap labels")
    assert page.locator(".memviz-tabs button").all_inner_texts() == [t(f"tab.{k}", "zh") for k in
                                                                     View.param.tab.objects]
    wait_until_quiet(page)
    english_left = sorted(set(page.evaluate(PAGE_TEXT_JS)) & ENGLISH_ONLY)
    page.screenshot(path=screenshot_path("app-zh.png"), full_page=True)
    assert english_left == [], "English text on the Chinese page"

    select_language(page, "en")
    wait_until(axes, lambda v: t("axis.stage", "en") in v, "the English axis label again")
    assert page.locator(".memviz-tp label").first.inner_text().strip() == t("param.tp", "en")


def test_gib_switch_and_pipeline_stages(page, cli_json):
    mib, tp = total_mib(page), page.locator(".memviz-tp select").input_value()
    page.locator(".memviz-unit button", has_text="GiB").click()
    total = page.locator(".memviz-total")
    wait_until(total.inner_text, lambda v: v == format_memory(mib, "GiB"), "the total in GiB")
    wait_until(lambda: page.evaluate(AXIS_LABELS_JS), lambda v: t("axis.memory", "en", unit="GiB") in v,
               "the GiB axis label")
    assert total_mib(page) == mib  # the exact MiB figure stays in the hook

    stage = page.locator(".memviz-stage")
    assert not stage.is_visible()
    pp = page.locator(".memviz-pp input").first
    pp.fill("2")
    pp.press("Enter")
    expected = cli_json("--preset", DEFAULT_PRESET, "--tp", tp, "--pp", "2")
    wait_total(page, expected["peak_total_mib"], "the PP 2 total")
    assert int(total.get_attribute("data-stage")) == expected["peak_stage"]
    wait_until(stage.is_visible, bool, "the pipeline stage picker")

    # Back to one stage and MiB: the same total as before, and no stage picker.
    pp.fill("1")
    pp.press("Enter")
    wait_total(page, mib, "the PP 1 total again")
    wait_until(stage.is_visible, lambda visible: not visible, "the stage picker to go")
    page.locator(".memviz-unit button", has_text="MiB").click()
    wait_until(total.inner_text, lambda v: v == format_memory(mib, "MiB"), "the total in MiB again")


def test_details_treemap_and_phone_screenshots(page):
    layer_one = t("block.activation.layer", "en", index=1)
    wait_until(lambda: plot_texts(page), lambda v: any(layer_one in x for x in v), "per-layer blocks (details on)")
    wait_until_quiet(page)
    page.locator(".memviz-treemap").screenshot(path=screenshot_path("app-treemap-details.png"))
    page.locator(".memviz-details").click()
    wait_until(lambda: plot_texts(page), lambda v: not any(layer_one in x for x in v), "the treemap without details")
    page.locator(".memviz-details").click()
    wait_until(lambda: plot_texts(page), lambda v: any(layer_one in x for x in v), "per-layer blocks again")

    page.set_viewport_size(PHONE)  # same session, phone width: the layout reflows in the browser
    treemap = page.locator(".memviz-treemap")
    box = wait_until(treemap.bounding_box, lambda b: b is not None and b["width"] < PHONE["width"],
                     "the treemap to fit a phone")
    wait_until_quiet(page)  # the treemap is laid out again for the phone's width on the server
    page.wait_for_timeout(300)  # and Bokeh repaints its canvases
    page.screenshot(path=screenshot_path("app-phone.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "sideways scrolling"
    assert box["width"] >= 0.8 * PHONE["width"], f"treemap squeezed on a phone: {box}"
    # The donut (labels either side of the ring) fits the phone's width too.
    page.locator(".memviz-tabs button", has_text=t("tab.donut", "en")).click()
    centre = t("donut.center_total", "en")
    wait_until(lambda: plot_texts(page), lambda v: centre in v, "the donut")
    wait_until_quiet(page)
    page.wait_for_timeout(300)
    page.locator(".memviz-analysis").screenshot(path=screenshot_path("app-phone-donut.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], "the donut scrolls sideways"
    card, canvas = page.locator(".memviz-analysis").bounding_box(), page.locator(".memviz-analysis canvas").first
    donut = canvas.bounding_box()
    assert card["x"] <= donut["x"] and donut["x"] + donut["width"] <= card["x"] + card["width"], (card, donut)
    page.locator(".memviz-tabs button", has_text=t("tab.bars", "en")).click()  # as it was
    page.set_viewport_size(DESKTOP)


def test_upload_valid_then_malformed_keeps_the_last_total(page, cli_json, tmp_path):
    page.locator(".memviz-tp select").select_option("4")
    wait_total(page, cli_json("--preset", DEFAULT_PRESET, "--tp", "4")["peak_total_mib"], "the TP 4 total")
    page.locator(".memviz-upload input[type=file]").set_input_files(str(UPLOAD))
    message = page.locator(".memviz-message")
    wait_until(lambda: message.first.get_attribute("data-kind"), lambda k: k == "success", "the upload message")
    layers = int(page.locator(".memviz-num-layers input").first.input_value())
    tp = page.locator(".memviz-tp select").input_value()
    # TP kept; the file has no model_config.n_layers, so the preset's layer count stays.
    assert (tp, layers) == ("4", load_preset(DEFAULT_PRESET).model.num_layers)
    expected = cli_json("--profile", str(UPLOAD), "--tp", tp, "--layers", str(layers))
    assert message.first.inner_text().endswith(t("msg.upload_loaded", "en", name=UPLOAD.name, shape="main",
                                                  layers=layers, seq=expected["config"]["seq_length"]))
    uploaded_total = wait_total(page, expected["peak_total_mib"], "the uploaded profile's total")

    not_json = tmp_path / "not_json.json"
    not_json.write_text('{"layertype_0_sp": ')
    missing = json.loads(preset_path(DEFAULT_PRESET).read_text())
    del missing["other_memory_pp_on_first_sp"]
    missing_key = tmp_path / "missing_key.json"
    missing_key.write_text(json.dumps(missing))
    for bad in (not_json, missing_key):
        with pytest.raises(ProfileError) as problem:
            parse_profile(bad.read_bytes(), bad.name)
        text = t("msg.upload_failed", "en", error=str(problem.value))
        page.locator(".memviz-upload input[type=file]").set_input_files(str(bad))
        error = page.locator('.memviz-message[data-kind="error"]')
        wait_until(error.all_inner_texts, lambda texts, want=text: any(want in x for x in texts),
                   f"the error for {bad.name}")
        assert total_mib(page) == uploaded_total
        assert page.locator(".memviz-total").inner_text() == format_memory(uploaded_total, "MiB")


def test_moe_model_link_shows_expert_blocks_and_ep(browser, app_url):
    """A link to DeepSeek-V3 with EP 64, stage 5 (MoE layers): the EP field holds it, experts have their own blocks."""
    page = open_app(browser, app_url + "?model=deepseek-v3&tp=8&pp=16&gpus=1024&ep=64&seq=4096&gbs=1024&stage=5")
    try:
        states = t("block.model_states.optimizer.experts", "en")
        wait_until(lambda: plot_texts(page), lambda v: any(states in x for x in v), "expert states in the treemap")
        assert page.locator(".memviz-ep input").first.input_value() == "64"
        wait_until_quiet(page)
        page.screenshot(path=screenshot_path("app-moe-deepseek-v3.png"), full_page=True)
        assert requests_elsewhere(page) == []
    finally:
        page.close()
