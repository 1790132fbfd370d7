"""Step run in a fresh CPython process: `panel convert` the entry script, list what it imported.

`python -m viz_app.site.convert ENTRY OUT_DIR` writes OUT_DIR/app.html (the page with the
pre-rendered document), OUT_DIR/app.js (Panel's worker) and OUT_DIR/imports.json (the
distributions whose modules the app imported while building its first screen).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import packages_distributions
from pathlib import Path


def convert(entry: Path, out: Path) -> None:
    from panel.io.convert import script_to_html
    from panel.io.resources import set_resource_mode

    from viz_app.ui.private_panel import prerender_without_onload

    # The pre-rendered page shows the document before onload callbacks run, as a first paint of
    # `panel serve` does: they run in the browser once Python is live (e.g. the app's status flips
    # data-live to 1 there). Run here, they also reset the tags of a template root they update,
    # which drops that root from the page.
    prerender_without_onload()
    with set_resource_mode("cdn"):  # what `panel convert --to pyodide-worker` does for one app
        html, worker = script_to_html(str(entry), requirements=[], runtime="pyodide-worker", prerender=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "app.html").write_text(html, encoding="utf-8")
    (out / "app.js").write_text(worker, encoding="utf-8")
    tops = {name.split(".")[0] for name in sys.modules}
    owners = packages_distributions()
    dists = sorted({dist.lower().replace("_", "-") for top in tops for dist in owners.get(top, [])})
    (out / "imports.json").write_text(json.dumps(dists), encoding="utf-8")


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
