"""How ``AMCCLConfig.replace`` checks a value and how ``override`` / ``--set key=value`` turn strings
into ``bool``, ``int``, ``float``, tuples and ``None``; errors name the key and the expected type."""

from __future__ import annotations

import typing
from typing import Any

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the field's type; strings are parsed as the CLI writes them."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if origin is typing.Union or (origin is not None and type(None) in args):  # X | None
            if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
                return None
            return coerce(key, value, next(a for a in args if a is not type(None)))
        if origin is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            items = [i.strip() if isinstance(i, str) else i for i in items]  # "text, audio"
            items = [i for i in items if not (isinstance(i, str) and not i)]
            return tuple(coerce(key, i, args[0]) for i in items)
        if hint in (bool, str):  # a value of that type as it is, or "true" / "off" ... for a bool
            if hint is bool and isinstance(value, str) and value.lower() in _TRUE | _FALSE:
                return value.lower() in _TRUE
            if not isinstance(value, hint):
                raise ValueError
        if hint in (int, float) and isinstance(value, bool):
            raise ValueError
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value, 10)
        if hint is float:
            return float(value)
    except (ValueError, TypeError):
        pass
    else:
        return value
    name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    raise TypeError(f"config key {key!r} expects {name}, got {value!r}")
