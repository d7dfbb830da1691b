"""Signatures and keys.

Bots sign every request: ``X-Handoff-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(source secret, "<t>.<raw body>")``. The same scheme signs our callbacks to bots.
Verification happens on the raw bytes, before anything is parsed, in constant time, and rejects
timestamps outside the replay window in either direction.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from connector.errors import Unauthorized

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
