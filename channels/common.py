"""What the platform channels share: reading a platform's JSON, building our ``Event`` from it with
field paths in the errors, a constant-time token check, and one JSON POST with the shared
status → error table.

Only channels import this; it holds no platform knowledge.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import ValidationError

from connector import limits
from connector.deadline import post_within, request_within
from connector.errors import (
    BadRequest,
    TransientDeliveryError,
    Unauthorized,
    error_for_status,
    validation_message,
)
from connector.limits import LimitsSettings
from connector.schemas import Event


def read_object(raw: bytes, bounds: LimitsSettings, *, what: str, slug: str) -> dict[str, Any]:
    """``raw`` as a JSON object within ``bounds``; ``BadRequest`` (``slug``) naming ``what``."""
    if not raw.strip():
        raise BadRequest(f"the body is empty; {what} is a JSON object", slug=slug)
    try:
        data = limits.loads(raw, bounds)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(
            f"the body is not JSON ({exc}); {what} is a JSON object", slug=slug
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(f"{what} must be a JSON object", slug=slug)
    return data


def build_event(data: dict[str, Any], bounds: LimitsSettings, *, what: str, slug: str) -> Event:
    """Our ``Event`` from ``data`` a channel assembled; a field the platform sent that does not fit
    (too long, wrong type) is a ``BadRequest`` naming our field, and over-limit bodies a 413."""
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise BadRequest(
            f"{what} does not fit a handoff event: {where}: {validation_message(first)}", slug=slug
        ) from None
    limits.check_body(event, bounds)
    return event


def require(data: Any, path: str, *, slug: str, kind: type = str) -> Any:
    """The value at dotted ``path`` of ``data``, of type ``kind`` and not empty; ``BadRequest``
    naming the path otherwise."""
    value = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, kind) or (kind is str and not value):
        raise BadRequest(
            f"{path} is missing or not a {'string' if kind is str else kind.__name__}", slug=slug
        )
    return value


def check_token(
    presented: str | None,
    secret: str,
    *,
    slug: str = "bad-token",
    where: str = "Authorization: Bearer <secret>",
) -> None:
    """Constant-time comparison of a presented token with the source's secret."""
    if not presented or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise Unauthorized(f"missing or wrong token; send {where}", slug=slug)


def bearer(headers: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    value = str(headers.get("Authorization") or headers.get("authorization") or "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def call_json(method: str, url: str, *, timeout: float, what: str, **kwargs: Any) -> Any:
    """One call to a platform's JSON API within ``timeout`` seconds in all; its JSON answer, or
    None for an empty or non-JSON one. A network failure or a 408/429/5xx is transient, another
    4xx permanent (``error_for_status``), with ``what`` naming the call."""
    try:
        response = request_within(method, url, deadline=timeout, **kwargs)
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise error_for_status(
            response.status_code,
            f"{what} answered {response.status_code}",
            response=response.text[:2000],
            retry_after=response.headers.get("Retry-After"),
        )
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def post_json(
    url: str, body: dict[str, Any], *, headers: dict[str, str], timeout: float, what: str
) -> requests.Response:
    """POST ``body`` as JSON within ``timeout`` seconds in all (``connector.deadline``: a platform
    that trickles its answer cannot hold a delivery thread); a network failure or a 408/429/5xx is
    transient, another 4xx permanent (``error_for_status``), with ``what`` naming the call."""
    try:
        response = post_within(
            url,
            data=json.dumps(body).encode(),
            deadline=timeout,
            headers={
                "User-Agent": "handoff-connector",
                "Content-Type": "application/json",
                **headers,
            },
        )
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"{what} timed out: {exc}") from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise error_for_status(
            response.status_code,
            f"{what} answered {response.status_code}",
            response=response.text[:2000],
            retry_after=response.headers.get("Retry-After"),
        )
    return response


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time a platform sent (``Z`` allowed; naive is UTC), or None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def skipped(callback_type: str, why: str) -> dict[str, Any]:
    """The result of a callback a channel has nothing to send for (delivered, nothing sent)."""
    return {"skipped": callback_type, "why": why}
