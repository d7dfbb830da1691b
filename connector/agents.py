"""Who an agent-facing request comes from: an API key, an agent's own key, or a widget token.

- an API key (``Authorization: Bearer`` or ``X-API-Key``): tools, helpdesk back-ends, the console;
- an agent's own key (the same headers; ``agents:`` in the config holds its SHA-256): the request
  acts as that agent, whatever actor the body types;
- a widget token (``X-Widget-Token``, see ``connector.security``): the widget page in a browser.
  It opens one handoff only. State-changing requests made with it must also come from the widget's
  own origin (``Origin``/``Sec-Fetch-Site``) and echo the page's ``X-CSRF-Token``. Tokens issued
  before the handoff was handed back or closed are refused (``verify_widget``), and renewal cannot
  stretch a session past ``widget.session_max_seconds`` (``renew_widget_token``).

Bots never hold either: their answers link the handoff without a credential (``links.inbox_url``).

No blueprint here: ``connector.api.handoffs`` and the agent surfaces in ``sidebar_widget`` both
import it, and neither imports the other.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import request

from connector import security
from connector.api import presented_api_key, require_api_key, runtime
from connector.errors import Forbidden, NotFound, Unauthorized
from connector.runtime import Runtime

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Principal:
    kind: str  # "api_key" | "agent_key" | "widget"
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


def agent_for_key(presented: str | None) -> str | None:
    """The name of the agent whose key this is (``agents:``), or None. Compares every digest in
    constant time, so the answer's timing does not tell which agent came close."""
    if not presented:
        return None
    digest = hashlib.sha256(presented.encode()).hexdigest()
    found = None
    for agent in runtime().settings.agents:
        if hmac.compare_digest(digest, agent.key_sha256):
            found = agent.name
    return found


def authenticate_agent(handoff_id: str | None) -> Principal:
    """API key, an agent's key, or a widget token bound to ``handoff_id`` (plus origin and CSRF
    checks on writes)."""
    rt = runtime()
    token = request.headers.get(security.WIDGET_TOKEN_HEADER)
    if not token:
        agent = agent_for_key(presented_api_key())
        if agent is not None:
            return Principal("agent_key", {"agent": agent})
        require_api_key()
        return Principal("api_key")
    if handoff_id is None:
        raise Forbidden(
            "a widget token opens one handoff; listing handoffs needs an API key",
            slug="widget-token-scope",
        )
    claims = verify_widget(rt, token, handoff_id)
    if request.method not in SAFE_METHODS:
        check_same_origin()
        security.check_csrf(
            rt.settings.widget.secret, token, request.headers.get(security.CSRF_HEADER)
        )
    return Principal("widget", claims)


ENDED = ("handed_back", "closed")


def verify_widget(
    rt: Runtime, token: str | None, handoff_id: str, *, page: bool = False
) -> dict[str, Any]:
    """The claims of a widget token for ``handoff_id``; 401 ``revoked-widget-token`` when it was
    issued before the handoff was handed back or closed (the handoff's end revokes every link to it).

    Checked against the handoff's state at each use rather than a revocation list: nothing to store,
    and a token minted afterwards (an agent reviewing the history) still opens the page. ``page``:
    the HTML page itself, which an ended handoff's token may still load until it expires, read-only
    (the widget reloads after its own handback and must show the outcome; it offers no action on a
    handoff that is over, and every action and renewal is refused).
    """
    claims = security.verify_widget_token(
        rt.settings.widget.secret, token, handoff_id, now=rt.now().timestamp()
    )
    with rt.store.reading() as tx:
        row = tx.get_handoff(handoff_id)
    if row is None:
        raise NotFound(f"no handoff {handoff_id!r}", slug="unknown-handoff")
    if row.status in ENDED and not page:
        ended = int(datetime.fromisoformat(row.updated_at).timestamp())
        if int(claims.get("iat", 0)) <= ended:  # type: ignore[call-overload]
            raise Unauthorized(
                f"this widget link was revoked when the handoff was {row.status.replace('_', ' ')}; "
                "open the handoff again from the helpdesk",
                slug="revoked-widget-token",
            )
    return claims


def renew_widget_token(rt: Runtime, handoff_id: str, claims: dict[str, Any]) -> tuple[str, int]:
    """A fresh token for an open widget's session and its expiry time: same agent, same session
    start, never valid past ``session start + widget.session_max_seconds`` (then 401
    ``widget-session-over``: the helpdesk, holding a real credential, opens a new session)."""
    widget = rt.settings.widget
    now = int(rt.now().timestamp())
    start = int(claims.get("s", claims.get("iat", now)))
    left = start + widget.session_max_seconds - now
    if left < 60:  # less than a minute's worth: renewing would only thrash the page
        raise Unauthorized(
            f"this widget session is {widget.session_max_seconds} s old, the most "
            "widget.session_max_seconds allows; open the handoff again from the helpdesk",
            slug="widget-session-over",
        )
    agent = claims.get("agent")
    ttl = min(widget.token_ttl_seconds, left)
    token = security.issue_widget_token(
        widget.secret,
        handoff_id,
        now=now,
        ttl=ttl,
        agent=str(agent) if agent else None,
        session_start=start,
    )
    return token, now + ttl
