"""Browser-test plumbing shared by the served-app and static-site suites.

Debian's Chromium driven by Playwright (never a downloaded browser), screenshots under
`test-artifacts/screenshots/`, and a helper that starts a local server process and waits for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from viz_app.site import BuildSetupError
from viz_app.site.ship import CHROMIUM_FLAGS, chromium_executable

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    try:
        return chromium_executable()  # the build's own check: Debian's Chromium and Playwright
    except BuildSetupError as error:
        pytest.fail(f"{error} (`bash .ci/run` installs both)")


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A Playwright Chromium browser (Debian's binary)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout_s: float = 60.0, process: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    """Poll `url` until it answers 200, failing early if `process` dies (with the end of its `log`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
            pytest.fail(f"server exited with {process.returncode} before answering {url}\n{tail}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s")


def server_process(command: list[str], url: str, cwd: Path = ROOT, timeout_s: float = 90.0,
                   log: Path | None = None) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """Run a server command, wait until `url` answers, stop it on exit. Its output goes to `log`, or to a
    temporary file: a pipe nobody reads would stall the server once its buffer (64 KiB) is full."""
    if log is None:
        handle, name = tempfile.mkstemp(prefix="memviz-server-", suffix=".log")
        os.close(handle)
        log = Path(name)
    with log.open("wb") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
    return running_server(process, url, timeout_s, log)


def static_server(directory: Path, netlify_headers: bool = False
                  ) -> tuple[str, contextlib.AbstractContextManager[subprocess.Popen]]:
    """(origin, server) serving `directory` on a port the server chose itself, with netlify.toml's
    headers if asked (tests/netlify_rules.py), as the site is deployed.

    A port found free beforehand can be taken before the server binds it (by a browser's own
    connection, or by a server of a test running beside this one).
    """
    command = ([sys.executable, "-u", "-m", "tests.netlify_rules", str(directory)] if netlify_headers else
               [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(directory)])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    first_line = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (http://...) ..."
    found = re.search(r" port (\d+) ", first_line)
    if not found:
        process.kill()
        pytest.fail(f"http.server did not say its port: {first_line!r}")
    origin = f"http://127.0.0.1:{found.group(1)}/"
    return origin, running_server(process, origin)


@contextlib.contextmanager
def running_server(process: subprocess.Popen, url: str, timeout_s: float = 90.0,
                   log: Path | None = None) -> Iterator[subprocess.Popen]:
    """Wait until `url` answers, stop the server on exit."""
    try:
        wait_for_http(url, timeout_s, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


# Installed (page.add_init_script) before a served Panel page loads: the time of every websocket
# message the page receives, so a test can wait until the server has finished an update.
RECORD_MESSAGES_JS = """
window.__memvizMessages = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => window.__memvizMessages.push(performance.now()));
  }
};
"""


def wait_until_quiet(page, quiet_ms: int = 800, timeout_ms: int = 20_000) -> None:
    """Wait until no server message arrived for `quiet_ms` (needs RECORD_MESSAGES_JS)."""
    page.wait_for_function(
        "(quiet) => performance.now() - (window.__memvizMessages.at(-1) ?? 0) > quiet", arg=quiet_ms,
        timeout=timeout_ms,
    )


# A JS expression: the treemap's labels as one string (null before the page has Bokeh documents).
# The treemap is the data source whose labels carry "MiB · 12.3%": only it prints memory and share so.
TREEMAP_LABELS_JS = """() => {
  for (const doc of (window.Bokeh ? [...Bokeh.documents].reverse() : []))  // the newest (the static
    // site keeps its pre-rendered document after the live one replaced it)
    for (const m of doc.all_models)
      if (m.type === "ColumnDataSource" && m.data.text !== undefined
          && Array.from(m.data.text).some((s) => / · [\\d.]+%/.test(s)))
        return Array.from(m.data.text).join("|");
  return null;
}"""
