"""A strict allow-list HTML sanitizer in pure Python: the static site's stand-in for `nh3.clean`.

Panel sanitizes the strings of its ReactiveHTML templates with nh3 (Rust), which has no Pyodide
0.27 build (browser/templates/compat.py installs this one in its place). The input is parsed by
the standard library's `html.parser` and written out again, never copied: only the tags and
attributes nh3 allows by default, every text and attribute value escaped, URLs only http, https,
mailto or relative, checked as a browser reads them. So the browser parses exactly the markup
written here, whatever it would have made of the input.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

# nh3's (ammonia's) defaults.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "acronym", "area", "article", "aside", "b", "bdi", "bdo", "blockquote", "br", "caption", "center",
    "cite", "code", "col", "colgroup", "data", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img", "ins", "kbd", "li",
    "map", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "rtc", "ruby", "s", "samp", "small", "span", "strike",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul",
    "var", "wbr",
})
GENERIC_ATTRIBUTES = frozenset({"lang", "title"})
TAG_ATTRIBUTES = {
    "a": {"href", "hreflang"}, "bdo": {"dir"}, "blockquote": {"cite"}, "col": {"align", "char", "charoff", "span"},
    "colgroup": {"align", "char", "charoff", "span"}, "del": {"cite", "datetime"}, "hr": {"align", "size", "width"},
    "img": {"align", "alt", "height", "src", "width"}, "ins": {"cite", "datetime"}, "ol": {"start"}, "q": {"cite"},
    "table": {"align", "char", "charoff", "summary"}, "tbody": {"align", "char", "charoff"},
    "td": {"align", "char", "charoff", "colspan", "headers", "rowspan"}, "tfoot": {"align", "char", "charoff"},
    "th": {"align", "char", "charoff", "colspan", "headers", "rowspan", "scope"},
    "thead": {"align", "char", "charoff"}, "tr": {"align", "char", "charoff"},
}
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
VOID_TAGS = frozenset({"area", "br", "col", "hr", "img", "wbr"})
# Dropped with everything inside: scripts, styles, other namespaces (SVG, MathML), embedded
# documents, and elements whose content a browser reads as raw text.
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "template", "svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "noembed", "noframes", "xmp", "plaintext", "textarea", "title", "select", "head",
})
# A browser ignores ASCII whitespace and C0 controls around a URL and tabs and newlines inside it;
# removing every one of them anywhere is stricter still ("java\x01script:" stays refused).
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]+")


def safe_url(value: str) -> bool:
    """True for an http, https, mailto or relative URL; `value` with its character references decoded."""
    compact = _IGNORED_IN_URL.sub("", value)
    before_path = re.split(r"[/?#\\]", compact, maxsplit=1)[0]
    if ":" not in before_path:
        return True  # relative: no scheme
    return before_path.split(":", 1)[0].lower() in URL_SCHEMES


def _escaped(value: str, quote: bool) -> str:
    return escape(value.replace("\x00", ""), quote=quote)


class _Sanitizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []  # allowed elements written and not closed yet
        self.dropping: str | None = None  # the dropped element whose content is being skipped
        self.depth = 0  # how deep `dropping` is nested in itself

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        if self.dropping is not None:
            self.depth += tag == self.dropping and not self_closing
            return
        if tag in DROPPED_WITH_CONTENT:
            if not self_closing:
                self.dropping, self.depth = tag, 1
            return
        if tag not in ALLOWED_TAGS:
            return  # the tag goes, its content stays (as nh3 does)
        self.out.append(f"<{tag}{self._attributes(tag, attrs)}>")
        if tag in VOID_TAGS:
            return
        if self_closing:
            self.out.append(f"</{tag}>")
        else:
            self.open.append(tag)

    @staticmethod
    def _attributes(tag: str, attrs: list[tuple[str, str | None]]) -> str:
        allowed = GENERIC_ATTRIBUTES | TAG_ATTRIBUTES.get(tag, set())
        kept: dict[str, str] = {}
        for name, value in attrs:
            value = value or ""
            if name in kept or name not in allowed or (name in URL_ATTRIBUTES and not safe_url(value)):
                continue  # a browser keeps the first of repeated attributes
            kept[name] = value
        if tag == "a":
            kept["rel"] = "noopener noreferrer"
        return "".join(f' {name}="{_escaped(value, quote=True)}"' for name, value in kept.items())

    def handle_endtag(self, tag: str) -> None:
        if self.dropping is not None:
            if tag == self.dropping:
                self.depth -= 1
                if self.depth == 0:
                    self.dropping = None
            return
        if tag in self.open:  # close it and whatever is still open inside it
            while True:
                inner = self.open.pop()
                self.out.append(f"</{inner}>")
                if inner == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self.dropping is None:
            self.out.append(_escaped(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def clean(html: str, **_nh3_options) -> str:
    """`html` reduced to allowed tags, attributes and URLs (nh3.clean's defaults); options are ignored."""
    sanitizer = _Sanitizer()
    sanitizer.feed(html)
    return sanitizer.result()
