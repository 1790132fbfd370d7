"""The configuration side: preset and upload, model facts, strategy, batch and training switches."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import panel as pn
import param

from ..i18n import t
from ..model.analytic.architecture import Architecture
from ..model.analytic.parameters import tensor_parallel_choices
from ..model.analytic.pipeline_division import format_pp_division, parse_pp_division
from ..model.config import ZERO_STAGES, TrainingConfig
from ..model.errors import StrategyError
from ..model.galvatron.profile import GalvatronProfile
from ..model.limits import MAX_PIPELINE_STAGES
from ..model.result import Estimate
from ..session import ANALYTIC, GALVATRON, UPLOADED, Message, Session
from .editors import architecture_editor, options_editor
from .private_bokeh import unread_size
from .theme import card, html, text
from .widgets import from_param, label, number_slider, switch

UPLOAD_CSS = """
label { display: inline-block !important; padding: 6px 16px; border: 1px solid #1e6fd9; border-radius: 4px;
  color: #1e6fd9; background: #fff; cursor: pointer; font-size: 13px; white-space: normal; }
label:hover { background: #f0f6ff; }
input[type=file] { position: absolute; width: 1px; height: 1px; padding: 0; border: 0; opacity: 0; overflow: hidden; }
"""


def _message_html(message: Message | None, lang: str) -> str:
    if message is None:
        return '<div class="memviz-message" data-kind="none"></div>'
    text = escape(t(message.key, lang, **message.values))
    icon = "✓" if message.kind == "success" else "⚠"
    return f'<div class="memviz-message memviz-{message.kind}" data-kind="{message.kind}">{icon} {text}</div>'


def _facts_html(profile: GalvatronProfile, lang: str, mixed_precision: bool) -> str:
    model = profile.model
    facts = [
        ("facts.heads", model.num_heads), ("facts.kv_heads", model.num_kv_heads), ("facts.hidden", model.hidden_size),
        ("facts.ffn", model.ffn_size), ("facts.vocab", model.vocab_size),
        ("facts.profiled_seq", profile.default_seq_length),
    ]
    chips = [f'<span class="memviz-chip">{escape(t(k, lang, value=v))}</span>' for k, v in facts if v]
    precision = "facts.precision_mixed" if mixed_precision else "facts.precision_fp32"
    chips.append(f'<span class="memviz-chip memviz-chip-green">{t(precision, lang)}</span>')
    return f'<div class="memviz-chips">{"".join(chips)}</div>'


def _notices_html(config: TrainingConfig, estimate: Estimate | None, problem: str, lang: str) -> str:
    """The estimate's notices, or while the inputs cannot be estimated (the estimate shown is an
    older one) the config's own constraint warnings, and the strategy error."""
    stale = problem or estimate is None
    notices = config.constraint_notices() if stale else estimate.notices
    rows = [f'<div class="memviz-warning">⚠ {escape(t("notice." + n.code, lang, **n.values))}</div>'
            for n in notices]
    if problem:
        rows.append(f'<div class="memviz-error">✕ {escape(t("msg.strategy_error", lang, error=problem))}</div>')
    return "".join(rows)


def _tp_options(mode: str, profile: GalvatronProfile, sequence_parallel: bool, tp: int, arch: Architecture,
                *_arch_fields) -> dict[str, int]:
    """Degrees the current model allows: profiled ones (extrapolated marked *) or those its heads divide.

    The current degree stays listed (marked ✕) when an edit makes it impossible: a Select would
    otherwise silently change the user's TP; the estimate reports the problem instead.
    """
    if mode == ANALYTIC:
        options = {str(t): t for t in tensor_parallel_choices(arch)}
    else:
        choices = profile.tp_choices(sequence_parallel) or profile.tp_choices(not sequence_parallel)
        options = {f"{t}{' *' if extra else ''}": t for t, extra in choices}
    if tp not in options.values():
        options[f"{tp} ✕"] = tp
    return dict(sorted(options.items(), key=lambda item: item[1]))


def _preset_options(uploaded_name: str, lang: str, presets: list[str]) -> dict[str, str]:
    """Bundled names, and the uploaded file when there is one."""
    options = {name: name for name in presets if name != UPLOADED}
    if uploaded_name:
        options[t("preset.uploaded", lang, name=uploaded_name)] = UPLOADED
    return options


class Sidebar(pn.viewable.Viewer):
    """All inputs of a session, bound to its parameters."""

    def __init__(self, session: Session, lang: param.Parameter, **params):
        super().__init__(**params)
        self.session, self._lang = session, lang
        # The browser's own file button reads "Choose File / No file chosen" in the browser's language:
        # the input is hidden and its label, which opens the file chooser too, says the app's text.
        self.upload = pn.widgets.FileInput(accept=".json", multiple=False, css_classes=["memviz-upload"],
                                           label=label("upload.button", lang), stylesheets=[UPLOAD_CSS],
                                           sizing_mode="stretch_width")
        self.upload.param.watch(self._on_upload, ["value", "mime_type"])

    def _on_upload(self, *_events: param.parameterized.Event) -> None:
        name = self.upload.filename or "upload.json"
        unread = unread_size(self.upload.mime_type)
        if unread is not None:  # the browser refused to send it (empty, or over the upload limit)
            self.session.refuse_unread(name, unread)
        elif self.upload.value is not None:
            self.session.load_upload(self.upload.value, name)

    def _model_card(self) -> pn.Column:
        s, lang = self.session, self._lang
        mode = from_param(
            pn.widgets.RadioButtonGroup, s.param.mode, name="", css_classes=["memviz-mode"],
            options=pn.bind(lambda lang_: {t("mode.galvatron", lang_): GALVATRON, t("mode.analytic", lang_): ANALYTIC},
                            lang),
            color="primary", variant="outline", sizing_mode="stretch_width",
        )
        preset = from_param(
            pn.widgets.Select, s.param.preset, name=label("preset.label", lang), sizing_mode="stretch_width",
            options=pn.bind(_preset_options, s.param.uploaded_name, lang, s.param.preset.objects),
            css_classes=["memviz-preset"],
        )
        upload_label = text(label("upload.label", lang), "memviz-label", margin=(8, 10, 0, 10))
        message = html(pn.bind(_message_html, s.param.message, lang))
        facts = html(pn.bind(_facts_html, s.param.profile, lang, s.config.param.mixed_precision))
        galvatron = pn.Column(preset, facts, sizing_mode="stretch_width")
        return self._card("section.model", mode, self._by_mode(lambda: galvatron, self._analytic_model),
                          upload_label, self.upload, message)

    def _analytic_model(self) -> pn.Column:
        s, lang = self.session, self._lang
        model = from_param(
            pn.widgets.Select, s.param.model, name=label("model.label", lang), sizing_mode="stretch_width",
            options=pn.bind(_preset_options, s.param.uploaded_model_name, lang, s.param.model.objects),
            css_classes=["memviz-model"],
        )
        return pn.Column(model, architecture_editor(s.arch, lang), sizing_mode="stretch_width")

    def _by_mode(self, galvatron: Callable[[], pn.viewable.Viewable],
                 analytic: Callable[[], pn.viewable.Viewable]) -> pn.viewable.Viewable:
        """Only the current mode's inputs are in the page, each made when its mode is first shown: hidden
        widgets would still slow every redraw, and making the analytic ones takes ~1 s of the server's CPU."""
        made: dict[bool, pn.viewable.Viewable] = {}

        def shown(mode: str) -> pn.viewable.Viewable:
            is_analytic = mode == ANALYTIC
            if is_analytic not in made:
                made[is_analytic] = analytic() if is_analytic else galvatron()
            return made[is_analytic]

        return pn.panel(pn.bind(shown, self.session.param.mode), sizing_mode="stretch_width")

    def _analytic_card(self) -> pn.viewable.Viewable:
        nothing = pn.Spacer(height=0, sizing_mode="stretch_width")  # an empty layout is Bokeh's warning W-1002
        return self._by_mode(lambda: nothing, self._analytic_options)

    def _analytic_options(self) -> pn.Column:
        s, lang = self.session, self._lang
        division = pn.widgets.TextInput(
            label=label("opt.pp_division", lang), placeholder="8,8,8,8", css_classes=["memviz-opt-pp-division"],
            value=format_pp_division(s.options.pp_division), sizing_mode="stretch_width",
        )
        division.param.watch(lambda e: self._set_pp_division(e.new), "value")
        hint = text(label("opt.hint", lang), "memviz-hint")
        experts = [number_slider(s.config.param[p], lang) for p in ("ep", "etp")]
        return self._card("section.analytic", hint, *experts, options_editor(s.options, lang), division)

    def _set_pp_division(self, value: str) -> None:
        """"8,8,8,8" -> layers per stage; empty: an even split. Bad text is reported, not applied."""
        try:
            self.session.options.pp_division = parse_pp_division(value)
        except StrategyError as exc:
            self.session.message = Message("error", "msg.pp_division_bad", {"error": exc.text})

    def _strategy_card(self) -> pn.Column:
        s, c, lang = self.session, self.session.config, self._lang
        tp = from_param(
            pn.widgets.Select, c.param.tp, name=label("param.tp", lang),
            css_classes=["memviz-tp"], sizing_mode="stretch_width",
            options=pn.bind(_tp_options, s.param.mode, s.param.profile, c.param.sequence_parallel, c.param.tp, s.arch,
                            *[s.arch.param[n] for n in ("num_attention_heads", "num_kv_heads", "ffn_hidden_size")]),
            description=label("param.tp_hint", lang),
        )
        pp = from_param(
            pn.widgets.EditableIntSlider, c.param.pp, name=label("param.pp", lang), start=1,
            end=pn.bind(lambda layers: max(2, min(layers, 16)), c.param.num_layers),
            fixed_end=pn.bind(lambda layers: min(layers, MAX_PIPELINE_STAGES), c.param.num_layers),
            css_classes=["memviz-pp"], sizing_mode="stretch_width",
        )
        dp = html(pn.bind(lambda d, lang_: f'<span class="memviz-chip memviz-chip-blue memviz-dp" '
                          f'data-dp="{d}">{escape(t("param.dp_derived", lang_, dp=d))}</span>', c.param.dp, lang))
        zero = from_param(
            pn.widgets.RadioButtonGroup, c.param.zero_stage, name="",
            options=pn.bind(lambda lang_: {t("param.zero_off", lang_) if z == 0 else str(z): z for z in ZERO_STAGES},
                            lang),
            color="primary", variant="outline", css_classes=["memviz-zero"], sizing_mode="stretch_width",
        )
        zero_label = text(label("param.zero_stage", lang), "memviz-label", margin=(8, 10, 0, 10))
        # Bound to every coupled value so the warnings follow edits even while the estimate fails.
        coupled = [c.param[p] for p in ("tp", "pp", "dp", "total_gpus", "micro_batch_size", "global_batch_size",
                                        "chunks")]
        notices = html(pn.bind(lambda estimate, problem, lang_, *_: _notices_html(c, estimate, problem, lang_),
                               s.param.estimate, s.param.problem, lang, *coupled), css_classes=["memviz-notices"])
        return self._card("section.strategy", number_slider(c.param.total_gpus, lang), tp, pp, dp, zero_label, zero,
                          notices)

    def _batch_card(self) -> pn.Column:
        c, lang = self.session.config, self._lang
        return self._card("section.batch", *(number_slider(c.param[p], lang) for p in (
            "micro_batch_size", "global_batch_size", "chunks", "seq_length", "num_layers")))

    def _training_card(self) -> pn.Column:
        c, lang = self.session.config, self._lang
        return self._card("section.training", *(switch(c.param[p], lang) for p in (
            "sequence_parallel", "checkpoint", "mixed_precision")))

    def _card(self, title_key: str, *objects) -> pn.Column:
        return card(text(label(title_key, self._lang), "memviz-card-title"), *objects)

    def __panel__(self) -> pn.Column:
        return pn.Column(self._model_card(), self._strategy_card(), self._batch_card(), self._training_card(),
                         self._analytic_card(),
                         sizing_mode="stretch_width")
