"""Typed reads of a cassette's JSON values: each failure is one line naming the field.

    answer.usage.input_tokens must be an integer of 0 or more, got -1

A cassette is edited by hand and copied between runs, so every value is checked for its
type once, on load, and a field this version does not know is refused rather than ignored
(it may change what the run does). Raises TypeError or ValueError; the loader adds the
file and line.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["MISSING", "count", "items", "known", "obj", "shown", "text"]

MISSING: Any = object()
"""The default of a required field."""


def shown(value: Any) -> str:
    """`value` as JSON, clipped: what an error message shows of it."""
    try:
        said = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        said = repr(value)
    return said if len(said) <= 120 else said[:119] + "…"


def _get(data: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key in data:
        return data[key]
    if default is MISSING:
        raise ValueError(f"{where}.{key} is missing")
    return default


def text(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> str:
    """`data[key]`, a string."""
    value = _get(data, key, where, default)
    if not isinstance(value, str):
        raise TypeError(f"{where}.{key} must be a string, got {shown(value)}")
    return value


def count(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> int:
    """`data[key]`, an integer of 0 or more (never a boolean)."""
    value = _get(data, key, where, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{where}.{key} must be an integer of 0 or more, got {shown(value)}")
    return value


def obj(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> dict[str, Any]:
    """`data[key]`, an object."""
    value = _get(data, key, where, default)
    if not isinstance(value, dict):
        raise TypeError(f"{where}.{key} must be an object, got {shown(value)}")
    return value


def items(data: Mapping[str, Any], key: str, where: str, default: Any = MISSING) -> list[dict[str, Any]]:
    """`data[key]`, a list of objects."""
    value = _get(data, key, where, default)
    if not isinstance(value, list):
        raise TypeError(f"{where}.{key} must be a list, got {shown(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise TypeError(f"{where}.{key}[{index}] must be an object, got {shown(item)}")
    return value


def known(data: Mapping[str, Any], keys: Collection[str], where: str) -> None:
    """Every key of `data` is one of `keys`: a field this version does not write is refused."""
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]} is not a field this pytest-specbench writes (a newer version's?)"
        )
