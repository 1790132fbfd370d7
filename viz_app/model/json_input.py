"""JSON files from users, decoded at one boundary: size, encoding and syntax checked before any model sees them."""

from __future__ import annotations

import json

from ..i18n import Text
from .errors import ProfileError

MAX_PROFILE_BYTES = 16 * 2**20  # real profiles are tens of KiB; this leaves room for raw keys


def check_size(name: str, size: int) -> None:
    if size > MAX_PROFILE_BYTES:
        raise ProfileError(key="error.too_large", name=name, mib=f"{size / 2**20:.1f}",
                           max_mib=MAX_PROFILE_BYTES // 2**20)


def json_kind(value: object) -> Text:
    """What a JSON value is ("an object", "a list", ...), for messages."""
    kinds = {dict: "kind.object", list: "kind.list", str: "kind.string", bool: "kind.boolean", type(None): "kind.null"}
    return Text(kinds.get(type(value), "kind.number"))


def decode_json(data: bytes | str, name: str) -> object:
    """Decode an uploaded JSON file, refusing oversized, non-UTF-8 or malformed content."""
    check_size(name, len(data))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProfileError(key="error.not_utf8", name=name) from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProfileError(key="error.not_json", name=name, line=exc.lineno, column=exc.colno, detail=exc.msg) from None
