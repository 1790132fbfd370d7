"""`memviz serve`: run the app with Panel's server on localhost (`panel serve viz_app/main.py`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENTRY = Path(__file__).with_name("main.py")


def serve_command(port: int = 5006, show: bool = False) -> list[str]:
    """The `panel serve` command line; the app is at /, and at /main."""
    command = [sys.executable, "-m", "panel", "serve", str(ENTRY), "--port", str(port), "--index", "main",
               "--allow-websocket-origin", f"localhost:{port}", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    return command + (["--show"] if show else [])


def serve(port: int = 5006, show: bool = False) -> None:
    """Replace this process with Panel's server (blocks until interrupted)."""
    command = serve_command(port, show)
    os.execv(command[0], command)
