"""An estimate's stage as labelled, coloured parts: the data every chart draws."""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import LAYER_RANGE, block_label, block_short_label, category_label, t
from ..model.result import ACTIVATION, CATEGORIES, MODEL_STATES, Block, StageEstimate
from ..model.units import format_memory, format_share
from .style import block_color, category_color, tooltip_html

# A block made of more units than this is drawn whole: hundreds of slivers help nobody.
MAX_UNITS_PER_BLOCK = 128
# Per-unit blocks of the detailed treemap, and the catalog key naming one unit.
UNIT_LABEL_KEYS = {
    "activation.layers": "block.activation.layer", "activation.inflight": "block.activation.inflight_unit",
}


@dataclass(frozen=True)
class Part:
    """One drawable piece: a category, a block, or one unit (layer) of a block."""

    key: str
    category: str
    label: str
    mib: float
    color: str
    short_label: str = ""  # a unit's number, for small rectangles ("3"); empty: not a unit
    abbreviation: str = ""  # a block's short name, for small rectangles ("Head grads"); may be empty


def categories_of(stage: StageEstimate) -> list[str]:
    """The stage's categories, known ones first in a fixed order, then any new ones."""
    seen = [b.category for b in stage.blocks]
    return [c for c in CATEGORIES if c in seen] + sorted(set(seen) - set(CATEGORIES))


def category_parts(stage: StageEstimate, lang: str) -> list[Part]:
    parts = (
        Part(c, c, category_label(c, lang), stage.category_mib(c), category_color(c)) for c in categories_of(stage)
    )
    return [p for p in parts if p.mib > 0]


def block_parts(stage: StageEstimate, lang: str, category: str | None = None) -> list[Part]:
    """Leaf blocks with memory (they partition the stage total: nothing counted twice)."""
    return [
        Part(b.key, b.category, block_label(b.key, lang), b.mib, block_color(b.key, b.category))
        for b in stage.blocks
        if b.mib > 0 and (category is None or b.category == category)
    ]


def breakdown_parts(stage: StageEstimate, lang: str, category: str) -> list[Part]:
    """A category's blocks summed by kind ("model_states.optimizer.layers" and ".embedding" -> optimizer).

    Cost models may split a kind by where it lives (layers, embedding, head); the breakdown views
    show the kinds, as Galvatron's does, and the treemap and bars keep every block.
    """
    kinds: dict[str, float] = {}
    for b in stage.blocks:
        if b.category == category and b.mib > 0:
            kind = ".".join(b.key.split(".")[:2])
            kinds[kind] = kinds.get(kind, 0.0) + b.mib
    return [Part(k, category, block_label(k, lang), mib, block_color(k, category)) for k, mib in kinds.items()]


def unit_parts(block: Block, lang: str) -> list[Part]:
    """A block split into its identical units (per-layer activations, in-flight micro-batches)."""
    color = block_color(block.key, block.category)
    splittable = block.category == ACTIVATION and 1 < block.count <= MAX_UNITS_PER_BLOCK
    if not splittable:
        return [Part(block.key, block.category, block_label(block.key, lang), block.mib, color,
                     abbreviation=block_short_label(block.key, lang))]
    label_key, first = UNIT_LABEL_KEYS.get(block.key), 1
    if match := LAYER_RANGE.match(block.key):  # layers first..last: numbered as in the model
        label_key, first = UNIT_LABEL_KEYS.get(match["kind"]), int(match["first"])
    name = block_label(block.key, lang)
    parts = []
    for index in range(first, first + block.count):
        label = t(label_key, lang, index=index) if label_key else f"{name} {index}"
        parts.append(Part(block.key, block.category, label, block.mib / block.count, color, str(index)))
    return parts


def detailed_parts(stage: StageEstimate, lang: str, category: str) -> list[list[Part]]:
    """The category's blocks with memory, each as its units (one part when it is not split)."""
    return [unit_parts(b, lang) for b in stage.blocks if b.category == category and b.mib > 0]


def tooltip(part: Part, stage: StageEstimate, unit: str, lang: str) -> str:
    lines = [(t("tip.memory", lang), format_memory(part.mib, unit))]
    if unit != "MiB":
        lines[0] = (lines[0][0], f"{format_memory(part.mib, unit)} ({format_memory(part.mib, 'MiB')})")
    lines.append((t("tip.share", lang), format_share(part.mib, stage.total_mib)))
    return tooltip_html(part.label, lines)


def legend_items(stage: StageEstimate, lang: str, level: str = "blocks") -> list[tuple[str, str]]:
    """(label, colour) pairs for a legend: level "categories", "blocks" or "model_states"."""
    if level == "categories":
        parts = category_parts(stage, lang)
    else:
        parts = breakdown_parts(stage, lang, MODEL_STATES) if level == "model_states" else block_parts(stage, lang)
    return [(p.label, p.color) for p in parts]


def legend_groups(stage: StageEstimate, lang: str) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
    """The treemap's legend: each category's (label, colour) with its blocks' (label, colour) pairs."""
    return [((c.label, c.color), [(p.label, p.color) for p in block_parts(stage, lang, c.key)])
            for c in category_parts(stage, lang)]
