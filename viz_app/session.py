"""One user's working state: the mode, the model or profile, the configuration, the last valid estimate.

Pure param (no Panel): the app binds widgets and plots to it, tests drive it directly. A bad
upload or an impossible strategy never destroys what the user had: the previous profile,
architecture, configuration and estimate stay, and `message` / `problem` say what went wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import param

from .i18n import Text
from .model.analytic import AnalyticOptions, estimate_analytic
from .model.analytic.architecture import Architecture
from .model.analytic.frameworks import apply_options, framework_values, options_for
from .model.analytic.model_presets import list_model_presets, load_model_preset
from .model.analytic.parameters import tensor_parallel_choices
from .model.config import TrainingConfig, nearest_at_most
from .model.errors import MemvizError, ProfileError, param_values_checked
from .model.galvatron.estimate import estimate_galvatron
from .model.galvatron.hybrid import estimate_strategy, strategy_config_values
from .model.galvatron.presets import DEFAULT_PRESET, list_presets, load_preset
from .model.galvatron.profile import GalvatronProfile
from .model.galvatron.strategy_file import StrategyFile, parse_strategy_file
from .model.json_input import check_size
from .model.report import estimate_document
from .model.result import Estimate
from .model.saved import SavedEstimate, SavedEstimateError
from .model.uploads import read_upload

UPLOADED = "uploaded"
GALVATRON, ANALYTIC = "galvatron", "analytic"
DEFAULT_MODEL = "llama-3-8b"
# Architecture fields that are names, not numbers the estimate reads.
_ARCH_LABELS = {"name", "model_name", "family"}
# What a Galvatron strategy file decides: editing one of these by hand leaves the file's strategy.
STRATEGY_FILE_FIELDS = ["tp", "pp", "dp", "micro_batch_size", "global_batch_size", "chunks", "zero_stage",
                        "checkpoint", "num_layers"]


@dataclass(frozen=True)
class Message:
    """A translatable status line: `key` is a catalog key, `values` fill its fields."""

    kind: str  # "success" or "error"
    key: str
    values: dict = field(default_factory=dict)


class Session(param.Parameterized):
    """Mode + (profile | architecture) + configuration -> estimate, keeping the last valid one on errors."""

    mode = param.Selector(default=GALVATRON, objects=[GALVATRON, ANALYTIC],
                          doc="Galvatron: a measured profile; analytic: formulas from the architecture.")
    preset = param.Selector(default=DEFAULT_PRESET, objects=[*list_presets(), UPLOADED],
                            doc="Bundled Galvatron profile, or the uploaded one.")
    model = param.Selector(default=DEFAULT_MODEL, objects=[*list_model_presets(), UPLOADED],
                           doc="Bundled model config (analytic mode), or the uploaded one.")
    profile = param.ClassSelector(class_=GalvatronProfile, doc="The profile of Galvatron mode.")
    arch = param.ClassSelector(class_=Architecture, instantiate=False, doc="The architecture of analytic mode.")
    options = param.ClassSelector(class_=AnalyticOptions, instantiate=False, doc="Analytic-mode assumptions.")
    config = param.ClassSelector(class_=TrainingConfig, instantiate=False, doc="The strategy being explored.")
    estimate = param.ClassSelector(class_=Estimate, doc="The last estimate that could be computed.")
    problem = param.String("", doc="Why the current inputs cannot be estimated ('' when they can).")
    message = param.ClassSelector(class_=Message, allow_None=True, doc="Result of the last load.")
    uploaded_name = param.String("", doc="File name of the uploaded profile.")
    uploaded_model_name = param.String("", doc="File name of the uploaded model config.")
    strategy = param.ClassSelector(class_=StrategyFile, allow_None=True,
                                   doc="A Galvatron strategy file's per-layer strategies, applied to the profile.")

    def __init__(self, **params):
        params.setdefault("config", TrainingConfig())
        params.setdefault("options", AnalyticOptions())
        params.setdefault("arch", load_model_preset(params.get("model", DEFAULT_MODEL)))
        super().__init__(**params)
        self._holding = False
        # The app sets this to hold the page's updates while one change fans out to every chart.
        self.batch: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
        self._adopt_profile(load_preset(self.preset))
        if self.mode == ANALYTIC:
            self._enter_analytic()
        self.config.param.watch(self._leave_strategy_file, STRATEGY_FILE_FIELDS)
        self.config.param.watch(self._recompute, _names(self.config))
        self.arch.param.watch(self._recompute, [n for n in _names(self.arch) if n not in _ARCH_LABELS])
        self.options.param.watch(self._apply_framework, "framework")
        self.options.param.watch(self._recompute, _names(self.options))

    # --- loading -------------------------------------------------------------------------
    def _adopt(self, values: dict, adopt) -> None:
        """Apply config values and adopt new inputs with one recompute at the end."""
        self._holding = True
        try:
            adopt()
            self.config.apply(**values)
        finally:
            self._holding = False
        self._recompute()

    def _adopt_profile(self, profile: GalvatronProfile, keep_sequence: bool = False) -> None:
        self.strategy = None
        values = profile.config_defaults()
        if keep_sequence:
            values.pop("seq_length")
        sp = values.get("sequence_parallel", self.config.sequence_parallel)
        supported = [t for t, _ in profile.tp_choices(sp)]
        if supported:
            values["tp"] = nearest_at_most(self.config.tp, supported)
        self._adopt(values, lambda: setattr(self, "profile", profile))

    def _adopt_architecture(self, arch: Architecture, values: dict) -> None:
        values = {**values, "tp": nearest_at_most(self.config.tp, tensor_parallel_choices(arch))}
        # Update in place: widgets are bound to this Architecture's parameters.
        self._adopt(values, lambda: self.arch.param.update(**arch.values()))

    def _enter_analytic(self) -> None:
        """The model's layer count applies; the user's sequence length and strategy stay."""
        self._adopt({"num_layers": self.arch.num_layers}, lambda: None)

    @param.depends("mode", watch=True)
    def _mode_changed(self) -> None:
        if self.mode == ANALYTIC:
            self._enter_analytic()
        else:
            self._adopt_profile(self.profile, keep_sequence=True)

    @param.depends("preset", watch=True)
    def _preset_changed(self) -> None:
        if self.preset == UPLOADED:
            return
        self._adopt_profile(load_preset(self.preset))
        self.mode = GALVATRON
        self.message = Message("success", "msg.preset_loaded", {"name": self.preset})

    @param.depends("model", watch=True)
    def _model_changed(self) -> None:
        if self.model == UPLOADED:
            return
        arch = load_model_preset(self.model)
        self._adopt_architecture(arch, arch.config_defaults())
        self.mode = ANALYTIC
        self.message = Message("success", "msg.preset_loaded", {"name": self.model})

    def load_upload(self, data: bytes, filename: str) -> bool:
        """Load an uploaded profile or model config; on failure keep everything and say why."""
        try:
            loaded = read_upload(data, filename)
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": exc.text})
            return False
        if isinstance(loaded, StrategyFile):
            return self._adopt_strategy_file(loaded)
        if isinstance(loaded, SavedEstimate):
            return self._restore_saved(loaded)
        if isinstance(loaded, GalvatronProfile):
            self._adopt_profile(loaded)
            self._select(preset=UPLOADED, uploaded_name=filename, mode=GALVATRON)
            self.message = Message("success", "msg.upload_loaded", {
                "name": filename, "shape": loaded.shape, "layers": self.config.num_layers,
                "seq": self.config.seq_length,
            })
        else:
            self._adopt_architecture(loaded, loaded.config_defaults())
            self._select(model=UPLOADED, uploaded_model_name=filename, mode=ANALYTIC)
            self.message = Message("success", "msg.model_loaded", {
                "name": filename, "family": loaded.family, "layers": loaded.num_layers,
                "hidden": loaded.hidden_size,
            })
        return True

    def _adopt_strategy_file(self, strategy: StrategyFile) -> bool:
        """Apply a strategy file to the current profile, if it fits it; else keep everything and say why."""
        if self.mode != GALVATRON:
            self.message = Message("error", "msg.upload_failed", {
                "error": Text("msg.strategy_needs_profile", {"name": strategy.name})})
            return False
        trial = TrainingConfig(**self.config.values())
        try:
            trial.apply(**strategy_config_values(strategy, trial.total_gpus))
            estimate_strategy(trial, self.profile, strategy)
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": exc.text})
            return False
        values = strategy_config_values(strategy, self.config.total_gpus)
        self._adopt(values, lambda: setattr(self, "strategy", strategy))
        self.message = Message("success", "msg.strategy_loaded", {
            "name": strategy.name, "layers": len(strategy.layers), "pp": strategy.pp,
            "kinds": len(set(strategy.layers))})
        return True

    def _restore_saved(self, saved: SavedEstimate) -> bool:
        """Restore the state a downloaded estimate was made from; on a problem keep everything and say why."""
        try:
            with param_values_checked(saved.name):
                TrainingConfig().apply(**saved.config)  # checks every value before anything changes
                if saved.mode == ANALYTIC:
                    arch = Architecture(**saved.architecture)
                    options_for(saved.options)
                    adopt = self._restore_analytic(arch, saved)
                else:
                    adopt = self._restore_galvatron(saved)
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": exc.text})
            return False
        adopt()
        with self.config.coupling_paused():  # verbatim, as saved, even where the saved values disagreed
            self.config.param.update(**saved.config)
        self.message = Message("success", "msg.saved_restored", {"name": saved.name})
        return True

    def _restore_analytic(self, arch: Architecture, saved: SavedEstimate) -> Callable[[], None]:
        def adopt() -> None:
            def inputs() -> None:
                self.arch.param.update(**arch.values())
                apply_options(self.options, saved.options)
            bundled = saved.source in list_model_presets()
            # Selecting first: picking a bundled model loads it, then the saved values replace its own.
            self._select(model=saved.source if bundled else UPLOADED, mode=ANALYTIC,
                         uploaded_model_name=self.uploaded_model_name if bundled else saved.source)
            self._adopt(saved.config, inputs)
        return adopt

    def _restore_galvatron(self, saved: SavedEstimate) -> Callable[[], None]:
        if saved.source in list_presets():
            picked = {"preset": saved.source}
        elif saved.source == self.profile.name:
            picked = {"preset": self.preset}
        else:
            raise SavedEstimateError(key="error.saved_profile", name=saved.name, source=saved.source)
        strategy = None
        if saved.strategy_file:
            strategy = parse_strategy_file(saved.strategy_file["content"], saved.strategy_file["name"])

        def adopt() -> None:
            self._select(mode=GALVATRON, **picked)  # (re)loads the profile, then the saved values apply
            self._adopt(saved.config, lambda: setattr(self, "strategy", strategy))
        return adopt

    def _leave_strategy_file(self, *_events: param.parameterized.Event) -> None:
        if self.strategy is not None and not self._holding:
            self.strategy = None

    def refuse_unread(self, filename: str, size: int) -> None:
        """A file the browser did not send (empty, or over the upload limit): the message reading it would give."""
        try:
            check_size(filename, size)
            raise ProfileError(key="error.empty_file", name=filename)
        except MemvizError as exc:
            self.message = Message("error", "msg.upload_failed", {"error": exc.text})

    def _select(self, **values) -> None:
        """Show what was loaded in the pickers without reloading it."""
        with param.parameterized.discard_events(self):
            self.param.update(**values)
        self.param.trigger(*values)

    def apply_strategy(self, config: dict, options: dict) -> None:
        """Set a whole strategy (an explorer row: configuration and analytic options), estimating once."""
        self._adopt(config, lambda: self.options.param.update(**options))

    # --- estimating ----------------------------------------------------------------------
    def compute(self) -> Estimate:
        """The estimate of the current inputs (raises MemvizError when they cannot be estimated)."""
        if self.mode == ANALYTIC:
            return estimate_analytic(self.config, self.arch, self.options)
        if self.strategy is not None:
            return estimate_strategy(self.config, self.profile, self.strategy)
        return estimate_galvatron(self.config, self.profile)

    def document(self) -> dict:
        """The current estimate as the CLI's `--json` document."""
        if self.mode == ANALYTIC:
            return estimate_document(self.arch.model_name, self.config, self.estimate, self.arch, self.options)
        return estimate_document(self.profile.name, self.config, self.estimate, strategy=self.strategy)

    def _apply_framework(self, event: param.parameterized.Event) -> None:
        """Picking a framework sets the options it fixes; each stays editable afterwards."""
        self.options.param.update(**framework_values(event.new))

    def _recompute(self, *_events) -> None:
        if self._holding:
            return
        try:
            estimate = self.compute()
        except MemvizError as exc:
            self.problem = exc.text  # English, and in the page's language where shown
            return
        self.problem = ""
        # Coupled parameters arrive as several events for one user action: redraw only on change.
        if estimate != self.estimate:
            with self.batch():
                self.estimate = estimate


def _names(obj: param.Parameterized) -> list[str]:
    return [n for n in obj.param if n != "name"]
