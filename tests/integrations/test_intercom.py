"""Intercom end to end: the real python-intercom over a socket to the stand-in, through the app.

The stand-in is ``tests/standins/intercom.py`` extended here (``HandoffIntercomStandin``) with what
the shared one lacks and this backend uses: a ticket type carrying the handoff attributes, ticket
search, ticket notes, and the conversation data-attribute list ``handoff doctor`` reads.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("intercom")

from connector.app import create_app  # noqa: E402
from connector.config import load_config  # noqa: E402
from connector.delivery import Worker  # noqa: E402
from connector.errors import BadRequest, ConfigError, Unauthorized  # noqa: E402
from connector.runtime import build_runtime  # noqa: E402
from connector.schemas import (  # noqa: E402
    Citation,
    CustomerProfile,
    Escalation,
    HandoffPayload,
    IntentInfo,
    NextAction,
    Reason,
    Routing,
    SentimentInfo,
    Transcript,
    TranscriptTurn,
)
from integrations.base import Delivery, TicketRef, TransientDeliveryError  # noqa: E402
from integrations.intercom import IntercomDestination  # noqa: E402
from integrations.intercom.build import (  # noqa: E402
    RECENT_PARTS,
    IntercomSettings,
    is_intercom_conversation,
    mapped,
    payload_items,
    render_note,
    turn_landed,
)
from integrations.intercom.webhooks import sign_webhook, webhook_events  # noqa: E402
from tests.helpers import API_KEY, SECRET, drain, event, make_settings, post_event  # noqa: E402  # noqa: E402
from tests.integrations.harness import (  # noqa: E402
    FAILURE_TABLE,
    check_failure,
    connection_refused_case,
)
from tests.standins.base import Response  # noqa: E402
from tests.standins.intercom import DEFAULT_CONVERSATION_ATTRIBUTES, IntercomStandin  # noqa: E402

CLIENT_SECRET = "intercom-client-secret-xyz"
OUR_ADMIN, AGENT = "991267466", "991267467"
SUPPORT, BILLING = "5017691", "5017692"
HANDOFF_TYPE = "68"
AUTH = {"X-API-Key": API_KEY}
CONVERSATION_ATTRIBUTES = (*DEFAULT_CONVERSATION_ATTRIBUTES, "handoff_reason")


# --- the stand-in, extended --------------------------------------------------------------------
class HandoffIntercomStandin(IntercomStandin):
    """IntercomStandin plus ticket search, ticket notes, data attributes and a handoff ticket type."""

    def __init__(self) -> None:
        super().__init__(
            admins=[
                {"id": OUR_ADMIN, "name": "Handoff Bot", "email": "bot@example.com"},
                {"id": AGENT, "name": "Grace Agent", "email": "grace@example.com"},
            ],
            conversation_attributes=CONVERSATION_ATTRIBUTES,
        )
        self.visible_at: dict[str, float] = {}  # ticket id -> when search first sees it
        handoff_type = copy.deepcopy(self.ticket_types[0])
        template = handoff_type["ticket_type_attributes"]["data"][0]
        handoff_type.update(id=HANDOFF_TYPE, name="Bot handoff")
        handoff_type["ticket_type_attributes"]["data"] = [
            {
                **template,
                "id": str(200 + i),
                "name": name,
                "ticket_type_id": int(HANDOFF_TYPE),
                "default": name.startswith("_"),
            }
            for i, name in enumerate(
                ["_default_title_", "_default_description_", "handoff_id", "handoff_intent"]
            )
        ]
        self.ticket_types.append(handoff_type)

    def routes(self) -> list[tuple[str, str, Any]]:
        t = r"/tickets/(?P<id>\d+)"
        return [
            ("POST", "/tickets/search", self._search),
            ("POST", t + "/reply", self._ticket_reply),
            ("PUT", t, self._ticket_update),
            ("GET", "/data_attributes", self._data_attributes),
            *super().routes(),
        ]

    def _attribute_name(self, attribute_id: str) -> str | None:
        for ticket_type in self.ticket_types:
            for attribute in ticket_type["ticket_type_attributes"]["data"]:
                if attribute["id"] == attribute_id:
                    return str(attribute["name"])
        return None

    search_lag_seconds = 0.0  # Intercom's search is eventually consistent: a young ticket is missed

    def _create_ticket(self, request: Any) -> Response:
        response = super()._create_ticket(request)
        if response.status < 300:
            self.visible_at[str(response.body["id"])] = (
                self.clock().timestamp() + self.search_lag_seconds
            )
        return response

    def _search(self, request: Any) -> Response:
        query = request.json["query"]
        name = self._attribute_name(query["field"].removeprefix("ticket_attribute."))
        now = self.clock().timestamp()
        found = [
            t
            for t in self.tickets.values()
            if name
            and t["ticket_attributes"].get(name) == query["value"]
            and self.visible_at.get(str(t["id"]), now) <= now
        ]
        return Response(
            200,
            {
                "type": "ticket.list",
                "tickets": found,
                "total_count": len(found),
                "pages": {"type": "pages", "page": 1, "per_page": 20, "total_pages": 1},
            },
        )

    def _ticket_reply(self, request: Any) -> Response:
        ticket = self.tickets.get(request.params["id"])
        if ticket is None:
            return self.error(404)
        parts = ticket.setdefault(
            "ticket_parts", {"type": "ticket_part.list", "ticket_parts": [], "total_count": 0}
        )
        data = request.json
        if data.get("type") == "user" and data.get("intercom_user_id") not in {
            c["id"] for c in ticket["contacts"]["contacts"]
        }:
            return self.error(404, "not_found", "User Not Found")
        part = {
            "type": "ticket_part",
            "id": str(next(self._ids)),
            "part_type": data["message_type"],
            "body": data.get("body"),
            "created_at": data.get("created_at") or self._now(),
            "updated_at": self._now(),
            "author": self.author(data),
            "attachments": [],
            "redacted": False,
        }
        parts["ticket_parts"].append(part)
        parts["total_count"] += 1
        return Response(200, part)

    def _ticket_update(self, request: Any) -> Response:
        ticket = self.tickets.get(request.params["id"])
        if ticket is None:
            return self.error(404)
        ticket["ticket_attributes"].update(request.json.get("ticket_attributes") or {})
        if "assignee_id" in request.json:
            ticket["team_assignee_id"] = request.json["assignee_id"]
        return Response(200, ticket)

    def _data_attributes(self, request: Any) -> Response:
        data = [
            {
                "type": "data_attribute",
                "id": 100 + i,
                "model": "conversation",
                "name": name,
                "full_name": name,
                "label": name,
                "data_type": "string",
                "custom": True,
            }
            for i, name in enumerate(sorted(self.conversation_attributes))
        ]
        return Response(200, {"type": "list", "data": data})

    def ticket_notes(self, ticket_id: str) -> list[dict[str, Any]]:
        parts = (self.tickets[ticket_id].get("ticket_parts") or {}).get("ticket_parts", [])
        return [p for p in parts if p.get("part_type") == "note"]


@pytest.fixture
def standin(vendor_specs):  # type: ignore[no-untyped-def]
    with HandoffIntercomStandin() as server:
        yield server
    assert server.internal_errors == []


def intercom_config(standin: Any, **overrides: Any) -> dict[str, Any]:
    config = {
        "token": standin.token,
        "base_url": standin.base_url,
        "admin_id": OUR_ADMIN,
        "team_ids": {"general": SUPPORT, "billing": BILLING},
        "assignee_admin_id": AGENT,
        "ticket_type_id": HANDOFF_TYPE,
        "ticket_attributes": {
            "title": "_default_title_",
            "summary": "_default_description_",
            "handoff_id": "handoff_id",
            "intent": "handoff_intent",
        },
        "conversation_attributes": {
            "handoff_id": "handoff_id",
            "reason": "handoff_reason",
            "intent": "handoff_intent",
            "sentiment": "handoff_sentiment",
        },
        "client_secret": CLIENT_SECRET,
        "timeout_seconds": 1.0,
    }
    config.update(overrides)
    return config


@pytest.fixture
def settings(tmp_path, receiver, standin):  # type: ignore[no-untyped-def]
    return make_settings(
        tmp_path, receiver.url, destinations={"intercom": intercom_config(standin)}
    )


@pytest.fixture
def runtime(settings, clock):  # type: ignore[no-untyped-def]
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.destinations["intercom"].close()  # Runtime.close() does not close destinations (yet)
    rt.close()


@pytest.fixture
def destination(runtime) -> IntercomDestination:  # type: ignore[no-untyped-def]
    return runtime.destinations["intercom"]


@pytest.fixture
def make_destination(runtime):  # type: ignore[no-untyped-def]
    """``make_destination(config)``: another IntercomDestination, closed after the test."""
    made: list[IntercomDestination] = []

    def make(config: dict[str, Any]) -> IntercomDestination:
        made.append(IntercomDestination.from_config(config, runtime))
        return made[-1]

    yield make
    for destination in made:
        destination.close()


def payload(
    channel: str = "intercom", conversation_id: str = "1000", handoff_id: str = "ho_test1"
) -> HandoffPayload:
    return HandoffPayload(
        handoff_id=handoff_id,
        conversation_id=conversation_id,
        created_at=datetime.now(UTC),
        summary="Wants a refund for order 42 <b>now</b>.",
        transcript=Transcript(
            turns=[
                TranscriptTurn(
                    id="m1", role="customer", text="<script>alert(1)</script> refund please"
                ),
                TranscriptTurn(id="m2", role="bot", text="Let me check."),
            ],
            url="https://connector.example.com/inbox/ho_test1",
        ),
        customer=CustomerProfile(
            id="cus-1", name="Ada <Lovelace>", email="ada@example.com", channel=channel, tier="gold"
        ),
        intent=IntentInfo(name="refund", confidence=0.42, source="bot"),
        sentiment=SentimentInfo(label="Frustrated", score=-0.7, trend="worsening"),
        escalation=Escalation(
            reasons=[Reason(trigger="human_request", rule="ask", detail="asked")],
            rules=["ask"],
            policy_version="v1",
        ),
        citations=[
            Citation(title="Refunds", url="javascript:alert(1)"),
            Citation(title="Policy", url="https://help.example.com/refunds"),
        ],
        draft_reply="I can help with that.",
        next_action=NextAction(action="refund", reasoning="within 30 days"),
        routing=Routing(team="general", priority="high"),
    )


def delivery(p: HandoffPayload, attempt: int = 1, previous: TicketRef | None = None) -> Delivery:
    return Delivery(
        handoff_id=p.handoff_id,
        payload=p,
        idempotency_key=f"k-{p.handoff_id}",
        widget_url=f"https://connector.example.com/inbox/{p.handoff_id}",
        attempt=attempt,
        previous=previous,
    )


def escalate(
    client: Any, conversation_id: str, channel: str = "intercom", event_id: str = "evt-1"
) -> str:
    body = event(conversation_id, event_id)
    body["conversation"]["channel"] = channel
    response = post_event(client, body)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["handoff"]["id"])


def notification(
    topic: str, item: dict[str, Any], notification_id: str = "notif_1"
) -> dict[str, Any]:
    return {
        "type": "notification_event",
        "app_id": "standin",
        "id": notification_id,
        "topic": topic,
        "data": {"type": "notification_event_data", "item": item},
        "delivery_attempts": 1,
        "created_at": 1734537600,
        "first_sent_at": 1734537600,
    }


def conversation_item(
    standin: Any, conversation_id: str, *parts: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    item = copy.deepcopy(standin.conversations[conversation_id])
    item["conversation_parts"] = {
        "type": "conversation_part.list",
        "conversation_parts": list(parts),
        "total_count": len(parts),
    }
    item.update(extra)
    return item


def part(
    part_type: str, author: str = AGENT, body: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": f"p-{part_type}-{author}",
        "part_type": part_type,
        "body": body,
        "created_at": 1734537600,
        "author": {"type": "admin", "id": author, "name": f"admin {author}"},
        "assigned_to": None,
        **extra,
    }


def post_webhook(client: Any, body: dict[str, Any], secret: str = CLIENT_SECRET) -> Any:
    raw = json.dumps(body).encode()
    return client.post(
        "/v1/webhooks/intercom",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature": sign_webhook(secret, raw)},
    )


def handoff_notes(standin: Any, conversation_id: str, handoff_id: str) -> list[dict[str, Any]]:
    """The handoff notes proper (reminder notes from the response timers are others)."""
    return [n for n in standin.notes(conversation_id) if f"handoff:{handoff_id}" in n["body"]]


def assert_no_secrets(standin: Any) -> None:
    for request in standin.requests:
        text = request.body.decode() + json.dumps(dict(request.headers))
        for secret in (CLIENT_SECRET, SECRET, API_KEY):
            assert secret not in text
        assert standin.token not in request.body.decode()


# --- pure builders ------------------------------------------------------------------------------
def test_note_escapes_customer_text_and_carries_the_marker():
    note = render_note(payload(), "https://connector.example.com/inbox/ho_test1")
    assert "<script>" not in note and "&lt;script&gt;alert(1)&lt;/script&gt;" in note
    assert "Ada &lt;Lovelace&gt;" in note and "&lt;b&gt;now&lt;/b&gt;" in note
    assert (
        "javascript:" not in note
        and '<a href="https://help.example.com/refunds">Policy</a>' in note
    )
    assert note.endswith("<p>Ref: handoff:ho_test1</p>")


def test_a_landed_turn_is_the_contacts_reply_with_its_text_and_time_among_recent_parts():
    def item(*parts: tuple[str, str, int]) -> dict[str, Any]:
        listed = [{"author": {"id": a}, "body": b, "created_at": t} for a, b, t in parts]
        return {"conversation_parts": {"conversation_parts": listed}}

    ours = ("c1", "<p>Still &lt;waiting&gt;</p>", 100)  # as Intercom may render it
    later = [("991267467", "On it", 101), ("c1", "Any news?", 102)]
    assert turn_landed(item(ours, *later), "c1", "Still <waiting>", 100)
    assert not turn_landed(item(ours, *later), "c1", "Still <waiting>", 200)  # said again later
    assert not turn_landed(item(ours, *later), "c2", "Still <waiting>", 100)  # someone else
    buried = [("991267467", f"reply {i}", 101 + i) for i in range(RECENT_PARTS)]
    assert not turn_landed(item(ours, *buried), "c1", "Still <waiting>", 100)  # the bound
    assert turn_landed(item(*later, ours), "c1", "Still <waiting>", None)  # no time: the newest
    assert not turn_landed(item(ours, *later), "c1", "Still <waiting>", None)


def test_items_skip_absent_values_and_map_to_attribute_names():
    p = payload().model_copy(update={"sentiment": None, "next_action": None, "draft_reply": None})
    items = payload_items(p, "")
    assert "sentiment" not in items and "next_action" not in items and "widget_url" not in items
    assert mapped(items, {"handoff_id": "hid", "sentiment": "s", "intent": "i"}) == {
        "hid": "ho_test1",
        "i": "refund",
    }


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("intercom", True), ("Intercom", True), ("web", False), (None, False)],
    ids=str,
)
def test_which_conversations_are_intercom_conversations(channel, expected):
    p = payload().model_copy(update={"customer": CustomerProfile(channel=channel)})
    assert is_intercom_conversation(p, ["intercom"]) is expected


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"base_url": "https://api.intercom.io"}, "token"),
        ({"token": "t"}, "admin_id"),
        ({"token": "t", "admin_id": "abc"}, "admin_id"),
        ({"token": "t", "admin_id": 1, "team_ids": {"general": "x"}}, "team_ids.general"),
        ({"token": "t", "admin_id": 1, "tokn": "t"}, "tokn"),
        ({"token": "t", "admin_id": 1, "base_url": "api.intercom.io"}, "base_url"),
        (
            {"token": "t", "admin_id": 1, "ticket_attributes": {"colour": "c"}},
            "ticket_attributes.colour",
        ),
        ({"token": "t", "admin_id": 1, "ticket_type_id": "68"}, "ticket_attributes.handoff_id"),
        (
            {"token": "t", "admin_id": 1, "conversation_attributes": {"intent": "i"}},
            "conversation_attributes.handoff_id",
        ),
        ({"token": "t", "admin_id": 1, "requests_per_minute": 0}, "requests_per_minute"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_settings_problems_name_their_key_path(settings, path):
    assert path in [p for p, _ in IntercomDestination.validate_settings(settings)]


def test_check_config_reports_full_key_paths(tmp_path):
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"intercom": {"token": "t", "admin_id": "x1"}})
    assert (
        "destinations.intercom.admin_id",
        "must be an Intercom id (digits)",
    ) in info.value.problems


def test_team_ids_must_name_routing_teams(runtime, standin):
    with pytest.raises(ConfigError) as info:
        IntercomDestination.from_config(intercom_config(standin, team_ids={"nope": "1"}), runtime)
    assert info.value.problems == [
        ("destinations.intercom.team_ids.nope", "not one of routing.teams")
    ]


def test_the_commented_example_in_config_example_yaml_is_valid():
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
    lines = []
    for line in text[text.index("#  intercom:") :].splitlines():
        if not line.lstrip().startswith("#"):
            break
        lines.append(line.lstrip()[1:])
    example = yaml.safe_load("\n".join(lines))["intercom"]
    example["token"] = (
        "t"  # ${INTERCOM_TOKEN} is interpolated by load_config; the shape is what counts
    )
    example["client_secret"] = "s"
    assert IntercomDestination.validate_settings(example) == []
    assert load_config(
        Path(__file__).resolve().parents[2] / "config.example.yaml", env={}
    ).destinations


# --- deliveries, end to end ----------------------------------------------------------------------
def test_bot_event_for_an_intercom_conversation_becomes_note_assignment_and_attributes(
    client, worker, runtime, standin, receiver
):
    conversation = standin.add_conversation()
    handoff_id = escalate(client, conversation)
    drain(worker)
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
        ref = tx.get_ticket_refs(handoff_id)["intercom"]
    state = standin.conversations[conversation]
    [note] = standin.notes(conversation)
    assert note["author"]["id"] == OUR_ADMIN and f"handoff:{handoff_id}" in note["body"]
    assert "I want to talk to a real person." in note["body"]
    [reply] = standin.requests_to("POST", r"/reply$")
    assert reply.json == {
        "message_type": "note",
        "type": "admin",
        "admin_id": OUR_ADMIN,
        "body": note["body"],
    }
    [assign] = standin.requests_to("POST", r"/parts$")
    team_id = {"general": SUPPORT, "billing": BILLING}.get(handoff.team)
    expected_target = (
        {"type": "team", "assignee_id": team_id}
        if team_id
        else {"type": "admin", "assignee_id": AGENT}
    )
    assert assign.json == {"message_type": "assignment", "admin_id": OUR_ADMIN, **expected_target}
    [update] = standin.requests_to("PUT", r"/conversations/\d+$")
    attrs = update.json["custom_attributes"]
    assert (
        attrs["handoff_id"] == handoff_id
        and attrs["handoff_reason"] == handoff.payload["escalation"]["reasons"][0]["trigger"]
    )
    assert set(attrs) <= {"handoff_id", "handoff_reason", "handoff_intent", "handoff_sentiment"}
    assert attrs.get("handoff_sentiment") == handoff.payload["sentiment"]["label"]
    assert state["custom_attributes"] == attrs
    assert ref["id"] == conversation and ref["extra"]["note_part_id"] == note["id"]
    assert ref["extra"]["assigned"] == f"{expected_target['type']}:{expected_target['assignee_id']}"
    assert all(r.headers["Intercom-Version"] == "2.14" for r in standin.requests)
    assert standin.validation_errors == []
    assert_no_secrets(standin)


def test_bot_event_for_another_channel_becomes_a_ticket_with_attributes(
    client, worker, runtime, standin
):
    handoff_id = escalate(client, "web-conv-7", channel="web")
    drain(worker)
    [ticket] = standin.tickets.values()
    [create] = standin.requests_to("POST", r"^/tickets$")
    attributes = create.json["ticket_attributes"]
    assert create.json["ticket_type_id"] == HANDOFF_TYPE
    assert create.json["contacts"] == [{"email": "ada@example.com"}]
    assert attributes["handoff_id"] == handoff_id and ticket["ticket_attributes"] == attributes
    assert attributes["_default_title_"].startswith("Handoff: ")
    assert f"/inbox/{handoff_id}" in attributes["_default_description_"]
    with runtime.store.reading() as tx:
        ref = tx.get_ticket_refs(handoff_id)["intercom"]
    assert ref["id"] == ticket["id"] and ref["extra"]["kind"] == "ticket"
    assert standin.conversations == {} and standin.validation_errors == []
    assert_no_secrets(standin)


def test_a_non_numeric_id_on_the_intercom_channel_is_a_permanent_error(destination):
    from integrations.base import PermanentDeliveryError

    with pytest.raises(PermanentDeliveryError, match="not an Intercom conversation id"):
        destination.deliver(delivery(payload(conversation_id="abc")))


def test_notes_and_updates_reach_conversations_and_tickets_once(destination, standin):
    conversation = standin.add_conversation()
    ref = destination.deliver(delivery(payload(conversation_id=conversation)))
    destination.add_note(ref, "Reminder: <nobody> answered")
    destination.add_note(
        ref, "Reminder: <nobody> answered"
    )  # a retry after it landed: no second note
    destination.update(ref, {"team": "billing", "priority": "urgent"})
    notes = standin.notes(conversation)
    assert [n["body"].split("<p>Ref: ")[0] for n in notes[1:]] == [
        "<p>Reminder: &lt;nobody&gt; answered</p>"
    ]
    assert standin.conversations[conversation]["team_assignee_id"] == int(BILLING)
    ticket_ref = destination.deliver(delivery(payload(channel="web", handoff_id="ho_t2")))
    destination.add_note(ticket_ref, "Handed back")
    destination.update(ticket_ref, {"intent": "billing"})
    [ticket_note] = standin.ticket_notes(ticket_ref.id)
    assert ticket_note["body"].startswith("<p>Handed back</p><p>Ref: note:")
    assert standin.tickets[ticket_ref.id]["ticket_attributes"]["handoff_intent"] == "billing"
    assert standin.validation_errors == []


def _write_in_between(standin: Any, ref: TicketRef, contact: str) -> None:
    """An agent's reply and the customer's own message land after ours (as in Intercom's inbox)."""
    agent = {"type": "admin", "admin_id": AGENT, "message_type": "comment", "body": "On it"}
    customer = {"type": "user", "intercom_user_id": contact, "body": "Any news?"}
    if ref.extra.get("kind") == "ticket":
        parts = standin.tickets[ref.id]["ticket_parts"]["ticket_parts"]
        for data in (agent, customer):
            parts.append(
                {
                    "type": "ticket_part",
                    "id": str(next(standin._ids)),
                    "part_type": "comment",
                    "body": data["body"],
                    "created_at": standin._now(),
                    "author": standin.author(data),
                }
            )
    else:
        conversation = standin.conversations[ref.id]
        standin._add_part(conversation, "comment", agent)
        standin._add_part(conversation, "comment", customer)


def _parts(standin: Any, ref: TicketRef) -> list[dict[str, Any]]:
    if ref.extra.get("kind") == "ticket":
        return list(standin.tickets[ref.id]["ticket_parts"]["ticket_parts"])
    return list(standin.parts(ref.id))


@pytest.mark.parametrize("kind", ["conversation", "ticket"])
def test_a_retried_note_or_turn_is_not_posted_twice_when_others_wrote_in_between(
    destination, standin, kind
):
    """The answer to a note and to a customer turn is lost; an agent and the customer write; the
    retry finds what landed among the recent parts. The same words under another key (a note) or
    said again later (a turn) are new, and are posted."""
    if kind == "conversation":
        ref = destination.deliver(delivery(payload(conversation_id=standin.add_conversation())))
        route = r"^POST /conversations/\d+/reply$"
        contact = standin.conversations[ref.id]["contacts"]["contacts"][0]["id"]
    else:
        ref = destination.deliver(delivery(payload(channel="web", handoff_id="ho_t3")))
        route = r"^POST /tickets/\d+/reply$"
        standin.tickets[ref.id]["ticket_parts"] = {
            "type": "ticket_part.list",
            "ticket_parts": [],
            "total_count": 0,
        }
        contact = standin.tickets[ref.id]["contacts"]["contacts"][0]["id"]

    standin.drop_next(apply=True, route=route)  # the note lands; its answer is lost
    with pytest.raises(TransientDeliveryError):
        destination.add_note(ref, "Reminder: nobody answered", key="note-1")
    _write_in_between(standin, ref, contact)
    destination.add_note(ref, "Reminder: nobody answered", key="note-1")  # the retry
    destination.add_note(ref, "Reminder: nobody answered", key="note-2")  # a later reminder
    reminders = [p for p in _parts(standin, ref) if "Reminder" in (p.get("body") or "")]
    assert len(reminders) == 2 and reminders[0]["body"] != reminders[1]["body"]

    first, later = "2026-12-05T10:00:00+00:00", "2026-12-05T10:05:00+00:00"
    standin.drop_next(apply=True, route=route)  # the customer's turn lands; its answer is lost
    with pytest.raises(TransientDeliveryError):
        destination.add_customer_turn(ref, "yes", author="Ada", key="turn-1", at=first)
    _write_in_between(standin, ref, contact)
    destination.add_customer_turn(ref, "yes", author="Ada", key="turn-1", at=first)  # retry
    destination.add_customer_turn(ref, "yes", author="Ada", key="turn-2", at=later)  # said again
    turns = [p for p in _parts(standin, ref) if p.get("body") == "yes"]
    assert [(t["author"]["id"], t["created_at"]) for t in turns] == [
        (contact, int(datetime.fromisoformat(first).timestamp())),
        (contact, int(datetime.fromisoformat(later).timestamp())),
    ]
    assert standin.validation_errors == []


def test_a_ticket_for_a_customer_without_a_valid_email_names_a_contact_created_first(
    destination, standin
):
    """Intercom creates a contact for an unknown e-mail, not for an unknown external_id: the
    contact is found by its external id, or created, before the ticket names it by id."""
    p = payload(channel="web", handoff_id="ho_t4")
    p.customer.email = "not-an-address"
    ref = destination.deliver(delivery(p))
    [contact] = [c for c in standin.contacts if c["external_id"] == "cus-1"]
    ticket = standin.tickets[ref.id]
    assert ticket["contacts"]["contacts"][0]["id"] == contact["id"]
    assert standin.requests_to("POST", r"^/contacts$")  # created, as nobody had that id

    again = payload(channel="web", handoff_id="ho_t5")
    again.customer.email = None
    destination.deliver(delivery(again))  # the same customer: found, not created again
    assert len([c for c in standin.contacts if c["external_id"] == "cus-1"]) == 1
    assert len(standin.requests_to("POST", r"^/contacts$")) == 1

    # another delivery made the contact between our look-up and our create: 409, then found
    standin.fail_next(404, route=r"^GET /contacts/find_by_external_id/")
    raced = payload(channel="web", handoff_id="ho_t6")
    raced.customer.email = None
    ref = destination.deliver(delivery(raced))
    assert standin.tickets[ref.id]["contacts"]["contacts"][0]["id"] == contact["id"]
    assert len(standin.requests_to("POST", r"^/contacts$")) == 2
    assert len([c for c in standin.contacts if c["external_id"] == "cus-1"]) == 1
    assert standin.validation_errors == []


def test_the_models_summary_follows_the_ticket_as_a_note_and_attributes(
    tmp_path, receiver, standin, clock
):
    """payload.generator on: the conversation gets the extractive note at once, then the model's
    note and its summary and next action as conversation attributes (docs/generator.md)."""
    from tests.standins.openai import OpenAIStandin, good_answer

    mapped = {
        "handoff_id": "handoff_id",
        "summary": "handoff_summary",
        "next_action": "handoff_next_action",
    }
    standin.conversation_attributes.add("handoff_next_action")  # defined in the workspace
    draft = "Hi [CUSTOMER_1], I'm looking at your order now and will write again today."
    with OpenAIStandin() as model:
        model.answer_next(good_answer(draft_reply=draft))
        settings = make_settings(
            tmp_path,
            receiver.url,
            destinations={"intercom": intercom_config(standin, conversation_attributes=mapped)},
            payload={"generator": {"base_url": f"{model.base_url}/v1", "model": "local-llm",
                                   "api_key": model.api_key}},
        )  # fmt: skip
        rt = build_runtime(settings, clock=clock)
        try:
            conversation = standin.add_conversation()
            handoff_id = escalate(create_app(runtime=rt).test_client(), conversation)
            worker = Worker(rt, concurrency=1, worker_id="w")
            drain(worker)
            clock.advance(5)  # a note that ran before the ticket existed comes back after it
            drain(worker)
            first, second = standin.notes(conversation)
            assert f"handoff:{handoff_id}" in first["body"] and "Suggested by" not in first["body"]
            assert "Suggested by local-llm" in second["body"]
            assert (
                "Hi Ada Lovelace, I&#x27;m looking" in second["body"]
                or "Hi Ada Lovelace" in second["body"]
            )
            attributes = standin.conversations[conversation]["custom_attributes"]
            assert attributes["handoff_summary"] == good_answer()["summary"]
            assert attributes["handoff_next_action"] == good_answer()["next_action"]
            assert standin.validation_errors == [] and model.validation_errors == []
        finally:
            rt.destinations["intercom"].close()
            rt.close()


# --- failures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["conversation", "ticket"])
@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table(standin, destination, case, kind):
    if kind == "conversation":
        conversation = standin.add_conversation()
        p = payload(conversation_id=conversation)
    else:
        p = payload(channel="web", handoff_id=f"ho_{case.id.replace('-', '_')}")
    error = check_failure(standin, lambda: destination.deliver(delivery(p)), case)
    if case.id.startswith("429"):
        assert (
            error.retry_after is not None and error.retry_after > 0
        )  # Retry-After or X-RateLimit-Reset
    if case.id == "429-retry-after-seconds":
        assert error.retry_after == 7
    assert error.__cause__ is not None  # mapped at the edge, the SDK's exception kept


def test_connection_refused_is_transient(make_destination):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "token": "t",
        "admin_id": OUR_ADMIN,
        "base_url": f"http://127.0.0.1:{port}",
        "timeout_seconds": 1.0,
    }
    destination = make_destination(config)
    error = connection_refused_case(lambda: destination.deliver(delivery(payload())))
    assert "ConnectError" in str(error)


def test_outage_and_recovery_deliver_exactly_one_note(client, worker, runtime, standin, clock):
    conversation = standin.add_conversation()
    standin.fail_next(503, times=2)
    handoff_id = escalate(client, conversation)
    drain(worker)
    clock.advance(600)
    drain(worker)
    standin.drop_next(apply=True, route=r"^POST /conversations/\d+/reply$")  # lands; answer lost
    clock.advance(600)
    drain(worker)
    assert len(handoff_notes(standin, conversation, handoff_id)) == 1
    clock.advance(600)
    drain(worker)
    [note] = handoff_notes(standin, conversation, handoff_id)
    assert len(standin.assignments(conversation)) == 1
    assert standin.conversations[conversation]["custom_attributes"]["handoff_id"] == handoff_id
    with runtime.store.reading() as tx:
        ref = tx.get_ticket_refs(handoff_id)["intercom"]
    assert ref["extra"]["note_part_id"] == note["id"]
    assert standin.requests_to(
        "GET", rf"/conversations/{conversation}$"
    )  # it looked before posting
    assert standin.validation_errors == []


def test_outage_and_recovery_create_exactly_one_ticket(client, worker, runtime, standin, clock):
    standin.fail_next(500)
    handoff_id = escalate(client, "web-conv-9", channel="web")
    drain(worker)
    standin.drop_next(apply=True, route="^POST /tickets$")
    clock.advance(600)
    drain(worker)
    clock.advance(600)
    drain(worker)
    [ticket] = standin.tickets.values()
    assert ticket["ticket_attributes"]["handoff_id"] == handoff_id
    assert len(standin.requests_to("POST", r"^/tickets/search$")) >= 1
    with runtime.store.reading() as tx:
        assert tx.get_ticket_refs(handoff_id)["intercom"]["id"] == ticket["id"]


def test_an_ambiguous_create_with_a_lagging_search_makes_one_ticket(
    client, worker, runtime, standin, clock
):
    standin.clock = clock
    standin.search_lag_seconds = 45  # under the settle time (60 s by default)
    handoff_id = escalate(client, "web-conv-lag", channel="web")
    standin.drop_next(apply=True, route="^POST /tickets$")  # created, but the answer is lost
    drain(worker)
    with runtime.store.reading() as tx:
        [row] = [r for r in tx.list_outbox() if r.kind == "destination"]
    assert row.status == "pending" and row.next_attempt_at - clock().timestamp() >= 60
    for _ in range(5):  # the retry is not due before the settle time; then it finds the ticket
        with runtime.store.reading() as tx:
            due = tx.next_due_at()
        if due is None:
            break
        clock.advance(max(0.0, due - clock().timestamp()) + 0.01)
        drain(worker)
    [ticket] = standin.tickets.values()
    assert ticket["ticket_attributes"]["handoff_id"] == handoff_id
    with runtime.store.reading() as tx:
        assert tx.get_ticket_refs(handoff_id)["intercom"]["id"] == ticket["id"]


def test_a_worker_crash_after_the_note_landed_does_not_post_it_again(
    client, runtime, standin, clock
):
    conversation = standin.add_conversation()
    handoff_id = escalate(client, conversation)
    destination = runtime.destinations["intercom"]
    row = None
    while row is None or row.target != "intercom":  # a worker claims the row, posts, and dies
        with runtime.store.atomic() as tx:
            row = tx.claim_outbox("crashed-worker", clock().timestamp(), 120)
        assert row is not None
    with runtime.store.reading() as tx:
        handoff = tx.get_handoff(handoff_id)
    destination.deliver(delivery(HandoffPayload.model_validate(handoff.payload)))
    clock.advance(121)
    drain(Worker(runtime, concurrency=1, worker_id="survivor"))
    assert len(handoff_notes(standin, conversation, handoff_id)) == 1
    assert len(standin.assignments(conversation)) == 1


def test_sdk_retries_stay_off_and_the_rate_limiter_holds_back(make_destination, standin):
    destination = make_destination(intercom_config(standin, requests_per_minute=1))
    standin.fail_next(503)
    with pytest.raises(TransientDeliveryError):
        destination.deliver(delivery(payload(conversation_id=standin.add_conversation())))
    assert len(standin.requests) == 1  # no retry inside the SDK
    with pytest.raises(TransientDeliveryError, match="rate limit") as info:
        destination.deliver(delivery(payload(conversation_id=standin.add_conversation())))
    assert info.value.retry_after and info.value.retry_after > 1


# --- a total deadline on every call (issue 13, item 3) ------------------------------------------
TRICKLE = 0.2  # seconds per byte: each read gets a byte long before the per-read timeout (1 s)
SLACK = 5.0  # generous: a trickled answer of a few kilobytes would take many minutes


def wait_for_hang_up(standin: Any, route: str) -> None:
    """The client closed the trickled connection (bounded wait: the stand-in notices on a write)."""
    for _ in range(100):
        if route in standin.cut_off:
            return
        time.sleep(0.05)
    raise AssertionError(f"{route}: the client kept the connection ({standin.cut_off})")


def threads_in_http(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before`` that are inside httpx or httpcore: a call running on."""
    # A garbage collection inside sys._current_frames() can deadlock CPython before 3.11.9
    # (python/cpython#106883: it holds the thread-list lock while a finaliser waits for a thread
    # that waits for that lock); this suite once hung here. Collect outside the call instead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        frames = sys._current_frames()
    finally:
        if collecting:
            gc.enable()
    found = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or 0) if thread not in before else None
        while frame is not None:
            if re.search(r"[/\\]http(x|core)[/\\]", frame.f_code.co_filename):
                found.append(thread.name)
                break
            frame = frame.f_back
    return found


def _conversation_ref(destination: Any, standin: Any) -> TicketRef:
    conversation = standin.add_conversation()
    return destination.deliver(delivery(payload(conversation_id=conversation)))


CALLS = [  # (what, the route whose answer trickles, the call, whether the head comes at once)
    (
        "post note",
        r"^POST /conversations/\d+/reply$",
        lambda d, s: d.deliver(delivery(payload(conversation_id=s.add_conversation()))),
        False,
    ),
    (
        "create ticket",
        r"^POST /tickets$",
        lambda d, s: d.deliver(delivery(payload(channel="web"))),
        True,
    ),
    (
        "read conversation",
        r"^GET /conversations/\d+$",
        lambda d, s: d.add_note(_conversation_ref(d, s), "Reminder"),
        False,
    ),
    (
        "set attributes",
        r"^PUT /conversations/\d+$",
        lambda d, s: d.update(_conversation_ref(d, s), {"intent": "billing"}),
        True,
    ),
]


@pytest.mark.parametrize(
    ("what", "route", "call", "head_first"),
    CALLS,
    ids=[f"{c[0]} ({'body' if c[3] else 'status line'} trickled)" for c in CALLS],
)
def test_a_trickled_answer_is_cut_off_at_the_deadline(
    destination, standin, what, route, call, head_first
):  # type: ignore[no-untyped-def]
    standin.trickle_next(TRICKLE, route=route, head_first=head_first)
    before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(
        TransientDeliveryError, match=f"intercom {what}: no complete answer within 1s"
    ):
        call(destination, standin)
    assert time.monotonic() - started < 1.0 + SLACK  # the answer itself would take many minutes
    [trickled] = [r for r in standin.requests if re.search(route, f"{r.method} {r.path}")]
    wait_for_hang_up(standin, f"{trickled.method} {trickled.path}")
    assert threads_in_http(before) == []  # nothing of the call runs on
    assert standin.validation_errors == []


def test_the_deadline_holds_over_tls_and_a_kept_alive_connection(vendor_specs, monkeypatch):  # type: ignore[no-untyped-def]
    """Through TLS (the handshake and the encrypted reads are capped too), and on a connection
    an earlier request left open: the later request gets a deadline of its own."""
    import httpx
    from intercom import Intercom

    from integrations.intercom.client import deadline_client

    with IntercomStandin(tls=True) as server:
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
        http = deadline_client(1.0, server.base_url)
        try:
            sdk = Intercom(token=server.token, base_url=server.base_url, httpx_client=http)
            conversation = server.add_conversation()
            assert sdk.conversations.with_raw_response.find(conversation)  # opens the connection
            server.trickle_next(TRICKLE)
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                sdk.conversations.with_raw_response.find(conversation)
            assert time.monotonic() - started < 1.0 + SLACK
            wait_for_hang_up(server, f"GET /conversations/{conversation}")
            assert sdk.conversations.with_raw_response.find(conversation)  # a new connection
        finally:
            http.close()
    assert server.validation_errors == []


def test_doctor_reports_a_trickled_answer_as_a_timeout(destination, standin):  # type: ignore[no-untyped-def]
    standin.trickle_next(TRICKLE, route="^GET /me$")
    [finding] = destination.doctor()
    assert not finding.ok and "no complete answer within 1s" in finding.what
    wait_for_hang_up(standin, "GET /me")


def retry_until_done(worker: Any, runtime: Any, clock: Any) -> None:
    """Let the outbox run every retry that falls due (the fake clock jumps to each)."""
    for _ in range(10):
        with runtime.store.reading() as tx:
            due = tx.next_due_at()
        if due is None:
            return
        clock.advance(max(0.0, due - clock().timestamp()) + 0.01)
        drain(worker)
    raise AssertionError("the outbox still has work after ten retries")


def test_a_trickled_ticket_create_is_retried_into_exactly_one_ticket(
    client, worker, runtime, standin, clock
):  # type: ignore[no-untyped-def]
    standin.trickle_next(TRICKLE, route="^POST /tickets$")  # created; the answer crawls in
    handoff_id = escalate(client, "web-conv-slow", channel="web")
    drain(worker)
    with runtime.store.reading() as tx:
        [row] = [r for r in tx.list_outbox() if r.kind == "destination"]
    assert row.status == "pending" and "no complete answer within 1s" in (row.last_error or "")
    retry_until_done(worker, runtime, clock)
    [ticket] = standin.tickets.values()
    assert ticket["ticket_attributes"]["handoff_id"] == handoff_id
    with runtime.store.reading() as tx:
        assert tx.get_ticket_refs(handoff_id)["intercom"]["id"] == ticket["id"]
    assert standin.validation_errors == []


def test_a_trickled_note_is_retried_into_exactly_one_note(client, worker, runtime, standin, clock):  # type: ignore[no-untyped-def]
    conversation = standin.add_conversation()
    standin.trickle_next(TRICKLE, route=r"^POST /conversations/\d+/reply$", head_first=True)
    handoff_id = escalate(client, conversation)
    drain(worker)
    retry_until_done(worker, runtime, clock)
    [note] = handoff_notes(standin, conversation, handoff_id)
    assert len(standin.assignments(conversation)) == 1
    with runtime.store.reading() as tx:
        assert tx.get_ticket_refs(handoff_id)["intercom"]["extra"]["note_part_id"] == note["id"]
    assert standin.validation_errors == []


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1: relays absolute-URI requests, records them."""

    def __init__(self) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def relay(self) -> None:
                seen.append(f"{self.command} {self.path}")
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(target.netloc, timeout=5)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                upstream.request(self.command, target.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = do_PUT = relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("bypassed", [False, True], ids=["proxied", "no_proxy"])
def test_calls_go_through_the_environments_proxy(
    runtime, standin, make_destination, monkeypatch, bypassed
):  # type: ignore[no-untyped-def]
    proxy = ForwardProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.url)
        if bypassed:
            monkeypatch.setenv("no_proxy", "127.0.0.1")
        destination = make_destination(intercom_config(standin))
        conversation = standin.add_conversation()
        destination.deliver(delivery(payload(conversation_id=conversation)))
    finally:
        proxy.close()
    assert len(standin.notes(conversation)) == 1
    if bypassed:
        assert proxy.seen == []
    else:
        assert proxy.seen[0] == f"POST {standin.base_url}/conversations/{conversation}/reply"
        assert len(proxy.seen) == len(standin.requests)


# --- webhooks -----------------------------------------------------------------------------------
@pytest.fixture
def delivered(client, worker, standin, receiver) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    conversation = standin.add_conversation()
    handoff_id = escalate(client, conversation)
    drain(worker)
    return conversation, handoff_id


def test_webhook_signatures(client, delivered, standin):
    body = notification("ping", {"type": "ping", "message": "hi"})
    raw = json.dumps(body).encode()
    assert post_webhook(client, body).status_code == 200
    bad = client.post(
        "/v1/webhooks/intercom", data=raw, headers={"X-Hub-Signature": sign_webhook("wrong", raw)}
    )
    assert bad.status_code == 401 and bad.get_json()["status"] == 401
    missing = client.post("/v1/webhooks/intercom", data=raw)
    assert missing.status_code == 401
    tampered = client.post(
        "/v1/webhooks/intercom",
        data=raw + b" ",
        headers={"X-Hub-Signature": sign_webhook(CLIENT_SECRET, raw)},
    )
    assert tampered.status_code == 401


def test_unsigned_webhooks_are_refused_without_a_client_secret(make_destination, standin):
    destination = make_destination(intercom_config(standin, client_secret=None))
    with pytest.raises(Unauthorized, match="client_secret"):
        destination.verify_webhook({"X-Hub-Signature": sign_webhook("", b"{}")}, b"{}")
    with pytest.raises(BadRequest):
        destination.parse_webhook({}, b"not json")


def test_agent_assignment_reply_and_handback_reach_the_bot(
    client, worker, runtime, delivered, standin, receiver
):
    conversation, handoff_id = delivered
    assigned = part("assignment", assigned_to={"type": "admin", "id": AGENT})
    item = conversation_item(standin, conversation, assigned, admin_assignee_id=int(AGENT))
    answer = post_webhook(
        client, notification("conversation.admin.assigned", item, "n1")
    ).get_json()
    assert answer["results"] == ["assigned"]
    assert (
        client.get(f"/v1/conversations/{conversation}/control", headers=AUTH).get_json()["owner"]
        == "agent"
    )
    replied = conversation_item(standin, conversation, part("comment", body="<p>Hi Ada</p>"))
    assert post_webhook(
        client, notification("conversation.admin.replied", replied, "n2")
    ).get_json()["results"] == ["agent replied"]
    again = post_webhook(
        client, notification("conversation.admin.replied", replied, "n2")
    ).get_json()
    assert again["results"] == ["duplicate"]
    note = part("note", body="<p>#handback Refund issued; <b>resume</b> with order 42.</p>")
    noted = conversation_item(standin, conversation, note)
    assert post_webhook(client, notification("conversation.admin.noted", noted, "n3")).get_json()[
        "results"
    ] == ["handed back"]
    drain(worker)
    handed = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert [(h["handoff_id"], h["note"]) for h in handed] == [
        (handoff_id, "Refund issued; resume with order 42.")
    ]
    assert (
        client.get(f"/v1/conversations/{conversation}/control", headers=AUTH).get_json()["owner"]
        == "bot"
    )
    # the connector's own note about the handback lands in Intercom; its echo means nothing
    [echo] = [n for n in standin.notes(conversation) if "Handed back" in n["body"]]
    echoed = conversation_item(standin, conversation, echo)
    assert (
        post_webhook(client, notification("conversation.admin.noted", echoed, "n4")).get_json()[
            "received"
        ]
        == 0
    )


def test_handback_tag_hands_back_with_the_agents_last_note(
    client, worker, delivered, standin, receiver
):
    conversation, handoff_id = delivered
    client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "grace"}, headers=AUTH)
    item = conversation_item(
        standin,
        conversation,
        part("note", body="<p>Customer sorted, over to you</p>"),
        tags_added={
            "type": "tag.list",
            "tags": [{"type": "tag", "id": "9", "name": "Hand back to bot"}],
        },
    )
    answer = post_webhook(
        client, notification("conversation_part.tag.created", item, "t1")
    ).get_json()
    assert answer["results"] == ["handed back"]
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["note"] == "Customer sorted, over to you"


def test_reassignment_to_another_team_is_a_routing_miss(client, runtime, delivered, standin):
    conversation, handoff_id = delivered
    with runtime.store.reading() as tx:
        routed = tx.get_handoff(handoff_id).team
    other, other_id = ("billing", BILLING) if routed != "billing" else ("general", SUPPORT)
    item = conversation_item(
        standin,
        conversation,
        part("assignment", assigned_to={"type": "team", "id": other_id}),
        team_assignee_id=int(other_id),
        admin_assignee_id=None,
    )
    answer = post_webhook(
        client, notification("conversation.admin.assigned", item, "r1")
    ).get_json()
    assert answer["results"] == ["reassigned"]
    with runtime.store.reading() as tx:
        assert tx.get_handoff(handoff_id).team == other


def test_echoes_of_our_own_note_assignment_and_attributes_trigger_nothing(
    client, delivered, standin
):
    conversation, _ = delivered
    state = standin.conversations[conversation]
    for topic, parts in [
        ("conversation.admin.noted", standin.notes(conversation)),
        ("conversation.admin.assigned", standin.assignments(conversation)),
        ("conversation.admin.replied", standin.notes(conversation)),
    ]:
        item = conversation_item(
            standin, conversation, *parts, admin_assignee_id=state["admin_assignee_id"]
        )
        answer = post_webhook(client, notification(topic, item, f"echo-{topic}")).get_json()
        assert answer == {"received": 0, "results": []}, topic


def test_closed_means_solved_and_unknown_conversations_are_ignored(client, delivered, standin):
    conversation, _ = delivered
    closed = conversation_item(standin, conversation, part("close"))
    assert post_webhook(client, notification("conversation.admin.closed", closed, "c1")).get_json()[
        "results"
    ] == ["solved"]
    stranger = standin.add_conversation()
    item = conversation_item(standin, stranger, part("comment", body="hi"))
    assert (
        post_webhook(client, notification("conversation.admin.replied", item, "c2")).get_json()[
            "received"
        ]
        == 0
    )


@pytest.mark.parametrize(
    ("topic", "parts", "extra", "kinds"),
    [
        ("ping", [], {}, []),
        ("conversation.user.replied", [part("comment")], {}, []),
        ("conversation.admin.replied", [part("comment")], {}, ["agent_replied"]),
        ("conversation.admin.replied", [part("comment", author=OUR_ADMIN)], {}, []),
        ("conversation.admin.noted", [part("note", body="<p>just a note</p>")], {}, []),
        ("conversation.admin.noted", [part("note", body="<p>#HANDBACK</p>")], {}, ["handback"]),
        (
            "conversation.admin.assigned",
            [part("assignment", assigned_to={"type": "team", "id": SUPPORT})],
            {},
            [],
        ),
        (
            "conversation.admin.assigned",
            [part("assignment", assigned_to={"type": "team", "id": "77"})],
            {},
            ["reassigned"],
        ),
        (
            "conversation.admin.assigned",
            [part("assignment", assigned_to={"type": "admin", "id": AGENT})],
            {},
            ["agent_assigned"],
        ),
        ("conversation.admin.closed", [part("close")], {}, ["solved"]),
        ("conversation_part.tag.created", [], {"tags_added": {"tags": [{"name": "vip"}]}}, []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_webhook_mapping_table(topic, parts, extra, kinds):
    settings = IntercomSettings(token="t", admin_id=OUR_ADMIN, team_ids={"general": SUPPORT})
    item = {
        "type": "conversation",
        "id": "1000",
        "custom_attributes": {"handoff_id": "ho_1"},
        "conversation_parts": {"conversation_parts": parts},
        **extra,
    }
    events = webhook_events(notification(topic, item), settings, routed_team="general")
    assert [e.kind for e in events] == kinds
    assert all(e.handoff_id == "ho_1" and e.raw_id == f"notif_1:{e.kind}" for e in events)


def test_ticket_webhooks_find_the_handoff_through_the_ticket_attribute():
    settings = IntercomSettings(
        token="t",
        admin_id=OUR_ADMIN,
        ticket_type_id="68",
        ticket_attributes={"handoff_id": "handoff_id"},
    )
    item = {
        "type": "ticket",
        "id": "55",
        "open": False,
        "ticket_attributes": {"handoff_id": "ho_9"},
    }
    [solved] = webhook_events(notification("ticket.state.updated", item), settings)
    assert (solved.kind, solved.handoff_id, solved.ticket_id) == ("solved", "ho_9", "55")


# --- doctor -------------------------------------------------------------------------------------
def test_doctor_good_configuration(destination, standin):
    findings = destination.doctor()
    assert findings and all(f.ok for f in findings), [f for f in findings if not f.ok]


def test_doctor_names_every_bad_id(make_destination, standin):
    config = intercom_config(
        standin,
        admin_id="1",
        team_ids={"general": "404"},
        ticket_type_id="9",
        conversation_attributes={"handoff_id": "handoff_idd"},
    )
    bad = [f.what for f in make_destination(config).doctor() if not f.ok]
    assert any("admin_id 1" in w for w in bad) and any("team_ids.general = 404" in w for w in bad)
    assert any("ticket_type_id 9" in w for w in bad) and any("'handoff_idd'" in w for w in bad)


def test_doctor_bad_token(make_destination, standin):
    findings = make_destination(intercom_config(standin, token="wrong")).doctor()
    assert [f.ok for f in findings] == [False] and "Developer Hub" in findings[0].fix


def test_app_without_sdk_says_what_to_install(monkeypatch, standin):
    import sys

    monkeypatch.setitem(sys.modules, "intercom", None)
    problems = IntercomDestination.validate_settings(intercom_config(standin))
    assert (
        "",
        "python-intercom is not installed: pip install 'handoff-connector[intercom]'",
    ) in problems


def test_create_app_serves_the_intercom_webhook(settings, clock):
    runtime = build_runtime(settings, clock=clock)
    try:
        app_client = create_app(runtime=runtime).test_client()
        body = notification("ping", {"type": "ping"})
        assert post_webhook(app_client, body).get_json() == {"received": 0, "results": []}
    finally:
        runtime.destinations["intercom"].close()
        runtime.close()
