"""The donut at any plot size: its ring round on screen, its labels inside the plot, taps on the right sector."""

import holoviews as hv
import numpy as np
import pytest

from viz_app import plots
from viz_app.plots.donut import X_SPAN, Y_SPAN
from viz_app.plots.parts import category_parts
from viz_app.session import Session

hv.extension("bokeh", logo=False)

SIZES = [(None, None), (848, 320), (330, 320), (544, 340), (1200, 320)]


@pytest.fixture(scope="module")
def estimate():
    return Session().estimate


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_the_ring_is_round_and_the_labels_inside_the_plot(estimate, width_px, height_px):
    ring, labels = plots.donut(estimate, width_px=width_px, height_px=height_px).values()
    w, h = (width_px, height_px) if width_px else (1.6, 1.0)  # without a size: drawn for its default ratio
    xs = np.concatenate([np.asarray(p["x"]) for p in ring.split(datatype="columns")])
    ys = np.concatenate([np.asarray(p["y"]) for p in ring.split(datatype="columns")])
    across_px = (xs.max() - xs.min()) * w / (2 * X_SPAN)
    tall_px = (ys.max() - ys.min()) * h / (2 * Y_SPAN)
    assert across_px == pytest.approx(tall_px, rel=0.01)
    assert np.abs(labels.dimension_values("x")).max() < X_SPAN
    assert np.abs(labels.dimension_values("y")).max() < Y_SPAN


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_a_tap_in_the_middle_of_a_sector_names_it(estimate, width_px, height_px):
    ring = plots.donut(estimate, width_px=width_px, height_px=height_px).values()[0]
    tapped = []
    for polygon in ring.split(datatype="columns"):
        x, y = np.asarray(polygon["x"]), np.asarray(polygon["y"])
        half = len(x) // 2  # the outer arc, then the inner arc backwards: the middles pair up
        tap_x, tap_y = (x[half // 2] + x[-1 - half // 2]) / 2, (y[half // 2] + y[-1 - half // 2]) / 2
        tapped.append(plots.donut_sector_at(estimate, tap_x, tap_y, width_px=width_px, height_px=height_px))
    assert tapped == [p.key for p in category_parts(plots.pick_stage(estimate, None), "en")]
    assert plots.donut_sector_at(estimate, 0.0, 0.0, width_px=width_px, height_px=height_px) is None  # the hole
