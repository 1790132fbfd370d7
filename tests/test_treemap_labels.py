"""Treemap labels and layout: layers in reading order, one form per block's layers, no name cut short."""

import re

import pytest

from viz_app.i18n import block_label, block_short_label, t
from viz_app.plots import treemap_columns
from viz_app.session import ANALYTIC, Session

LAYER_LABEL = re.compile(r"第 \d+ 层|Layer\s\d+|\d+")
TIP_NAME = re.compile(r'<div style="font-weight:600">(.*?)</div>')


def _analytic(model: str = "llama-3-8b", **config) -> Session:
    session = Session(mode=ANALYTIC, model=model)
    session.config.param.update(**config)
    assert session.problem == ""
    return session


@pytest.mark.parametrize(("lang", "width_px", "height_px", "layers_labelled"),
                         [("zh", 860, 430, 32), ("en", 860, 430, 32), ("zh", 350, 300, 32), ("en", 1200, 500, 32)])
def test_a_blocks_layers_share_one_form_and_size(lang, width_px, height_px, layers_labelled):
    columns = treemap_columns(Session().estimate, lang, details=True, width_px=width_px, height_px=height_px)
    layers = [(text, size, weight) for text, size, weight
              in zip(columns.labels["text"], columns.labels["size"], columns.labels["weight"], strict=True)
              if LAYER_LABEL.fullmatch(" ".join(text.split()))]
    assert len(layers) == layers_labelled
    assert len({re.sub(r"\d+", "#", text) for text, _, _ in layers}) == 1, layers  # "第 3 层" never next to "4"
    assert len({(size, weight) for _, size, weight in layers}) == 1, layers


@pytest.mark.parametrize("session", [Session, lambda: _analytic(pp=8), lambda: _analytic(pp=4)],
                         ids=["galvatron", "analytic-pp8", "analytic-pp4"])
@pytest.mark.parametrize(("width_px", "height_px"), [(880, 440), (350, 300), (1200, 500)])
def test_layers_lie_in_reading_order(session, width_px, height_px):
    """Layer i's rectangle comes before layer i+1's reading left to right, then top to bottom."""
    columns = treemap_columns(session().estimate, "en", details=True, width_px=width_px, height_px=height_px)
    rects = columns.rects
    where = {}  # unit label -> (top, left): y grows upwards in the plot, so a lower row has a smaller top
    for tip, x0, y1 in zip(rects["tip"], rects["x0"], rects["y1"], strict=True):
        where[TIP_NAME.search(tip).group(1)] = (-round(y1, 6), round(x0, 6))
    for unit_key in ("block.activation.layer", "block.activation.inflight_unit"):
        units = [where[name] for i in range(1, 200) if (name := t(unit_key, "en", index=i)) in where]
        if unit_key == "block.activation.layer":
            assert len(units) >= 4
        assert units == sorted(units), (unit_key, units)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("session", "width_px", "height_px"), [
    (lambda: _analytic(), 880, 440), (lambda: _analytic(), 350, 300),
    (lambda: _analytic("llama-3-70b", total_gpus=80, pp=80, global_batch_size=80, micro_batch_size=1), 880, 440),
], ids=["analytic-desktop", "analytic-phone", "analytic-pp80"])
def test_labels_are_whole_names_or_short_names(session, width_px, height_px, lang):
    """A label is a block's name (maybe with its figures), its catalog short name, or a layer's number:
    never a first word ("Output" for "Output head gradients", a lone "Layer" beside numbered layers)."""
    estimate = session().estimate
    stage = estimate.peak_stage
    names = {" ".join(block_label(b.key, lang).split()) for b in stage.blocks}
    names |= {block_short_label(b.key, lang) for b in stage.blocks}
    names |= {t(k, lang, index=i) for k in ("block.activation.layer", "block.activation.inflight_unit")
              for i in range(1, 200)}
    columns = treemap_columns(estimate, lang, details=True, width_px=width_px, height_px=height_px)
    labelled = [text for text in columns.labels["text"] if text]
    for text in labelled:
        first = text.split("\n")
        name = next(" ".join(first[:n]) for n in range(len(first), 0, -1)
                    if not re.search(r"MiB · ", " ".join(first[:n])))
        joined = name if lang == "en" else name.replace(" ", "")
        assert joined in names or name.isdigit() or joined in {n.replace(" ", "") for n in names}, text
    # Every block on screen has some label, unless it is a sliver (under 0.5 % of the stage).
    assert len(labelled) >= len([b for b in stage.blocks if b.mib > 0.005 * stage.total_mib and b.count == 1])
