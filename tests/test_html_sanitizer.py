"""The static site's stand-in for nh3 (viz_app/browser/sanitize.py), installed by the worker's
compat.py: only allowed tags and attributes, and no script-running URL, however it is disguised.

The sanitizer is loaded the way the worker does: compat.py's text run as a script, in a Python
where nh3 cannot be imported, then used as `nh3.clean`, as Panel does.
"""

from __future__ import annotations

import html
import re
import sys
import types

import nh3 as real_nh3
import pytest

from viz_app.browser.sanitize import safe_url
from viz_app.site.page import TEMPLATES


@pytest.fixture(scope="module")
def clean():
    """`nh3.clean` as compat.py installs it in the worker (Pyodide has no nh3)."""
    with pytest.MonkeyPatch.context() as patch:
        ffi = types.ModuleType("pyodide.ffi")
        pyodide = types.ModuleType("pyodide")
        pyodide.ffi = ffi
        patch.setitem(sys.modules, "pyodide", pyodide)
        patch.setitem(sys.modules, "pyodide.ffi", ffi)
        patch.setitem(sys.modules, "nh3", None)  # `import nh3` fails, as under Pyodide 0.27
        source = (TEMPLATES / "compat.py").read_text(encoding="utf-8")
        exec(compile(source, "compat.py", "exec"), {"__name__": "__main__"})  # the worker's runPython
        installed = sys.modules["nh3"]
        assert installed is not real_nh3 and hasattr(ffi, "jsnull")
        yield installed.clean


SCRIPT_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "\x01javascript:alert(1)",
    "jav&#x09;ascript:alert(1)", "jav&#9;ascript:alert(1)", "jav\tascript:alert(1)", "jav&#x0A;ascript:alert(1)",
    "jav\nascript:alert(1)", "jav&#13;ascript:alert(1)", "java\x00script:alert(1)", "jav&#x00;ascript:alert(1)",
    "&#106;avascript:alert(1)", "&#x6A;&#x61;&#x76;&#x61;script:alert(1)", "&#0000106avascript:alert(1)",
    "javascript&colon;alert(1)", "javascript&#58;alert(1)", "javascript&#x3a;alert(1)", "java&NewLine;script:x",
    "java&Tab;script:alert(1)", "vbscript:msgbox(1)", "VBScript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:image/svg+xml,<svg onload=alert(1)>",
    "livescript:x", "jar:http://x!/", "file:///etc/passwd", "x:y",
]


def _schemes_a_browser_reads(out: str) -> set[str | None]:
    """The scheme of each URL attribute in `out` as a browser parses it (WHATWG URL: C0 controls and
    spaces trimmed, tabs and newlines removed; None for a relative URL)."""
    schemes = set()
    for value in re.findall(r'\s(?:href|src|cite)="([^"]*)"', out):
        url = re.sub(r"[\t\n\r]", "", html.unescape(value).strip("".join(map(chr, range(0x21)))))
        match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
        schemes.add(match.group(1).lower() if match else None)
    return schemes


@pytest.mark.parametrize("url", SCRIPT_URLS)
@pytest.mark.parametrize("markup", ['<a href="{}">x</a>', "<a href='{}'>x</a>", "<a href={}>x</a>",
                                    '<img src="{}">', '<blockquote cite="{}">x</blockquote>'])
def test_script_urls_are_removed_however_disguised(clean, url, markup):
    out = clean(markup.format(url))
    assert _schemes_a_browser_reads(out) <= {None}, out
    if '"' in markup or "'" in markup:  # quoted: the whole value is the URL, so it goes
        assert not re.search(r"\s(href|src|cite)=", out), out


@pytest.mark.parametrize("url", ["http://example.com/a?b=1&c=2#d", "HTTPS://example.com", "mailto:a@example.com",
                                 "/relative/path", "relative.html", "#anchor", "?q=1", "//example.com/x",
                                 "/a:b", "page.html?x=javascript:1"])
def test_safe_urls_stay(clean, url):
    assert safe_url(url)
    out = clean(f'<a href="{url}">x</a>')
    assert 'href="' in out and 'rel="noopener noreferrer"' in out


@pytest.mark.parametrize("markup", [
    '<b onclick="alert(1)">x</b>', '<b ONCLICK="alert(1)">x</b>', "<b onmouseover=alert(1)>x</b>",
    '<img src="x" onerror="alert(1)">', '<img/src="x"/onerror=alert(1)>', '<div style="background:url(javascript:x)">',
    "<div style=\"background-image: url('data:image/svg+xml,<svg onload=alert(1)>')\">x</div>",
    '<a href="http://ok" onfocus="alert(1)" autofocus>x</a>', '<p id="x" class="y" formaction="javascript:1">x</p>',
    '<a href="http://ok" href="javascript:alert(1)">x</a>', '<a href="javascript:alert(1)" href="http://ok">x</a>',
])
def test_event_handlers_styles_and_other_attributes_are_removed(clean, markup):
    out = clean(markup)
    assert not re.search(r"\s(on\w+|style|class|id|formaction|autofocus)=?", out, re.I), out
    assert "javascript" not in out.lower()


@pytest.mark.parametrize("markup", [
    "<script>alert(1)</script>", "<SCRIPT>alert(1)</SCRIPT>", "<script src=//evil.example></script>",
    "<scr<script>ipt>alert(1)</script>", "<style>body{background:url(javascript:alert(1))}</style>",
    "<svg onload=alert(1)>", "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=javascript:alert(1)>x</a></svg>", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=javascript:alert(1)>x</math>", "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'></iframe>", "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>", "<form action=javascript:alert(1)><button>x</button></form>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<textarea></textarea><img src=x onerror=alert(1)></textarea>", "<title><img src=x onerror=alert(1)></title>",
    "<template><img src=x onerror=alert(1)></template>", "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>", "<base href=javascript:alert(1)//>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>", "<link rel=stylesheet href=javascript:alert(1)>",
    "<img src=x onerror=alert(1)//", "<a href=javascript:alert(1)", "<<img src=x onerror=alert(1)>",
    "<img src=`x` onerror=alert(1)>", "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
])
def test_dangerous_elements_leave_no_running_code(clean, markup):
    out = clean(markup)
    tags = re.findall(r"<\s*/?\s*([a-zA-Z][\w:-]*)", out)
    assert set(tags) <= {"a", "img", "p", "b"}, out
    assert not re.search(r"<[^>]*\s(on\w+|src=\"?javascript|href=\"?javascript|style)", out, re.I), out


def test_markup_comes_out_as_the_browser_will_read_it(clean):
    assert clean('a "b" <x> & c') == 'a "b"  &amp; c'
    assert clean("<p>unclosed <b>bold") == "<p>unclosed <b>bold</b></p>"
    assert clean("<div><b>x</div>y") == "<div><b>x</b></div>y"
    assert clean("</div>stray</span>") == "stray"
    assert clean("<p title='a\"b<c'>x</p>") == '<p title="a&quot;b&lt;c">x</p>'
    assert clean("<br/><hr><img src=x.png alt=a>") == '<br><hr><img src="x.png" alt="a">'
    assert clean("&lt;script&gt;") == "&lt;script&gt;"  # text stays text


@pytest.mark.parametrize("markup", [
    "", "flex-start", "space-between", "row", "wrap", "FlexBox00283", "TemplateActions00603",  # what Panel sends here
    "<b>bold</b> and <i>italic</i>", '<a href="https://example.com" hreflang="en">link</a>',
    "<table><thead><tr><th>a</th></tr></thead></table>", "<ul><li>one</li><li>two</li></ul>",
    '<p lang="en" title="t">x &amp; y</p>', "<code>x &lt; y</code>", "<ol start=\"3\"><li>x</li></ol>",
])
def test_ordinary_markup_comes_out_as_nh3_makes_it(clean, markup):
    assert clean(markup) == real_nh3.clean(markup)
