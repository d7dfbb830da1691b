"""The widget's own API. Agents are authenticated by ``connector.agents`` (an API key, or a widget
token bound to one handoff).

Endpoints here: ``POST /v1/handoffs/{id}/draft-events`` and ``POST /v1/widget/sessions`` (a
helpdesk back-end, holding an API key, exchanges a handoff or conversation id for a widget link).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint
from pydantic import Field, model_validator

from connector import drafts, service
from connector.agents import authenticate_agent
from connector.api import json_response, parse_body, require_api_key, runtime
from connector.errors import NotFound
from connector.schemas import Strict

bp = Blueprint("widget_api", __name__)


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
