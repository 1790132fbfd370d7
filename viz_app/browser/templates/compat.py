"""Compatibility shims the static site runs in the browser before the app (Pyodide 0.27.7)."""

import sys
import types
from html import escape
from html.parser import HTMLParser

import pyodide.ffi

# Panel 1.9 calls pyodide.ffi.jsnull (Pyodide >= 0.28); 0.27 already turns JS null into None.
if not hasattr(pyodide.ffi, "jsnull"):
    pyodide.ffi.jsnull = object()


class _Cleaner(HTMLParser):
    """What Panel needs of nh3.clean: markup kept, scripts, event handlers and javascript: URLs removed."""

    DROP = {"script", "style", "iframe", "object", "embed"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs, closed=False):
        if tag in self.DROP:
            self.skipping += not closed
            return
        if self.skipping:
            return
        kept = "".join(f' {k}="{escape(v or "", quote=True)}"' for k, v in attrs
                       if not k.startswith("on") and not (v or "").strip().lower().startswith("javascript:"))
        self.parts.append(f"<{tag}{kept}{' /' if closed else ''}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs, closed=True)

    def handle_endtag(self, tag):
        if tag in self.DROP:
            self.skipping = max(0, self.skipping - 1)
        elif not self.skipping:
            self.parts.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)

    def handle_entityref(self, name):
        self.handle_data(f"&{name};")

    def handle_charref(self, name):
        self.handle_data(f"&#{name};")


def _clean(html, **_options):
    cleaner = _Cleaner()
    cleaner.feed(html)
    cleaner.close()
    return "".join(cleaner.parts)


# Panel templates sanitize ReactiveHTML strings with nh3, a Rust extension with no Pyodide 0.27 build.
if "nh3" not in sys.modules:
    try:
        import nh3  # noqa: F401
    except ImportError:
        sys.modules["nh3"] = types.ModuleType("nh3")
        sys.modules["nh3"].clean = _clean
