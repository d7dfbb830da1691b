"""``create_app(settings)``: the Flask application. Nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from connector import throttle
from connector.api import from_problem, problem_response
from connector.api.access import install_access_log
from connector.clock import utcnow
from connector.config import Settings, load_config
from connector.errors import ProblemError
from connector.runtime import Runtime, build_runtime
from connector.store import Store

logger = logging.getLogger(__name__)

# HTML pages without a policy of their own (the dashboard): inline styles and SVG only, no script,
# no framing. The report file carries the same policy in a <meta> tag (connector/report_template.py).
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    """Build the app around a runtime (made from ``settings`` unless one is given)."""
    if runtime is None:
        runtime = build_runtime(settings or load_config(), store=store, clock=clock)
    app = Flask("connector", static_folder=None)  # no files of its own: the widget serves its own
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["handoff"] = runtime

    _register_blueprints(app)
    _install_headers(app)
    throttle.install(app, runtime)  # 429 for addresses guessing API keys (docs/operations.md)
    install_access_log(app)  # one line per request on connector.access (connector/api/access.py)
    _install_error_handlers(app, runtime)
    return app


def _register_blueprints(app: Flask) -> None:
    from connector.api import dashboard, events, handoffs, health, pages, webhooks
    from sidebar_widget import canvas, inbox, live, transcript, widget, widget_api

    for blueprint in (
        events.bp,
        handoffs.bp,
        health.bp,
        inbox.bp,
        pages.bp,
        webhooks.bp,
        # the agent widget, its API, the live view and the Intercom inbox app (docs/widget.md)
        widget_api.bp,
        widget.bp,
        canvas.bp,
        live.bp,
        transcript.bp,  # the signed "Full transcript" links of helpdesk notes
        # /metrics and /dashboard (docs/operations.md)
        dashboard.bp,
    ):
        app.register_blueprint(blueprint)


def _install_headers(app: Flask) -> None:
    @app.after_request
    def _hygiene(response):  # type: ignore[no-untyped-def]
        # Runs after the blueprints' own (the widget and the inbox set stricter, framed policies):
        # every answer is nosniff, and an HTML page nobody secured is never framed or cached.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
            response.headers.setdefault("Referrer-Policy", "no-referrer")  # ?key= in the URL
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _install_error_handlers(app: Flask, runtime: Runtime) -> None:
    """Every error is a problem JSON (RFC 9457): ours, the framework's, and bugs."""

    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError):  # type: ignore[no-untyped-def]
        if exc.status >= 500:  # the store is busy or cannot write: the operator needs to know
            logger.error("%s %s: %s", request.method, request.path, exc)
        if exc.slug in throttle.FAILED_AUTH:
            throttle.record(runtime, exc)
        return from_problem(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        detail = exc.description or ""
        if status == 413:
            detail = f"the body is larger than server.max_body_bytes ({runtime.settings.server.max_body_bytes} bytes)"
        slug = (exc.name or "error").lower().replace(" ", "-")
        response = problem_response(status, exc.name or "Error", detail, slug)
        for name, value in exc.get_headers():  # 405's Allow, 401's WWW-Authenticate, …
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        logger.exception("unhandled error")
        return problem_response(
            500, "Internal error", "the connector failed; the error is logged", "internal"
        )
