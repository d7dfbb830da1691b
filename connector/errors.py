"""Every error the connector raises on purpose.

    HandoffError
    ├── ConfigError               bad configuration; carries every problem with its key path
    ├── ProblemError              becomes an RFC 9457 problem response (status, type slug, title)
    │   ├── BadRequest            400: malformed JSON, wrong types, missing fields
    │   ├── Unauthorized          401: missing or wrong signature or API key, stale timestamp
    │   ├── Forbidden             403: authenticated, not allowed
    │   ├── NotFound              404: unknown conversation, handoff, outbox row
    │   ├── Conflict              409: the control state does not allow it (agent owns it, …)
    │   ├── PayloadTooLarge       413: body over ``server.max_body_bytes``
    │   ├── StoreBusy             503: another process held the store's write lock past the busy
    │   │                         timeout; nothing was stored, the answer says when to retry
    │   └── StoreUnavailable      503: the store cannot write (disk full, I/O error, read-only
    │                             file); nothing was stored, the answer says when to retry
    └── DeliveryError             a destination could not take a delivery (integrations/base.py)
        ├── TransientDeliveryError   try again later (timeouts, 408, 429, 5xx); may carry retry_after
        └── PermanentDeliveryError   retrying cannot help (401, 403, 400/422): dead-letter it

HTTP handlers and the CLI catch ``HandoffError`` at one place each; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


class HandoffError(Exception):
    """Root of the connector's own errors."""


class ConfigError(HandoffError):
    """Every problem of a configuration, as (key path, message); ``hints`` (by key path) say how to
    fix one — "did you mean", or which environment variable set the value — on a line of its own."""

    def __init__(self, problems: list[tuple[str, str]], hints: dict[str, str] | None = None):
        self.problems = problems
        self.hints = hints or {}
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))

    def lines(self) -> list[str]:
        out, hinted = [], set()
        for path, msg in self.problems:
            out.append(f"{path}: {msg}" if path else msg)
            if path in self.hints and path not in hinted:  # once, under the first problem there
                hinted.add(path)
                out.append(f"  {path}: {self.hints[path]}")
        return out


# pydantic puts these before a validator's own message; our messages read without them
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error (an item of ``ValidationError.errors()``) in our words:
    a validator's ``ValueError`` text as written, without pydantic's "Value error, " prefix."""
    message = str(error["msg"])
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


class ProblemError(HandoffError):
    status = 400
    slug = "bad-request"
    title = "Bad request"
    retry_after_seconds: int | None = None  # sent as Retry-After when set

    def __init__(
        self,
        detail: str = "",
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ):
        super().__init__(detail or self.title)
        self.detail = detail
        if slug:
            self.slug = slug
        if title:
            self.title = title
        self.errors = errors


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class StoreBusy(ProblemError):
    status, slug, title = 503, "store-busy", "Store busy"
    retry_after_seconds = 1


class StoreUnavailable(ProblemError):
    status, slug, title = 503, "store-unavailable", "Store unavailable"
    retry_after_seconds = 30  # a full disk or a failing device is not fixed in a second


class DeliveryError(HandoffError):
    """A destination refused or failed a delivery. ``response`` keeps what the vendor said."""

    permanent = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        response: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.response = response
        self.retry_after = retry_after


class TransientDeliveryError(DeliveryError):
    permanent = False


class PermanentDeliveryError(DeliveryError):
    permanent = True


class Deferred(TransientDeliveryError):
    """The connector held the request back itself (its rate limiter, or a destination already
    holding its share of the delivery threads): nothing was sent.

    The outbox reschedules the row after ``retry_after`` without spending one of its attempts,
    so holding back can never dead-letter a delivery. ``interval`` (when known) is how long the
    budget takes to serve one such delivery: the outbox spaces the rows waiting in line by it.
    """

    interval: float | None = None


# --- one status → error table, shared by every HTTP-speaking destination, channel and notifier ---

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    from datetime import UTC

    current = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - current).total_seconds())


def error_for_status(
    status: int, message: str, *, response: str | None = None, retry_after: str | None = None
) -> DeliveryError:
    """408, 425, 429 and 5xx are worth retrying; every other 4xx is permanent."""
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientDeliveryError(
            message, status=status, response=response, retry_after=parse_retry_after(retry_after)
        )
    return PermanentDeliveryError(message, status=status, response=response)
