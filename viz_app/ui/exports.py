"""Export buttons: the estimate as CSV, each chart as a PNG drawn by BokehJS in the browser.

The PNG is the chart's own canvas, exported by the Bokeh view that drew it (what Bokeh's save
tool does), so no browser or renderer is needed on the server, and the static site makes it
offline too.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import panel as pn
import param

from ..model.csv_export import estimate_csv
from ..session import Session
from .widgets import label

# Runs in the page: `chart` is the Bokeh figure of the HoloViews pane (Panel passes its model).
_SAVE_PNG_JS = """
const view = Bokeh.index.find_one(chart)
if (view == null) { return }
view.export("png").to_blob().then((blob) => {
  const link = document.createElement("a")
  link.href = URL.createObjectURL(blob)
  link.download = filename
  link.dispatchEvent(new MouseEvent("click"))
  setTimeout(() => URL.revokeObjectURL(link.href), 10000)
})
"""


def png_button(chart: pn.pane.HoloViews, filename: str, lang: param.Parameter) -> pn.widgets.Button:
    """A button saving `chart` as `filename` (PNG), made in the browser from the drawn chart."""
    button = pn.widgets.Button(label=label("export.png", lang), color="primary", variant="outline", width=110,
                               css_classes=["memviz-png", f"memviz-png-{filename.removesuffix('.png')}"],
                               margin=(4, 10), align="end")
    button.js_on_click(args={"chart": chart, "filename": filename}, code=_SAVE_PNG_JS)
    return button


def download_button(document: Callable[[], str], filename: str, label_key: str, lang: param.Parameter,
                    css_class: str, **kwargs) -> pn.widgets.FileDownload:
    """A button saving `document()` (made when clicked) as `filename`."""
    kwargs = {"color": "primary", "variant": "outline", "width": 150, **kwargs}
    return pn.widgets.FileDownload(callback=lambda: io.StringIO(document()), filename=filename,
                                   label=label(label_key, lang), css_classes=[css_class], **kwargs)


def download_buttons(session: Session, lang: param.Parameter) -> list[pn.widgets.FileDownload]:
    """The estimate as the `--json` document and as CSV (`memviz estimate --csv`)."""
    common = dict(disabled=pn.bind(bool, session.param.problem), margin=(28, 10, 10, 10))
    return [download_button(lambda: json.dumps(session.document(), indent=2), "memviz-estimate.json",
                            "download.label", lang, "memviz-download", **common),
            download_button(lambda: estimate_csv(session.estimate), "memviz-estimate.csv", "download.csv", lang,
                            "memviz-download-csv", **common)]
