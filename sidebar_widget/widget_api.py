"""Agent authentication for the widget, and the widget's own API.

An agent-facing request is authenticated one of two ways:
- an API key (``Authorization: Bearer`` or ``X-API-Key``): tools, helpdesk back-ends, the console;
- a widget token (``X-Widget-Token``, see ``connector.security``): the widget page in a browser.
  It opens one handoff only. State-changing requests made with it must also come from the widget's
  own origin (``Origin``/``Sec-Fetch-Site``) and echo the page's ``X-CSRF-Token``.

Endpoints here: ``POST /v1/handoffs/{id}/draft-events`` and ``POST /v1/widget/sessions`` (a
helpdesk back-end, holding an API key, exchanges a handoff or conversation id for a widget link).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, request
from pydantic import Field, model_validator

from connector import drafts, security, service
from connector.api import json_response, parse_body, require_api_key, runtime
from connector.errors import Forbidden, NotFound
from connector.schemas import Strict

bp = Blueprint("widget_api", __name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Principal:
    kind: str  # "api_key" | "widget"
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def agent(self) -> str | None:
        value = self.claims.get("agent")
        return str(value) if value else None

    def acting_as(self, named: str | None) -> str | None:
        """Who acts: the agent a widget token was issued for, whatever the request names.

        The helpdesk back-end vouched for who is looking when it asked for the link; the audit
        trail and first-response times must not name someone else.
        """
        return self.agent or named


def check_same_origin() -> None:
    """Refuse a state-changing browser request that does not come from the connector's own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        raise Forbidden(
            f"cross-site request refused (Sec-Fetch-Site: {site})", slug="cross-site-request"
        )
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        origin = request.headers.get("Referer")
    if not origin:
        raise Forbidden(
            "widget actions must carry an Origin header (send them from the widget page)",
            slug="cross-site-request",
        )
    seen = urlsplit(origin)
    allowed = {request.host}
    public = runtime().settings.server.public_url
    if public:
        allowed.add(urlsplit(public).netloc)
    if seen.netloc not in allowed:
        raise Forbidden(
            f"cross-site request from {seen.scheme}://{seen.netloc} refused",
            slug="cross-site-request",
        )


def authenticate_agent(handoff_id: str | None) -> Principal:
    """API key, or a widget token bound to ``handoff_id`` (plus origin and CSRF checks on writes)."""
    rt = runtime()
    token = request.headers.get(security.WIDGET_TOKEN_HEADER)
    if not token:
        require_api_key()
        return Principal("api_key")
    if handoff_id is None:
        raise Forbidden(
            "a widget token opens one handoff; listing handoffs needs an API key",
            slug="widget-token-scope",
        )
    claims = security.verify_widget_token(
        rt.settings.widget.secret, token, handoff_id, now=rt.now().timestamp()
    )
    if request.method not in SAFE_METHODS:
        check_same_origin()
        security.check_csrf(
            rt.settings.widget.secret, token, request.headers.get(security.CSRF_HEADER)
        )
    return Principal("widget", claims)


@bp.post("/v1/handoffs/<handoff_id>/draft-events")
def post_draft_event(handoff_id: str):
    principal = authenticate_agent(handoff_id)
    event = parse_body(drafts.DraftEvent)
    actor = principal.acting_as(event.actor) or ("widget" if principal.kind == "widget" else "api")
    row = drafts.record(runtime(), handoff_id, event, actor=actor, via=principal.kind)
    return json_response(row, status=201)


class WidgetSession(Strict):
    """``POST /v1/widget/sessions``: which handoff to open, by its id or its conversation's id."""

    handoff_id: str | None = Field(default=None, max_length=200)
    conversation_id: str | None = Field(default=None, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    host_origin: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_of(self) -> WidgetSession:
        if not (self.handoff_id or self.conversation_id):
            raise ValueError("give handoff_id or conversation_id")
        return self


@bp.post("/v1/widget/sessions")
def create_session():
    """A helpdesk back-end (Zendesk secure request, Salesforce Apex, any proxy) gets a widget link."""
    require_api_key()
    body = parse_body(WidgetSession)
    rt = runtime()
    with rt.store.reading() as tx:
        row = tx.get_handoff(body.handoff_id) if body.handoff_id else None
        if row is None and body.conversation_id:
            row = tx.latest_handoff_for_conversation(body.conversation_id)
    if row is None:
        raise NotFound("no handoff for that handoff_id or conversation_id", slug="unknown-handoff")
    token = service.widget_token(rt, row.id, body.agent)
    url = service.widget_url(rt, row.id, token=token)
    if body.host_origin:
        url += "&host_origin=" + quote(body.host_origin, safe="")
    expires = rt.now().timestamp() + rt.settings.widget.token_ttl_seconds
    return json_response(
        {
            "handoff_id": row.id,
            "status": row.status,
            "widget_url": url,
            "token": token,
            "expires_at": int(expires),
        }
    )
