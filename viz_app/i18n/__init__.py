"""Every visible string of the app, in English and Chinese: `t(key, lang, **fmt)`.

One catalog per language (`en.py`, `zh.py`, plain dicts keyed by dotted names). Missing keys
fall back to English, then to the key itself, so a gap never breaks the page; the tests make
sure there are none.
"""

from __future__ import annotations

import re

from . import en, zh

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
CATALOGS: dict[str, dict[str, str]] = {"en": en.CATALOG, "zh": zh.CATALOG}


class Text(str):
    """The English text of a catalog entry that remembers its key and values.

    It is a plain string wherever a string is expected (the CLI prints it); used as a value of
    another entry, `t()` puts it into that entry's language.
    """

    key: str
    values: dict

    def __new__(cls, key: str, values: dict | None = None):
        values = dict(values) if values else {}
        text = super().__new__(cls, _english(key, values))
        text.key, text.values = key, values
        return text

    def __reduce__(self):
        return Text, (self.key, self.values)


class Joined(str):
    """Pieces (symbols, numbers, `Text`s) read as one English string that `localize` puts into any language.

    A cost model builds a formula from catalog phrases and symbols ("32 layers x act[tp=8]"): the
    phrases follow the page's language, the symbols stay as they are.
    """

    parts: tuple

    def __new__(cls, *parts: str):
        flat: list = []
        for part in parts:  # a plain loop: cost models join thousands of formulas per search
            if isinstance(part, Joined):
                flat += part.parts
            elif part:
                flat.append(part)
        joined = super().__new__(cls, "".join(flat))
        joined.parts = tuple(flat)
        return joined

    def __reduce__(self):
        return Joined, self.parts


def localize(text: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """`text` in `lang`: a `Text` or `Joined` translated, any other string as it is (a symbol, a name)."""
    if lang == DEFAULT_LANGUAGE:  # a Text or Joined is its English text already
        return str(text)
    if isinstance(text, Text):
        return t(text.key, lang, **text.values)
    if isinstance(text, Joined):
        return "".join(localize(part, lang) for part in text.parts)
    return str(text)


def t(key: str, lang: str = DEFAULT_LANGUAGE, **fmt) -> str:
    """The text for `key` in `lang`, its `{name}` fields filled from `fmt` (a `Text` or `Joined`, and lists of
    Texts, in `lang` too)."""
    catalog = CATALOGS.get(lang, CATALOGS[DEFAULT_LANGUAGE])
    text = catalog.get(key) or CATALOGS[DEFAULT_LANGUAGE].get(key) or key
    if not fmt:
        return text
    return text.format(**{name: _in_language(v, lang) for name, v in fmt.items()})


def _english(key: str, values: dict) -> str:
    """t(key, "en", **values), faster: English puts a Text or Joined in as its own text (no list to join)."""
    text = CATALOGS[DEFAULT_LANGUAGE].get(key) or key
    if not values:
        return text
    for value in values.values():  # a loop, not any(): cost models make thousands of these
        if isinstance(value, list):
            return t(key, DEFAULT_LANGUAGE, **values)
    return text.format(**values)


def _in_language(value: object, lang: str) -> object:
    """A `Text` or `Joined` in `lang`; a list of them joined with "; " (several refused values in one message)."""
    if isinstance(value, Text | Joined):
        return localize(value, lang)
    if isinstance(value, list):
        return "; ".join(str(_in_language(item, lang)) for item in value)
    return value


def has(key: str) -> bool:
    return key in CATALOGS[DEFAULT_LANGUAGE]


# A block of consecutive layers: its kind, then the first and last layer (1-based).
LAYER_RANGE = re.compile(r"^(?P<kind>.+)\.(?P<first>\d+)-(?P<last>\d+)$")


def block_label(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Name of a memory block ("model_states.optimizer"); readable even for keys not in the catalog.

    Cost models may add block keys the catalog does not know yet (the analytic mode does); the
    fallback turns "overhead.comm_buffers" into "Comm buffers" rather than showing a raw key.
    """
    catalog_key = f"block.{key}"
    if has(catalog_key):
        return t(catalog_key, lang)
    if match := LAYER_RANGE.match(key):  # a layer-wise strategy's group: "activation.layers.1-20"
        return t("block.layer_range", lang, name=block_label(match["kind"], lang), first=match["first"],
                 last=match["last"])
    return key.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def block_short_label(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A block's short name for a small rectangle ("Head grads"), or "" when the catalog has none."""
    return t(f"block_short.{key}", lang) if has(f"block_short.{key}") else ""


def category_label(category: str, lang: str = DEFAULT_LANGUAGE) -> str:
    catalog_key = f"category.{category}"
    return t(catalog_key, lang) if has(catalog_key) else category.replace("_", " ").capitalize()
