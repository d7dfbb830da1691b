"""Agent-facing endpoints: read handoffs, take over, write to the customer, hand back.

API key (with a typed actor), an agent's own key, or a widget token (``connector/agents.py``)."""

from __future__ import annotations

from flask import Blueprint, g, request

from connector import live, security, service
from connector.api import M, json_response, parse_body, runtime
from connector.errors import BadRequest, NotFound
from connector.schemas import AgentMessageIn, Claim, Handback, HandoffList, HandoffView
from connector.store import HandoffRow, Tx

bp = Blueprint("handoffs", __name__)

STATUSES = ("open", "with_agent", "handed_back", "closed")


@bp.before_request
def _auth() -> None:
    # an API key, or the widget's token for this one handoff (connector/agents.py)
    from connector.agents import authenticate_agent

    g.principal = authenticate_agent((request.view_args or {}).get("handoff_id"))


def _as_token_agent(body: M) -> M:
    """``body`` with the actor the request is authenticated as (``Principal.acting_as``)."""
    named = getattr(body, "actor", None)
    actor = g.principal.acting_as(named)
    return body if actor == named else body.model_copy(update={"actor": actor})


def handoff_view(tx: Tx, row: HandoffRow, *, with_turns: bool = False) -> HandoffView:
    conversation = tx.get_conversation(row.conversation_id)
    assert conversation is not None
    refs = tx.get_ticket_refs(row.id)
    return HandoffView(
        id=row.id,
        conversation_id=row.conversation_id,
        source=row.source,
        status=row.status,  # type: ignore[arg-type]
        team=row.team,
        priority=row.priority,  # type: ignore[arg-type]
        created_at=row.created_at,  # type: ignore[arg-type]
        updated_at=row.updated_at,  # type: ignore[arg-type]
        control=service.control_of(conversation),
        payload=row.payload,  # type: ignore[arg-type]
        deliveries=[{"destination": name, **ref} for name, ref in sorted(refs.items())],
        widget_url=_widget_link(row.id),
        turns=live.turns(tx, row) if with_turns else None,
    )


def _widget_link(handoff_id: str) -> str:
    """A fresh widget link for an API key; for a widget token, the link it already is: a token must
    not mint itself a new one (that would dodge revocation and the session limit)."""
    if g.principal.kind == "widget":
        return service.widget_url(
            runtime(), handoff_id, token=request.headers[security.WIDGET_TOKEN_HEADER]
        )
    return service.widget_url(runtime(), handoff_id)


@bp.get("/v1/handoffs")
def list_handoffs():
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(
            f"status must be one of {', '.join(STATUSES)}",
            slug="bad-query",
            errors=[{"path": "status", "message": "unknown status"}],
        )
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 1000:
        raise BadRequest(
            "limit must be an integer from 1 to 1000",
            slug="bad-query",
            errors=[{"path": "limit", "message": "out of range"}],
        )
    with runtime().store.reading() as tx:
        rows = tx.list_handoffs(status=status, team=request.args.get("team") or None, limit=limit)
        items = [handoff_view(tx, row) for row in rows]
    return json_response(HandoffList(items=items))


@bp.get("/v1/handoffs/<handoff_id>")
def get_handoff(handoff_id: str):
    with runtime().store.reading() as tx:
        row = tx.get_handoff(handoff_id)
        if row is None:
            raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
        return json_response(handoff_view(tx, row, with_turns=True))


@bp.post("/v1/handoffs/<handoff_id>/claim")
def claim(handoff_id: str):
    return json_response(service.claim(runtime(), handoff_id, _as_token_agent(parse_body(Claim))))


@bp.post("/v1/handoffs/<handoff_id>/handback")
def handback(handoff_id: str):
    return json_response(
        service.handback(runtime(), handoff_id, _as_token_agent(parse_body(Handback)))
    )


IDEMPOTENCY_HEADER = "Idempotency-Key"


@bp.post("/v1/handoffs/<handoff_id>/messages")
def post_message(handoff_id: str):
    """The owning agent writes to the customer; relayed by the bot as ``agent.message``."""
    body = _as_token_agent(parse_body(AgentMessageIn))
    key = request.headers.get(IDEMPOTENCY_HEADER) or None
    if key is not None and len(key) > 200:
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER} is longer than 200 characters",
            slug="bad-header",
            errors=[{"path": IDEMPOTENCY_HEADER, "message": "too long"}],
        )
    via = "widget" if g.principal.kind == "widget" else "api"
    out = live.post_agent_message(
        runtime(), handoff_id, body, actor=body.actor, via=via, idempotency_key=key
    )
    return json_response(out, status=200 if out.duplicate else 201)
