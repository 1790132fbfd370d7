"""`memviz build --ship-snapshot`: the built app's memory snapshot, made once at build time.

After a first visit the site's worker keeps a Pyodide memory snapshot of the built app in the
browser (browser/templates/snapshot.js), so later visits skip start-up. Here the staged site is opened once
in headless Chromium (Debian's, driven by Playwright), that stored copy is read back, and it is
shipped gzipped in snapshot/, so a first visit restores it too. The worker of such a build runs
without stack switching (JSPI), which Pyodide's set-up depends on and not every engine has.
"""

from __future__ import annotations

import functools
import gzip
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from .fetch import BuildError, BuildSetupError
from .page import Site

# How the project runs Debian's Chromium everywhere (tests and benchmarks use these too).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
]
EXPORT_PATH = "/__memviz_export__/"
SNAPSHOT_FILES = ("meta.json", "heap.bin", "files.bin")
TIMEOUT_MS = 300_000
# The page hands the worker's stored copy (OPFS) to the build's server, in parts: the requests
# cross Playwright's driver (its routes see every request), whose node process cannot hold a
# body of the heap's size (~400 MB, over its string limit once base64-encoded).
EXPORT_PART_BYTES = 16 << 20
EXPORT_JS = """async ([prefix, files, path, partBytes]) => {
  const root = await navigator.storage.getDirectory();
  const names = [];
  for await (const name of root.keys()) if (name.startsWith(prefix)) names.push(name);
  if (names.length !== 1) throw new Error(`expected one stored snapshot, found ${names.length}`);
  const dir = await root.getDirectoryHandle(names[0]);
  for (const file of files) {
    const blob = await (await dir.getFileHandle(file)).getFile();
    for (let offset = 0; offset === 0 || offset < blob.size; offset += partBytes) {
      const body = blob.slice(offset, offset + partBytes);
      const response = await fetch(`${path}${file}?offset=${offset}`, {method: "PUT", body});
      if (!response.ok) throw new Error(`${file} at ${offset}: HTTP ${response.status}`);
    }
  }
}"""


class _ExportHandler(SimpleHTTPRequestHandler):
    """Serves the staged site, and takes the snapshot's files by PUT."""

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        name, _, query = self.path.removeprefix(EXPORT_PATH).partition("?offset=")
        if not self.path.startswith(EXPORT_PATH) or name not in SNAPSHOT_FILES or not query.isdigit():
            self.send_error(404)
            return
        received = self.server.exported.setdefault(name, bytearray())
        if int(query) != len(received):  # parts arrive in order, each once
            self.send_error(409)
            return
        received += self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def chromium_executable() -> str:
    """Debian's Chromium, with Playwright to drive it; a BuildSetupError saying what to install if either is missing."""
    path = shutil.which("chromium")
    if not path:
        raise BuildSetupError("--ship-snapshot runs the site once in Debian's Chromium: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        raise BuildSetupError(
            "--ship-snapshot drives Chromium with Playwright: pip install 'memviz[snapshot]'") from error
    return path


def _export(directory: str) -> tuple[dict[str, bytes], str]:
    """Open the staged site in a fresh Chromium profile; return the snapshot it stored and Chromium's version."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_ExportHandler, directory=directory))
    server.exported = {}
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outside, console = [], []

    def route(request_route):
        url = request_route.request.url
        if url.startswith((origin + "/", "data:", "blob:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        context = browser.new_context()  # a first visit: nothing stored
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(origin + "/index.html")
            page.wait_for_function("window.memvizMarks['snapshot-stored'] !== undefined", timeout=TIMEOUT_MS,
                                   polling=100)
            page.evaluate(EXPORT_JS, ["memviz-snapshot-", list(SNAPSHOT_FILES), EXPORT_PATH, EXPORT_PART_BYTES])
            version = browser.version
        except PlaywrightError as error:
            notes = "\n".join(console[-20:])
            raise BuildError(f"--ship-snapshot: the site did not store its snapshot in Chromium ({error.message})"
                             f"\n{notes}") from error
        finally:
            browser.close()
            server.shutdown()
    if outside:
        raise BuildError(f"--ship-snapshot: the site asked for other hosts: {', '.join(sorted(set(outside)))}")
    missing = [name for name in SNAPSHOT_FILES if name not in server.exported]
    if missing:
        raise BuildError(f"--ship-snapshot: the browser did not hand over {', '.join(missing)}")
    return {name: bytes(data) for name, data in server.exported.items()}, version


def ship_snapshot(site: Site) -> dict:
    """Add snapshot/ to the staged site (everything but sw.js and the manifest written); returns sizes."""
    # Its own thread: Playwright's sync API refuses to run where an asyncio loop is running (a
    # notebook, or a test that holds a browser already).
    with ThreadPoolExecutor(max_workers=1) as pool:
        exported, chromium_version = pool.submit(_export, str(site.out)).result()
    meta = json.loads(exported["meta.json"])
    heap, files = exported["heap.bin"], exported["files.bin"]
    if not meta.get("key") or (len(heap), len(files)) != (meta.get("heapBytes"), meta.get("filesBytes")):
        raise BuildError("--ship-snapshot: the stored snapshot is incomplete (sizes or key differ from meta.json)")
    source = (f"made by `memviz build --ship-snapshot`: the built app's Pyodide memory snapshot, "
              f"taken in Chromium {chromium_version}")
    meta["shipped"] = {name: site.write_hashed(f"snapshot/{name}.bin.gz", gzip.compress(data, compresslevel=6, mtime=0),
                                               source).removeprefix("snapshot/")
                       for name, data in (("heap", heap), ("files", files))}
    site.write("snapshot/meta.json", json.dumps(meta).encode(), source)
    return {"heap_bytes": len(heap), "files_bytes": len(files), "chromium": chromium_version,
            "shipped_bytes": sum((site.out / "snapshot" / name).stat().st_size for name in meta["shipped"].values())}
