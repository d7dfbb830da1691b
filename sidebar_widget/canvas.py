"""Intercom inbox app (Canvas Kit): the handoff in the conversation details panel.

``POST /v1/intercom/canvas/initialize`` and ``/submit`` are called by Intercom, signed with the
app's client secret: ``X-Body-Signature`` = hex HMAC-SHA256 of the raw body
(``widget.intercom_client_secret``), checked before the body is parsed. The handoff is found by the
conversation's ``handoff_id`` custom attribute (set by the Intercom destination), else by the
conversation id, and carried in the canvas's ``stored_data``. Answers are Canvas Kit JSON: the
summary, the draft in a text area with "Insert draft into reply" (a card in the reply composer,
through ``card_creation_options``), the next action, Take over and Hand back, and a link to the
full widget. Domain errors (a conflict, a missing note) are shown in the canvas, not as HTTP errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from flask import Blueprint, Response, request

from connector import drafts, limits, service
from connector.api import json_response, runtime
from connector.errors import BadRequest, ProblemError, Unauthorized
from connector.schemas import Claim, Handback
from connector.store import HandoffRow

bp = Blueprint("canvas", __name__)

SIGNATURE_HEADER = "X-Body-Signature"
_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md(text: Any) -> str:
    """Customer and bot text inside Canvas Kit's Markdown: shown as typed, never as links or bold."""
    return _MD.sub(r"\\\1", str(text or ""))


def _verify() -> dict[str, Any]:
    secret = runtime().settings.widget.intercom_client_secret
    if not secret:
        raise Unauthorized(
            "the Intercom inbox app is not configured (widget.intercom_client_secret)",
            slug="canvas-not-configured",
        )
    body = request.get_data(cache=True)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    presented = (request.headers.get(SIGNATURE_HEADER) or "").strip().lower()
    if not presented or not hmac.compare_digest(expected, presented):
        raise Unauthorized(
            f"{SIGNATURE_HEADER} does not match the body and the app's client secret",
            slug="bad-signature",
        )
    try:
        data = limits.loads(body or b"{}", runtime().settings.limits)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("the body is not JSON", slug="malformed-json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", slug="malformed-json")
    return data


def _actor(req: dict[str, Any]) -> str:
    admin = req.get("admin") or {}
    return f"intercom:{admin.get('name') or admin.get('email') or admin.get('id') or 'teammate'}"[
        :200
    ]


def _find(req: dict[str, Any]) -> HandoffRow | None:
    stored = ((req.get("current_canvas") or {}).get("current_canvas") or {}).get(
        "stored_data"
    ) or {}
    conversation = req.get("conversation") or {}
    attributes = conversation.get("custom_attributes") or {}
    with runtime().store.reading() as tx:
        for handoff_id in (stored.get("handoff_id"), attributes.get("handoff_id")):
            if handoff_id and (row := tx.get_handoff(str(handoff_id))) is not None:
                return row
        if conversation.get("id") is not None:
            return tx.latest_handoff_for_conversation(str(conversation["id"]))
    return None


def _text(text: str, style: str = "paragraph", **kw: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, "style": style, **kw}


def _submit(component_id: str, label: str, style: str = "primary") -> dict[str, Any]:
    return {
        "type": "button",
        "id": component_id,
        "label": label,
        "style": style,
        "action": {"type": "submit"},
    }


def canvas(
    row: HandoffRow | None,
    *,
    actor: str,
    draft: str | None = None,
    message: str | None = None,
    error: str | None = None,
    note_error: bool = False,
) -> dict[str, Any]:
    """The canvas object for one handoff (or a "nothing here" canvas)."""
    if row is None:
        return {
            "content": {
                "components": [
                    _text("Handoff", "header"),
                    _text("No bot handoff for this conversation.", "muted"),
                ]
            }
        }
    rt = runtime()
    with rt.store.reading() as tx:
        conversation = tx.get_conversation(row.conversation_id)
    current = (
        conversation is not None
        and conversation.handoff_id == row.id
        and conversation.owner != "bot"
    )
    owner = conversation.owner if current and conversation else "bot"
    p = row.payload or {}
    customer = p.get("customer") or {}
    status = {
        "pending_agent": "Waiting for an agent",
        "agent": f"With {row.claimed_by or 'an agent'}",
        "bot": "Handed back to the bot" if row.status == "handed_back" else "With the bot",
    }[owner]
    components: list[dict[str, Any]] = [
        _text(md(customer.get("name") or customer.get("id") or "Customer"), "header"),
        _text(md(f"{status} · {row.team or 'unrouted'} · {row.priority}"), "muted"),
    ]
    if message:
        components.append(_text(md(message)))
    if error:
        components.append(_text(md(error), "error"))
    components.append(_text(md(p.get("summary") or "No summary.")))
    components.append({"type": "divider"})
    original = p.get("draft_reply")
    if original:
        components += [
            {
                "type": "textarea",
                "id": "draft",
                "label": "Draft reply",
                "value": draft if draft is not None else original,
            },
            _submit("use_draft", "Insert draft into reply"),
        ]
    next_action = p.get("next_action") or {}
    if next_action.get("action"):
        components.append(_text(f"*Next action:* {md(next_action['action'])}"))
        if next_action.get("reasoning"):
            components.append(_text(md(next_action["reasoning"]), "muted"))
    reasons = ((p.get("escalation") or {}).get("reasons")) or []
    if reasons:
        why = "; ".join(
            f"{r.get('trigger', '')}: {r.get('detail', '')}".strip(": ") for r in reasons
        )
        components.append(_text("*Why:* " + md(why), "muted"))
    links = [
        f"[{md(c.get('title'))}]({c['url']})"
        for c in p.get("citations") or []
        if str(c.get("url") or "").startswith(("https://", "http://"))
        and " " not in c["url"]
        and ")" not in c["url"]
    ]
    if links:
        components.append(_text("*Sources:* " + ", ".join(links)))
    sentiment = p.get("sentiment") or {}
    if sentiment.get("label"):
        components.append(
            _text(
                md(f"Sentiment: {sentiment['label']} ({sentiment.get('trend', 'steady')})"), "muted"
            )
        )
    components.append({"type": "divider"})
    if current and owner == "pending_agent":
        components.append(_submit("take_over", "Take over"))
    if current:
        components += [
            {
                "type": "textarea",
                "id": "handback_note",
                "label": "Note for the bot (required)",
                "placeholder": "What was done; the bot resumes from this",
                "error": note_error,
            },
            {"type": "input", "id": "resolution", "label": "Resolution", "placeholder": "resolved"},
            {
                "type": "input",
                "id": "resume_hint",
                "label": "Resume hint",
                "placeholder": "offer_survey",
            },
            _submit("hand_back", "Hand back to bot", "secondary"),
        ]
    components.append(
        {
            "type": "button",
            "id": "open_widget",
            "label": "Open the full handoff",
            "style": "link",
            "action": {"type": "url", "url": service.widget_url(rt, row.id, agent=actor)},
        }
    )
    return {"content": {"components": components}, "stored_data": {"handoff_id": row.id}}


@bp.post("/v1/intercom/canvas/initialize")
def initialize() -> Response:
    req = _verify()
    options = req.get("card_creation_options") or {}
    if isinstance(options.get("draft"), str):
        # the card inserted into the reply composer by "Insert draft into reply"
        return json_response({"canvas": {"content": {"components": [_text(md(options["draft"]))]}}})
    return json_response({"canvas": canvas(_find(req), actor=_actor(req))})


@bp.post("/v1/intercom/canvas/submit")
def submit() -> Response:
    req = _verify()
    rt = runtime()
    row = _find(req)
    actor = _actor(req)
    values = req.get("input_values") or {}
    component = req.get("component_id")
    if row is None:
        return json_response({"canvas": canvas(None, actor=actor)})
    answer: dict[str, Any] = {}
    try:
        if component == "use_draft":
            text = str(values.get("draft") or (row.payload or {}).get("draft_reply") or "")
            drafts.record(
                rt,
                row.id,
                drafts.DraftEvent(action="inserted", final_text=text),
                actor=actor,
                via="intercom",
            )
            answer = {"card_creation_options": {"handoff_id": row.id, "draft": text}}
            result = canvas(row, actor=actor, draft=text, message="Draft added to the reply.")
        elif component == "take_over":
            service.claim(rt, row.id, Claim(actor=actor))
            result = canvas(_find(req), actor=actor, message="You own the conversation now.")
        elif component == "hand_back":
            note = str(values.get("handback_note") or "").strip()
            if not note:
                result = canvas(
                    row, actor=actor, error="Write a note for the bot first.", note_error=True
                )
            else:
                service.handback(
                    rt,
                    row.id,
                    Handback(
                        actor=actor,
                        note=note[:5000],
                        resolution=str(values.get("resolution") or "").strip()[:200] or None,
                        resume_hint=str(values.get("resume_hint") or "").strip()[:2000] or None,
                    ),
                )
                result = canvas(_find(req), actor=actor, message="Handed back to the bot.")
        else:
            result = canvas(row, actor=actor)
    except ProblemError as exc:
        result = canvas(_find(req), actor=actor, error=exc.detail or exc.title)
    return json_response({"canvas": result, **answer})
