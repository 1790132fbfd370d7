"""One tensor a layer keeps for its backward pass: the unit of every activation term."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SavedTensor:
    """One tensor a layer keeps for its backward pass."""

    name: str
    nbytes: float
    formula: str
    # The norm's input as it keeps it (the input itself, or its fp32 upcast): under parallel residual
    # both norms read the same layer input, so the second norm adds none of these.
    norm_input: bool = False
    # Part of a mixture-of-experts MLP (router, permutation, routed and shared experts): shown as its own block.
    expert: bool = False
