"""The Zendesk send step: a zenpy client behind one edge, shared by the destination and the doctor.

zenpy is given our own ``requests`` session, so its urllib3 retry adapter (which silently re-sends a
PUT after a timeout or a 503, duplicating an internal note) is never mounted, and a response hook
raises on every status >= 400 before zenpy sees it, so zenpy never sleeps on a 429 nor chokes on an
HTTP-date ``Retry-After``. Everything is mapped in ``edge``::

    status 408, 425, 429, 5xx        -> TransientDeliveryError (retry_after from Retry-After)
    other 4xx                        -> PermanentDeliveryError
    timeout, connection error        -> TransientDeliveryError
    our own rate limiter             -> TransientDeliveryError (retry_after), never a long sleep
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from integrations.base import (
    DeliveryError,
    PermanentDeliveryError,
    RateLimiter,
    TransientDeliveryError,
    WatchedAdapter,
    error_for_status,
    within,
)
from integrations.zendesk.build import ZendeskSettings

INSTALL_HINT = "zenpy is not installed: pip install 'handoff-connector[zendesk]'"


class HTTPFailure(Exception):
    """Raised by our response hook for any status >= 400, before zenpy can sleep or re-parse."""

    def __init__(self, response: Any):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def status_error(what: str, response: Any) -> DeliveryError:
    """A Zendesk error answer as a delivery error, with its ``error``/``description`` in the text."""
    text = response.text[:2000]
    try:
        body = response.json()
        detail = " ".join(str(body.get(k)) for k in ("error", "description") if body.get(k))
    except ValueError:
        detail = ""
    return error_for_status(
        response.status_code,
        f"Zendesk {what}: {response.status_code} {detail}".strip(),
        response=text,
        retry_after=response.headers.get("Retry-After"),
    )


@contextlib.contextmanager
def edge(what: str) -> Iterator[None]:
    """Map every zenpy or requests failure to a delivery error (see the module docstring)."""
    import requests

    try:
        from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException
    except ImportError as exc:
        raise PermanentDeliveryError(INSTALL_HINT) from exc
    try:
        yield
    except DeliveryError:
        raise
    except HTTPFailure as exc:
        raise status_error(what, exc.response) from exc
    except APIException as exc:  # not reached through our hook; kept for safety
        response = getattr(exc, "response", None)
        if response is None:
            raise TransientDeliveryError(f"Zendesk {what}: {exc}") from exc
        raise status_error(what, response) from exc
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"Zendesk {what}: timed out") from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"Zendesk {what}: {type(exc).__name__}") from exc
    except RatelimitBudgetExceeded as exc:
        raise TransientDeliveryError(f"Zendesk {what}: rate limited") from exc
    except ZenpyException as exc:
        raise PermanentDeliveryError(f"Zendesk {what}: {exc}") from exc


def zenpy_objects(ticket: dict[str, Any]) -> Any:
    """A ticket dict from ``build.py`` as zenpy's objects (which is what zenpy sends)."""
    from zenpy.lib.api_objects import Comment, Ticket, User

    fields = dict(ticket)
    if "requester" in fields:
        fields["requester"] = User(**fields["requester"])
    if "comment" in fields:
        fields["comment"] = Comment(**fields["comment"])
    return Ticket(**fields)


def zenpy_client(settings: ZendeskSettings, limiter: RateLimiter) -> Any:
    """A zenpy client on a session with no retry adapter, our rate limit and our error hook."""
    import requests

    try:
        from zenpy import Zenpy
    except ImportError as exc:
        raise PermanentDeliveryError(INSTALL_HINT) from exc

    class Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            limiter.acquire()
            # timeout_seconds bounds the whole request, not each read: a trickle is cut off too
            with within(settings.timeout_seconds):
                return super().request(*args, **kwargs)

    def fail_on_error(response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code >= 400:
            raise HTTPFailure(response)
        return response

    session = Session()
    for prefix in ("https://", "http://"):
        session.mount(prefix, WatchedAdapter(max_retries=0))
    session.hooks["response"].append(fail_on_error)
    return Zenpy(
        subdomain=settings.subdomain,
        email=settings.email,
        token=settings.token,
        session=session,
        timeout=settings.timeout_seconds,
        disable_cache=True,
    )
