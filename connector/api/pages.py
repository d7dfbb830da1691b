"""``/`` (a small landing page) and ``/docs`` (the OpenAPI document, rendered).

``/docs`` renders ``/openapi.json`` with Swagger UI from the ``swagger-ui-bundle`` package, served
from this process (``/docs/static/...``): nothing is fetched from a CDN, and the page's policy
allows scripts from this origin only. Both pages are open, like ``/healthz`` and
``/openapi.json``: they show no data.
"""

from __future__ import annotations

from html import escape
from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, Response, abort, send_from_directory

from connector.api import runtime

bp = Blueprint("pages", __name__)

# Swagger UI builds its page with inline styles and fetches /openapi.json; scripts only from here.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>handoff-connector API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" href="/docs/static/favicon-32x32.png"></head>
<body><div id="api"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
DOCS_INIT = (
    "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#api', deepLinking: true});\n"
)


def _version() -> str:
    try:
        return version("handoff-connector")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


@bp.get("/")
def landing():
    try:
        runtime().store.ping()
        store = "ready"
    except Exception as exc:  # the page still answers: it is where an operator looks first
        store = f"not ready: {type(exc).__name__}"
    links = [
        ("/inbox", "Inbox", "handoffs waiting for an agent (API key)"),
        ("/dashboard", "Dashboard", "handoff KPIs and charts (API key)"),
        ("/docs", "API docs", "every endpoint, from the OpenAPI document"),
        ("/openapi.json", "OpenAPI document", "the same, as JSON"),
        ("/docs/api.md", "Bot API guide", "the inbound event in words, signing, a worked example"),
        ("/healthz", "Health", "the process answers"),
        ("/readyz", "Readiness", "the store can write"),
        ("/metrics", "Metrics", "Prometheus"),
    ]
    items = "".join(
        f'<li><a href="{href}">{escape(name)}</a> — {escape(what)}</li>'
        for href, name, what in links
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>handoff-connector</title>'
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
        "</style></head><body><h1>handoff-connector</h1>"
        f"<p>Version {escape(_version())} · store {escape(runtime().store.name)}: {escape(store)}</p>"
        f"<ul>{items}</ul></body></html>"
    )
    return Response(page, mimetype="text/html")


@bp.get("/docs")
def docs():
    response = Response(DOCS_PAGE, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@bp.get("/docs/api.md")
def docs_api_guide():
    """``docs/api.md`` as written, from the source tree the connector runs from (a checkout or
    the source distribution); a wheel has no ``docs/``: then a 404 saying where to read it."""
    from pathlib import Path

    from connector.errors import NotFound

    guide = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    if not guide.is_file():
        raise NotFound(
            "docs/api.md is not installed with the package; read it in the source repository",
            slug="guide-not-installed",
        )
    return Response(guide.read_bytes(), mimetype="text/markdown")


@bp.get("/docs/init.js")
def docs_init():
    return Response(DOCS_INIT, mimetype="text/javascript")


@bp.get("/docs/static/<name>")
def docs_static(name: str):
    if name not in DOCS_ASSETS:
        abort(404)
    from swagger_ui_bundle import swagger_ui_path

    return send_from_directory(swagger_ui_path, name, max_age=3600)
