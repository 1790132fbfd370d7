"""Plain-attribute copies of param objects, for the cost models' hot paths.

Reading an attribute of a `param.Parameterized` runs param's descriptors (a few microseconds);
one analytic estimate reads the architecture, config and options hundreds of thousands of times.
A copy whose class has the same methods and properties, with the values in its `__dict__`, reads
them at plain-attribute speed. It is a read-only snapshot: nothing watches it, nothing validates
writes to it.
"""

from __future__ import annotations

import functools

import param


@functools.cache
def _plain_class(cls: type) -> type:
    """A plain class with `cls`'s own methods and properties (not its Parameters, not param's)."""
    members = {}
    for klass in reversed(cls.__mro__):
        if klass is param.Parameterized or not issubclass(klass, param.Parameterized):
            continue
        for name, value in vars(klass).items():
            if isinstance(value, param.Parameter) or name.startswith("__") or name.startswith("_param") \
                    or name == "param":
                continue
            members[name] = value
    return type(f"Plain{cls.__name__}", (), members)


def plain_copy(obj: param.Parameterized):
    """A snapshot of `obj`'s values that answers the same attribute, property and method reads."""
    copy = object.__new__(_plain_class(type(obj)))
    copy.__dict__.update(obj.param.values())
    return copy
