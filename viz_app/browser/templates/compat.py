"""Compatibility shims the static site runs in the browser before the app (Pyodide 0.27.7)."""

import sys
import types

import pyodide.ffi

# Panel 1.9 calls pyodide.ffi.jsnull (Pyodide >= 0.28); 0.27 already turns JS null into None.
if not hasattr(pyodide.ffi, "jsnull"):
    pyodide.ffi.jsnull = object()

# Panel templates sanitize ReactiveHTML strings with nh3, a Rust extension with no Pyodide 0.27
# build: a strict allow-list sanitizer in pure Python takes its place (viz_app/browser/sanitize.py).
try:
    import nh3  # noqa: F401
except ImportError:
    from viz_app.browser.sanitize import clean as _memviz_clean

    sys.modules["nh3"] = types.ModuleType("nh3")
    sys.modules["nh3"].clean = _memviz_clean
