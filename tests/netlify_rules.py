"""netlify.toml's [[headers]] rules, applied as Netlify does, and a tiny static server that sends them.

Netlify matches each rule's `for` against the request path (`*` matches anything, slashes too) and
sends the headers of every rule that matches; so does this server, for the browser tests.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = tomllib.loads((ROOT / "netlify.toml").read_text(encoding="utf-8"))["headers"]


def matching_rules(path: str) -> list[dict]:
    """The rules whose `for` matches `path`, in file order."""
    return [rule for rule in RULES if re.fullmatch(
        "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", rule["for"])), path)]


def headers_for(path: str) -> dict[str, str]:
    """The headers Netlify sends for `path` (a later rule's value for the same name wins here)."""
    headers: dict[str, str] = {}
    for rule in matching_rules(path):
        headers.update(rule["values"])
    return headers


class _Handler(http.server.SimpleHTTPRequestHandler):
    def guess_type(self, path) -> str:  # a rule's Content-Type replaces the guess, as on Netlify
        return headers_for(self.path.split("?", 1)[0]).get("Content-Type") or super().guess_type(path)

    def end_headers(self) -> None:
        for name, value in headers_for(self.path.split("?", 1)[0]).items():
            if name != "Content-Type":
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, *_args) -> None:  # quiet
        pass


def _server(directory: Path) -> http.server.ThreadingHTTPServer:
    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory)))


@contextlib.contextmanager
def netlify_server(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 with netlify.toml's headers; yields the origin."""
    server = _server(directory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":  # `python -m tests.netlify_rules DIR`: a process a test can stop (the site offline)
    import sys

    with _server(Path(sys.argv[1])) as server:
        # the first line as `python -m http.server` words it: browser_support.static_server reads the port
        print(f"Serving HTTP on 127.0.0.1 port {server.server_address[1]} (netlify.toml's headers) ...", flush=True)
        server.serve_forever()
