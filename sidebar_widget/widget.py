"""``/widget/handoffs/{id}``: the agent's sidebar for one handoff, opened with a widget token.

The page is server-rendered; ``static/widget.js`` adds Copy, Insert (through the host helpdesk,
``postMessage``), Take over and Hand back (the JSON API, with the widget token and CSRF token in
headers), and renews its own token before it expires. Every response carries a strict CSP whose
``frame-ancestors`` are ``widget.frame_ancestors``.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from connector import security
from connector.agents import check_same_origin, renew_widget_token, verify_widget
from connector.api import json_response, runtime
from connector.errors import BadRequest, NotFound
from sidebar_widget import view

bp = Blueprint(
    "widget",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/widget/static",
)


@bp.after_request
def _headers(response: Response) -> Response:
    return view.secure(response, runtime().settings.widget.frame_ancestors)


@bp.get("/widget/handoffs/<handoff_id>")
def widget_page(handoff_id: str):
    rt = runtime()
    token = request.args.get("token") or request.headers.get(security.WIDGET_TOKEN_HEADER)
    verify_widget(rt, token, handoff_id, page=True)
    raw_origin = request.args.get("host_origin")
    host_origin = view.allowed_host_origin(raw_origin, rt.settings.widget.frame_ancestors)
    if raw_origin and host_origin is None:
        raise BadRequest(
            "host_origin is not one of widget.frame_ancestors",
            slug="bad-host-origin",
            errors=[{"path": "host_origin", "message": "not an allowed helpdesk origin"}],
        )
    with rt.store.reading() as tx:
        row = tx.get_handoff(handoff_id)
        if row is None:
            raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
        conversation = tx.get_conversation(row.conversation_id)
    assert token is not None
    ctx = view.context(rt, row, conversation, token=token, mode="widget", host_origin=host_origin)
    return render_template("widget.html", **ctx)


@bp.post("/widget/handoffs/<handoff_id>/token")
def renew_token(handoff_id: str):
    """An open widget swaps its (still valid, unrevoked) token for a fresh one, so a shift never
    breaks; within ``widget.session_max_seconds`` of the link it was opened with
    (``connector.agents.renew_widget_token``)."""
    rt = runtime()
    token = request.headers.get(security.WIDGET_TOKEN_HEADER)
    claims = verify_widget(rt, token, handoff_id)
    check_same_origin()
    assert token is not None
    security.check_csrf(rt.settings.widget.secret, token, request.headers.get(security.CSRF_HEADER))
    fresh, expires_at = renew_widget_token(rt, handoff_id, claims)
    return json_response(
        {
            "token": fresh,
            "csrf": security.csrf_token(rt.settings.widget.secret, fresh),
            "expires_at": expires_at,
        }
    )
