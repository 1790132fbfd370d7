"""Every visible string of the app, in English and Chinese: `t(key, lang, **fmt)`.

One catalog per language (`en.py`, `zh.py`, plain dicts keyed by dotted names). Missing keys
fall back to English, then to the key itself, so a gap never breaks the page; the tests make
sure there are none.
"""

from __future__ import annotations

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
        values = dict(values or {})
        text = super().__new__(cls, t(key, DEFAULT_LANGUAGE, **values))
        text.key, text.values = key, values
        return text

    def __reduce__(self):
        return Text, (self.key, self.values)


def t(key: str, lang: str = DEFAULT_LANGUAGE, **fmt) -> str:
    """The text for `key` in `lang`, its `{name}` fields filled from `fmt` (Texts and lists of them in `lang` too)."""
    catalog = CATALOGS.get(lang, CATALOGS[DEFAULT_LANGUAGE])
    text = catalog.get(key) or CATALOGS[DEFAULT_LANGUAGE].get(key) or key
    if not fmt:
        return text
    return text.format(**{name: _in_language(v, lang) for name, v in fmt.items()})


def _in_language(value: object, lang: str) -> object:
    """A `Text` in `lang`; a list of them joined with "; " (several refused values in one message)."""
    if isinstance(value, Text):
        return t(value.key, lang, **value.values)
    if isinstance(value, list):
        return "; ".join(str(_in_language(item, lang)) for item in value)
    return value


def has(key: str) -> bool:
    return key in CATALOGS[DEFAULT_LANGUAGE]


def block_label(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Name of a memory block ("model_states.optimizer"); readable even for keys not in the catalog.

    Cost models may add block keys the catalog does not know yet (the analytic mode does); the
    fallback turns "overhead.comm_buffers" into "Comm buffers" rather than showing a raw key.
    """
    catalog_key = f"block.{key}"
    if has(catalog_key):
        return t(catalog_key, lang)
    return key.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def category_label(category: str, lang: str = DEFAULT_LANGUAGE) -> str:
    catalog_key = f"category.{category}"
    return t(catalog_key, lang) if has(catalog_key) else category.replace("_", " ").capitalize()
