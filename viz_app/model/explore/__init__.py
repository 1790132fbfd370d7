"""The strategy explorer: every valid parallel strategy for a model on N GPUs, evaluated at once.

Shared pieces only (the grid of layouts, the costs that need no cost model, the result table);
each cost model evaluates the grid in its own `explore.py` (docs/explorer.md).
"""
