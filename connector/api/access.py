"""The access log: one INFO line on ``connector.access`` per request (``connector/logs.py`` formats
it): method, path (never the query string: it may hold a key), status, duration, and the bot
source or agent when the request names one (never a token or a signature)."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import g, request

from connector.logs import ACCESS_LOGGER
from connector.security import SOURCE_HEADER


def install_access_log(app: Any) -> None:
    """One INFO line on ``connector.access`` per request, after the answer is built."""
    logger = logging.getLogger(ACCESS_LOGGER)

    @app.before_request
    def _started() -> None:
        g.handoff_started = time.perf_counter()

    @app.after_request
    def _access(response):  # type: ignore[no-untyped-def]
        if not logger.isEnabledFor(logging.INFO):  # the line would be dropped: build nothing
            return response
        started = g.get("handoff_started")
        extra: dict[str, Any] = {
            "method": request.method,
            "path": request.path,  # never request.full_path: the query may carry ?key=
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "source": request.headers.get(SOURCE_HEADER) or (request.view_args or {}).get("source"),
            "agent": getattr(g.get("principal"), "agent", None),
        }
        logger.info("%s %s %s", request.method, request.path, response.status_code, extra=extra)
        return response
