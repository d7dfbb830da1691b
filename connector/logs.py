"""Log lines that carry their ids: ``text`` (one line, ``key=value`` fields) or ``json`` (JSON lines).

Code logs with ``logger.info("handoff opened", extra={"conversation": ..., "handoff": ...})``; the
formatters here print every field of ``FIELDS`` the record carries, so the ids are never dropped
(the standard formatter prints only the message). ``connector/api/access.py`` adds one line per
HTTP request on ``ACCESS_LOGGER``. Nothing here imports the web framework: the worker logs too.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The structured fields a line may carry, in print order.
FIELDS = (
    "conversation",
    "handoff",
    "source",
    "destination",
    "agent",
    "team",
    "outbox",
    "kind",
    "method",
    "path",
    "status",
    "duration_ms",
    "attempts",
    "error",
    "edit_distance",
    "changed",
)
ACCESS_LOGGER = "connector.access"


def log_fields(row: Any) -> dict[str, Any]:
    """The ``extra`` of a log line about an outbox row: which row, what, to where, for whom."""
    return {
        "outbox": row.id,
        "kind": row.kind,
        "destination": row.target,
        "handoff": row.handoff_id,
        "conversation": row.conversation_id,
    }


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: record.__dict__[k] for k in FIELDS if record.__dict__.get(k) is not None}


def _plain(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c in text for c in ' "=\n')) else text


class TextFormatter(logging.Formatter):
    """``2026-12-05 12:00:00,123 INFO connector.service handoff opened conversation=c1 handoff=ho_…``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # a traceback stays below the fields
        return head + " " + " ".join(f"{k}={_plain(v)}" for k, v in fields.items()) + sep + tail


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``at``, ``level``, ``logger``, ``message``, the fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, fmt: str = "text") -> None:
    """Send the root logger's lines to stderr in ``fmt`` (text or json), replacing earlier handlers
    this module installed (``serve`` and ``worker`` call it once; tests may call it again)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_handoff", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._handoff = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
