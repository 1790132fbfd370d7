"""What a user sees, in both languages at a laptop's and a phone's size: nothing clipped, results first
on a phone, a screenshot of every chart (test-artifacts/screenshots/looks-*.png, to look at).

The served app in Debian's Chromium; one page per language and size, driven through both modes.
"""

from __future__ import annotations

import pytest

from viz_app.i18n import t
from viz_app.view import View

from .browser_support import screenshot_path, wait_until_quiet
from .latin_text import latin_words
from .test_app_browser import (  # noqa: F401 (app_url and browser are fixtures)
    AXIS_LABELS_JS,
    PAGE_TEXT_JS,
    app_url,
    browser,
    open_app,
    plot_texts,
    select_language,
    wait_until,
)

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TALL_PX = 2600

# Every visible label, select and button whose text does not fit its box (shadow roots included).
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
      else if (name === "BUTTON" && over(el)) clipped.push("button: " + el.textContent);
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


def _top_in_view(page, selector: str) -> bool:
    """Whether the element's top lies inside the viewport as first shown (the page not scrolled)."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"] - 40


def _drawn_texts(page) -> list[str]:
    """Every text on the page: HTML, chart labels and axis titles."""
    return [*page.evaluate(PAGE_TEXT_JS), *plot_texts(page), *page.evaluate(AXIS_LABELS_JS)]


def _settle(page) -> None:
    wait_until_quiet(page)
    page.wait_for_timeout(300)  # Bokeh repaints its canvases


# What shows that a tab's view is in the page (the bar chart: none of the others').
TAB_MARKS = {"proportion": ".memviz-analysis .memviz-legend", "donut": ".memviz-drill",
             "formulas": ".memviz-formulas"}


def _shoot_charts(page, prefix: str) -> list[str]:
    """The treemap, every analysis tab and the all-stages chart, each as its own screenshot; the texts
    drawn on every tab."""
    texts = _drawn_texts(page)
    # The template scrolls its main area inside the window: a card taller than the window's rest
    # would be cut in its screenshot, so the window grows (same width) while they are taken.
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": TALL_PX})
    _settle(page)
    page.locator(".memviz-treemap").screenshot(path=screenshot_path(f"{prefix}-treemap.png"))
    for tab in View.param.tab.objects:
        page.locator(".memviz-tabs button", has_text=t(f"tab.{tab}", page.memviz_lang)).click()
        for other, mark in TAB_MARKS.items():
            page.wait_for_selector(mark, state="visible" if other == tab else "detached", timeout=20_000)
        _settle(page)
        page.locator(".memviz-analysis").screenshot(path=screenshot_path(f"{prefix}-{tab}.png"))
        texts += _drawn_texts(page)
    page.locator(".memviz-tabs button", has_text=t("tab.bars", page.memviz_lang)).click()
    page.locator(".memviz-stages").screenshot(path=screenshot_path(f"{prefix}-stages.png"))
    page.set_viewport_size(size)
    return texts


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nothing_clipped_and_every_chart_shot(browser, app_url, lang, size):  # noqa: F811
    page = open_app(browser, app_url, SIZES[size])
    page.memviz_lang = lang
    try:
        if lang != "en":
            select_language(page, lang)
            wait_until(page.locator(".memviz-card-title").all_inner_texts,
                       lambda v: t("section.model", lang) in v, "the page in the chosen language")
        for mode in ("galvatron", "analytic"):
            if mode == "analytic":
                before = page.locator(".memviz-total").get_attribute("data-mib")
                page.locator(".memviz-mode button", has_text=t("mode.analytic", lang)).click()
                wait_until(lambda: page.locator(".memviz-total").get_attribute("data-mib"),
                           lambda v, before=before: v != before, "the analytic estimate")
                page.evaluate(SCROLL_TO_TOP_JS)
            _settle(page)
            prefix = f"looks-{lang}-{size}-{mode}"
            page.screenshot(path=screenshot_path(f"{prefix}-first-screen.png"))
            if size == "phone":  # the result before the settings, without scrolling
                for selector in (".memviz-total", ".memviz-verdict", ".memviz-treemap"):
                    assert _top_in_view(page, selector), f"{selector} is below the first screen ({mode})"
            clipped = page.evaluate(CLIPPED_JS)
            texts = _shoot_charts(page, prefix)
            assert clipped == [], f"clipped text ({lang}, {size}, {mode}): {clipped}"
            if lang == "zh":
                latin = sorted(latin_words(texts))
                assert latin == [], f"English on the Chinese page ({mode}): {latin}"
        # The file control says the app's text, in the page's language (the browser's own is hidden).
        upload = page.locator(".memviz-upload label")
        assert upload.inner_text().strip() == t("upload.button", lang)
        assert page.locator(".memviz-upload input[type=file]").bounding_box()["width"] <= 1
    finally:
        page.close()
