"""Make `panel convert`'s page and worker self-contained: every URL points into the site.

The page's BokehJS, Panel JS and CSS come out of the (hash-checked) bokeh and panel wheels; the
worker loads Pyodide and the packages from the site through an extended pyodide-lock.json.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import pins
from .fetch import BuildError

BOKEH_CDN = "https://cdn.bokeh.org/bokeh/release/"
PANEL_CDN = "https://cdn.holoviz.org/panel/"
PANEL_VERSION = pins.PURE_WHEELS["panel"][0]
PANEL_DIST = f"{PANEL_VERSION}/dist/"  # under static/panel/, the layout PANEL_CDN_ROOT expects
TEMPLATES = Path(__file__).resolve().parent.parent / "browser" / "templates"
# The served page runs it once live (app.py); the static page first thing, before Panel moves the link.
REPLACE_HISTORY_JS = (TEMPLATES.parent.parent / "assets" / "replace_history.js").read_text(encoding="utf-8")
# CSS the worker-side document may ask for later (Panel points it at PANEL_CDN_ROOT).
WORKER_CSS = ("css/", "bundled/theme/")


# Panel's page posts each Bokeh change event to the worker on its own and the worker applies each
# at once, so a FileInput's new `value` reaches the app's watchers before its `filename`. Events
# raised together go as one patch with `value` changes last, so watchers see the file's own name
# (as with `panel serve`, which debounces a session's changes into one batch).
BATCHED_SEND = """pyodideWorker.queue.push(event)
  if (!pyodideWorker.flushing) {
    pyodideWorker.flushing = true
    queueMicrotask(() => {
      pyodideWorker.flushing = false
      const events = pyodideWorker.queue.sort((a, b) => (a.attr === "value") - (b.attr === "value"))
      pyodideWorker.queue = []
      pyodideWorker.busy = true
      pyodideWorker.postMessage({type: 'patch', patch: jsdoc.create_json_patch(events)})
    })
  }"""


@dataclass
class Site:
    """Files written so far (site path -> where it came from)."""

    out: Path
    sources: dict[str, str] = field(default_factory=dict)

    def write(self, rel: str, data: bytes, source: str) -> str:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.sources[rel] = source
        return rel

    def write_hashed(self, rel: str, data: bytes, source: str) -> str:
        stem, dot, ext = rel.partition(".")
        return self.write(f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}{dot}{ext}", data, source)


def _one(pattern: str, text: str, replacement: str, what: str, flags: int = 0) -> str:
    result, count = re.subn(pattern, lambda _m: replacement, text, flags=flags)
    if count != 1:
        raise BuildError(f"panel convert output changed: expected one {what}, found {count}")
    return result


def _css_refs(css: str, css_rel: str) -> list[str]:
    refs = []
    for raw in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css):
        if raw.startswith(("data:", "#", "http:", "https:")):
            continue
        refs.append(posixpath.normpath(posixpath.join(posixpath.dirname(css_rel), raw.split("?")[0].split("#")[0])))
    return refs


def copy_panel_assets(site: Site, panel_wheel: Path, wanted: set[str], panel_source: str) -> list[str]:
    """Copy panel/dist files (and what their CSS refers to) to static/panel/<version>/dist/."""
    with zipfile.ZipFile(panel_wheel) as wheel:
        names = set(wheel.namelist())
        for prefix in WORKER_CSS:
            wanted |= {n.removeprefix("panel/dist/") for n in names
                       if n.startswith(f"panel/dist/{prefix}") and n.endswith(".css")}
        todo, done, missing = sorted(wanted), set(), []
        while todo:
            rel = todo.pop()
            if rel in done:
                continue
            done.add(rel)
            member = f"panel/dist/{rel}"
            if member not in names:
                missing.append(rel)
                continue
            data = wheel.read(member)
            site.write(f"static/panel/{PANEL_DIST}{rel}", data, panel_source)
            if rel.endswith(".css"):
                todo.extend(_css_refs(data.decode("utf-8", "replace"), rel))
    return missing


def rewrite_page(html: str, site: Site, bokeh_wheel: Path, panel_wheel: Path, sources: dict[str, str],
                 worker_rel: str, head_extra: str, body_extra: str) -> tuple[str, list[str]]:
    """The converted page with local URLs; returns it and the panel/dist files it refers to."""
    bokeh_version = pins.PURE_WHEELS["bokeh"][0]
    with zipfile.ZipFile(bokeh_wheel) as wheel:
        def bokeh_tag(m: re.Match) -> str:
            name = f"bokeh-{m.group(1)}.min.js" if m.group(1) else "bokeh.min.js"
            if name not in pins.BOKEH_JS:
                return ""  # WebGL / MathJax bundles: the app draws neither
            rel = site.write_hashed(f"static/{name}", wheel.read(f"bokeh/server/static/js/{name}"),
                                    f"{sources['bokeh']} bokeh/server/static/js/{name}")
            return f'<script type="text/javascript" src="./{rel}"></script>\n'

        html = re.sub(rf'<script[^>]*src="{re.escape(BOKEH_CDN)}bokeh-?([a-z]*)-?{re.escape(bokeh_version)}\.min\.js"'
                      r"[^>]*></script>\n?", bokeh_tag, html)
    with zipfile.ZipFile(panel_wheel) as wheel:
        panel_js = site.write_hashed("static/panel.min.js", wheel.read("panel/dist/panel.min.js"),
                                     f"{sources['panel']} panel/dist/panel.min.js")
    html = html.replace(f"{PANEL_CDN}{PANEL_DIST}panel.min.js", f"./{panel_js}")
    # Web fonts from Google: the site must not leave its origin; the template falls back to system fonts.
    html = re.sub(r'\s*<link rel="stylesheet" href="https://fonts\.googleapis\.com/[^"]*">', "", html)
    html = re.sub(r'<link rel="apple-touch-icon"[^>]*>', "", html)
    html = re.sub(r'<link rel="icon" href="\./favicon\.ico"[^>]*>', "", html)
    # ES-module shims serve Panel's ReactiveESM components (none here); they compile each module from
    # a blob: URL, which the site's CSP would otherwise have to allow as a script source (netlify.toml).
    html = _one(r'<script type="esms-options">[^<]*</script>\n?', html, "", "ES-module shim options")
    html = _one(r'<script[^>]*src="[^"]*/es-module-shims[^"]*"[^>]*></script>\n?', html, "", "ES-module shim")
    wanted = {url.split("?")[0] for url in re.findall(rf"{re.escape(PANEL_CDN + PANEL_DIST)}([^\"'\s)&\\]+)", html)}
    html = html.replace(PANEL_CDN, "./static/panel/")
    head_extra = head_extra.replace("__WORKER__", worker_rel).replace("__REPLACE_HISTORY__", REPLACE_HISTORY_JS)
    html = _one(r"<head>", html, "<head>\n" + head_extra, "<head>")
    html = _one(r'const pyodideWorker = new Worker\("\./[^"]+\.js"\);?', html,
                "const pyodideWorker = window.memvizWorker;", "worker creation")
    html = _one(r"const patch = jsdoc\.create_json_patch\(\[event\]\)\s*pyodideWorker\.busy = true\s*"
                r"pyodideWorker\.postMessage\(\{type: 'patch', patch: patch\}\)", html, BATCHED_SEND, "send_change")
    html = _one(r"</body>", html, f"{body_extra}</body>", "</body>")
    leftover = sorted(set(re.findall(r"(?:src|href)=\"(https?://[^\"]+)\"", html)))
    if leftover:
        raise BuildError(f"the page still loads from other hosts: {', '.join(leftover)}")
    return html, sorted(wanted)


def app_code(entry_source: str) -> str:
    """What the worker runs to build and serialize the app: what `panel convert` wraps around the entry.

    The serialized document is kept in `_memviz_rendered`, so a memory snapshot holds it too.
    """
    # unhold/hold: the changes `init_doc`'s hold collected while the app was built are in the
    # rendered JSON already. Panel's link would send them again (~140 KB, mostly every model's
    # stylesheets, which the page then re-applies: 150-300 ms before the app is live); released
    # here, while nothing is subscribed, they only run their Python callbacks.
    # gc.freeze (the entry's configure_process() froze the imports' objects already): the app's own
    # long-lived objects leave the collector's view too, so no full collection walks them during a redraw.
    return (f"from panel.io.pyodide import init_doc, write_doc\n\ninit_doc()\n\n{entry_source}\n\n"
            "_memviz_rendered = await write_doc()\n\n"
            "from panel.io.state import state as _memviz_state\n\n"
            "_memviz_state.curdoc.unhold()\n_memviz_state.curdoc.hold()\n\n"
            "import gc\n\ngc.collect()\ngc.freeze()\n")


def rewrite_worker(worker: str, packages: dict[str, str], entry_source: str, ships_snapshot: bool = False) -> str:
    """Panel's worker, loading Pyodide and every package from the site (no micropip, no CDN).

    `packages`: name -> sha256 of every package. The app is built inside `memvizLoad` (so a memory
    snapshot can hold it, see browser/templates/snapshot.js); Panel's start-up then only posts it to the page.
    `ships_snapshot`: the site will have snapshot/ (site/ship.py), to restore on a first visit too.
    """
    template = (TEMPLATES / "worker_start.js").read_text(encoding="utf-8")
    python = {name: json.dumps((TEMPLATES / f"{name.lower()}.py").read_text(encoding="utf-8"))
              for name in ("COMPAT", "LINK", "WARMUP")}
    app = app_code(entry_source)
    # A snapshot is valid for these exact packages, app and worker code.
    key = hashlib.sha256(json.dumps([sorted(packages.items()), app, worker, template, python,
                                     ships_snapshot]).encode()).hexdigest()
    start = (template.replace("__PACKAGES__", json.dumps(sorted(packages))).replace("__COMPAT__", python["COMPAT"])
             .replace("__SHIPS_SNAPSHOT__", json.dumps(ships_snapshot))
             .replace("__LINK__", python["LINK"]).replace("__WARMUP__", python["WARMUP"])
             .replace("__APP__", json.dumps(app))
             .replace("__SNAPSHOT_KEY__", json.dumps(key[:32]))
             .replace("__SNAPSHOT__", (TEMPLATES / "snapshot.js").read_text(encoding="utf-8")))
    worker = _one(r'importScripts\("https://[^"]+/pyodide\.js"\);', worker, start, "importScripts")
    worker = _one(r"_link_docs_worker\(state\.curdoc, sendPatch, setter='js'\)", worker,
                  "memviz_link_docs(state.curdoc, sendPatch)", "document link")
    # Panel runs `init_doc()`, the entry and `write_doc()` here; memvizLoad did, this takes the result.
    worker = _one(r"runPythonAsync\(`(?:[^`\\]|\\.)*?init_doc\(\)(?:[^`\\]|\\.)*?await write_doc\(\)`\)", worker,
                  'runPythonAsync("_memviz_rendered")', "app code",
                  flags=re.S)
    # The page posts `location` right after `rendered`; its Python must run on a linked document,
    # else the shared link's configuration is applied but never sent to the page.
    worker = _one(r"if \(msg\.type === 'rendered'\) \{", worker,
                  "if (msg.type === 'rendered') {\n    memvizStoreSnapshot()\n    self.memvizLinked =",
                  "rendered handler")
    worker = _one(r"\} else if \(msg\.type === 'location'\) \{", worker,
                  "} else if (msg.type === 'location') {\n    await self.memvizLinked", "location handler")
    return _one(r"self\.pyodide = await loadPyodide\(\);.*?console\.log\(\"Environment loaded!\"\);", worker,
                "await memvizLoad();", "package loading block", flags=re.S)
