"""``GET /v1/handoffs/{id}/stream``: the live view of one handoff, as Server-Sent Events.

The inbox and the widget open it with ``EventSource`` (no polling loop in the page). Events:

- ``turn``: a turn since the handoff (either side), ``{seq, id, role, text, at, author, via}``;
  its SSE ``id`` is the turn's ``seq``, so a reconnect (``Last-Event-ID``) resumes after it;
- ``control``: who owns it now, ``{owner, version, status, claimed_by}``, sent first and on change;
- ``reminder``: the response window's reminders so far, ``{count}``, when it grows.

``EventSource`` cannot send headers, so the widget token (or, for the console, the API key) comes
in the query string, as it does for the pages themselves. The server side waits on the store's
waker (woken after every commit that matters here) with a one-second fallback, and ends the
response after ``widget.stream_seconds`` so a viewer does not hold a server thread for ever: the browser
reconnects on its own, from the last id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from connector import live, security
from connector.api import require_api_key, runtime
from connector.errors import NotFound
from connector.runtime import Runtime

bp = Blueprint("live", __name__)

WAKE_FALLBACK_SECONDS = 1.0  # another replica's commit reaches us through the waker or this


def _authenticate(handoff_id: str) -> None:
    token = request.args.get("token") or request.headers.get(security.WIDGET_TOKEN_HEADER)
    if token:
        rt = runtime()
        security.verify_widget_token(
            rt.settings.widget.secret, token, handoff_id, now=rt.now().timestamp()
        )
        return
    require_api_key(allow_query=True)


def _event(kind: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def snapshot(
    rt: Runtime, handoff_id: str, after_seq: int
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """(control, turns after ``after_seq``, reminders fired) of one handoff, read at once."""
    with rt.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
        if handoff is None:
            raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
        conversation = tx.get_conversation(handoff.conversation_id)
        turns = [t.model_dump(mode="json") for t in live.turns(tx, handoff) if t.seq > after_seq]
        reminders = len(tx.list_timers(handoff_id, status="fired"))
    current = conversation is not None and conversation.handoff_id == handoff_id
    owner = conversation.owner if conversation is not None and current else "bot"
    control = {
        "owner": owner,
        "version": conversation.version if conversation else 0,
        "status": handoff.status,
        "claimed_by": handoff.claimed_by,
    }
    return control, turns, reminders


@bp.get("/v1/handoffs/<handoff_id>/stream")
def stream(handoff_id: str) -> Response:
    _authenticate(handoff_id)
    rt = runtime()
    try:
        after = int(request.headers.get("Last-Event-ID") or request.args.get("after") or 0)
    except ValueError:
        after = 0
    snapshot(rt, handoff_id, after)  # a 404 before the stream starts, not inside it

    def events() -> Iterator[str]:
        last_seq, last_control, last_reminders = after, None, None
        # one response's life (``widget.stream_seconds``); the browser reconnects (``retry``) right after
        ends = time.monotonic() + rt.settings.widget.stream_seconds
        yield "retry: 1000\n\n"
        while True:
            since = rt.waker.generation
            control, turns, reminders = snapshot(rt, handoff_id, last_seq)
            if control == last_control and not turns and reminders == last_reminders:
                # a comment line: keeps proxies from timing out, and a write is how the server
                # learns the viewer left (it ends this loop instead of waiting out the response)
                yield ": idle\n\n"
            if control != last_control:
                last_control = control
                yield _event("control", control)
            for turn in turns:
                last_seq = turn["seq"]
                yield _event("turn", turn, last_seq)
            if last_reminders is not None and reminders > last_reminders:
                yield _event("reminder", {"count": reminders})
            last_reminders = reminders
            left = ends - time.monotonic()
            if left <= 0:
                return
            rt.waker.wait(since, min(WAKE_FALLBACK_SECONDS, left))

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must pass each event on at once
    return response
