"""What the widget template needs, built from stored rows; and the headers every agent page gets.

Shared by the widget page (``/widget/handoffs/{id}``) and the console (``/inbox``): one template,
``_widget.html``, renders one handoff in both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Response

from connector import links, live, security
from connector.runtime import Runtime
from connector.schemas import TurnView
from connector.store import ConversationRow, HandoffRow

OWNER_TEXT = {
    "pending_agent": "Waiting for an agent",
    "agent": "With an agent",
    "bot": "With the bot",
}
RESOLUTIONS = [
    ("resolved", "Resolved"),
    ("partially_resolved", "Partly resolved"),
    ("unresolved", "Not resolved"),
    ("no_action_needed", "No action needed"),
]
RESUME_HINTS = ["continue", "confirm_resolution", "offer_survey", "close_conversation"]


def csp(frame_ancestors: list[str]) -> str:
    """Only our own files; no inline code; framed only by the configured helpdesk origins."""
    ancestors = " ".join(["'self'", *frame_ancestors])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


def secure(response: Response, frame_ancestors: list[str]) -> Response:
    response.headers["Content-Security-Policy"] = csp(frame_ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the widget token
    if response.mimetype != "text/css" and response.mimetype != "text/javascript":
        response.headers["Cache-Control"] = "no-store"
    return response


def _origin_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*\.", r"[A-Za-z0-9-]+\.") + "$")


def allowed_host_origin(origin: str | None, frame_ancestors: list[str]) -> str | None:
    """``origin`` when it is a plain origin matching one of ``widget.frame_ancestors``, else None."""
    if not origin:
        return None
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    plain = f"{parts.scheme}://{parts.netloc}"
    for pattern in frame_ancestors:
        if pattern != "'self'" and _origin_pattern(pattern).match(plain):
            return plain
    return None


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become ``href``s: a citation cannot smuggle in ``javascript:``."""
    if url and urlsplit(url.strip()).scheme.lower() in ("http", "https"):
        return url.strip()
    return None


def due_text(respond_by: Any, now: datetime) -> str:
    """``08:00 UTC`` when the deadline is today (UTC), else with its day: ``Mon 23 Nov 08:00 UTC``.

    A bare time on a Saturday would read as today's when the deadline is Monday morning.
    """
    try:
        due = datetime.fromisoformat(str(respond_by)).astimezone(UTC)
    except ValueError:
        return str(respond_by)
    if due.date() == now.astimezone(UTC).date():
        return due.strftime("%H:%M UTC")
    return due.strftime("%a %d %b %H:%M UTC")


def context(
    rt: Runtime,
    row: HandoffRow,
    conversation: ConversationRow | None,
    *,
    token: str,
    mode: str,
    host_origin: str | None = None,
    inbox_item: dict[str, Any] | None = None,
    key: str = "",
    status: str | None = None,
    turns: list[TurnView] | None = None,
) -> dict[str, Any]:
    """What ``_widget.html`` needs. ``turns`` since the handoff are read here unless the caller,
    already inside a transaction, passes them."""
    payload = row.payload or {}
    owner = conversation.owner if conversation else "bot"
    current = conversation is not None and conversation.handoff_id == row.id and owner != "bot"
    claims = security.verify_widget_token(
        rt.settings.widget.secret, token, row.id, now=rt.now().timestamp()
    )
    citations = [{**c, "href": safe_url(c.get("url"))} for c in payload.get("citations") or []]
    if turns is None:
        with rt.store.reading() as tx:
            turns = live.turns(tx, row)
    viewer = claims.get("agent") or ""
    with_agent = current and owner == "agent"
    respond_by = (payload.get("routing") or {}).get("respond_by")
    return {
        "row": row,
        "p": payload,
        "owner": owner if current else "bot",
        "owner_text": OWNER_TEXT.get(owner if current else "bot", owner),
        "claimed_by": row.claimed_by,
        "can_claim": current and owner == "pending_agent",
        # Hand back once someone owns it; the reply box only for the owner (the server checks too)
        "can_hand_back": with_agent,
        "can_reply": with_agent and (not viewer or viewer == row.claimed_by),
        "handed_back": row.status == "handed_back",
        "turns": turns,
        "last_seq": turns[-1].seq if turns else 0,
        "citations": citations,
        # minted fresh on each render: the payload's link may be near its end by now
        "transcript_url": links.signed_transcript_url(
            rt.base_url,
            row.id,
            secret=rt.settings.widget.secret,
            ttl=rt.settings.widget.transcript_link_ttl_seconds,
            now=rt.now().timestamp(),
        ),
        "due_text": due_text(respond_by, rt.now()) if respond_by else "",
        "token": token,
        "csrf": security.csrf_token(rt.settings.widget.secret, token),
        "expires_at": claims["exp"],
        "agent": claims.get("agent") or "",
        "mode": mode,
        "host_origin": host_origin or "",
        "inbox_item": inbox_item,
        "key": key,
        "status": status,
        "resolutions": RESOLUTIONS,
        "resume_hints": RESUME_HINTS,
    }
