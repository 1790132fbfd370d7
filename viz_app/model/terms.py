"""A number and the text that shows how it was computed, built together so the two cannot drift.

Cost models write each block's `mib` and `formula` from one `Term`: every factor carries its
value and its label, and each operation applies to both at once. Words are catalog phrases
(`Text`), so the app shows a formula in the page's language; symbols stay plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import Joined, Text


@dataclass(frozen=True)
class Term:
    """`value`, and `text` saying how it is made ("4 layers x 12.5 MiB"): a symbol, a `Text` or a `Joined`."""

    value: float
    text: str

    def times(self, other: Term) -> Term:
        return Term(self.value * other.value, Joined(self.text, " x ", other.text))

    def over(self, other: Term) -> Term:
        return Term(self.value / other.value, Joined(self.text, " / ", other.text))

    def plus(self, other: Term) -> Term:
        return Term(self.value + other.value, Joined(self.text, " + ", other.text))

    def minus(self, other: Term) -> Term:
        return Term(self.value - other.value, Joined(self.text, " - ", other.text))

    def worded(self, before: str = "", after: str = "") -> Term:
        """The same value, its text put in words around it (units, brackets, an explanation)."""
        return Term(self.value, Joined(before, self.text, after))

    def phrased(self, key: str, **values) -> Term:
        """The same value, its text put into the catalog phrase `key` as its field {term}."""
        return Term(self.value, Text(key, {"term": self.text, **values}))
