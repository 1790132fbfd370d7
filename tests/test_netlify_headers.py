"""netlify.toml: every path gets the security headers, hashed assets are cached for a year."""

from __future__ import annotations

import pytest

from .netlify_rules import headers_for, matching_rules

PATHS = ["/", "/index.html", "/sw.js", "/static/app.0123abcd.js", "/pyodide/pyodide.asm.wasm",
         "/pyodide/panel-1.9.4-py3-none-any.whl", "/snapshot/meta.json", "/manifest.webmanifest"]


def _directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in csp.split(";") if part.strip())}


@pytest.mark.parametrize("path", PATHS)
def test_every_path_gets_the_security_headers(path):
    headers = headers_for(path)
    csp = _directives(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert "'wasm-unsafe-eval'" in csp["script-src"]
    assert "blob:" not in csp["script-src"]  # the page loads no script made from a blob (site/page.py)
    # Nothing from another host: every source is a keyword or a local scheme.
    for name, sources in csp.items():
        assert all(s.startswith("'") or s in ("data:", "blob:") for s in sources), (name, sources)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in headers["Permissions-Policy"]


def test_hashed_assets_are_cached_for_a_year_and_the_rest_revalidated():
    assert headers_for("/static/app.0123abcd.js")["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers_for("/snapshot/0123abcd.gz")["Cache-Control"] == "public, max-age=31536000, immutable"
    for path in ("/index.html", "/pyodide/pyodide.asm.wasm", "/snapshot/meta.json"):
        assert "max-age=0" in headers_for(path)["Cache-Control"], path
    assert headers_for("/sw.js")["Cache-Control"] == "no-cache"


def test_no_security_header_is_set_twice_for_a_path():
    """Netlify sends every matching rule's headers: a name in two matching rules would go out twice."""
    for path in PATHS:
        names = [name for rule in matching_rules(path) for name in rule["values"]
                 if name not in ("Cache-Control", "Content-Type")]
        assert len(names) == len(set(names)), (path, names)
