"""A number and the text that shows how it was computed, built together so the two cannot drift.

Cost models write each block's `mib` and `formula` from one `Term`: every factor carries its
value and its label, and each operation applies to both at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """`value`, and `text` saying how it is made ("4 layers x 12.5 MiB")."""

    value: float
    text: str

    def times(self, other: Term) -> Term:
        return Term(self.value * other.value, f"{self.text} x {other.text}")

    def over(self, other: Term) -> Term:
        return Term(self.value / other.value, f"{self.text} / {other.text}")

    def plus(self, other: Term) -> Term:
        return Term(self.value + other.value, f"{self.text} + {other.text}")

    def minus(self, other: Term) -> Term:
        return Term(self.value - other.value, f"{self.text} - {other.text}")

    def worded(self, before: str = "", after: str = "") -> Term:
        """The same value, its text put in words around it (units, brackets, an explanation)."""
        return Term(self.value, f"{before}{self.text}{after}")
