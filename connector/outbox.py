"""What must leave the connector, as typed messages: the one vocabulary of the outbox.

The domain (``service``, ``control``, ``timers``, ``helpdesk``) never calls out. It writes one of
these messages in its own transaction with ``write(tx, message, now)``; the delivery worker reads
each row back with ``read(row)`` and sends it through the registry that knows how (a destination,
a bot channel, an alert notifier). One key scheme for all of them, built here and nowhere else:

========================  ===============================================  =====================
message                   idempotency key                                  row kind / target
========================  ===============================================  =====================
``Deliver``               ``deliver:<handoff>:<destination>``              destination / name
``Note``, ``Update``      ``<occasion>:<destination>:note`` / ``:update``  destination / name
``Turn``                  ``turn:<handoff>:<message>:<destination>:turn``  destination / name
``Callback``              ``callback:<id>:<type>``                         callback / source
``Alert``                 ``alert:<event>:<occasion>:<channel>``           alert / channel
``Generate``              ``generate:<handoff>``                           generate / generator
========================  ===============================================  =====================

An ``occasion`` names why a message exists (``handback:<handoff>``, ``reminder:<handoff>:<timer>``),
so the same words sent for another reason are another message, and a retry of the same reason is
not. A repeated key adds nothing (``Tx.enqueue`` returns ``None``).

Order. Some messages must arrive in the order they were written, so they share a *lane*
(``Tx.enqueue``: a row waits while an earlier row of its lane is undelivered):

- every callback of one conversation to its bot (``callback:<source>:<conversation>``): the bot
  sees ``control.changed``, the bridge ``customer.update``, each ``agent.message`` and
  ``conversation.handed_back`` in the order they happened, so no agent message written before a
  handback is delivered after it;
- a ticket's creation and the customer turns appended to it (``destination:<name>:<conversation>``):
  a turn never reaches a ticket that does not exist yet, nor before the turn it answers.

Exactly once *at the receiver* comes from the ids: a delivery cut short (the worker killed between
sending and recording) is sent again with the same callback id and idempotency key, and the
receiver keeps the first copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from connector.clock import iso
from connector.store import OutboxRow, Tx

DESTINATION, CALLBACK, ALERT, GENERATE = "destination", "callback", "alert", "generate"


@dataclass(frozen=True)
class Outbound:
    """A message for the outbox. ``kind`` is the row kind the worker dispatches on."""

    kind: ClassVar[str] = ""
    handoff_id: str | None
    conversation_id: str | None

    @property
    def target(self) -> str:
        raise NotImplementedError

    @property
    def key(self) -> str:
        raise NotImplementedError

    @property
    def lane(self) -> str | None:
        """The ordered lane this message is delivered in (module docstring), or None."""
        return None

    def body(self) -> dict[str, Any]:
        raise NotImplementedError


# --- to a helpdesk (a destination) --------------------------------------------------------------


@dataclass(frozen=True)
class Deliver(Outbound):
    """Create the handoff's ticket in ``destination``."""

    kind: ClassVar[str] = DESTINATION
    destination: str = ""

    @property
    def target(self) -> str:
        return self.destination

    @property
    def key(self) -> str:
        return f"deliver:{self.handoff_id}:{self.destination}"

    @property
    def lane(self) -> str | None:
        return ticket_lane(self.destination, self.conversation_id)

    def body(self) -> dict[str, Any]:
        return {"op": "deliver"}


@dataclass(frozen=True)
class Note(Outbound):
    """An internal note on the handoff's ticket, for ``occasion``."""

    kind: ClassVar[str] = DESTINATION
    destination: str = ""
    occasion: str = ""
    text: str = ""

    @property
    def target(self) -> str:
        return self.destination

    @property
    def key(self) -> str:
        return f"{self.occasion}:{self.destination}:note"

    def body(self) -> dict[str, Any]:
        return {"op": "note", "text": self.text}


@dataclass(frozen=True)
class Update(Outbound):
    """Change fields of the handoff's ticket (priority, team, queue), for ``occasion``."""

    kind: ClassVar[str] = DESTINATION
    destination: str = ""
    occasion: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.destination

    @property
    def key(self) -> str:
        return f"{self.occasion}:{self.destination}:update"

    def body(self) -> dict[str, Any]:
        return {"op": "update", "fields": dict(self.fields)}


@dataclass(frozen=True)
class Turn(Outbound):
    """A customer turn that arrived after the handoff, appended to the ticket where the agent works
    (a public comment by the requester, a reply as the contact, a case comment), once, in order."""

    kind: ClassVar[str] = DESTINATION
    destination: str = ""
    message_id: str = ""
    text: str = ""
    author: str = ""
    at: str = ""

    @property
    def target(self) -> str:
        return self.destination

    @property
    def occasion(self) -> str:
        return f"turn:{self.handoff_id}:{self.message_id}"

    @property
    def key(self) -> str:
        return f"{self.occasion}:{self.destination}:turn"

    @property
    def lane(self) -> str | None:
        return ticket_lane(self.destination, self.conversation_id)

    def body(self) -> dict[str, Any]:
        return {
            "op": "turn",
            "message_id": self.message_id,
            "text": self.text,
            "author": self.author,
            "at": self.at,
        }


def ticket_lane(destination: str, conversation_id: str | None) -> str | None:
    return f"destination:{destination}:{conversation_id}" if conversation_id else None


# --- to the bot (through its channel) -----------------------------------------------------------


@dataclass(frozen=True)
class Callback(Outbound):
    """A callback to the bot source: ``control.changed``, ``conversation.handed_back``,
    ``customer.update``. ``id`` is the callback's own id, the one the bot sees; ``fields`` are the
    type's fields (DESIGN.md, "Bot callbacks"). Channels render it in their platform's format."""

    kind: ClassVar[str] = CALLBACK
    source: str = ""
    type: str = ""
    id: str = ""
    occurred_at: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.source

    @property
    def key(self) -> str:
        return f"callback:{self.id}:{self.type}"

    @property
    def lane(self) -> str | None:
        return f"callback:{self.source}:{self.conversation_id}" if self.conversation_id else None

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at, **self.fields}

    @classmethod
    def at(cls, now: datetime, **values: Any) -> Callback:
        return cls(occurred_at=iso(now), **values)


AGENT_MESSAGE = "agent.message"


def agent_message(
    *,
    source: str,
    conversation_id: str,
    handoff_id: str,
    message_id: str,
    text: str,
    author: dict[str, Any],
    at: str,
    attachments: Sequence[dict[str, Any]],
    now: datetime,
) -> Callback:
    """The ``agent.message`` callback: what an agent wrote, for the bot to relay to the customer.

    Its callback id is the message id, so the receiver keeps exactly one copy of each message."""
    return Callback.at(
        now,
        source=source,
        type=AGENT_MESSAGE,
        id=message_id,
        handoff_id=handoff_id,
        conversation_id=conversation_id,
        fields={
            "conversation_id": conversation_id,
            "handoff_id": handoff_id,
            "text": text,
            "author": dict(author),
            "at": at,
            "attachments": [dict(a) for a in attachments],
        },
    )


# --- to people (alerts) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert(Outbound):
    """One alert channel's copy of an alert (``integrations/notify.py`` builds ``alert``)."""

    kind: ClassVar[str] = ALERT
    channel: str = ""
    event: str = ""
    occasion: str = ""
    alert: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.channel

    @property
    def key(self) -> str:
        return f"alert:{self.event}:{self.occasion}:{self.channel}"

    def body(self) -> dict[str, Any]:
        return dict(self.alert)


# --- to the optional model (``payload.generator``) ------------------------------------------------


@dataclass(frozen=True)
class Generate(Outbound):
    """Ask the configured model for the handoff's summary, draft and next action
    (``connector.generating``); what it writes follows as a ``Note`` and an ``Update`` per
    destination, occasion ``generated:<handoff>``."""

    kind: ClassVar[str] = GENERATE

    @property
    def target(self) -> str:
        return "generator"

    @property
    def key(self) -> str:
        return f"generate:{self.handoff_id}"

    def body(self) -> dict[str, Any]:
        return {"op": "generate"}


def write(tx: Tx, message: Outbound, now: datetime) -> int | None:
    """Queue ``message`` in the caller's transaction; a repeated key adds nothing (None)."""
    return tx.enqueue(
        message.kind,
        message.target,
        message.key,
        message.body(),
        now.timestamp(),
        handoff_id=message.handoff_id,
        conversation_id=message.conversation_id,
        lane=message.lane,
    )


def write_all(tx: Tx, messages: Sequence[Outbound], now: datetime) -> list[int]:
    return [row_id for m in messages if (row_id := write(tx, m, now)) is not None]


def read(row: OutboxRow) -> Outbound:
    """The typed message a stored row holds (the worker's side). Raises ``ValueError`` on a row no
    message describes, which the worker dead-letters."""
    body = row.body
    ids: dict[str, Any] = {"handoff_id": row.handoff_id, "conversation_id": row.conversation_id}
    if row.kind == DESTINATION:
        op = body.get("op", "deliver")
        occasion = _occasion(row.idempotency_key, row.target, op)
        if op == "deliver":
            return Deliver(destination=row.target, **ids)
        if op == "note":
            return Note(
                destination=row.target, occasion=occasion, text=str(body.get("text", "")), **ids
            )
        if op == "turn":
            return Turn(
                destination=row.target,
                message_id=str(body.get("message_id", "")),
                text=str(body.get("text", "")),
                author=str(body.get("author", "")),
                at=str(body.get("at", "")),
                **ids,
            )
        if op == "update":
            return Update(
                destination=row.target,
                occasion=occasion,
                fields=dict(body.get("fields") or {}),
                **ids,
            )
        raise ValueError(f"unknown outbox operation {op!r}")
    if row.kind == CALLBACK:
        fields = {k: v for k, v in body.items() if k not in ("id", "type", "occurred_at")}
        return Callback(
            source=row.target,
            type=str(body.get("type", "")),
            id=str(body.get("id", "")),
            occurred_at=str(body.get("occurred_at", "")),
            fields=fields,
            **ids,
        )
    if row.kind == ALERT:
        return Alert(channel=row.target, event=str(body.get("event", "")), alert=dict(body), **ids)
    if row.kind == GENERATE:
        return Generate(**ids)
    raise ValueError(f"unknown outbox row kind {row.kind!r}")


def _occasion(key: str, target: str, op: str) -> str:
    suffix = f":{target}:{op}"
    return key[: -len(suffix)] if key.endswith(suffix) else key
