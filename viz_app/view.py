"""How the results are shown (language, unit, GPU, tab, ...): one user's view state, beside `Session`."""

from __future__ import annotations

import param

from .explore_inputs import ExploreInputs
from .model.gpus import CUSTOM, DEFAULT_GPU, GPUS
from .model.units import UNITS


class View(param.Parameterized):
    """How the results are shown (not what is computed)."""

    lang = param.Selector(default="en", objects=["en", "zh"])
    unit = param.Selector(default="MiB", objects=list(UNITS))
    details = param.Boolean(True, doc="Split the treemap into layers, in-flight blocks and model-state parts.")
    gpu = param.Selector(default=DEFAULT_GPU, objects=[g.key for g in GPUS] + [CUSTOM])
    custom_gib = param.Number(64.0, bounds=(1, 4096), doc="Capacity of a custom GPU, GiB.")
    drill = param.Boolean(False, doc="Donut shows the model-states breakdown.")
    tab = param.Selector(default="bars", objects=["bars", "proportion", "donut", "formulas", "step"],
                         doc="Analysis view shown.")
    explore = param.ClassSelector(class_=ExploreInputs, default=ExploreInputs(), instantiate=True,
                                  doc="What the strategy explorer searches for.")
