"""Installable, offline site: PWA manifest, icons and a versioned service worker."""

from __future__ import annotations

import base64
import hashlib
import io
import json

from .page import TEMPLATES, Site

NAME, SHORT_NAME, THEME = "memviz: per-GPU memory of distributed LLM training", "memviz", "#1e4f9a"
# The icon: three stacked memory blocks on the app's header blue (x, y, width, height, colour, on 512).
BLOCKS = ((112, 300, 288, 100, "#9ecae1"), (112, 196, 288, 92, "#4292c6"), (112, 112, 200, 72, "#f4a259"))


def _svg() -> bytes:
    rects = "".join(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="14" fill="{c}"/>' for x, y, w, h, c in BLOCKS)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><rect width="512" height="512" rx="96" '
            f'fill="{THEME}"/>{rects}</svg>').encode()


def _png(size: int) -> bytes:
    from PIL import Image, ImageDraw  # Pillow comes with bokeh on the build machine

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    scale = size / 512
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=int(96 * scale), fill=THEME)
    for x, y, w, h, colour in BLOCKS:
        draw.rounded_rectangle((x * scale, y * scale, (x + w) * scale, (y + h) * scale), radius=int(14 * scale),
                               fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def write_pwa(site: Site) -> None:
    site.write("icons/icon.svg", _svg(), "generated")
    icons = [{"src": "icons/icon.svg", "sizes": "any", "type": "image/svg+xml"}]
    for size in (192, 512):
        site.write(f"icons/icon-{size}.png", _png(size), "generated")
        icons.append({"src": f"icons/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                      "purpose": "any maskable"})
    manifest = {"name": NAME, "short_name": SHORT_NAME, "start_url": "./", "scope": "./", "display": "standalone",
                "background_color": "#ffffff", "theme_color": THEME, "icons": icons}
    site.write("manifest.webmanifest", json.dumps(manifest, indent=2).encode(), "generated")


def write_service_worker(site: Site, hashes: dict[str, str]) -> str:
    """sw.js precaching every file; its version is a hash of the whole site, so any change replaces it."""
    version = hashlib.sha256(json.dumps(sorted(hashes.items())).encode()).hexdigest()[:16]
    files = {rel: "sha256-" + base64.b64encode(bytes.fromhex(sha)).decode() for rel, sha in sorted(hashes.items())}
    script = ((TEMPLATES / "sw.js").read_text(encoding="utf-8")
              .replace("__VERSION__", version).replace("__FILES__", json.dumps(files, indent=0)))
    site.write("sw.js", script.encode(), "generated")
    return version
