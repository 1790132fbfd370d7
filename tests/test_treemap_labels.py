"""Treemap labels: the layers of one block all say it the same way, in one font size."""

import re

import pytest

from viz_app.plots import treemap_columns
from viz_app.session import Session

LAYER_LABEL = re.compile(r"第 \d+ 层|Layer\s\d+|\d+")


@pytest.mark.parametrize(("lang", "width_px", "height_px", "layers_labelled"),
                         [("zh", 860, 430, 32), ("en", 860, 430, 32), ("zh", 350, 300, 32), ("en", 1200, 500, 32)])
def test_a_blocks_layers_share_one_form_and_size(lang, width_px, height_px, layers_labelled):
    columns = treemap_columns(Session().estimate, lang, details=True, width_px=width_px, height_px=height_px)
    layers = [(text, size, weight) for text, size, weight
              in zip(columns.labels["text"], columns.labels["size"], columns.labels["weight"], strict=True)
              if LAYER_LABEL.fullmatch(text)]
    assert len(layers) == layers_labelled
    assert len({re.sub(r"\d+", "#", text) for text, _, _ in layers}) == 1, layers  # "第 3 层" never next to "4"
    assert len({(size, weight) for _, size, weight in layers}) == 1, layers
