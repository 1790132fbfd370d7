"""Widget factories bound to parameters, with translated labels.

Every widget is made with `from_param`, so it and the parameter stay in sync with no
hand-written callbacks; labels are references to the catalog that follow the language.
"""

from __future__ import annotations

import math

import panel as pn
import param

from ..i18n import t
from .batching import respond_at_once
from .theme import text

# Galvatron's sliders grow to ceil(1.2 * value) when a larger value is typed.
SLIDER_GROWTH = 1.2


# Bokeh keeps a widget's label on one line (its input group is `white-space: nowrap`), cutting off
# what does not fit the column: long labels wrap instead, in either language.
WIDGET_CSS = ".bk-input-group { white-space: normal; } label { overflow-wrap: anywhere; }"


def from_param(widget_type: type, parameter: param.Parameter, **kwargs):
    """`widget_type.from_param` without the parameter's English docstring as a tooltip, responsive,
    its label wrapping rather than cut off."""
    if "description" in widget_type.param:
        kwargs.setdefault("description", None)
    kwargs["stylesheets"] = [*kwargs.get("stylesheets", []), WIDGET_CSS]
    return respond_at_once(widget_type.from_param(parameter, **kwargs))


def label(key: str, lang_param: param.Parameter, **fmt) -> object:
    """A reference to the catalog text of `key` in the current language."""
    return pn.bind(lambda lang: t(key, lang, **fmt), lang_param)


def _slider_end(value: int, soft_end: int) -> int:
    return soft_end if value <= soft_end else math.ceil(SLIDER_GROWTH * value)


def number_slider(parameter: param.Parameter, lang_param: param.Parameter, **kwargs) -> pn.widgets.EditableIntSlider:
    """Slider with a number box beside it; the range extends when a value beyond it is typed."""
    soft_start, soft_end = parameter.softbounds
    return from_param(
        pn.widgets.EditableIntSlider, parameter, name=label(f"param.{parameter.name}", lang_param), start=soft_start,
        end=pn.bind(_slider_end, parameter.owner.param[parameter.name], soft_end),
        sizing_mode="stretch_width", css_classes=[f"memviz-{parameter.name.replace('_', '-')}"], **kwargs,
    )


def switch(parameter: param.Parameter, lang_param: param.Parameter, key: str | None = None) -> pn.Row:
    """A toggle switch with its translated label (catalog `key`, default `param.<name>`) beside it."""
    toggle = from_param(pn.widgets.Switch, parameter, name="", width=40, margin=(8, 6, 4, 10),
                        css_classes=[f"memviz-{parameter.name.replace('_', '-')}"])
    caption = text(label(key or f"param.{parameter.name}", lang_param), margin=(8, 0, 0, 0))
    return pn.Row(toggle, caption, sizing_mode="stretch_width")
