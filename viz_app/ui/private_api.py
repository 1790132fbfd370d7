"""What the private_* modules share: a loud error when a dependency drops a private API memviz uses.

memviz reaches into a few private attributes of Panel, Bokeh and HoloViews where they offer no public
way to do what it needs (docs/upstream.md says what each would need). Every such use lives in one
module per dependency (private_panel, private_bokeh, private_holoviews), which checks it is still
there: an upgrade that removes one fails at start-up or in tests/test_private_apis.py, instead of
quietly making redraws slower or leaving models stale.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class PrivateAPIMissing(RuntimeError):
    """The installed version of a dependency no longer has a private API memviz relies on."""


def installed_version(dependency: str) -> str:
    """The installed version of `dependency` (its `__version__`), or "unknown"."""
    return str(getattr(importlib.import_module(dependency), "__version__", "unknown"))


def missing(dependency: str, tested: str, what: str, purpose: str) -> PrivateAPIMissing:
    """The error for `what` (a dotted name, or a behaviour) gone from `dependency`."""
    return PrivateAPIMissing(
        f"{dependency} {installed_version(dependency)} has no {what}, which memviz uses to {purpose} "
        f"(written against {dependency} {tested}; see viz_app/ui/private_{dependency}.py and docs/upstream.md)")


def require(owner: Any, name: str, dependency: str, tested: str, purpose: str) -> Any:
    """`owner.<name>`; raises PrivateAPIMissing naming it and the dependency's version when it is gone."""
    try:
        return getattr(owner, name)
    except AttributeError:
        raise missing(dependency, tested, f"{dotted_name(owner)}.{name}", purpose) from None


def dotted_name(owner: Any) -> str:
    """"package.module.Class" of a class, a module, or an object (its class)."""
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    cls = owner if isinstance(owner, type) else type(owner)
    return f"{cls.__module__}.{cls.__qualname__}"
