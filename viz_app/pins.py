"""Pinned configurations: up to four estimates kept side by side, and their form in a link.

Pure param. A pin is the session's estimate document (what Download JSON saves) and its
estimate. In a link (`pins` key) each pin is the main link's keys for its model and strategy,
`key:value` joined by "," and pins by ";"; pins of an uploaded file cannot be in a link and are
left out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import param

from .model.analytic.model_presets import list_model_presets
from .model.analytic.options import AnalyticOptions
from .model.galvatron.presets import list_presets
from .model.result import Estimate
from .session import ANALYTIC, Session
from .url_state import CONFIG_KEYS, OPTION_KEYS, restore, serialize
from .view import View

MAX_PINS = 4
PIN_SEPARATOR, FIELD_SEPARATOR, VALUE_SEPARATOR = ";", ",", ":"


@dataclass(frozen=True)
class Pin:
    """A pinned configuration: its estimate document and its estimate."""

    document: dict
    estimate: Estimate

    @property
    def label(self) -> str:
        """The source and the strategy, short ("llama3-8b · tp 2 · pp 2 · dp 2 · ZeRO 1")."""
        c = self.document["config"]
        parts = [self.document["source"], f"tp {c['tp']}", f"pp {c['pp']}", f"dp {c['dp']}",
                 f"mbs {c['micro_batch_size']}", f"ZeRO {c['zero_stage']}"]
        if self.document.get("strategy_file"):
            parts[1:] = [self.document["strategy_file"]["name"]]
        elif c["checkpoint"]:
            parts.append("ckpt")
        if self.document["mode"] == ANALYTIC and self.document["options"]["recompute"] != "none":
            parts.append(self.document["options"]["recompute"])
        return " · ".join(parts)

    def link_fields(self) -> dict[str, str] | None:
        """The pin as link keys and values; None when it cannot be in a link (an uploaded file)."""
        doc = self.document
        analytic = doc["mode"] == ANALYTIC
        if doc.get("strategy_file") or doc["source"] not in (list_model_presets() if analytic else list_presets()):
            return None
        fields = {"mode": doc["mode"], "model" if analytic else "preset": doc["source"]}
        fields |= {key: serialize(doc["config"][name]) for key, name in CONFIG_KEYS.items()}
        if analytic:
            defaults = AnalyticOptions().values()
            fields |= {key: serialize(doc["options"][name]) for key, name in OPTION_KEYS.items()
                       if doc["options"][name] != defaults[name]}
        return fields


def pin_of(session: Session) -> Pin:
    return Pin(session.document(), session.estimate)


def encode_pins(pins: list[Pin]) -> str:
    """The `pins` link value of the pins that can be in a link."""
    fields = (pin.link_fields() for pin in pins)
    return PIN_SEPARATOR.join(FIELD_SEPARATOR.join(f"{k}{VALUE_SEPARATOR}{v}" for k, v in f.items())
                              for f in fields if f)


def decode_pins(value: str) -> tuple[list[Pin], list[str]]:
    """Pins from a `pins` link value, each estimated as the main link would be; and what was ignored."""
    pins, ignored = [], []
    for text in [t for t in value.split(PIN_SEPARATOR) if t.strip()][:MAX_PINS]:
        query = dict(field.partition(VALUE_SEPARATOR)[::2] for field in text.split(FIELD_SEPARATOR))
        session = Session()
        skipped = restore(session, View(), query)
        if session.problem:
            ignored.append(f"pins={text}")
            continue
        ignored += [f"pins: {s}" for s in skipped]
        pins.append(pin_of(session))
    return pins, ignored


class Pins(param.Parameterized):
    """Up to MAX_PINS pinned configurations, the first being the baseline of the differences."""

    pins = param.List(default=[], item_type=Pin, doc="The pinned configurations, in pinning order.")
    link = param.String("", doc="The pins as the `pins` link value (follows `pins`; setting it restores them).")
    ignored = param.List(default=[], doc="Link values of pins that could not be restored.")

    def add(self, session: Session) -> bool:
        """Pin the session's current estimate; False when MAX_PINS are pinned already."""
        if len(self.pins) >= MAX_PINS:
            return False
        self.pins = [*self.pins, pin_of(session)]
        return True

    def remove(self, index: int) -> None:
        self.pins = [p for i, p in enumerate(self.pins) if i != index]

    @param.depends("pins", watch=True)
    def _follow_pins(self) -> None:
        self.link = encode_pins(self.pins)

    @param.depends("link", watch=True)
    def _restore(self) -> None:
        if self.link == encode_pins(self.pins):
            return
        pins, self.ignored = decode_pins(self.link)
        self.pins = pins
