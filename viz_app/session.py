"""One user's working state: the profile, the configuration and the last valid estimate.

Pure param (no Panel): the app binds widgets and plots to it, tests drive it directly. A bad
upload or an impossible strategy never destroys what the user had: the previous profile,
configuration and estimate stay, and `message` / `problem` say what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import param

from .model.config import TrainingConfig
from .model.errors import MemvizError
from .model.galvatron import estimate_galvatron
from .model.presets import DEFAULT_PRESET, list_presets, load_preset
from .model.profile import GalvatronProfile, parse_profile
from .model.result import Estimate

UPLOADED = "uploaded"


@dataclass(frozen=True)
class Message:
    """A translatable status line: `key` is a catalog key, `values` fill its fields."""

    kind: str  # "success" or "error"
    key: str
    values: dict = field(default_factory=dict)


class Session(param.Parameterized):
    """Profile + configuration -> estimate, keeping the last valid estimate on errors."""

    preset = param.Selector(default=DEFAULT_PRESET, objects=[*list_presets(), UPLOADED],
                            doc="Bundled profile, or the uploaded one.")
    profile = param.ClassSelector(class_=GalvatronProfile, doc="The profile the estimate is computed from.")
    config = param.ClassSelector(class_=TrainingConfig, instantiate=False, doc="The strategy being explored.")
    estimate = param.ClassSelector(class_=Estimate, doc="The last estimate that could be computed.")
    problem = param.String("", doc="Why the current configuration cannot be estimated ('' when it can).")
    message = param.ClassSelector(class_=Message, allow_None=True, doc="Result of the last load.")
    uploaded_name = param.String("", doc="File name of the uploaded profile.")

    def __init__(self, **params):
        params.setdefault("config", TrainingConfig())
        super().__init__(**params)
        self._holding = False
        self._load(load_preset(self.preset))
        self.config.param.watch(self._recompute, [p for p in self.config.param if p != "name"])

    def _load(self, profile: GalvatronProfile) -> None:
        """Adopt a profile: its layers and sequence length, a TP it supports, then one recompute."""
        self._holding = True
        try:
            values = profile.config_defaults()
            sp = values.get("sequence_parallel", self.config.sequence_parallel)
            supported = [t for t, _ in profile.tp_choices(sp)]
            if self.config.tp not in supported:
                values["tp"] = max(t for t in supported if t <= self.config.tp) if min(supported) <= self.config.tp \
                    else min(supported)
            self.config.apply(**values)
            self.profile = profile
        finally:
            self._holding = False
        self._recompute()

    @param.depends("preset", watch=True)
    def _load_preset(self) -> None:
        if self.preset == UPLOADED:
            return
        try:
            self._load(load_preset(self.preset))
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": str(exc)})
            return
        self.message = Message("success", "msg.preset_loaded", {"name": self.preset})

    def load_upload(self, data: bytes, filename: str) -> bool:
        """Parse an uploaded profile; on failure keep everything and say why."""
        try:
            profile = parse_profile(data, filename)
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": str(exc)})
            return False
        self._load(profile)
        self.uploaded_name = filename
        with param.parameterized.discard_events(self):
            self.preset = UPLOADED
        self.param.trigger("preset")
        self.message = Message("success", "msg.upload_loaded", {
            "name": filename, "shape": profile.shape, "layers": self.config.num_layers,
            "seq": self.config.seq_length,
        })
        return True

    def _recompute(self, *_events) -> None:
        if self._holding:
            return
        try:
            estimate = estimate_galvatron(self.config, self.profile)
        except MemvizError as exc:
            self.problem = str(exc)
            return
        self.problem = ""
        self.estimate = estimate
