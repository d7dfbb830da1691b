"""The one interface every helpdesk implements, its errors, and the registry of names.

A destination turns a ``handoff/v1`` payload into the helpdesk's own objects in three steps: build
the vendor request (pure, unit-tested), send it, parse the answer. It raises
``TransientDeliveryError`` or ``PermanentDeliveryError`` (see ``connector/errors.py``) and never
returns ``False``; the outbox decides whether to retry or dead-letter.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from connector import keys
from connector.deadline import WatchedAdapter, within  # re-exported, as the fields below
from connector.errors import (  # re-exported: integrations import errors from here
    TRANSIENT_STATUSES,
    ConfigError,
    Deferred,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    error_for_status,
    parse_retry_after,
    validation_message,
)
from connector.schemas import HandoffPayload
from integrations.fields import (  # re-exported: a helpdesk package imports only integrations.base
    Contact,
    clean,
    clean_deep,
    contact,
    valid_email,
    valid_phone,
)

__all__ = [
    "Contact",
    "clean",
    "clean_deep",
    "contact",
    "valid_email",
    "valid_phone",
    "Deferred",
    "DeliveryError",
    "DestinationContext",
    "DestinationSettings",
    "PermanentDeliveryError",
    "TransientDeliveryError",
    "Delivery",
    "Destination",
    "Finding",
    "HelpdeskEvent",
    "RateLimiter",
    "SharedBudget",
    "WatchedAdapter",
    "within",
    "settling",
    "TicketRef",
    "DESTINATIONS",
    "TRANSIENT_STATUSES",
    "config_error",
    "destination_class",
    "error_for_status",
    "parse_retry_after",
    "rule",
    "settings_problems",
]


@dataclass(frozen=True)
class TicketRef:
    """Where a handoff landed: enough to add a note or update it later."""

    destination: str
    id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "id": self.id,
            "url": self.url,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketRef:
        return cls(data["destination"], str(data["id"]), data.get("url"), data.get("extra") or {})


@dataclass(frozen=True)
class Delivery:
    """One attempt to put a handoff into a destination.

    ``idempotency_key`` is stable across retries of the same outbox row; ``previous`` is the
    reference recorded by an earlier attempt that got far enough to learn it (so a retry updates
    instead of creating again).
    """

    handoff_id: str
    payload: HandoffPayload
    idempotency_key: str
    widget_url: str
    attempt: int = 1
    previous: TicketRef | None = None


HelpdeskEventKind = Literal["agent_assigned", "agent_replied", "reassigned", "solved", "handback"]


@dataclass(frozen=True)
class HelpdeskEvent:
    """Something an agent did in the helpdesk, in the connector's words."""

    kind: HelpdeskEventKind
    handoff_id: str | None
    ticket_id: str | None = None
    actor: str | None = None
    team: str | None = None
    note: str | None = None
    at: datetime | None = None
    raw_id: str | None = None
    text: str | None = None  # agent_replied: the public reply, for the customer (``agent.message``)


class InboxTx(Protocol):
    """The two store writes of the local inbox (``connector.store``'s ``Tx`` has them)."""

    def put_inbox_item(
        self, handoff_id: str, payload: dict[str, Any], now: str
    ) -> tuple[int, bool]: ...

    def add_inbox_note(
        self, handoff_id: str, text: str, now: str, key: str | None = None
    ) -> bool: ...


class InboxStore(Protocol):
    def atomic(self) -> AbstractContextManager[InboxTx]: ...


class DestinationContext(Protocol):
    """What a destination may use of the running connector; ``connector.runtime.Runtime`` is one.

    Kept narrow on purpose, so a helpdesk package never needs the store or the settings tree:
    the clock, the public base URL, the webhook replay window, the configured team names (to
    check a vendor's team map against ``routing.teams``), the team a handoff was routed to, the
    shared rate-limit budget, and for the built-in inbox only, the store typed down to its two
    writes.
    """

    @property
    def base_url(self) -> str: ...

    @property
    def replay_window_seconds(self) -> int: ...

    @property
    def team_names(self) -> Collection[str]: ...

    @property
    def store(self) -> InboxStore:
        """Only the local inbox writes here (its items are the connector's own rows)."""
        ...

    def now(self) -> datetime: ...

    def handoff_team(self, handoff_id: str) -> str | None:
        """The team a handoff was routed to, or None when there is no such handoff."""
        ...

    def take_budget(
        self, key: str, cost: float, per_second: float, capacity: float, now: float, max_wait: float
    ) -> float:
        """``Tx.take_budget`` in a transaction of its own: the rate-limit bucket every worker and
        replica shares (a destination's ``RateLimiter`` uses it as its ``SharedBudget``)."""
        ...


class Destination:
    """Base class of every helpdesk destination. Subclasses set ``name`` and implement the verbs."""

    name: ClassVar[str] = ""
    # conversation channels that are this helpdesk's own messenger (``DestinationSettings.relay``)
    messenger_channels: ClassVar[tuple[str, ...]] = ()
    # whether customer turns after the handoff are copied to the ticket (``add_customer_turn``)
    copies_turns: ClassVar[bool] = True

    def relays(self, channel: str | None) -> bool:
        """Whether agent replies and customer turns are relayed for a conversation on ``channel``."""
        mode = getattr(getattr(self, "settings", None), "relay", "auto")
        if mode != "auto":
            return bool(mode == "on")
        return (channel or "").lower() not in self.messenger_channels

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """Every problem of ``destinations.<name>`` as (key path below it, message); [] when fine."""
        return []

    @classmethod
    def from_config(cls, settings: dict[str, Any], context: DestinationContext) -> Destination:
        """Validate ``settings`` (raise ``ConfigError`` with key paths) and build the destination."""
        raise NotImplementedError

    def deliver(self, delivery: Delivery) -> TicketRef:
        raise NotImplementedError

    def add_note(self, ref: TicketRef, text: str, *, key: str | None = None) -> None:
        """Add an internal note. ``key`` is the outbox row's idempotency key: a retry passes the
        same key and must not leave a second note, while two notes with the same text and
        different keys (a reminder in a later round) are both added."""
        raise NotImplementedError

    def update(self, ref: TicketRef, fields: dict[str, Any], *, key: str | None = None) -> None:
        """Change priority, team or mapped fields; ``key`` as for :meth:`add_note`."""
        raise NotImplementedError

    def add_customer_turn(
        self,
        ref: TicketRef,
        text: str,
        *,
        author: str,
        key: str | None = None,
        at: str | None = None,
    ) -> None:
        """Append what the customer said after the handoff where the agent reads the conversation
        (as the customer where the helpdesk allows it); ``key`` as for :meth:`add_note`, ``at``
        when the customer said it (ISO 8601), for a helpdesk that can date the copy. Turns
        come one at a time, in order (the outbox lane). The default is a note naming the author,
        for a helpdesk with no way to write as the customer."""
        self.add_note(ref, f"{author or 'Customer'}: {text}", key=key)

    def verify_webhook(self, headers: dict[str, str], body: bytes) -> None:
        """Raise ``connector.errors.Unauthorized`` unless the request is really from the vendor."""
        raise NotImplementedError

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[HelpdeskEvent]:
        raise NotImplementedError

    def doctor(self) -> list[Finding]:
        """Check credentials and every configured id against the live helpdesk (``handoff doctor``)."""
        return []


# name -> "module:Class"; imported lazily so a missing vendor SDK only matters when it is configured
DESTINATIONS: dict[str, str] = {
    "local": "integrations.local:LocalInboxDestination",
    "zendesk": "integrations.zendesk.destination:ZendeskDestination",
    "salesforce": "integrations.salesforce.destination:SalesforceDestination",
    "intercom": "integrations.intercom.destination:IntercomDestination",
    "chatwoot": "integrations.chatwoot.destination:ChatwootDestination",
    "servicenow": "integrations.servicenow.destination:ServiceNowDestination",
    "freshdesk": "integrations.freshdesk.destination:FreshdeskDestination",
}


def destination_class(name: str, *, key_path: str = "destinations") -> type[Destination]:
    """Resolve a destination name to its class, with a "did you mean" for typos."""
    target = DESTINATIONS.get(name)
    if target is None:
        close = difflib.get_close_matches(name, DESTINATIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(DESTINATIONS))
        raise ConfigError([(f"{key_path}.{name}", f"unknown destination{hint}; known: {known}")])
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError([(f"{key_path}.{name}", f"cannot load {module_name}: {exc}")]) from exc
    cls: type[Destination] = getattr(module, class_name)
    return cls


# --- settings: one pydantic model per destination, its problems named by key path ------------------

# what ``handoff check-config`` says for pydantic's own error types; every other message is the
# model's (a ``rule`` message, or pydantic's sentence for a wrong type or bound)
SETTINGS_MESSAGES = {"extra_forbidden": "unknown key", "missing": "required key is missing"}


def settings_message(model: type[BaseModel], error: Any) -> str:
    """One pydantic error of ``model`` as ``check-config`` says it: "unknown key" (with "did you
    mean" when a key is close), "required key is missing", or the model's own sentence."""
    if error["type"] == "extra_forbidden":
        return keys.unknown_key(model, error["loc"])
    return SETTINGS_MESSAGES.get(error["type"], validation_message(error))


def _problem(path: str, message: str, value: Any = None) -> InitErrorDetails:
    loc = tuple(int(p) if p.isdigit() else p for p in path.split(".")) if path else ()
    # the message goes in as context, so braces in it (a repr of a dict) are never a template
    return InitErrorDetails(type=PydanticCustomError("settings", "{message}", {"message": message}),
                            loc=loc, input=value)  # fmt: skip


def rule(ok: Callable[[Any], bool], message: str | Callable[[Any], str]) -> BeforeValidator:
    """A check on one settings value, with the sentence ``check-config`` shows when it fails.

    Runs before pydantic's own type check, so a wrong value gets this message rather than a
    generic one about types.
    """

    def check(value: Any) -> Any:
        if not ok(value):
            text = message(value) if callable(message) else message
            raise PydanticCustomError("settings", "{message}", {"message": text})
        return value

    return BeforeValidator(check)


class DestinationSettings(BaseModel):
    """Base of every destination's settings model: unknown keys are errors, and rules that span
    several keys (``key_problems``) are reported with the field errors, each at its key path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # After the handoff, agent replies go to the customer through the bot and customer turns go to
    # the ticket. ``auto``: unless the conversation runs in this helpdesk's own messenger (its
    # channel is one of ``Destination.messenger_channels``), where both sides see it already.
    relay: Literal["auto", "on", "off"] = "auto"

    @classmethod
    def key_problems(cls, raw: dict[str, Any], parsed: Self | None) -> list[tuple[str, str]]:
        """Rules across keys, as (key path, message). ``parsed`` is None when a field failed."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _across_keys(cls, data: Any, handler: Callable[[Any], Self]) -> Self:
        try:
            parsed: Self | None = handler(data)
            errors: list[InitErrorDetails] = []
        except ValidationError as exc:
            parsed = None
            errors = [_problem(".".join(str(p) for p in e["loc"]), settings_message(cls, e),
                               e.get("input"))
                      for e in exc.errors()]  # fmt: skip
        raw = data if isinstance(data, dict) else {}
        errors += [_problem(path, message) for path, message in cls.key_problems(raw, parsed)]
        if errors:
            # raised inside a validator, pydantic keeps each error's own key path
            raise ValidationError.from_exception_data(cls.__name__, errors)
        assert parsed is not None
        return parsed


M = TypeVar("M", bound=BaseModel)


def settings_problems(model: type[M], settings: Any) -> tuple[M | None, list[tuple[str, str]]]:
    """``settings`` parsed by ``model``, or None and every problem as (key path, message).

    The one way every destination turns its model's validation errors into ``check-config``
    lines: the path is the error's location joined with dots, the message is
    ``SETTINGS_MESSAGES`` for pydantic's "unknown key" and "missing" errors, else the model's own.
    """
    try:
        return model.model_validate(settings if settings is not None else {}), []
    except ValidationError as exc:
        return None, [
            (".".join(str(p) for p in e["loc"]), settings_message(model, e)) for e in exc.errors()
        ]


def config_error(name: str, problems: list[tuple[str, str]]) -> ConfigError:
    """``problems`` below ``destinations.<name>`` as the ``ConfigError`` that start-up raises."""
    prefix = f"destinations.{name}"
    return ConfigError([(f"{prefix}.{path}" if path else prefix, m) for path, m in problems])


@dataclass(frozen=True)
class Finding:
    """One line of ``handoff doctor``: what was checked, whether it is right, and how to fix it."""

    ok: bool
    what: str
    fix: str = ""


@contextmanager
def settling(seconds: float, what: str) -> Iterator[None]:
    """Around a create the vendor cannot de-duplicate: a failure with no answer (a timeout, a
    dropped connection) or a server error may mean it happened, and the retry will look for it
    with a search that lags the vendor's writes. So that retry is not due before ``seconds``: by
    then the search sees what was made."""
    try:
        yield
    except TransientDeliveryError as exc:
        if isinstance(exc, Deferred):
            raise  # held back before anything was sent
        if exc.retry_after is not None or exc.status not in (None, 500, 502, 504):
            raise  # the vendor answered that it did not do it (429, 503 with a time to come back)
        exc.retry_after = max(exc.retry_after or 0.0, seconds)
        exc.args = (
            f"{exc.args[0] if exc.args else ''} (the {what} may exist: the retry looks for it "
            f"after {seconds:g}s)",
        )
        raise


class SharedBudget(Protocol):
    """A token bucket kept in the store (``Tx.take_budget``), so workers and replicas share it."""

    def take_budget(
        self, key: str, cost: float, per_second: float, capacity: float, now: float, max_wait: float
    ) -> float: ...


class RateLimiter:
    """A token bucket per destination that keeps under the vendor's documented request rate.

    ``acquire`` is one request. A delivery that makes several requests reserves them all first
    (``with limiter.reserve(n):``), so our own limiter never stops it half-way; inside, each
    ``acquire`` draws from the reservation, and what is left is given back at the end.

    Taking waits only briefly: when the tokens are further away than ``max_wait`` seconds it
    raises ``Deferred`` with ``retry_after`` and takes nothing, so the outbox reschedules the row
    without counting an attempt and the worker thread moves on instead of sleeping.

    With ``shared`` (the runtime, through the store) every worker and replica spends from one
    bucket named ``key``, on wall-clock time (``clock``, injectable); without it the bucket is
    this process's own, on the monotonic clock.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int | None = None,
        max_wait: float = 1.0,
        clock: Any = None,
        shared: SharedBudget | None = None,
        key: str = "",
        sleep: Callable[[float], None] | None = None,
    ):
        import threading
        import time

        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, int(per_minute / 10)))
        self.tokens = self.capacity
        self.max_wait = max_wait
        self.shared = shared
        self.key = key
        self.clock: Callable[[], float] = clock or (
            time.time if shared is not None else time.monotonic
        )
        self._sleep = sleep or time.sleep
        self._updated = self.clock()
        self._lock = threading.Lock()
        self._local = threading.local()  # this thread's reservation: requests left in it

    def _take(self, cost: float, max_wait: float) -> float:
        """Seconds until ``cost`` tokens are there; taken iff that is at most ``max_wait``."""
        if self.shared is not None:
            return self.shared.take_budget(
                self.key, cost, self.rate, self.capacity, self.clock(), max_wait
            )
        with self._lock:
            now = self.clock()
            self.tokens = min(
                self.capacity, self.tokens + max(0.0, now - self._updated) * self.rate
            )
            self._updated = max(now, self._updated)
            if cost < 0:
                self.tokens = min(self.capacity, self.tokens - cost)
                return 0.0
            wait = max(0.0, min(cost, self.capacity) - self.tokens) / self.rate
            if wait <= max_wait:
                self.tokens -= cost
            return wait

    def _spend(self, cost: float) -> None:
        wait = self._take(cost, self.max_wait)
        if wait > self.max_wait:
            deferred = Deferred(
                "rate limit: holding back to stay under the vendor's limit", retry_after=wait
            )
            deferred.interval = min(cost, self.capacity) / self.rate
            raise deferred
        if wait > 0:
            self._sleep(wait)  # the tokens are ours; their time is not there yet

    def acquire(self) -> None:
        """One request: from this thread's reservation when it has one, else from the bucket.

        Past the end of a reservation the request is taken anyway (waiting at most ``max_wait``):
        some of the delivery's requests are sent already, and deferring now would cut it half-way.
        """
        left = getattr(self._local, "left", None)
        if left:
            self._local.left = left - 1
        elif left is not None:  # the reservation fell short: never cut a delivery half-way
            self._sleep(min(self._take(1, float("inf")), self.max_wait))
        else:
            self._spend(1)

    @contextmanager
    def reserve(self, requests: int) -> Iterator[None]:
        """Take ``requests`` tokens before a delivery starts (or raise ``Deferred``); inside, every
        ``acquire`` draws from them; unused ones go back to the bucket at the end. Nested
        reservations draw from the outer one."""
        if getattr(self._local, "left", None) is not None or requests <= 0:
            yield
            return
        self._spend(requests)
        self._local.left = requests
        try:
            yield
        finally:
            left, self._local.left = self._local.left, None
            if left:
                self._take(-left, 0.0)
