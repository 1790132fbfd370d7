"""Model layer: config, profiles and cost models. Pure Python + param; no Panel, no HoloViews."""
