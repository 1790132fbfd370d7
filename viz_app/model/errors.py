"""Errors the model layer raises for bad input; each message is meant for the user as is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..i18n import Text


class MemvizError(ValueError):
    """Base class: a problem with what the user gave us, with a readable message.

    Raised with an `error.*` catalog key (viz_app/i18n) and its values, the message is the English
    entry, which the CLI prints, and `text` shows it in the page's language; raised with a plain
    message, `text` is that message.
    """

    def __init__(self, message: str = "", *, key: str = "", **values):
        self.text: str = Text(key, values) if key else message
        super().__init__(str(self.text))


class ProfileError(MemvizError):
    """A profile file is malformed, too large, or lacks a key the cost model needs."""


class StrategyError(MemvizError):
    """A parallel strategy that cannot be estimated with the data at hand."""


class StrategyFileError(MemvizError):
    """A Galvatron strategy file (galvatron_config_*.json) is malformed or does not fit the profile."""


@contextlib.contextmanager
def param_values_checked(where: str = "") -> Iterator[None]:
    """Report param's refusal of a value (a plain ValueError naming the parameter) as a StrategyError.

    Only around code that sets user-given values on Parameterized objects, so that no other
    ValueError is mistaken for bad input.
    """
    try:
        yield
    except MemvizError:
        raise
    except ValueError as exc:
        raise StrategyError(f"{where}: {exc}" if where else str(exc)) from exc
