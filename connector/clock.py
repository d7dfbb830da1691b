"""One home for time: the connector's clock and the one text form its timestamps take."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The real clock. Anything that reads time takes a clock (``Runtime.now``) so tests own it."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The stored and sent form of a moment: ISO 8601 with microseconds (sorts as text)."""
    return moment.isoformat(timespec="microseconds")
