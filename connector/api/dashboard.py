"""``/metrics`` (Prometheus, open like ``/healthz``) and ``/dashboard`` (the HTML report; API key).

The dashboard takes ``since`` (7d, 24h, … or a date), ``team`` and ``source`` as query filters;
bad ones are 400 problems worded for the form's fields, not for the CLI's options."""

from __future__ import annotations

from flask import Blueprint, Response, request

from connector import metrics
from connector.api import require_api_key, runtime
from connector.errors import BadRequest
from connector.kpis import parse_since
from connector.report import build_report, render_html

bp = Blueprint("dashboard", __name__)


@bp.get("/metrics")
def prometheus_metrics():
    return Response(
        metrics.of(runtime()).render(), mimetype=None, content_type=metrics.CONTENT_TYPE
    )


def _choice(name: str, known: list[str], what: str) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in known:
        message = f"unknown {what} {value!r}; known: {', '.join(known) or 'none configured'}"
        raise BadRequest(
            message, slug="bad-query", errors=[{"path": name, "message": f"unknown {what}"}]
        )
    return value


@bp.get("/dashboard")
def dashboard():
    require_api_key(allow_query=True)
    rt = runtime()
    now = rt.now()
    since = request.args.get("since") or "7d"
    try:
        start = parse_since(since, now, label="the period")
    except ValueError as exc:
        raise BadRequest(
            str(exc), slug="bad-query", errors=[{"path": "since", "message": str(exc)}]
        ) from None
    teams = sorted(rt.settings.routing.teams)
    sources = sorted(rt.settings.sources)
    team = _choice("team", teams, "team")
    source = _choice("source", sources, "source")
    report = build_report(
        rt.store, start, now, team=team, source=source, targets=rt.settings.report.model_dump()
    )
    nav = {
        "since": since,
        "teams": teams,
        "sources": sources,
        "key": request.args.get("key") or None,
    }
    return Response(render_html(report, generated_at=now, nav=nav), mimetype="text/html")
