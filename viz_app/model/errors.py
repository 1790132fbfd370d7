"""Errors the model layer raises for bad input; each message is meant for the user as is."""


class MemvizError(ValueError):
    """Base class: a problem with what the user gave us, with a readable message."""


class ProfileError(MemvizError):
    """A profile file is malformed, too large, or lacks a key the cost model needs."""


class StrategyError(MemvizError):
    """A parallel strategy that cannot be estimated with the data at hand."""
