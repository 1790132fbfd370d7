"""Memory units: the model works in MiB (2^20 bytes); the user may read GiB."""

MIB_PER_UNIT = {"MiB": 1.0, "GiB": 1024.0}
UNITS = tuple(MIB_PER_UNIT)
DECIMALS = {"MiB": 1, "GiB": 2}


def to_unit(mib: float, unit: str) -> float:
    return mib / MIB_PER_UNIT[unit]


def format_memory(mib: float, unit: str) -> str:
    """'24097.7 MiB' or '23.53 GiB' (no thousands separator: the number is copied into other tools)."""
    return f"{to_unit(mib, unit):.{DECIMALS[unit]}f} {unit}"


def format_share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole > 0 else "0.0%"
