"""``/metrics`` (Prometheus, open like ``/healthz``) and ``/dashboard`` (the HTML report; API key)."""

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


@bp.get("/dashboard")
def dashboard():
    require_api_key(allow_query=True)
    rt = runtime()
    now = rt.now()
    since = request.args.get("since") or "7d"
    try:
        start = parse_since(since, now)
    except ValueError as exc:
        raise BadRequest(
            str(exc), slug="bad-query", errors=[{"path": "since", "message": str(exc)}]
        ) from None
    team = request.args.get("team") or None
    if team is not None and team not in rt.settings.routing.teams:
        known = ", ".join(sorted(rt.settings.routing.teams))
        raise BadRequest(
            f"unknown team {team!r}; known: {known}",
            slug="bad-query",
            errors=[{"path": "team", "message": "unknown team"}],
        )
    report = build_report(rt.store, start, now, team=team)
    return Response(render_html(report, generated_at=now), mimetype="text/html")
