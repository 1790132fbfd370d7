"""Export buttons: the estimate as CSV, each chart as a PNG drawn by BokehJS in the browser.

The PNG is the chart's own canvas, exported by the Bokeh view that drew it (what Bokeh's save
tool does), so no browser or renderer is needed on the server, and the static site makes it
offline too.
"""

from __future__ import annotations

import io
import json

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


def download_buttons(session: Session, lang: param.Parameter) -> list[pn.widgets.FileDownload]:
    """The estimate as the `--json` document and as CSV (`memviz estimate --csv`)."""
    common = dict(disabled=pn.bind(bool, session.param.problem), color="primary", variant="outline", width=150,
                  margin=(28, 10, 10, 10))
    as_json = pn.widgets.FileDownload(
        callback=lambda: io.StringIO(json.dumps(session.document(), indent=2)), filename="memviz-estimate.json",
        label=label("download.label", lang), css_classes=["memviz-download"], **common)
    as_csv = pn.widgets.FileDownload(
        callback=lambda: io.StringIO(estimate_csv(session.estimate)), filename="memviz-estimate.csv",
        label=label("download.csv", lang), css_classes=["memviz-download-csv"], **common)
    return [as_json, as_csv]
