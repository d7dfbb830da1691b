"""``/inbox``: the built-in inbox, a plain server-rendered page of handoffs and their payloads.

Agents authenticate with an API key (header, or ``?key=`` for a browser). Forms post back with the
key and are refused when the browser says they come from another origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for

from connector import service
from connector.api import parse_body, require_api_key, runtime
from connector.errors import BadRequest, Forbidden, NotFound
from connector.schemas import Claim, Handback

bp = Blueprint("inbox", __name__, template_folder="templates")


@bp.before_request
def _auth() -> None:
    require_api_key(allow_query=True)
    if request.method == "POST":
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and urlsplit(origin).netloc != request.host:
            raise Forbidden("cross-site form posts are refused", slug="cross-site-request")


def _key() -> str:
    return request.args.get("key") or request.form.get("key") or ""


@bp.get("/inbox")
def inbox():
    status = request.args.get("status", "open")
    with runtime().store.reading() as tx:
        rows = tx.list_handoffs(status=None if status == "all" else status, limit=200)
        items = [(row, tx.get_inbox_item(row.id)) for row in rows]
    return render_template("inbox.html", items=items, status=status, key=_key(), selected=None)


@bp.get("/inbox/<handoff_id>")
def inbox_item(handoff_id: str):
    with runtime().store.reading() as tx:
        row = tx.get_handoff(handoff_id)
        if row is None:
            raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
        item = tx.get_inbox_item(handoff_id)
        conversation = tx.get_conversation(row.conversation_id)
    return render_template("inbox.html", items=[(row, item)], status=row.status, key=_key(),
                           selected=row, owner=conversation.owner if conversation else None)


@bp.post("/inbox/<handoff_id>/claim")
def inbox_claim(handoff_id: str):
    actor = (request.form.get("actor") or "").strip() or "inbox agent"
    service.claim(runtime(), handoff_id, Claim(actor=actor))
    return redirect(url_for("inbox.inbox_item", handoff_id=handoff_id, key=_key()), code=303)


@bp.post("/inbox/<handoff_id>/handback")
def inbox_handback(handoff_id: str):
    note = (request.form.get("note") or "").strip()
    if not note:
        raise BadRequest("a handback needs a note for the bot", slug="validation-error",
                         errors=[{"path": "note", "message": "required"}])
    body = Handback(actor=(request.form.get("actor") or "").strip() or "inbox agent", note=note,
                    resolution=(request.form.get("resolution") or None),
                    resume_hint=(request.form.get("resume_hint") or None))
    service.handback(runtime(), handoff_id, body)
    return redirect(url_for("inbox.inbox_item", handoff_id=handoff_id, key=_key()), code=303)


__all__ = ["bp", "parse_body"]
