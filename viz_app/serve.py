"""`memviz serve`: run the app with Panel's server (`panel serve viz_app/main.py`).

It listens on 127.0.0.1 unless told otherwise: the app reads uploaded files, and nobody else on
the network should reach it by default.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from .model.json_input import MAX_PROFILE_BYTES

ENTRY = Path(__file__).with_name("main.py")
LOOPBACK = "127.0.0.1"
# An upload reaches the server as one websocket message, base64 (4/3 of the file) plus framing: room
# for the largest file the app reads, so its own message (not a closed session) answers a large file.
WEBSOCKET_MAX_BYTES = MAX_PROFILE_BYTES * 4 // 3 + 2**20


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for any other name or address."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def serve_command(port: int = 5006, show: bool = False, address: str = LOOPBACK) -> list[str]:
    """The `panel serve` command line; the app is at /, and at /main."""
    origins = {f"localhost:{port}", f"127.0.0.1:{port}"}
    if not is_loopback(address):
        origins.add(f"{address}:{port}" if ":" not in address else f"[{address}]:{port}")
    command = [sys.executable, "-m", "panel", "serve", str(ENTRY), "--address", address, "--port", str(port),
               "--index", "main", "--websocket-max-message-size", str(WEBSOCKET_MAX_BYTES)]
    for origin in sorted(origins):
        command += ["--allow-websocket-origin", origin]
    return command + (["--show"] if show else [])


def serve(port: int = 5006, show: bool = False, address: str = LOOPBACK) -> None:
    """Replace this process with Panel's server (blocks until interrupted)."""
    if not is_loopback(address):
        print(f"memviz: warning: serving on {address}: anyone who can reach this machine there can use the app "
              "and see what is uploaded to it", file=sys.stderr)
    command = serve_command(port, show, address)
    os.execv(command[0], command)
