"""``/transcripts/{id}?t=<link token>``: one handoff's full transcript, read-only, for a helpdesk agent.

The "Full transcript" link of the helpdesk notes and of the widget points here. It carries a signed,
expiring transcript token (``security.issue_transcript_token``), never the API key: an agent who
can read the note can read the conversation, for ``widget.transcript_link_ttl_seconds``. A missing,
altered, expired or other handoff's link gets a short page saying so (401 or 403) in a browser, and
the usual problem JSON for any other client.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from connector import security
from connector.api import runtime
from connector.errors import NotFound, ProblemError
from connector.store import MessageRow
from sidebar_widget import view

bp = Blueprint("transcript", __name__, template_folder="templates")

ROLE_TEXT = {"customer": "Customer", "bot": "Bot", "agent": "Agent", "system": "System"}


@bp.after_request
def _headers(response: Response) -> Response:
    return view.secure(response, [])  # opened in a tab of its own, never framed


@bp.get("/transcripts/<handoff_id>")
def transcript_page(handoff_id: str):  # type: ignore[no-untyped-def]
    rt = runtime()
    try:
        security.verify_transcript_token(
            rt.settings.widget.secret, request.args.get("t"), handoff_id, now=rt.now().timestamp()
        )
        with rt.store.reading() as tx:
            row = tx.get_handoff(handoff_id)
            if row is None:
                raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
            messages = tx.list_messages(row.conversation_id)
    except ProblemError as exc:
        if not _wants_html():
            raise  # a tool asking for JSON gets the problem JSON, like everywhere else
        page = render_template("transcript_refused.html", problem=exc)
        return Response(page, status=exc.status, mimetype="text/html")
    payload = row.payload or {}
    return render_template(
        "transcript.html",
        row=row,
        customer=payload.get("customer") or {},
        turns=[_turn(m) for m in messages],
    )


def _wants_html() -> bool:
    """A browser (``Accept: text/html, …``) gets a page; ``*/*`` and JSON clients a problem JSON."""
    best = request.accept_mimetypes.best_match(["application/problem+json", "text/html"])
    return best == "text/html"


def _turn(message: MessageRow) -> dict[str, str]:
    author = (message.data or {}).get("author")
    who = ROLE_TEXT.get(message.role, message.role)
    return {
        "role": message.role,
        "who": f"{who} ({author})" if author else who,
        "at": (message.at or "")[:19].replace("T", " "),
        "text": message.text,
    }
