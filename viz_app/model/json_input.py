"""JSON files from users, decoded at one boundary before any cost model sees them.

Every limit is checked on the bytes actually read, never on a size the file claims (a pipe or
/dev/zero reports 0), and before parsing: size, encoding, nesting depth, digits of a number,
and finiteness (JSON's NaN/Infinity extensions and overflowing literals such as 1e999), each
named by its key path.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..i18n import Text
from .errors import ProfileError

MAX_PROFILE_BYTES = 16 * 2**20  # real profiles are tens of KiB; this leaves room for raw keys
# Galvatron profiles nest 4 deep, HF configs 3; 64 leaves room while keeping the parser (and
# Pyodide's smaller stack) far from its recursion limit.
MAX_JSON_DEPTH = 64
# The largest number a real file holds is a byte count (~1e12); 30 digits refuses absurd
# values before int() spends time on them or later arithmetic overflows.
MAX_NUMBER_DIGITS = 30


def check_size(name: str, size: int) -> None:
    if size > MAX_PROFILE_BYTES:
        raise ProfileError(key="error.too_large", name=name, mib=f"{size / 2**20:.1f}",
                           max_mib=MAX_PROFILE_BYTES // 2**20)


def read_json_bytes(path: str | Path) -> bytes:
    """A file's bytes, reading at most one byte past the limit; a folder or unreadable path is refused."""
    path = Path(path)
    if path.is_dir():
        raise ProfileError(key="error.cannot_read", name=path.name or str(path), reason="a folder, not a file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(key="error.cannot_read", name=path.name, reason=exc.strerror or str(exc)) from None
    check_size(path.name, len(data))
    return data


def json_kind(value: object) -> Text:
    """What a JSON value is ("an object", "a list", ...), for messages."""
    kinds = {dict: "kind.object", list: "kind.list", str: "kind.string", bool: "kind.boolean", type(None): "kind.null"}
    return Text(kinds.get(type(value), "kind.number"))


# Only what decides nesting: quotes and escapes (to skip strings) and brackets, all ASCII.
_STRUCTURE = b'"\\[]{}'
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(_STRUCTURE)))


def deeper_than(text: str, limit: int) -> bool:
    """Whether [ and { nest deeper than `limit` outside strings.

    No recursion, and only C-speed passes over a skeleton of brackets: each pass looks for limit + 1
    brackets opened in a row, then peels the innermost pairs, so a hostile 16 MiB file is cheap.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    skeleton = text.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURE)
    # Which kind of bracket closes which is the parser's concern; depth is the same for both.
    # Drop escaped backslashes, then escaped quotes: what remains between quote pairs is strings.
    skeleton = skeleton.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = b"".join(skeleton.split(b'"')[0::2]).translate(bytes.maketrans(b"{}", b"[]"))
    too_deep = b"[" * (limit + 1)
    for _ in range(limit):
        if too_deep in skeleton:  # limit + 1 brackets opened in a row
            return True
        peeled = skeleton.replace(b"[]", b"")
        if peeled == skeleton:  # empty, or unbalanced: the parser names that error
            return False
        skeleton = peeled
    return bool(skeleton)


class _TooManyDigits(str):
    """A number literal longer than MAX_NUMBER_DIGITS, kept as text until its key path is known."""


def _parse_int(literal: str) -> int | _TooManyDigits:
    return _TooManyDigits(literal) if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS else int(literal)


def _parse_float(literal: str) -> float | _TooManyDigits:
    return _TooManyDigits(literal) if len(literal) > 2 * MAX_NUMBER_DIGITS else float(literal)


def _first_absurd_number(data: object) -> tuple[str, object] | None:
    """(key path, value) of the first non-finite or too-long number, walked without recursion."""
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value))))
        elif isinstance(value, _TooManyDigits) or (isinstance(value, float) and not math.isfinite(value)):
            return path, value
    return None


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:12]}…({len(literal)} characters)"


def decode_json(data: bytes | str, name: str) -> object:
    """Decode an uploaded JSON file, refusing oversized, non-UTF-8, too deep, non-finite or malformed content."""
    check_size(name, len(data))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProfileError(key="error.not_utf8", name=name) from None
    if not data.strip():
        raise ProfileError(key="error.empty_file", name=name)
    if deeper_than(data, MAX_JSON_DEPTH):
        raise ProfileError(key="error.json_too_deep", name=name, max_depth=MAX_JSON_DEPTH)
    try:
        decoded = json.loads(data, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise ProfileError(key="error.not_json", name=name, line=exc.lineno, column=exc.colno, detail=exc.msg) from None
    absurd = _first_absurd_number(decoded)
    if absurd is not None:
        path, value = absurd
        if isinstance(value, _TooManyDigits):
            raise ProfileError(key="error.number_digits", name=name, path=path, literal=_shown(value),
                               digits=MAX_NUMBER_DIGITS)
        raise ProfileError(key="error.number_not_finite", name=name, path=path, literal=str(value))
    return decoded
