"""Signatures and keys.

Bots sign every request: ``X-Handoff-Signature: t=<unix seconds>,v1=<hex>,v2=<hex>`` where

- ``v2 = HMAC-SHA256(source secret, "<t>.<METHOD>.<path>.<raw body>")`` binds the request line too,
  so a signature made for one request (say, an empty-body ``GET`` of one conversation's control)
  cannot be replayed against another path or method inside the replay window;
- ``v1 = HMAC-SHA256(source secret, "<t>.<raw body>")`` is the deprecated first scheme, accepted
  unless the source refuses it (``sources.<name>.accept_v1_signatures: false``).

``<path>`` is the URL path as the server routes it: percent-decoded, without the query string.
The same scheme (both values) signs our callbacks to bots. Verification happens on the raw bytes,
before anything is parsed, in constant time, and rejects timestamps outside the replay window in
either direction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from connector.errors import Forbidden, Unauthorized

SIGNATURE_HEADER = "X-Handoff-Signature"
SOURCE_HEADER = "X-Handoff-Source"
SCHEMES = ("v1", "v2")


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _v1_message(timestamp: int, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def _v2_message(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method.upper()}.{path}.".encode() + body


def url_path(url: str) -> str:
    """The path a v2 signature binds for a request to ``url``: percent-decoded, without the query,
    as the receiving server routes it (``/`` for a bare host)."""
    return unquote(urlsplit(url).path) or "/"


def sign(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    method: str | None = None,
    path: str | None = None,
) -> str:
    """The header value for ``body`` signed with ``secret`` at ``timestamp`` (default: now).

    With ``method`` and ``path`` it carries ``v2`` beside ``v1`` (receivers that know only ``v1``
    ignore the extra value); without them, ``v1`` alone.
    """
    t = int(time.time()) if timestamp is None else int(timestamp)
    header = f"t={t},v1={_mac(secret, _v1_message(t, body))}"
    if method is not None and path is not None:
        header += f",v2={_mac(secret, _v2_message(t, method, path, body))}"
    return header


@dataclass
class ParsedSignature:
    timestamp: int
    macs: dict[str, list[str]] = field(default_factory=dict)  # scheme -> candidate values


def parse_signature(header: str) -> ParsedSignature:
    timestamp: int | None = None
    macs: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise Unauthorized(
                    "signature timestamp is not an integer", slug="bad-signature"
                ) from None
        elif key in SCHEMES and value:
            macs.setdefault(key, []).append(value.lower())
    if timestamp is None or not macs:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} must look like 't=<unix seconds>,v2=<hex>' (or the deprecated v1=)",
            slug="bad-signature",
        )
    return ParsedSignature(timestamp, macs)


def _any_matches(expected: str, candidates: list[str]) -> bool:
    # compare against every candidate without short-circuiting on the first match
    ok = False
    for mac in candidates:
        ok |= hmac.compare_digest(expected, mac)
    return ok


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: float,
    window: int,
    method: str | None = None,
    path: str | None = None,
    accept_v1: bool = True,
) -> str:
    """Check a signature header; return the scheme that matched. Raise ``Unauthorized``.

    A header with ``v2`` is judged by ``v2`` alone (against ``method`` and ``path``); one with only
    ``v1`` passes when ``accept_v1``. Several values of a scheme are accepted (a bot rotating its
    secret can send both).
    """
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header", slug="missing-signature")
    parsed = parse_signature(header)
    timestamp = parsed.timestamp
    if abs(now - timestamp) > window:
        raise Unauthorized(
            f"signature timestamp is {int(now - timestamp)} s away from the server clock; "
            f"the window is ±{window} s (replayed request or unsynchronised clock)",
            slug="stale-signature",
        )
    if "v2" in parsed.macs and method is not None and path is not None:
        expected = _mac(secret, _v2_message(timestamp, method, path, body))
        if not _any_matches(expected, parsed.macs["v2"]):
            raise Unauthorized(
                "v2 signature does not match the method, path, body and the source's secret",
                slug="bad-signature",
            )
        return "v2"
    if "v1" not in parsed.macs:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} has no v1= value, and v2 needs the request's method and path",
            slug="bad-signature",
        )
    if not accept_v1:
        raise Unauthorized(
            "this source refuses v1 signatures (accept_v1_signatures: false): sign "
            '"<t>.<METHOD>.<path>.<body>" as v2=',
            slug="v1-signature-refused",
        )
    if not _any_matches(_mac(secret, _v1_message(timestamp, body)), parsed.macs["v1"]):
        raise Unauthorized(
            "signature does not match the body and the source's secret", slug="bad-signature"
        )
    return "v1"


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
# ``hw1.<payload>.<mac>``: payload is base64url(JSON {"h": handoff id, "iat", "exp", "jti", "s": the
# session's first issue time, "agent"?}),
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
    return _b64(
        hmac.new(secret.encode(), f"{_WIDGET_PREFIX}.{payload}".encode(), hashlib.sha256).digest()
    )


def issue_widget_token(
    secret: str,
    handoff_id: str,
    *,
    now: float,
    ttl: int,
    agent: str | None = None,
    session_start: int | None = None,
) -> str:
    """A token that opens the widget (and its actions) for ``handoff_id`` until ``now + ttl``.

    ``session_start`` (claim ``s``) is when the first token of this widget session was issued by a
    credential: renewals carry it unchanged, so a session cannot be renewed forever.
    """
    claims: dict[str, object] = {
        "h": handoff_id,
        "iat": int(now),
        "exp": int(now) + int(ttl),
        "jti": secrets.token_hex(8),
        "s": int(now) if session_start is None else int(session_start),
    }
    if agent:
        claims["agent"] = agent
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{_WIDGET_PREFIX}.{payload}.{_widget_mac(secret, payload)}"


def verify_widget_token(
    secret: str, token: str | None, handoff_id: str | None, *, now: float
) -> dict[str, object]:
    """Return the token's claims, or raise: 401 when missing, forged or expired; 403 when it was
    issued for another handoff (``handoff_id=None`` means "any": the caller checks the binding)."""
    if not token:
        raise Unauthorized(
            f"missing widget token ({WIDGET_TOKEN_HEADER} header or ?token=)",
            slug="missing-widget-token",
        )
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
        raise Unauthorized(
            f"the widget token expired {int(now - expires)} s ago; open the widget again",
            slug="expired-widget-token",
        )
    if handoff_id is not None and not hmac.compare_digest(bound.encode(), handoff_id.encode()):
        raise Forbidden(
            "this widget token was issued for another handoff", slug="widget-token-wrong-handoff"
        )
    return claims


def csrf_token(secret: str, widget_token: str) -> str:
    """The anti-CSRF value a widget page must echo in ``X-CSRF-Token`` next to its widget token."""
    return _b64(
        hmac.new(secret.encode(), f"csrf.{widget_token}".encode(), hashlib.sha256).digest()
    )[:32]


def check_csrf(secret: str, widget_token: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(csrf_token(secret, widget_token), presented):
        raise Forbidden(f"missing or wrong {CSRF_HEADER}", slug="csrf-token-mismatch")


# --- transcript links -----------------------------------------------------------------------------
# ``ht1.<payload>.<mac>``: payload is base64url(JSON {"h": handoff id, "iat", "exp"}), mac is
# base64url(HMAC-SHA256(widget.secret, "ht1." + payload)). It opens one handoff's transcript,
# read-only, until it expires: the "Full transcript" link of helpdesk notes and the widget, which
# a helpdesk agent follows without the connector's API key. The prefix is inside the MAC, so a
# transcript link is never a widget token (nor the reverse).

_TRANSCRIPT_PREFIX = "ht1"


def _transcript_mac(secret: str, payload: str) -> str:
    message = f"{_TRANSCRIPT_PREFIX}.{payload}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def issue_transcript_token(secret: str, handoff_id: str, *, now: float, ttl: int) -> str:
    """A token that opens ``handoff_id``'s transcript until ``now + ttl`` (deterministic: the
    same handoff, time and lifetime give the same link)."""
    claims = {"h": handoff_id, "iat": int(now), "exp": int(now) + int(ttl)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{_TRANSCRIPT_PREFIX}.{payload}.{_transcript_mac(secret, payload)}"


def verify_transcript_token(
    secret: str, token: str | None, handoff_id: str, *, now: float
) -> dict[str, object]:
    """The claims, or 401 (missing, forged, malformed, expired) / 403 (another handoff's link)."""
    parts = (token or "").split(".")
    if len(parts) != 3 or parts[0] != _TRANSCRIPT_PREFIX:
        raise Unauthorized(
            "this transcript link is incomplete or malformed; open the handoff again from the "
            "helpdesk for a fresh one",
            slug="bad-transcript-link",
        )
    if not hmac.compare_digest(_transcript_mac(secret, parts[1]), parts[2]):
        raise Unauthorized(
            "this transcript link's signature does not match (altered, or signed with another "
            "widget.secret)",
            slug="bad-transcript-link",
        )
    try:
        claims = json.loads(_unb64(parts[1]))
        bound, expires = str(claims["h"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise Unauthorized(
            "this transcript link is malformed", slug="bad-transcript-link"
        ) from None
    if now >= expires:
        raise Unauthorized(
            f"this transcript link expired {int(now - expires) // 60} min ago; open the handoff "
            "from the helpdesk's widget for a fresh link",
            slug="expired-transcript-link",
        )
    if not hmac.compare_digest(bound.encode(), handoff_id.encode()):
        raise Forbidden(
            "this transcript link was issued for another handoff",
            slug="transcript-link-wrong-handoff",
        )
    return claims
