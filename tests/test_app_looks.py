"""What a user sees, in both languages at a laptop's and a phone's size: nothing clipped, results first
on a phone, no English on the Chinese page, a screenshot of every chart at a laptop's size and of the
first charts on a phone (test-artifacts/screenshots/looks-*.png, to look at).

The served app in Debian's Chromium: one page per language, loaded once per mode (Galvatron's default
profile, then DeepSeek-V3 in the analytic mode: MLA, MoE with EP 64, 16 stages), and resized in place
between the two widths. Waits are on the server's messages and the browser's next paint, not fixed.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from viz_app.i18n import t
from viz_app.view import View

from .browser_support import screenshot_path, wait_until_quiet
from .latin_text import latin_words
from .test_app_browser import (  # noqa: F401 (browser is a fixture)
    AXIS_LABELS_JS,
    PAGE_TEXT_JS,
    browser,
    open_app,
    plot_texts,
    total_mib,
    wait_stage_chart,
)

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TALL_PX = 2600
# The modes' pages: Galvatron's default profile; a mixture-of-experts model in the analytic mode.
PAGES = {"galvatron": "", "analytic": "model=deepseek-v3&tp=8&pp=16&gpus=1024&ep=64&seq=4096&gbs=1024&stage=5"}
# Tabs whose chart the server draws for the plot's size in the browser (PlotSize): shown, they are drawn
# again at their real size, unless the size is the one they were last drawn at.
SIZED_TABS = ("proportion", "donut")
SIZED_REDRAW_MS = 2000
# What shows that a tab's view is in the page (the bar chart: none of the others').
TAB_MARKS = {"proportion": ".memviz-analysis .memviz-legend", "donut": ".memviz-drill",
             "formulas": ".memviz-formulas"}

# Every visible label, select and button whose text does not fit its box, or a button that reaches past
# the window's right edge (shadow roots included).
# A label is inline inside its widget's input group: its overflow shows on the group. A select's
# chosen option is drawn by the browser: its text is measured against the select's inner width.
CLIPPED_JS = """() => {
  const clipped = [];
  const measure = document.createElement("canvas").getContext("2d");
  const over = (el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (!el.checkVisibility()) continue;
      const name = el.tagName;
      if (name === "LABEL" && (over(el) || over(el.parentElement))) clipped.push("label: " + el.textContent);
      else if (name === "BUTTON" && (over(el) || el.getBoundingClientRect().right > innerWidth))
        clipped.push("button: " + el.textContent);  // its text cut, or the button cut off by the window
      else if (name === "SELECT" && el.selectedIndex >= 0) {
        const style = getComputedStyle(el);
        measure.font = style.font;
        const text = el.options[el.selectedIndex].text;
        const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        if (measure.measureText(text).width > room + 1) clipped.push("select: " + text);
      }
    }
  };
  walk(document);
  return clipped;
}"""


# The page and the template's scrolling areas back at their top, as a user first sees them.
SCROLL_TO_TOP_JS = """() => {
  for (const el of [document.scrollingElement, ...document.querySelectorAll("*")]) el.scrollTop = 0;
}"""
MESSAGES_JS = "() => window.__memvizMessages.length"
NEXT_PAINT_JS = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _settle(page, messages_before: int | None = None) -> None:
    """Wait for the server's answer (a message after `messages_before`, when one must come), until it is
    quiet, and for the browser's next paint (Bokeh paints its canvases on an animation frame)."""
    if messages_before is not None:
        page.wait_for_function(f"() => window.__memvizMessages.length > {messages_before}", timeout=20_000)
    wait_until_quiet(page, quiet_ms=300)
    page.evaluate(NEXT_PAINT_JS)


def _resize(page, size: dict) -> None:
    """Resize in place; a new width redraws the treemap at its new size on the server (PlotSize)."""
    before, width = page.evaluate(MESSAGES_JS), page.viewport_size["width"]
    page.set_viewport_size(size)
    _settle(page, before if size["width"] != width else None)


def _top_in_view(page, selector: str) -> bool:
    """Whether the element's top lies inside the viewport as first shown (the page not scrolled)."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"] - 40


def _drawn_texts(page) -> list[str]:
    """Every text on the page: HTML, chart labels and axis titles."""
    return [*page.evaluate(PAGE_TEXT_JS), *plot_texts(page), *page.evaluate(AXIS_LABELS_JS)]


def _show_tab(page, tab: str, lang: str) -> None:
    button = page.locator(".memviz-tabs button", has_text=t(f"tab.{tab}", lang))
    if "active" not in (button.get_attribute("class") or ""):
        before = page.evaluate(MESSAGES_JS)
        button.click()
        _settle(page, before)
    for other, mark in TAB_MARKS.items():
        page.wait_for_selector(mark, state="visible" if other == tab else "detached", timeout=20_000)
    if tab in SIZED_TABS:  # drawn again once the browser has said the plot's size; none if it had not changed
        before = page.evaluate(MESSAGES_JS)
        try:
            page.wait_for_function(f"() => window.__memvizMessages.length > {before}", timeout=SIZED_REDRAW_MS)
        except PlaywrightTimeout:
            return
        _settle(page)


def _load(page, url: str) -> None:
    """Open `url` and wait until every chart, the all-stages one last, shows its estimate."""
    page.goto(url)
    page.wait_for_selector('.memviz-status[data-live="1"]', state="attached", timeout=30_000)
    page.wait_for_selector(".memviz-total[data-mib]", timeout=30_000)
    wait_stage_chart(page, total_mib(page), "the all-stages chart")
    _settle(page)


def _shoot_charts(page, prefix: str, lang: str, tabs: list[str], read: bool) -> list[str]:
    """The treemap, the all-stages chart and each analysis tab (in the order given), each its own
    screenshot; the texts drawn on every tab when `read`. The template scrolls its main area inside the window:
    a card taller than the window's rest would be cut, so the window is tall (same width) meanwhile."""
    texts = []
    page.locator(".memviz-treemap").screenshot(path=screenshot_path(f"{prefix}-treemap.png"))
    page.locator(".memviz-stages").screenshot(path=screenshot_path(f"{prefix}-stages.png"))
    for tab in tabs:
        _show_tab(page, tab, lang)
        page.locator(".memviz-analysis").screenshot(path=screenshot_path(f"{prefix}-{tab}.png"))
        texts += _drawn_texts(page) if read else []
    return texts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nothing_clipped_and_every_chart_shot(browser, app_url, lang):  # noqa: F811
    page = open_app(browser, f"{app_url}?lang={lang}", SIZES["desktop"])
    try:
        assert t("section.model", lang) in page.locator(".memviz-card-title").all_inner_texts()
        tabs = list(View.param.tab.objects)
        for mode, query in PAGES.items():
            if query:
                page.set_viewport_size(SIZES["desktop"])
                _load(page, f"{app_url}?{query}&lang={lang}")
            else:
                wait_stage_chart(page, total_mib(page), "the all-stages chart")
            texts = []
            for size, viewport in SIZES.items():
                _resize(page, viewport)
                page.evaluate(SCROLL_TO_TOP_JS)
                page.evaluate(NEXT_PAINT_JS)
                prefix = f"looks-{lang}-{size}-{mode}"
                page.screenshot(path=screenshot_path(f"{prefix}-first-screen.png"))
                if size == "phone":  # the result before the settings, without scrolling
                    for selector in (".memviz-total", ".memviz-verdict", ".memviz-treemap"):
                        assert _top_in_view(page, selector), f"{selector} is below the first screen ({mode})"
                clipped = page.evaluate(CLIPPED_JS)
                assert clipped == [], f"clipped text ({lang}, {size}, {mode}): {clipped}"
                _resize(page, {"width": viewport["width"], "height": TALL_PX})
                if size == "desktop":  # every tab; the tab shown last first, so none is opened twice in a row
                    texts += _shoot_charts(page, prefix, lang, tabs, read=True)
                    tabs.reverse()
                else:  # a phone: the treemap, the stages and the tab left open (the tabs were read at desktop)
                    _shoot_charts(page, prefix, lang, tabs[:1], read=False)
            if lang == "zh":
                latin = sorted(latin_words(texts))
                assert latin == [], f"English on the Chinese page ({mode}): {latin}"
        # The file control says the app's text, in the page's language (the browser's own is hidden).
        upload = page.locator(".memviz-upload label")
        assert upload.inner_text().strip() == t("upload.button", lang)
        assert page.locator(".memviz-upload input[type=file]").bounding_box()["width"] <= 1
    finally:
        page.close()
