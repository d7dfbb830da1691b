"""Zendesk: the real zenpy over HTTPS against the stand-in, end to end through the app and worker.

Covers the build step on its own, the exact ticket a bot event becomes, the shared failure table
(on the lookup, the create and the note), an outage with ambiguous failures delivered exactly once,
webhook signatures, every helpdesk event (handback reaching the bot), echo suppression, doctor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("zenpy")

from connector.errors import ConfigError  # noqa: E402
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
from integrations.base import (  # noqa: E402
    Deferred,
    Delivery,
    PermanentDeliveryError,
    TicketRef,
    TransientDeliveryError,
)
from integrations.zendesk import ZendeskDestination  # noqa: E402
from integrations.zendesk.build import (  # noqa: E402
    ZendeskSettings,
    build_ticket,
    existing_ticket_id,
    render_note,
)
from integrations.zendesk.client import INSTALL_HINT  # noqa: E402
from integrations.zendesk.webhooks import WEBHOOK_BODY_TEMPLATE  # noqa: E402
from tests.helpers import API_KEY, SECRET, drain, event, make_settings, post_event  # noqa: E402  # noqa: E402
from tests.integrations.harness import (  # noqa: E402
    FAILURE_TABLE,
    check_failure,
    connection_refused_case,
)
from tests.standins.fixtures import _serve  # noqa: E402
from tests.standins.zendesk import ZendeskStandin  # noqa: E402

AGENT = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SECRET = "zd-webhook-signing-secret"
GENERAL, BILLING = 6130852536346, 6130852536347
FIELDS = {"handoff_id": 360001, "sentiment": 360002, "intent": 360003, "reason": 360004,
          "confidence": 360005}  # fmt: skip
TICKET_FIELDS = [
    {"id": 360001, "title": "Handoff ID", "type": "text"},
    {"id": 360002, "title": "Handoff sentiment", "type": "tagger"},
    {"id": 360003, "title": "Handoff intent", "type": "text"},
    {"id": 360004, "title": "Handoff reason", "type": "text"},
    {"id": 360005, "title": "Handoff confidence", "type": "decimal"},
    {"id": 360009, "title": "Type", "type": "tickettype", "active": True},
]
AGENT_EMAIL = "mia@example.com"


@pytest.fixture
def zendesk(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The Zendesk stand-in, seeded with the project's custom fields and the Type field."""
    yield from _serve(ZendeskStandin(ticket_fields=TICKET_FIELDS), monkeypatch)


def zd_config(standin: ZendeskStandin, **over: Any) -> dict[str, Any]:
    return {
        "subdomain": standin.subdomain, "email": standin.email, "token": standin.token,
        "group_ids": {"general": GENERAL, "billing": BILLING}, "custom_fields": dict(FIELDS),
        "ticket_type": "incident", "webhook_secret": WEBHOOK_SECRET, "timeout_seconds": 1.0,
        "requests_per_minute": 2500, **over,
    }  # fmt: skip


@pytest.fixture
def settings(tmp_path, receiver, zendesk):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, receiver.url, destinations={"zendesk": zd_config(zendesk)})


@pytest.fixture
def destination(runtime) -> ZendeskDestination:  # type: ignore[no-untyped-def]
    return runtime.destinations["zendesk"]


def payload(handoff_id: str = "ho_test1", **over: Any) -> HandoffPayload:
    data: dict[str, Any] = dict(
        handoff_id=handoff_id, conversation_id="conv-9", created_at=datetime(2026, 7, 1, tzinfo=UTC),
        summary="Order <881> never arrived & the customer wants a person.",
        transcript=Transcript(turns=[TranscriptTurn(id="m1", role="customer", text="hi")],
                              url="https://connector.example/t/conv-9"),
        customer=CustomerProfile(name="Ada <b>Lovelace</b>", email="ada@example.com", tier="gold",
                                 channel="web", language="en"),
        intent=IntentInfo(name="order_status", confidence=0.42, source="bot"),
        sentiment=SentimentInfo(label="Frustrated", score=-0.6, trend="worsening"),
        escalation=Escalation(reasons=[Reason(trigger="human_request", rule="asks_for_person")],
                              rules=["asks_for_person"], policy_version="p-1"),
        citations=[Citation(title="Shipping <times>", url="https://help.example.com/ship"),
                   Citation(title="Bad link", url="javascript:alert(1)", snippet="<img src=x>")],
        draft_reply="Hi Ada, I'm checking <order 881> now.",
        next_action=NextAction(action="check_carrier", reasoning="tracking stalled"),
        routing=Routing(team="general", priority="high"),
    )  # fmt: skip
    data.update(over)
    return HandoffPayload(**data)


def delivery(handoff_id: str = "ho_test1", attempt: int = 1, **over: Any) -> Delivery:
    return Delivery(
        handoff_id=handoff_id,
        payload=payload(handoff_id),
        idempotency_key=f"k-{handoff_id}",
        widget_url=f"http://127.0.0.1:8080/inbox/{handoff_id}",
        attempt=attempt,
        **over,
    )


def accepted(client, body):  # type: ignore[no-untyped-def]
    answer = post_event(client, body)
    assert answer.status_code == 200, answer.json
    return answer.json


def escalate(client, worker, **extra: Any) -> str:  # type: ignore[no-untyped-def]
    body = accepted(client, event(**extra))
    assert body["decision"]["escalate"] is True
    drain(worker)
    return str(body["handoff"]["id"])


def internal_notes(standin: ZendeskStandin) -> list[str]:
    return [n["html_body"] for t in standin.tickets for n in standin.internal_notes(t)]


# --- the build step, no I/O ----------------------------------------------------------------------


def test_build_ticket_is_the_exact_request_body():
    zs = ZendeskSettings.model_validate(zd_config(ZendeskStandin()))
    ticket = build_ticket(payload(), zs, "http://127.0.0.1:8080/inbox/ho_test1")
    note = ticket.pop("comment")
    assert ticket == {
        "subject": "[Handoff] order status — Ada <b>Lovelace</b>",
        "priority": "high",
        "tags": ["handoff", "handoff_reason_human_request", "handoff_team_general",
                 "handoff_sentiment_frustrated"],
        "external_id": "ho_test1",
        "requester": {"name": "Ada <b>Lovelace</b>", "email": "ada@example.com"},
        "type": "incident",
        "group_id": GENERAL,
        "custom_fields": [{"id": 360001, "value": "ho_test1"}, {"id": 360002, "value": "frustrated"},
                          {"id": 360003, "value": "order_status"}, {"id": 360004, "value": "human_request"},
                          {"id": 360005, "value": 0.42}],
    }  # fmt: skip
    assert note["public"] is False
    body = note["html_body"]
    assert "Order &lt;881&gt; never arrived &amp; the customer" in body
    assert "Hi Ada, I&#x27;m checking &lt;order 881&gt; now." in body
    assert '<a href="https://help.example.com/ship">Shipping &lt;times&gt;</a>' in body
    assert "javascript:" not in body and "<img" not in body and "&lt;img src=x&gt;" in body
    assert "<b>" not in body and "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in body
    assert '<a href="http://127.0.0.1:8080/inbox/ho_test1">' in body
    assert '<a href="https://connector.example/t/conv-9">Full transcript</a>' in body
    assert "Frustrated (score -0.60, worsening)" in body and "check_carrier" in body
    assert "handoff-connector ref ho_test1" in body


@pytest.mark.parametrize(("change", "missing"), [
    ({"customer": CustomerProfile(name="Anon")}, "requester"),
    ({"routing": Routing(team="sales", priority="normal")}, "group_id"),
    ({"sentiment": None, "intent": IntentInfo()}, None),
], ids=["no-email-no-requester", "unmapped-team-no-group", "missing-values-skipped"])  # fmt: skip
def test_build_ticket_leaves_out_what_it_cannot_fill(change, missing):
    zs = ZendeskSettings.model_validate(zd_config(ZendeskStandin(), ticket_type=None))
    ticket = build_ticket(payload(**change), zs, "http://x/inbox/1")
    assert "type" not in ticket
    if missing:
        assert missing not in ticket
    else:
        assert {f["id"] for f in ticket["custom_fields"]} == {360001, 360004}
        assert "handoff_sentiment_neutral" not in ticket["tags"]


@pytest.mark.parametrize(("channel", "conversation", "attributes", "enabled", "expected"), [
    ("zendesk", "12345", {}, True, 12345),
    ("zendesk", "zendesk:777", {}, True, 777),
    ("zendesk", "zendesk-ticket-42", {}, True, 42),
    ("web", "conv-1", {"zendesk_ticket_id": "99"}, True, 99),
    ("web", "12345", {}, True, None),
    ("zendesk", "chat-abc", {}, True, None),
    ("zendesk", "12345", {}, False, None),
], ids=["plain-id", "prefixed", "ticket-prefixed", "attribute", "other-channel", "not-a-number",
        "disabled"])  # fmt: skip
def test_existing_ticket_rule(channel, conversation, attributes, enabled, expected):
    zs = ZendeskSettings.model_validate(zd_config(ZendeskStandin(), update_existing_ticket=enabled))
    p = payload(
        conversation_id=conversation,
        customer=CustomerProfile(channel=channel, attributes=attributes),
    )
    assert existing_ticket_id(p, zs) == expected


# --- configuration -------------------------------------------------------------------------------


def test_settings_problems_name_their_key_paths(tmp_path):
    bad = {"subdomain": "Not A Subdomain", "email": "nobody", "token": "",
           "group_ids": {"billing": "abc"}, "custom_fields": {"mood": 1}, "ticket_type": "bug",
           "requests_per_minute": 10_000, "timeout_seconds": 0, "colour": "red"}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"zendesk": bad})
    paths = {path for path, _ in info.value.problems}
    assert {
        f"destinations.zendesk.{k}"
        for k in (
            "subdomain",
            "email",
            "token",
            "group_ids.billing",
            "custom_fields.mood.[key]",
            "ticket_type",
            "requests_per_minute",
            "timeout_seconds",
            "colour",
        )
    } <= paths, paths
    assert ZendeskDestination.validate_settings(zd_config(ZendeskStandin())) == []


def test_missing_zenpy_says_which_pip_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zenpy", None)
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"zendesk": zd_config(ZendeskStandin())})
    assert ("destinations.zendesk", INSTALL_HINT) in info.value.problems
    assert "pip install 'handoff-connector[zendesk]'" in INSTALL_HINT


# --- end to end: bot event -> ticket -------------------------------------------------------------


def test_bot_event_becomes_one_ticket_with_the_exact_fields(
    client, worker, runtime, zendesk, receiver
):
    handoff_id = escalate(
        client,
        worker,
        bot={
            "intent": {"name": "order_status", "confidence": 0.41},
            "summary": "Order 881 <never> arrived; the customer wants a person.",
            "draft_reply": "Hi Ada, I'm checking order 881 now.",
            "citations": [{"title": "Returns", "url": "https://h.example/r"}],
        },
    )
    [ticket] = zendesk.tickets.values()
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    sent = HandoffPayload.model_validate(view["payload"])
    zs = runtime.destinations["zendesk"].settings
    expected = build_ticket(sent, zs, f"{runtime.base_url}/inbox/{handoff_id}")

    [create] = zendesk.requests_to("POST", r"/api/v2/tickets\.json$")
    assert create.json == {"ticket": expected}  # exactly what the build step made, nothing else
    requester = zendesk.users[ticket["requester_id"]]
    assert (requester["email"], requester["name"]) == ("ada@example.com", "Ada Lovelace")
    assert ticket["external_id"] == handoff_id
    assert ticket["group_id"] == GENERAL and ticket["type"] == "incident"
    assert ticket["priority"] == sent.routing.priority
    assert ticket["tags"] == ["handoff", "handoff_reason_human_request", "handoff_team_general",
                              f"handoff_sentiment_{sent.sentiment.label.lower()}"]  # fmt: skip
    assert {f["id"]: f["value"] for f in ticket["custom_fields"]} == {
        360001: handoff_id, 360002: sent.sentiment.label.lower(), 360003: "order_status",
        360004: "human_request", 360005: 0.41,
    }  # fmt: skip
    [note] = zendesk.internal_notes(ticket["id"])
    assert note["html_body"] == render_note(sent, f"{runtime.base_url}/inbox/{handoff_id}")
    assert "Order 881 &lt;never&gt; arrived" in note["html_body"]
    assert view["deliveries"][0]["destination"] == "zendesk"
    assert zendesk.validation_errors == []
    # no secret travels in any request body, path or query (the token only in the auth header)
    for secret in (zendesk.token, WEBHOOK_SECRET, SECRET):
        for r in zendesk.requests:
            assert secret.encode() not in r.body and secret not in r.path + json.dumps(r.query)
        for r in receiver.received:
            assert secret.encode() not in r["raw"]


def test_failed_lookup_after_the_create_never_makes_a_second_ticket(destination, zendesk):
    first = destination.deliver(delivery())
    again = destination.deliver(delivery(attempt=2))
    previous = destination.deliver(delivery(attempt=3, previous=first))
    assert first.id == again.id == previous.id and len(zendesk.tickets) == 1
    assert len(zendesk.requests_to("POST", r"/tickets\.json$")) == 1


# --- the shared failure table --------------------------------------------------------------------


class OnRoute:
    """The stand-in, with every fault the harness queues pinned to one route."""

    def __init__(self, standin: ZendeskStandin, route: str):
        self.standin, self.route = standin, route

    def fail_next(self, *args: Any, **kwargs: Any) -> None:
        self.standin.fail_next(*args, route=self.route, **kwargs)

    def delay_next(self, *args: Any, **kwargs: Any) -> None:
        self.standin.delay_next(*args, route=self.route, **kwargs)

    def drop_next(self, *args: Any, **kwargs: Any) -> None:
        self.standin.drop_next(*args, route=self.route, **kwargs)

    def clear_faults(self) -> None:
        self.standin.clear_faults()


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
@pytest.mark.parametrize("step", ["lookup", "create", "note"])
def test_failure_table(step, case, destination, zendesk):
    route = {"lookup": r"^GET /api/v2/tickets$", "create": r"^POST /api/v2/tickets$",
             "note": r"^PUT /api/v2/tickets/\d+$"}[step]  # fmt: skip
    if step == "note":
        ref = destination.deliver(delivery())
        attempt = lambda: destination.add_note(ref, "Reminder: nobody answered yet.")  # noqa: E731
    else:
        attempt = lambda: destination.deliver(delivery())  # noqa: E731
    error = check_failure(OnRoute(zendesk, route), attempt, case)
    if case.id.startswith("429-retry-after"):
        assert error.retry_after is not None and 0 < error.retry_after <= 31
    # and then it recovers, exactly once, whatever the failure did on the vendor's side
    attempt()
    attempt()
    assert len(zendesk.tickets) == 1
    [ticket_id] = zendesk.tickets
    notes = [n["html_body"] for n in zendesk.internal_notes(ticket_id)]
    assert len(notes) == (2 if step == "note" else 1), notes
    assert zendesk.validation_errors == []


def test_connection_refused_is_transient(runtime, zendesk, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{port}")
    destination = ZendeskDestination.from_config(zd_config(zendesk), runtime)
    error = connection_refused_case(lambda: destination.deliver(delivery()))
    assert "ConnectionError" in str(error)


def test_rate_limiter_holds_back_without_sleeping(runtime, zendesk):
    destination = ZendeskDestination.from_config(zd_config(zendesk, requests_per_minute=1), runtime)
    # the delivery reserves its lookup and create together, so our limiter never cuts it half-way
    destination.deliver(delivery())
    assert len(zendesk.tickets) == 1
    with pytest.raises(Deferred) as info:  # the next one is held back before it sends anything
        destination.deliver(delivery(handoff_id="h-second"))
    assert info.value.retry_after is not None and info.value.retry_after > 1
    assert len(zendesk.tickets) == 1


def test_unknown_group_is_a_permanent_error_with_zendesk_words(runtime, zendesk):
    config = zd_config(zendesk, group_ids={"general": 1})
    destination = ZendeskDestination.from_config(config, runtime)
    with pytest.raises(PermanentDeliveryError) as info:
        destination.deliver(delivery())
    assert info.value.status == 422 and "Group: 1 is invalid" in (info.value.response or "")


# --- an outage, ambiguous failures, recovery: everything exactly once ----------------------------


def test_outage_and_recovery_deliver_everything_exactly_once(
    client, worker, runtime, zendesk, receiver, clock
):
    def retry_later() -> None:
        clock.advance(61)  # past the longest backoff in these settings (60 s)
        drain(worker)

    zendesk.fail_next(503, times=3)  # down: the lookup is refused three times
    body = accepted(client, event())
    handoff_id = body["handoff"]["id"]
    drain(worker)
    for _ in range(2):
        retry_later()
    assert zendesk.tickets == {}
    zendesk.drop_next(apply=True, route=r"^POST /api/v2/tickets$")  # created, answer lost
    retry_later()
    zendesk.delay_next(2.5, route=r"^GET /api/v2/tickets$")  # the next lookup times out
    retry_later()
    retry_later()
    assert len(zendesk.tickets) == 1
    [ticket_id] = zendesk.tickets
    assert len(zendesk.internal_notes(ticket_id)) == 1
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    assert view["deliveries"][0]["id"] == str(ticket_id)

    # the handback note: applied but answered too late, then dropped after applying
    zendesk.delay_next(2.5, route=r"^PUT /api/v2/tickets/\d+$")
    back = client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        json={"actor": "agent.mia", "note": "Refund <issued>."},
    )
    assert back.status_code == 200, back.json
    drain(worker)
    zendesk.drop_next(apply=True, route=r"^PUT /api/v2/tickets/\d+$")
    retry_later()
    retry_later()
    notes = [n["html_body"] for n in zendesk.internal_notes(ticket_id)]
    assert len(notes) == 2 and "Refund &lt;issued&gt;." in notes[1]
    assert len(zendesk.requests_to("POST", r"/tickets\.json$")) == 1
    handed = [r for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"]
    assert len(handed) == 1
    with runtime.store.reading() as tx:
        rows = tx.list_outbox()
    assert {r.status for r in rows} == {"done"}, [(r.target, r.status, r.last_error) for r in rows]
    assert zendesk.validation_errors == []


# --- webhooks ------------------------------------------------------------------------------------


def signed(
    body: bytes, *, secret: str = WEBHOOK_SECRET, at: datetime | None = None
) -> dict[str, str]:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp}  # fmt: skip


def render_trigger(values: dict[str, str]) -> bytes:
    """Fill WEBHOOK_BODY_TEMPLATE as Zendesk would (JSON-escaped values; one latest comment)."""
    text = re.sub(r"\{%.*?%\}", "", WEBHOOK_BODY_TEMPLATE)
    text = re.sub(r"\{\{([\w.]+)\}\}", lambda m: json.dumps(values.get(m.group(1), ""))[1:-1], text)
    return text.encode()


def trigger(handoff_id: str, ticket_id: int | str, **values: str) -> bytes:
    base = {"ticket.id": str(ticket_id), "ticket.external_id": handoff_id, "ticket.status": "Open",
            "ticket.group.id": str(GENERAL), "ticket.group.name": "Support",
            "ticket.requester.email": "ada@example.com", "ticket.tags": "handoff handoff_team_general",
            "ticket.updated_at_with_timestamp": "2026-07-01T10:00:00Z",
            "current_user.id": "501", "current_user.email": AGENT_EMAIL, "current_user.name": "Mia",
            "comment.id": "9001", "comment.author.email": AGENT_EMAIL, "comment.is_public": "false",
            "comment.value": "Looking into it."}  # fmt: skip
    return render_trigger(base | values)


def hook(client, body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/v1/webhooks/zendesk", data=body, headers=headers or signed(body))


@pytest.mark.parametrize(("make_headers", "status"), [
    (lambda b: signed(b), 200),
    (lambda b: signed(b, secret="not-the-secret"), 401),
    (lambda b: signed(b, at=datetime.now(UTC) - timedelta(minutes=10)), 401),
    (lambda b: signed(b, at=datetime.now(UTC) + timedelta(minutes=10)), 401),
    (lambda b: {**signed(b), "X-Zendesk-Webhook-Signature-Timestamp": "2026-07-01T10:00:01Z"}, 401),
    (lambda b: {"Content-Type": "application/json"}, 401),
], ids=["valid", "wrong-secret", "stale", "future", "timestamp-swapped", "unsigned"])  # fmt: skip
def test_webhook_signatures(client, make_headers, status):
    body = trigger("ho_unknown", 1)
    answer = client.post("/v1/webhooks/zendesk", data=body, headers=make_headers(body))
    assert answer.status_code == status, answer.json
    if status == 401:
        assert answer.json["type"].endswith("/unauthorized")


def test_tampered_body_is_refused(client):
    body = trigger("ho_unknown", 1)
    headers = signed(body)
    assert hook(client, body.replace(b"Open", b"Solved"), headers).status_code == 401


def test_unreadable_body_is_a_400_not_a_500(client):
    for body in (b"not json", b'{"ticket": 3}', b"[]"):
        answer = hook(client, body)
        assert answer.status_code == 400, (body, answer.json)


def test_handback_from_zendesk_reaches_the_bot(client, worker, zendesk, receiver):
    handoff_id = escalate(client, worker)
    [ticket_id] = zendesk.tickets
    body = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.tags": "handoff handoff_back_to_bot",
            "comment.value": 'Refund issued "today".\nResume.',
        },
    )
    answer = hook(client, body)
    assert answer.json == {"received": 1, "results": ["handed back"]}
    assert hook(client, body).json["results"] == ["duplicate"]  # Zendesk retried the webhook
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert (
        handed["note"] == 'Refund issued "today".\nResume.' and handed["handoff_id"] == handoff_id
    )
    assert handed["actor"] == AGENT_EMAIL
    notes = zendesk.internal_notes(ticket_id)
    assert len(notes) == 2 and "Handed back to the bot by mia@example.com" in notes[1]["html_body"]

    # the connector's own note fires the trigger again: the echo changes nothing
    echo = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.tags": "handoff handoff_back_to_bot",
            "current_user.email": zendesk.email,
            "comment.author.email": zendesk.email,
            "comment.value": "Handed back to the bot",
        },
    )
    assert hook(client, echo).json == {"received": 0, "results": []}
    assert drain(worker) == 0


def test_assigned_replied_reassigned_and_solved(client, worker, zendesk, receiver):
    handoff_id = escalate(client, worker)
    [ticket_id] = zendesk.tickets
    control = lambda: client.get("/v1/conversations/conv-1/control", headers=AGENT).json  # noqa: E731
    view = lambda: client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json  # noqa: E731
    assert control()["owner"] == "pending_agent"

    moved = trigger(
        handoff_id,
        ticket_id,
        **{"ticket.group.id": str(BILLING), "current_user.email": "lead@example.com"},
    )
    assert hook(client, moved).json["results"] == ["reassigned"]
    assert view()["team"] == "billing" and control()["owner"] == "pending_agent"

    assigned = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.group.id": str(BILLING),
            "ticket.assignee.id": "501",
            "ticket.assignee.email": AGENT_EMAIL,
            "ticket.assignee.name": "Mia",
        },
    )
    assert hook(client, assigned).json["results"] == ["assigned"]
    assert control()["owner"] == "agent" and view()["status"] == "with_agent"

    replied = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.group.id": str(BILLING),
            "ticket.assignee.id": "501",
            "ticket.assignee.email": AGENT_EMAIL,
            "comment.id": "9002",
            "comment.is_public": "true",
            "comment.value": "Hi Ada, your refund is on its way.",
        },
    )
    assert hook(client, replied).json["results"] == ["duplicate", "agent replied"]

    # a public comment by the customer is not an agent reply
    customer = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.group.id": str(BILLING),
            "ticket.assignee.email": AGENT_EMAIL,
            "comment.id": "9003",
            "comment.is_public": "true",
            "comment.author.email": "ada@example.com",
            "current_user.email": "ada@example.com",
        },
    )
    assert hook(client, customer).json["results"] == ["duplicate"]

    solved = trigger(
        handoff_id, ticket_id, **{"ticket.status": "Solved", "ticket.group.id": str(BILLING)}
    )
    assert hook(client, solved).json["results"] == ["solved"]
    assert control()["owner"] == "bot" and view()["status"] == "handed_back"
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["resolution"] == "solved"


def test_tickets_that_are_not_handoffs_are_ignored(client):
    assert hook(client, trigger("", 77)).json == {"received": 0, "results": []}
    assert hook(client, trigger("ho_nope", 77)).json["results"] == ["ignored: unknown handoff"]


def test_the_template_is_documented_verbatim():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "zendesk.md").read_text()
    assert WEBHOOK_BODY_TEMPLATE in docs
    json.loads(trigger("ho_1", 1))  # the rendered template is JSON


# --- the customer's own ticket -------------------------------------------------------------------


def test_an_ambiguous_create_with_a_lagging_lookup_makes_one_ticket(
    client, worker, runtime, zendesk, clock
):
    zendesk.clock = clock
    zendesk.lookup_lag_seconds = 45  # under the settle time (60 s by default)
    handoff_id = accepted(client, event())["handoff"]["id"]
    zendesk.drop_next(apply=True, route=r"^POST /api/v2/tickets")  # created, the answer lost
    drain(worker)
    with runtime.store.reading() as tx:
        [row] = [r for r in tx.list_outbox() if r.kind == "destination"]
    assert row.status == "pending" and row.next_attempt_at - clock().timestamp() >= 60
    for _ in range(5):
        with runtime.store.reading() as tx:
            due = tx.next_due_at()
        if due is None:
            break
        clock.advance(max(0.0, due - clock().timestamp()) + 0.01)
        drain(worker)
    [ticket] = zendesk.tickets.values()
    assert ticket["external_id"] == handoff_id and zendesk.validation_errors == []


def test_existing_zendesk_ticket_is_updated_not_duplicated(runtime, zendesk):
    from zenpy.lib.api_objects import Comment, Ticket

    destination = ZendeskDestination.from_config(
        zd_config(zendesk, update_existing_ticket=True), runtime
    )
    own = (
        destination._client()
        .tickets.create(
            Ticket(
                subject="Chat with Ada",
                tags=["vip", "handoff_back_to_bot"],
                comment=Comment(body="Where is my order?"),
            )
        )
        .ticket.id
    )
    p = payload(
        "ho_own",
        conversation_id=f"zendesk:{own}",
        customer=CustomerProfile(name="Ada", email="ada@example.com", channel="zendesk"),
    )
    d = Delivery(
        handoff_id="ho_own", payload=p, idempotency_key="k", widget_url="http://x/inbox/ho_own"
    )
    zendesk.drop_next(apply=True, route=r"^PUT /api/v2/tickets/\d+$")
    with pytest.raises(TransientDeliveryError):
        destination.deliver(d)
    ref = destination.deliver(Delivery(**{**d.__dict__, "attempt": 2}))
    assert ref.id == str(own)
    assert list(zendesk.tickets) == [own]
    ticket = zendesk.tickets[own]
    assert ticket["subject"] == "Chat with Ada" and ticket["external_id"] == "ho_own"
    assert ticket["tags"][:1] == ["vip"] and "handoff_back_to_bot" not in ticket["tags"]
    assert "handoff" in ticket["tags"] and ticket["group_id"] == GENERAL
    assert len(zendesk.internal_notes(own)) == 1 and zendesk.validation_errors == []


def test_update_moves_group_and_priority(destination, zendesk):
    ref = destination.deliver(delivery())
    destination.update(ref, {"team": "billing", "priority": "urgent", "queue": "billing"})
    ticket = zendesk.tickets[int(ref.id)]
    assert (ticket["group_id"], ticket["priority"]) == (BILLING, "urgent")
    assert "handoff_team_billing" in ticket["tags"]
    assert "handoff_team_general" not in ticket["tags"]  # a reroute replaces the team tag
    sent = len(zendesk.requests)
    destination.update(ref, {"team": "nowhere"})  # unknown team: nothing to send
    assert len(zendesk.requests) == sent
    assert [r.path for r in zendesk.requests_to("PUT", r"/tickets/")] == [
        f"/api/v2/tickets/{ref.id}.json",
        f"/api/v2/tickets/{ref.id}/tags.json",
    ]
    assert zendesk.validation_errors == []


def test_note_to_a_deleted_ticket_is_permanent(destination, zendesk):
    with pytest.raises(PermanentDeliveryError) as info:
        destination.add_note(TicketRef("zendesk", "999999"), "hello")
    assert info.value.status == 404


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_with_good_ids(destination):
    findings = destination.doctor()
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    whats = " | ".join(f.what for f in findings)
    assert "signed in to standin.zendesk.com as agent@example.com (admin)" in whats
    assert f"group_ids.billing = {BILLING} (Billing)" in whats
    assert "custom_fields.confidence = 360005 (Handoff confidence, decimal)" in whats


def test_doctor_with_bad_ids(runtime, zendesk):
    config = zd_config(zendesk, group_ids={"general": GENERAL, "billing": 42},
                       custom_fields={"handoff_id": 360001, "confidence": 360002, "intent": 77},
                       webhook_secret=None)  # fmt: skip
    findings = {f.what: f for f in ZendeskDestination.from_config(config, runtime).doctor()}
    bad = sorted(what for what, f in findings.items() if not f.ok)
    assert bad == ["custom_fields.confidence = 360002 (Handoff sentiment, tagger)",
                   "custom_fields.intent = 77 does not exist", "group_ids.billing = 42 does not exist",
                   "webhook_secret is set"]  # fmt: skip
    assert f"{GENERAL} Support" in findings["group_ids.billing = 42 does not exist"].fix
    assert (
        "decimal or text"
        in findings["custom_fields.confidence = 360002 (Handoff sentiment, tagger)"].fix
    )


def test_doctor_with_a_wrong_token(runtime, zendesk):
    config = zd_config(zendesk, token="wrong-token-123")
    [finding] = ZendeskDestination.from_config(config, runtime).doctor()
    assert not finding.ok and "401" in finding.what and "API token" in finding.fix


def test_notes_are_told_apart_by_their_outbox_key(destination, zendesk):  # type: ignore[no-untyped-def]
    """The same reminder words in a later round are a new note; a retry of one row is not."""
    ref = destination.deliver(delivery())
    destination.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:1:zendesk:note")
    destination.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:1:zendesk:note")
    destination.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:7:zendesk:note")
    notes = [n["html_body"] for n in zendesk.internal_notes(int(ref.id))]
    assert sum("Reminder 1/2" in n for n in notes) == 2, notes
    assert zendesk.validation_errors == []
