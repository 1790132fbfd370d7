"""The results side: peak total and GPU verdict, treemap, analysis tabs, all-stages view.

Plots are DynamicMaps over bound plot functions, so a change updates the existing figures'
data instead of rebuilding the page; the treemap, redrawn on every change, writes its data
sources in place (ui/treemap.py).
"""

from __future__ import annotations

import asyncio
import sys
from html import escape

import holoviews as hv
import panel as pn
import param

from .. import plots
from ..i18n import block_label, localize, t
from ..model.gpus import CUSTOM, GPUS, gpu_capacity_mib, verdict
from ..model.result import MODEL_STATES, Estimate
from ..model.units import format_memory
from ..session import Session
from ..view import View
from .batching import batch
from .explorer import ExplorerCard
from .exports import download_buttons, png_button
from .theme import card, html, text
from .treemap import InPlaceTreemap
from .widgets import from_param, label


def _gpu_name(key: str, lang: str, custom_gib: float) -> str:
    if key == CUSTOM:
        return f"{t('gpu.custom', lang).rstrip('…')} {custom_gib:g} GiB"
    gpu = next(g for g in GPUS if g.key == key)
    return f"{gpu.name} {t('gpu.option', lang, gb=gpu.marketing_gb)}"


def _summary_html(estimate: Estimate, unit: str, lang: str, gpu: str, custom_gib: float) -> str:
    peak = estimate.peak_stage
    v = verdict(estimate, gpu_capacity_mib(gpu, custom_gib))
    gpu_name = _gpu_name(gpu, lang, custom_gib)
    if v.fits:
        badge = t("verdict.fits", lang)
        detail = t("verdict.headroom", lang, headroom=format_memory(v.headroom_mib, unit),
                   percent=f"{100 * v.headroom_mib / v.capacity_mib:.0f}", gpu=gpu_name)
    else:
        badge = t("verdict.oom", lang)
        detail = t("verdict.over", lang, over=format_memory(-v.headroom_mib, unit), gpu=gpu_name)
    where = t("total.where", lang, stage=peak.stage, pp=len(estimate.stages))
    exact = "" if unit == "MiB" else \
        f'<div class="memviz-sub">{t("total.mib_equivalent", lang, mib=f"{peak.total_mib:.1f}")}</div>'
    kind = "fits" if v.fits else "oom"
    return (
        f'<div class="memviz-summary">'
        f'<div><div class="memviz-sub">{escape(t("total.label", lang))}</div>'
        f'<div class="memviz-total" data-mib="{peak.total_mib:.6f}" data-stage="{peak.stage}">'
        f'{format_memory(peak.total_mib, unit)}</div>{exact}'
        f'<div class="memviz-sub">{escape(where)}</div></div>'
        f'<div class="memviz-verdict memviz-{kind}" data-fits="{int(v.fits)}">'
        f'<div class="memviz-badge">{escape(badge)}</div>'
        f'<div class="memviz-sub">{escape(detail)}</div></div></div>'
    )


# The secondary charts update once the estimate has not changed for this long, so the browser
# has received and painted the total and treemap first (a next-tick update runs before Bokeh has
# even written the first message: measured 220 ms vs 170 ms to paint), and a run of changes (a
# slider dragged, a spinner held) does not wait behind charts that are redrawn again right after:
# in the static site, changes ~90 ms apart each waited ~50-100 ms for the previous one's charts.
SECONDARY_DELAY_MS = 150
# The analysis tabs wrap onto a second row where the card is narrower than they are (a phone).
TABS_CSS = ".bk-btn-group { flex-wrap: wrap; row-gap: 4px; }"
# The donut fills the card's width at this height (plots.donut keeps its ring round).
DONUT_HEIGHT_PX = 340


class Results(pn.viewable.Viewer):
    """Every chart of a session, drawn in the view's language and unit.

    The total and the treemap follow the session's estimate at once; the other charts follow
    `later`, set SECONDARY_DELAY_MS after the last change, so the first screen's update reaches
    the browser without waiting for them.
    """

    later = param.ClassSelector(class_=Estimate, doc="The estimate the secondary charts show.")

    def __init__(self, session: Session, view: View, **params):
        super().__init__(later=session.estimate, **params)
        self.session, self.view = session, view
        self._cancel_pending = lambda: None  # the scheduled update of `later`, if any
        self._donut_size = hv.streams.PlotSize()  # the donut's drawing area, as the browser reports it
        self._proportion_size = hv.streams.PlotSize()  # so its labels are fitted to a phone's width too
        session.param.watch(self._schedule_later, "estimate")

    def _schedule_later(self, _event: param.parameterized.Event) -> None:
        doc = pn.state.curdoc
        in_browser = sys.platform == "emscripten"
        if doc is None or (doc.session_context is None and not in_browser):  # no live page
            self.later = self.session.estimate
            return

        def update() -> None:
            self._cancel_pending = lambda: None
            if self.later is not self.session.estimate:
                with batch(doc):
                    self.later = self.session.estimate

        self._cancel_pending()
        if in_browser:  # Pyodide: the worker posts the first patch, then draws these
            self._cancel_pending = asyncio.get_event_loop().call_later(SECONDARY_DELAY_MS / 1000, update).cancel
        else:
            callback = doc.add_timeout_callback(update, SECONDARY_DELAY_MS)
            self._cancel_pending = lambda: doc.remove_timeout_callback(callback)

    def _heading(self, key: str, **refs) -> pn.pane.HTML:
        return html(pn.bind(lambda lang, **v: f'<div class="memviz-card-title">{escape(t(key, lang, **v))}</div>',
                            self.view.param.lang, **refs), margin=(4, 10), max_width=420)

    def _plot(self, function, height: int, **refs) -> pn.pane.HoloViews:
        """A DynamicMap of `function(estimate, lang, unit, **refs)` on `later`: data updates in place."""
        v = self.view
        bound = pn.bind(function, self.param.later, v.param.lang, v.param.unit, **refs)
        return pn.pane.HoloViews(hv.DynamicMap(bound), height=height, sizing_mode="stretch_width",
                                 linked_axes=False)

    def summary(self) -> pn.Row:
        s, v = self.session, self.view
        total = html(pn.bind(_summary_html, s.param.estimate, v.param.unit, v.param.lang, v.param.gpu,
                             v.param.custom_gib), min_width=330, max_width=540)
        gpu = from_param(
            pn.widgets.Select, v.param.gpu, name=label("gpu.label", v.param.lang), width=190,
            css_classes=["memviz-gpu"],
            options=pn.bind(lambda lang, custom: {_gpu_name(g.key, lang, custom): g.key for g in GPUS}
                            | {t("gpu.custom", lang): CUSTOM}, v.param.lang, v.param.custom_gib),
        )
        custom = from_param(
            pn.widgets.FloatInput, v.param.custom_gib, name=label("gpu.custom_gb", v.param.lang), width=120,
            visible=pn.bind(lambda g: g == CUSTOM, v.param.gpu), css_classes=["memviz-custom-gpu"],
        )
        unit = from_param(
            pn.widgets.RadioButtonGroup, v.param.unit, name="", width=120, margin=(28, 10, 10, 10),
                                                      color="primary", variant="outline",
                                                      css_classes=["memviz-unit"])
        problem = html(pn.bind(
            lambda p, lang: f'<div class="memviz-error">✕ {escape(t("msg.strategy_error", lang, error=p))}</div>'
            if p else "", s.param.problem, v.param.lang))
        controls = pn.FlexBox(gpu, custom, unit, *download_buttons(s, v.param.lang), flex_wrap="wrap",
                              align_items="flex-start")
        return card(pn.FlexBox(total, controls, flex_wrap="wrap", justify_content="space-between",
                               sizing_mode="stretch_width"), problem)

    def treemap_card(self) -> pn.Column:
        v, c = self.view, self.session.config
        details = from_param(
            pn.widgets.Switch, v.param.details, name="", width=40, css_classes=["memviz-details"],
                                               margin=(14, 4, 0, 10))
        # Fixed size needs both sides (Bokeh warns W-1005 FIXED_SIZING_MODE on every page load otherwise).
        details_label = text(label("treemap.details", v.param.lang), margin=(14, 10, 0, 0), sizing_mode="fixed",
                             width=110, height=24)
        stage = from_param(
            pn.widgets.IntSlider, c.param.stage, name=label("param.stage", v.param.lang), width=220, start=0,
            end=pn.bind(lambda pp: max(pp - 1, 1), c.param.pp), visible=pn.bind(lambda pp: pp > 1, c.param.pp),
            css_classes=["memviz-stage"], margin=(4, 16),
        )
        header = pn.FlexBox(self._heading("treemap.title", stage=c.param.stage), pn.Row(stage, details, details_label),
                            flex_wrap="wrap", justify_content="space-between", sizing_mode="stretch_width")
        chart = InPlaceTreemap(self.session, self.view).pane
        legend = html(pn.bind(_treemap_legend_html, self.session.param.estimate, c.param.stage, v.param.lang,
                              v.param.details), css_classes=["memviz-treemap-legend"])
        hint = text(label("treemap.hint", v.param.lang), "memviz-hint")
        return card(header, chart, legend, pn.Row(hint, png_button(chart, "memviz-treemap.png", v.param.lang)),
                    css_classes=("memviz-treemap",))

    def analysis_card(self) -> pn.Column:
        v, c = self.view, self.session.config
        bar_plot = self._plot(plots.bar_chart, plots.bar_chart_height(self.later), stage=c.param.stage)
        # Taller with more blocks (analytic mode has ~15), so their names never overlap.
        self.param.watch(lambda e: setattr(bar_plot, "height", plots.bar_chart_height(e.new)), "later")
        bars = pn.Column(bar_plot, png_button(bar_plot, "memviz-bars.png", v.param.lang), sizing_mode="stretch_width")
        proportion_map = hv.DynamicMap(self._proportion, streams=[
            hv.streams.Params(parameters=[self.param.later, v.param.lang, v.param.unit, c.param.stage]),
            self._proportion_size])
        proportion_chart = pn.pane.HoloViews(proportion_map, height=240, sizing_mode="stretch_width", linked_axes=False)
        proportion = pn.Column(
            proportion_chart, png_button(proportion_chart, "memviz-proportion.png", v.param.lang),
            html(pn.bind(_legend_html, self.param.later, c.param.stage, v.param.lang)),
            sizing_mode="stretch_width",
        )
        # PlotSize: the donut is drawn for its real width, so its ring stays round and fits a phone.
        donut_map = hv.DynamicMap(self._donut, streams=[
            hv.streams.Params(parameters=[self.param.later, v.param.lang, v.param.unit, c.param.stage,
                                          v.param.drill]), self._donut_size])
        tap = hv.streams.Tap(source=donut_map)
        tap.add_subscriber(lambda x, y: self._on_donut_tap(x, y))
        drill_button = pn.widgets.Button(
            label=pn.bind(lambda drill, lang: t("donut.back" if drill else "donut.drill", lang), v.param.drill,
                         v.param.lang),
            color="primary", variant="outline", css_classes=["memviz-drill"], width=240,
        )
        drill_button.on_click(lambda _e: setattr(v, "drill", not v.drill))
        donut_chart = pn.pane.HoloViews(donut_map, height=DONUT_HEIGHT_PX, sizing_mode="stretch_width",
                                        linked_axes=False)
        donut = pn.Column(
            pn.FlexBox(text(label("donut.hint", v.param.lang), "memviz-hint", sizing_mode="fixed", width=330),
                       drill_button, flex_wrap="wrap", justify_content="space-between", sizing_mode="stretch_width"),
            donut_chart, png_button(donut_chart, "memviz-donut.png", v.param.lang), sizing_mode="stretch_width",
        )
        formulas = pn.Column(
            text(label("formulas.hint", v.param.lang), "memviz-hint"),
            html(pn.bind(_formulas_html, self.param.later, c.param.stage, v.param.lang, v.param.unit)),
            sizing_mode="stretch_width",
        )

        def step() -> pn.Column:
            return pn.Column(text(label("step.hint", v.param.lang), "memviz-hint"),
                             self._plot(plots.step_chart, 300, stage=c.param.stage), sizing_mode="stretch_width")

        contents = {"bars": bars, "proportion": proportion, "donut": donut, "formulas": formulas, "step": step}
        # A segmented control, not pn.Tabs: its labels can follow the language.
        switcher = from_param(
            pn.widgets.RadioButtonGroup, v.param.tab, name="", color="primary", variant="outline",
            css_classes=["memviz-tabs"], stylesheets=[TABS_CSS], sizing_mode="stretch_width",
            options=pn.bind(lambda lang: {t(f"tab.{key}", lang): key for key in contents}, v.param.lang),
        )
        # Only the shown view is in the page, so hidden charts cost nothing when the estimate changes.
        # The step chart is built anew each time its tab opens: HoloViews evaluates a DynamicMap only
        # for a plot in the page, so one left off the page kept the frame of the mode it was drawn in.
        def view_of(tab: str) -> pn.viewable.Viewable:
            return contents[tab]() if callable(contents[tab]) else contents[tab]

        shown = pn.panel(pn.bind(view_of, v.param.tab), sizing_mode="stretch_width")
        return card(self._heading("analysis.title", stage=c.param.stage), switcher, shown,
                    css_classes=("memviz-analysis",))

    @staticmethod
    def _proportion(later, lang, unit, stage, width=None, height=None, scale=1.0) -> hv.Overlay:
        return plots.proportion_chart(later, lang, unit, stage=stage, width_px=width)

    @staticmethod
    def _donut(later, lang, unit, stage, drill, width=None, height=None, scale=1.0) -> hv.Overlay:
        return plots.donut(later, lang, unit, stage=stage, drill=drill, height=DONUT_HEIGHT_PX, width_px=width,
                           height_px=height)

    def _on_donut_tap(self, x: float | None, y: float | None) -> None:
        if x is None or y is None or self.view.drill:
            return
        key = plots.donut_sector_at(self.session.estimate, x, y, stage=self.session.config.stage,
                                    width_px=self._donut_size.width, height_px=self._donut_size.height)
        if key == MODEL_STATES:
            self.view.drill = True

    def stages_card(self) -> pn.Column:
        v = self.view
        chart = self._plot(_stage_chart, 320, gpu=v.param.gpu, custom_gib=v.param.custom_gib)
        hint = text(label("stages.hint", v.param.lang), "memviz-hint")
        return card(self._heading("stages.title"), chart,
                    pn.Row(hint, png_button(chart, "memviz-stages.png", v.param.lang)), css_classes=("memviz-stages",))

    def __panel__(self) -> pn.Column:
        return pn.Column(self.summary(), self.treemap_card(), self.analysis_card(), self.stages_card(),
                         ExplorerCard(self.session, self.view), sizing_mode="stretch_width")


def _stage_chart(estimate: Estimate, lang: str, unit: str, gpu: str, custom_gib: float) -> hv.Overlay:
    return plots.stage_chart(estimate, lang, unit, capacity_mib=gpu_capacity_mib(gpu, custom_gib),
                             capacity_name=_gpu_name(gpu, lang, custom_gib))


def _formulas_html(estimate: Estimate, stage: int, lang: str, unit: str) -> str:
    """Each block of the stage with its formula (the user's numbers plugged in) and its source."""
    chosen = plots.pick_stage(estimate, stage)
    head = "".join(f"<th>{escape(t(k, lang))}</th>" for k in ("formulas.block", "formulas.formula", "formulas.source"))
    rows = "".join(
        f'<tr><td><b>{escape(block_label(b.key, lang))}</b><br>{format_memory(b.mib, unit)}</td>'
        f"<td><code>{escape(localize(b.formula, lang))}</code></td><td>{escape(localize(b.source, lang))}</td></tr>"
        for b in chosen.blocks if b.mib > 0 or b.formula
    )
    return f'<table class="memviz-formulas"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _swatches(items: list[tuple[str, str]]) -> str:
    return "".join(f'<span class="memviz-legend-item"><i style="background:{color}"></i>{escape(text)}</span>'
                   for text, color in items)


def _legend_html(estimate: Estimate, stage: int, lang: str) -> str:
    chosen = plots.pick_stage(estimate, stage)
    items = _swatches(plots.legend_items(chosen, lang, "blocks"))
    return f'<div class="memviz-legend"><b>{escape(t("proportion.legend", lang))}</b>{items}</div>'


def _treemap_legend_html(estimate: Estimate, stage: int, lang: str, details: bool) -> str:
    """The categories' colours; with details on, each category's blocks beside it (their own shades)."""
    chosen = plots.pick_stage(estimate, stage)
    rows = "".join(
        f'<div class="memviz-legend-row"><b>{_swatches([category])}</b>{_swatches(blocks) if details else ""}</div>'
        for category, blocks in plots.legend_groups(chosen, lang)
    )
    return f'<div class="memviz-legend-groups">{rows}</div>'
