"""The app's look: one stylesheet for every HTML pane, card styling, small text helpers.

Panel renders each component in its own shadow root, so page-level CSS does not reach inside
panes: the stylesheet is handed to each pane that draws memviz markup.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import panel as pn
from bokeh.document import Document

from . import private_bokeh
from .private_panel import LiveHTML

CSS = (Path(__file__).resolve().parent.parent / "assets" / "memviz.css").read_text(encoding="utf-8")
WEB_FONT_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com")
CARD_STYLES = {
    "background": "#ffffff", "border-radius": "10px", "box-shadow": "0 1px 3px rgba(15,23,42,.14)",
    "padding": "6px 6px 10px 6px", "margin-bottom": "14px",
}


class OwnOriginTemplate(pn.template.VanillaTemplate):
    """Panel's VanillaTemplate without its web font: the page requests nothing from another host.

    VanillaTemplate adds Lato from fonts.googleapis.com to every page: a request that tells Google
    who opened the app, and an error offline. The stylesheet's system fonts are used instead.
    """

    def resolve_resources(self, cdn="auto", extras=None):
        resources = super().resolve_resources(cdn=cdn, extras=extras)
        resources["css"] = {name: url for name, url in resources["css"].items() if not _web_font(url)}
        return resources

    def server_doc(self, doc=None, title=None, location=True):
        """Panel's server_doc with Bokeh's model graph recomputed once at the end: each of the page's
        JS callbacks made it walk all ~440 models again (3.5 s of a 4 s page build, served or in
        Pyodide)."""
        doc = doc or pn.state.curdoc or Document()
        with private_bokeh.lazy_freeze(doc):
            return super().server_doc(doc, title, location)


def _web_font(url: str) -> bool:
    # Only the font: `panel convert` asks for the template's own stylesheets (its layout, theme and
    # spinner) from Panel's CDN, and the static build serves those from the site (site/page.py).
    return urlsplit(url).hostname in WEB_FONT_HOSTS


def html(obj, **kwargs) -> pn.pane.HTML:
    """An HTML pane styled by the app's stylesheet."""
    kwargs.setdefault("sizing_mode", "stretch_width")
    return LiveHTML(obj, stylesheets=[CSS], **kwargs)


def text(obj, css_class: str = "memviz-text", **kwargs) -> pn.pane.HTML:
    """A line of (translated) text; `obj` may be a reference."""
    kwargs.setdefault("margin", (4, 10))
    return html(pn.bind(lambda value: f'<div class="{css_class}">{value}</div>', obj), **kwargs)


def card(*objects, css_classes: tuple[str, ...] = (), **kwargs) -> pn.Column:
    """A white card holding one section of the page."""
    return pn.Column(*objects, styles=CARD_STYLES, css_classes=["memviz-card", *css_classes],
                     sizing_mode="stretch_width", **kwargs)
