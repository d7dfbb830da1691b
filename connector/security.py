"""Signatures and keys.

Bots sign every request: ``X-Handoff-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(source secret, "<t>.<raw body>")``. The same scheme signs our callbacks to bots.
Verification happens on the raw bytes, before anything is parsed, in constant time, and rejects
timestamps outside the replay window in either direction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from connector.errors import Forbidden, Unauthorized

SIGNATURE_HEADER = "X-Handoff-Signature"
SOURCE_HEADER = "X-Handoff-Source"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed with ``secret`` at ``timestamp`` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def parse_signature(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise Unauthorized("signature timestamp is not an integer", slug="bad-signature") from None
        elif key == "v1" and value:
            macs.append(value.lower())
    if timestamp is None or not macs:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} must look like 't=<unix seconds>,v1=<hex>'", slug="bad-signature"
        )
    return timestamp, macs


def verify(secret: str, header: str | None, body: bytes, *, now: float, window: int) -> int:
    """Check a signature header; return its timestamp. Raise ``Unauthorized`` with a clear reason.

    Several ``v1=`` values are accepted (a bot rotating its secret can send both).
    """
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header", slug="missing-signature")
    timestamp, macs = parse_signature(header)
    if abs(now - timestamp) > window:
        raise Unauthorized(
            f"signature timestamp is {int(now - timestamp)} s away from the server clock; "
            f"the window is ±{window} s (replayed request or unsynchronised clock)",
            slug="stale-signature",
        )
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # compare against every candidate without short-circuiting on the first match
    ok = False
    for mac in macs:
        ok |= hmac.compare_digest(expected, mac)
    if not ok:
        raise Unauthorized("signature does not match the body and the source's secret", slug="bad-signature")
    return timestamp


def check_api_key(presented: str | None, keys: list[str]) -> None:
    if not presented:
        raise Unauthorized(
            "this endpoint needs an API key: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            slug="missing-api-key",
        )
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(presented.encode(), key.encode())
    if not ok:
        raise Unauthorized("the API key is not one of security.api_keys", slug="bad-api-key")


# --- widget tokens --------------------------------------------------------------------------------
# ``hw1.<payload>.<mac>``: payload is base64url(JSON {"h": handoff id, "iat", "exp", "jti", "agent"?}),
# mac is base64url(HMAC-SHA256(widget.secret, "hw1." + payload)). A token opens exactly one handoff
# until it expires; it is a bearer credential carried in a header (never a cookie), so a
# cross-site page can neither send it nor read it.

WIDGET_TOKEN_HEADER = "X-Widget-Token"
CSRF_HEADER = "X-CSRF-Token"
_WIDGET_PREFIX = "hw1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _widget_mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{_WIDGET_PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def issue_widget_token(secret: str, handoff_id: str, *, now: float, ttl: int,
                       agent: str | None = None) -> str:
    """A token that opens the widget (and its actions) for ``handoff_id`` until ``now + ttl``."""
    claims: dict[str, object] = {"h": handoff_id, "iat": int(now), "exp": int(now) + int(ttl),
                                 "jti": secrets.token_hex(8)}
    if agent:
        claims["agent"] = agent
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{_WIDGET_PREFIX}.{payload}.{_widget_mac(secret, payload)}"


def verify_widget_token(secret: str, token: str | None, handoff_id: str | None, *,
                        now: float) -> dict[str, object]:
    """Return the token's claims, or raise: 401 when missing, forged or expired; 403 when it was
    issued for another handoff (``handoff_id=None`` means "any": the caller checks the binding)."""
    if not token:
        raise Unauthorized(f"missing widget token ({WIDGET_TOKEN_HEADER} header or ?token=)",
                           slug="missing-widget-token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _WIDGET_PREFIX:
        raise Unauthorized("the widget token is malformed", slug="bad-widget-token")
    if not hmac.compare_digest(_widget_mac(secret, parts[1]), parts[2]):
        raise Unauthorized("the widget token's signature does not match", slug="bad-widget-token")
    try:
        claims = json.loads(_unb64(parts[1]))
        bound, expires = str(claims["h"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise Unauthorized("the widget token is malformed", slug="bad-widget-token") from None
    if now >= expires:
        raise Unauthorized(f"the widget token expired {int(now - expires)} s ago; open the widget again",
                           slug="expired-widget-token")
    if handoff_id is not None and not hmac.compare_digest(bound.encode(), handoff_id.encode()):
        raise Forbidden("this widget token was issued for another handoff", slug="widget-token-wrong-handoff")
    return claims


def csrf_token(secret: str, widget_token: str) -> str:
    """The anti-CSRF value a widget page must echo in ``X-CSRF-Token`` next to its widget token."""
    return _b64(hmac.new(secret.encode(), f"csrf.{widget_token}".encode(), hashlib.sha256).digest())[:32]


def check_csrf(secret: str, widget_token: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(csrf_token(secret, widget_token), presented):
        raise Forbidden(f"missing or wrong {CSRF_HEADER}", slug="csrf-token-mismatch")
