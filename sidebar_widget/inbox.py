"""``/inbox``: the built-in agent console: a filtered list of handoffs with the widget beside it.

Agents authenticate with an API key (header, or ``?key=`` for a browser). The widget part is the
same template as ``/widget/handoffs/{id}``, with a widget token minted for the selected handoff, so
its buttons use the same API; its forms also post here, so the console works without JavaScript.
Form posts are refused when the browser says they come from another origin.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, url_for
from markupsafe import Markup

from connector import live, service
from connector.api import parse_body, require_api_key, runtime
from connector.errors import BadRequest, Forbidden, NotFound
from connector.schemas import AgentMessageIn, Claim, Handback
from connector.store import HandoffRow
from sidebar_widget import view

bp = Blueprint("inbox", __name__, template_folder="templates")

FILTERS = [
    ("open", "Open"),
    ("waiting", "Waiting too long"),
    ("with_agent", "With agent"),
    ("handed_back", "Handed back"),
    ("all", "All"),
]


@bp.before_request
def _auth() -> None:
    require_api_key(allow_query=True)
    if request.method == "POST":
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and urlsplit(origin).netloc != request.host:
            raise Forbidden("cross-site form posts are refused", slug="cross-site-request")


@bp.after_request
def _headers(response: Response) -> Response:
    return view.secure(response, [])  # the console is never framed by a helpdesk


def _key() -> str:
    return request.args.get("key") or request.form.get("key") or ""


def _overdue(row: HandoffRow, now: datetime) -> bool:
    """Open past its respond-by time: the customer has waited longer than they were told."""
    respond_by = ((row.payload or {}).get("routing") or {}).get("respond_by")
    try:
        return bool(respond_by) and datetime.fromisoformat(str(respond_by)) < now
    except (TypeError, ValueError):
        return False


def _console(selected_id: str | None):  # type: ignore[no-untyped-def]
    rt = runtime()
    status = request.args.get("status", "open")
    if status not in dict(FILTERS):
        raise BadRequest(
            f"status must be one of {', '.join(dict(FILTERS))}",
            slug="bad-query",
            errors=[{"path": "status", "message": "unknown filter"}],
        )
    team = request.args.get("team") or None
    now = rt.now()
    with rt.store.reading() as tx:
        query = {"all": None, "waiting": "open"}.get(status, status)
        rows = tx.list_handoffs(status=query, team=team, limit=200)
        if status == "waiting":
            rows = [r for r in rows if _overdue(r, now)]
        teams = sorted({t for t in rt.settings.routing.teams} | {r.team for r in rows if r.team})
        selected = None
        if selected_id is not None:
            selected = tx.get_handoff(selected_id)
            if selected is None:
                raise NotFound(f"no handoff {selected_id!r}", slug="unknown-handoff")
        elif rows:
            selected = rows[0]
        widget = None
        if selected is not None:
            conversation = tx.get_conversation(selected.conversation_id)
            ctx = view.context(
                rt,
                selected,
                conversation,
                token=service.widget_token(rt, selected.id),
                mode="console",
                inbox_item=tx.get_inbox_item(selected.id),
                key=_key(),
                status=status,
                turns=live.turns(tx, selected),
            )
            widget = Markup(render_template("_widget.html", **ctx))  # autoescaped by the template
    items = [(r, _overdue(r, now)) for r in rows]
    return render_template(
        "inbox.html",
        items=items,
        status=status,
        team=team,
        teams=teams,
        filters=FILTERS,
        key=_key(),
        selected=selected,
        widget=widget,
    )


@bp.get("/inbox")
def inbox():
    return _console(None)


@bp.get("/inbox/<handoff_id>")
def inbox_item(handoff_id: str):
    return _console(handoff_id)


@bp.post("/inbox/<handoff_id>/claim")
def inbox_claim(handoff_id: str):
    actor = (request.form.get("actor") or "").strip() or "inbox agent"
    service.claim(runtime(), handoff_id, Claim(actor=actor))
    return redirect(url_for("inbox.inbox_item", handoff_id=handoff_id, key=_key()), code=303)


@bp.post("/inbox/<handoff_id>/reply")
def inbox_reply(handoff_id: str):
    """The console's reply box without JavaScript (with it, the page posts to the JSON API)."""
    text = (request.form.get("text") or "").strip()
    if not text:
        raise BadRequest(
            "a reply needs text",
            slug="validation-error",
            errors=[{"path": "text", "message": "required"}],
        )
    actor = (request.form.get("actor") or "").strip() or None
    live.post_agent_message(
        runtime(), handoff_id, AgentMessageIn(text=text), actor=actor, via="inbox"
    )
    return redirect(url_for("inbox.inbox_item", handoff_id=handoff_id, key=_key()), code=303)


@bp.post("/inbox/<handoff_id>/handback")
def inbox_handback(handoff_id: str):
    note = (request.form.get("note") or "").strip()
    if not note:
        raise BadRequest(
            "a handback needs a note for the bot",
            slug="validation-error",
            errors=[{"path": "note", "message": "required"}],
        )
    body = Handback(
        actor=(request.form.get("actor") or "").strip() or "inbox agent",
        note=note,
        resolution=(request.form.get("resolution") or None),
        resume_hint=(request.form.get("resume_hint") or None),
    )
    service.handback(runtime(), handoff_id, body)
    return redirect(url_for("inbox.inbox_item", handoff_id=handoff_id, key=_key()), code=303)


__all__ = ["bp", "parse_body"]
