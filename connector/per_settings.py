"""What is derived from a settings object, remembered per object.

Loaded settings are never changed in place (a reload builds new objects), so a value built from
one (a policy's hash, a rule's term groups, the message templates dumped to dicts) can be kept
for as long as that object is used. An entry keeps its object alive and is checked by identity,
so an ``id`` reused by a later object cannot serve the earlier one's value.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class PerSettings:
    """A small cache of values built from settings objects, cleared whole past ``limit``."""

    def __init__(self, limit: int) -> None:
        self._entries: dict[tuple[int, Hashable], tuple[object, Any]] = {}
        self._limit = limit

    def get(self, settings: object, build: Callable[[Any], Any], what: Hashable = "") -> Any:
        """``build(settings)``, built once per ``settings`` object (and ``what``)."""
        key = (id(settings), what)
        cached = self._entries.get(key)
        if cached is not None and cached[0] is settings:
            return cached[1]
        value = build(settings)
        if len(self._entries) > self._limit:
            self._entries.clear()
        self._entries[key] = (settings, value)
        return value
