"""Freshdesk: our API v2 client over HTTPS against the stand-in, end to end through the app and the
worker.

Covers the build step on its own, the exact ticket a bot event becomes with its private note, the
shared failure table (on the lookup, the create and the note), ambiguous failures delivered exactly
once, Freshdesk's rate-limit headers, the webhook secret and every agent action, and the doctor.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConfigError
from connector.schemas import (
    CustomerProfile,
    Escalation,
    HandoffPayload,
    IntentInfo,
    Reason,
    Routing,
    SentimentInfo,
    Transcript,
    TranscriptTurn,
)
from integrations.base import Delivery, PermanentDeliveryError, TicketRef, TransientDeliveryError
from integrations.freshdesk import FreshdeskDestination
from integrations.freshdesk.build import FreshdeskSettings, build_ticket, render_note
from integrations.freshdesk.webhooks import WEBHOOK_BODY_TEMPLATE
from tests.helpers import API_KEY, drain, event, make_settings, post_event
from tests.integrations.harness import FAILURE_TABLE, check_failure, connection_refused_case
from tests.standins.fixtures import _serve
from tests.standins.freshdesk import FreshdeskStandin

AGENT = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SECRET = "fd-webhook-shared-secret"
SUPPORT, BILLING = 48000010, 48000011
AGENT_EMAIL = "mia@example.com"


@pytest.fixture
def freshdesk(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch, clock):  # type: ignore[no-untyped-def]
    yield from _serve(FreshdeskStandin(clock=clock), monkeypatch)


def fd_config(standin: FreshdeskStandin | None, **over: Any) -> dict[str, Any]:
    """The settings for ``standin``; without one (the pure tests) for a made-up account."""
    base = standin.base_url if standin is not None else "https://acme.freshdesk.com"
    return {
        "base_url": base, "api_key": "fd-test-api-key", "fallback_requester_email": "bot@example.com",
        "group_ids": {"general": SUPPORT, "billing": BILLING},
        "custom_fields": {"handoff_id": "cf_handoff_id", "intent": "cf_handoff_intent"},
        "ticket_type": "Question", "tags": ["from-bot"], "api_agent_email": "handoff-bot@example.com",
        "webhook_secret": WEBHOOK_SECRET, "timeout_seconds": 1.0, "requests_per_minute": 1000, **over,
    }  # fmt: skip


@pytest.fixture
def settings(tmp_path, receiver, freshdesk):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, receiver.url, destinations={"freshdesk": fd_config(freshdesk)})


@pytest.fixture
def destination(runtime) -> FreshdeskDestination:  # type: ignore[no-untyped-def]
    return runtime.destinations["freshdesk"]


def payload(handoff_id: str = "ho_test1", **over: Any) -> HandoffPayload:
    data: dict[str, Any] = dict(
        handoff_id=handoff_id, conversation_id="conv-9", created_at=datetime.now(UTC),
        summary="Order <881> never arrived & the customer wants a person.",
        transcript=Transcript(turns=[TranscriptTurn(id="m1", role="customer", text="hi")]),
        customer=CustomerProfile(name="Ada Lovelace", email="ada@example.com", channel="web"),
        intent=IntentInfo(name="order_status", confidence=0.42, source="bot"),
        sentiment=SentimentInfo(label="Frustrated", score=-0.6, trend="worsening"),
        escalation=Escalation(reasons=[Reason(trigger="human_request", rule="asks_for_person")],
                              rules=["asks_for_person"], policy_version="p-1"),
        draft_reply="Hi Ada, I'm checking <order 881> now.",
        routing=Routing(team="general", priority="high"),
    )  # fmt: skip
    data.update(over)
    return HandoffPayload(**data)


def delivery(handoff_id: str = "ho_test1", attempt: int = 1, **over: Any) -> Delivery:
    return Delivery(handoff_id=handoff_id, payload=payload(handoff_id), idempotency_key=f"k-{handoff_id}",
                    widget_url=f"http://127.0.0.1:8080/inbox/{handoff_id}", attempt=attempt, **over)  # fmt: skip


def escalate(client, worker) -> str:  # type: ignore[no-untyped-def]
    answer = post_event(client, event())
    assert answer.status_code == 200 and answer.json["decision"]["escalate"] is True, answer.json
    drain(worker)
    return str(answer.json["handoff"]["id"])


# --- the build step, no I/O ----------------------------------------------------------------------


def test_build_ticket_is_the_exact_request_body():
    settings = FreshdeskSettings.model_validate(fd_config(None))
    ticket = build_ticket(payload(), settings, "http://x/inbox/ho_test1")
    assert ticket == {
        "subject": "[Handoff] order status — Ada Lovelace",
        "description": "<p>Order &lt;881&gt; never arrived &amp; the customer wants a person.</p>",
        "email": "ada@example.com", "name": "Ada Lovelace", "priority": 3, "status": 2, "source": 7,
        "tags": ["handoff", "handoff-ho_test1", "from-bot"], "type": "Question", "group_id": SUPPORT,
        "custom_fields": {"cf_handoff_id": "ho_test1", "cf_handoff_intent": "order_status"},
    }  # fmt: skip
    note = render_note(payload(), "http://x/inbox/ho_test1")
    assert "Hi Ada, I&#x27;m checking &lt;order 881&gt; now." in note and "<order" not in note
    assert "handoff-connector ref ho_test1" in note


@pytest.mark.parametrize(("change", "key", "expected"), [
    ({"customer": CustomerProfile(name="Anon")}, "email", "bot@example.com"),
    ({"customer": CustomerProfile(email="not an email")}, "email", "bot@example.com"),
    ({"routing": Routing(team="sales", priority="low")}, "group_id", None),
    ({"routing": Routing(team="general", priority="urgent")}, "priority", 4),
], ids=["no-email-fallback", "bad-email-fallback", "unmapped-team", "urgent"])  # fmt: skip
def test_build_ticket_fills_what_it_can(change, key, expected):
    ticket = build_ticket(
        payload(**change), FreshdeskSettings.model_validate(fd_config(None)), "http://x/i/1"
    )
    assert ticket.get(key) == expected


def test_settings_problems_name_their_key_paths(tmp_path):
    bad = {"base_url": "http://acme.freshdesk.com", "api_key": "short", "fallback_requester_email": "nobody",
           "group_ids": {"billing": "abc"}, "custom_fields": {"intent": "handoff_intent"}, "source": 4,
           "webhook_secret": "short", "colour": "red"}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"freshdesk": bad})
    paths = {path for path, _ in info.value.problems}
    expected = {f"destinations.freshdesk.{k}" for k in (
        "base_url", "api_key", "fallback_requester_email", "group_ids.billing", "custom_fields.intent",
        "source", "webhook_secret", "colour")}  # fmt: skip
    assert expected <= paths, paths
    assert FreshdeskDestination.validate_settings(fd_config(None)) == []


# --- end to end: bot event -> ticket and its private note ----------------------------------------


def test_bot_event_becomes_one_ticket_with_a_private_note(client, worker, runtime, freshdesk):
    handoff_id = escalate(client, worker)
    [ticket] = freshdesk.tickets.values()
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    sent = HandoffPayload.model_validate(view["payload"])
    settings = runtime.destinations["freshdesk"].settings
    widget = f"{runtime.base_url}/inbox/{handoff_id}"
    [create] = freshdesk.requests_to("POST", r"^/api/v2/tickets$")
    assert create.json == build_ticket(sent, settings, widget)
    assert f"handoff-{handoff_id}" in ticket["tags"] and ticket["group_id"] == SUPPORT
    assert freshdesk.notes(ticket["id"]) == [render_note(sent, widget)]
    assert all(c["private"] for c in freshdesk.conversations[ticket["id"]])
    assert view["deliveries"][0]["id"] == str(ticket["id"]) and freshdesk.validation_errors == []
    for r in freshdesk.requests:
        assert freshdesk.api_key.encode() not in r.body and WEBHOOK_SECRET.encode() not in r.body


def test_a_retry_finds_the_ticket_instead_of_creating_another(destination, freshdesk):
    first = destination.deliver(delivery())
    again = destination.deliver(delivery(attempt=2))
    previous = destination.deliver(delivery(attempt=3, previous=first))
    assert first.id == again.id == previous.id and len(freshdesk.tickets) == 1
    assert len(freshdesk.notes(first.id)) == 1 and first.url.endswith(f"/a/tickets/{first.id}")


def test_a_ticket_created_without_its_note_gets_the_note_on_retry(destination, freshdesk):
    freshdesk.fail_next(503, route=r"^POST /api/v2/tickets/\d+/notes$")
    with pytest.raises(TransientDeliveryError):
        destination.deliver(delivery())
    ref = destination.deliver(delivery(attempt=2))
    assert list(freshdesk.tickets) == [int(ref.id)] and len(freshdesk.notes(ref.id)) == 1


# --- the shared failure table --------------------------------------------------------------------


class OnRoute:
    """The stand-in, with every fault the harness queues pinned to one route."""

    def __init__(self, standin: FreshdeskStandin, route: str):
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
def test_failure_table(step, case, destination, freshdesk, clock):
    route = {"lookup": r"^GET /api/v2/tickets$", "create": r"^POST /api/v2/tickets$",
             "note": r"^POST /api/v2/tickets/\d+/notes$"}[step]  # fmt: skip
    if step == "note":
        ref = destination.deliver(delivery())
        attempt = lambda: destination.add_note(ref, "Reminder: nobody answered yet.", key="r1")  # noqa: E731
    else:
        attempt = lambda: destination.deliver(delivery())  # noqa: E731
    error = check_failure(OnRoute(freshdesk, route), attempt, case)
    if case.id.startswith("429-retry-after"):
        assert error.retry_after is not None and 0 < error.retry_after <= 31
    clock.advance(61)  # a 429 closed the account's window for up to a minute
    attempt()  # and then it recovers, exactly once, whatever the failure did on the vendor's side
    attempt()
    [ticket_id] = freshdesk.tickets
    assert len(freshdesk.notes(ticket_id)) == (2 if step == "note" else 1)
    assert freshdesk.validation_errors == []


def test_connection_refused_is_transient(runtime, freshdesk):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    destination = FreshdeskDestination.from_config(
        fd_config(freshdesk, base_url=f"https://127.0.0.1:{port}"), runtime
    )
    assert "ConnectionError" in str(
        connection_refused_case(lambda: destination.deliver(delivery()))
    )


def test_an_unknown_group_is_permanent_with_freshdesk_words(runtime, freshdesk):
    destination = FreshdeskDestination.from_config(
        fd_config(freshdesk, group_ids={"general": 1}), runtime
    )
    with pytest.raises(PermanentDeliveryError) as info:
        destination.deliver(delivery())
    assert info.value.status == 400 and "no group matching" in str(info.value)


# --- Freshdesk's rate-limit headers --------------------------------------------------------------


def test_remaining_zero_holds_every_request_until_the_minute_is_over(destination, freshdesk, clock):
    freshdesk.rate_remaining = 2  # the lookup leaves 1, the create leaves 0
    with pytest.raises(TransientDeliveryError) as info:
        destination.deliver(delivery())
    assert info.value.retry_after is not None and 59 <= info.value.retry_after <= 60
    sent = len(freshdesk.requests)
    with pytest.raises(TransientDeliveryError):
        destination.add_note(TicketRef("freshdesk", "1001"), "later")
    assert len(freshdesk.requests) == sent  # nothing was sent while the window is closed
    freshdesk.rate_remaining = None
    clock.advance(61)
    ref = destination.deliver(delivery(attempt=2))  # finds the ticket, adds the missing note
    assert len(freshdesk.tickets) == 1 and len(freshdesk.notes(ref.id)) == 1


def test_a_429_holds_for_its_retry_after(destination, freshdesk, clock):
    freshdesk.fail_next(429, retry_after="20")
    with pytest.raises(TransientDeliveryError) as info:
        destination.deliver(delivery())
    assert info.value.retry_after == 20
    clock.advance(10)
    with pytest.raises(TransientDeliveryError) as held:
        destination.deliver(delivery())
    assert held.value.retry_after is not None and 9 <= held.value.retry_after <= 10
    clock.advance(11)
    assert destination.deliver(delivery()).id in {str(i) for i in freshdesk.tickets}


# --- notes and updates ---------------------------------------------------------------------------


def test_notes_are_told_apart_by_their_outbox_key(destination, freshdesk):
    ref = destination.deliver(delivery())
    for key in (
        "reminder:h:1:freshdesk:note",
        "reminder:h:1:freshdesk:note",
        "reminder:h:7:freshdesk:note",
    ):
        destination.add_note(ref, "Reminder 1/2: nobody answered <yet>.", key=key)
    notes = freshdesk.notes(ref.id)
    assert sum("Reminder 1/2: nobody answered &lt;yet&gt;." in n for n in notes) == 2, notes
    assert freshdesk.validation_errors == []


def test_update_moves_group_and_priority(destination, freshdesk):
    ref = destination.deliver(delivery())
    destination.update(ref, {"team": "billing", "priority": "urgent", "queue": "billing"})
    ticket = freshdesk.tickets[int(ref.id)]
    assert (ticket["group_id"], ticket["priority"]) == (BILLING, 4)
    destination.update(ref, {"team": "nowhere"})
    assert (
        len(freshdesk.requests_to("PUT", r"/tickets/")) == 1 and freshdesk.validation_errors == []
    )


def test_note_to_a_deleted_ticket_is_permanent(destination):
    with pytest.raises(PermanentDeliveryError) as info:
        destination.add_note(TicketRef("freshdesk", "999999"), "hello")
    assert info.value.status == 404


# --- webhooks ------------------------------------------------------------------------------------


def automation(event_name: str, handoff_id: str, ticket_id: int | str, **values: str) -> bytes:
    """Fill the template as Freshdesk would (JSON-escaped values)."""
    base = {"ticket.id": str(ticket_id), "ticket.status": "Open", "ticket.group.name": "Support",
            "ticket.tags": f"handoff,handoff-{handoff_id},from-bot", "ticket.agent.email": "",
            "ticket.agent.name": "", "ticket.requester.email": "ada@example.com",
            "ticket.latest_public_comment": "", "ticket.latest_private_comment": ""}  # fmt: skip
    filled = base | values
    text = WEBHOOK_BODY_TEMPLATE.replace('"EVENT"', json.dumps(event_name))
    text = re.sub(r"\{\{([\w.]+)\}\}", lambda m: json.dumps(filled[m.group(1)])[1:-1], text)
    return text.encode()


def hook(client, body: bytes, secret: str | None = WEBHOOK_SECRET):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"} | (
        {"X-Handoff-Secret": secret} if secret else {}
    )
    return client.post("/v1/webhooks/freshdesk", data=body, headers=headers)


@pytest.mark.parametrize(("secret", "status"), [(WEBHOOK_SECRET, 200), ("wrong-secret-wrong-secret", 401),
                                                (None, 401)], ids=["right", "wrong", "missing"])  # fmt: skip
def test_webhook_secret(client, secret, status):
    answer = hook(
        client,
        automation("assigned", "ho_unknown", 1, **{"ticket.agent.email": AGENT_EMAIL}),
        secret,
    )
    assert answer.status_code == status, answer.json


@pytest.mark.parametrize("body", [b"not json", b'{"ticket": 3, "event": "reply"}', b"[]",
                                  automation("deleted", "ho_1", 1)])  # fmt: skip
def test_unreadable_body_is_a_400_not_a_500(client, body):
    assert hook(client, body).status_code == 400


def test_agent_actions_come_back(client, worker, freshdesk, receiver):
    handoff_id = escalate(client, worker)
    [ticket_id] = freshdesk.tickets
    control = lambda: client.get("/v1/conversations/conv-1/control", headers=AGENT).json  # noqa: E731
    view = lambda: client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json  # noqa: E731

    ours = automation(
        "assigned", handoff_id, ticket_id, **{"ticket.agent.email": "handoff-bot@example.com"}
    )
    assert hook(client, ours).json == {"received": 0, "results": []}
    assigned = automation("assigned", handoff_id, ticket_id, **{"ticket.agent.email": AGENT_EMAIL})
    assert hook(client, assigned).json["results"] == ["assigned"]
    assert hook(client, assigned).json["results"] == ["duplicate"]  # Freshdesk retried the webhook
    assert control()["owner"] == "agent" and view()["status"] == "with_agent"

    reply = automation("reply", handoff_id, ticket_id, **{"ticket.agent.email": AGENT_EMAIL,
                       "ticket.latest_public_comment": "Hi Ada, your refund is on its way."})  # fmt: skip
    assert hook(client, reply).json["results"] == ["agent replied"]

    back = automation("handback", handoff_id, ticket_id, **{
        "ticket.agent.email": AGENT_EMAIL, "ticket.tags": f"handoff,handoff-{handoff_id},handoff_back_to_bot",
        "ticket.latest_private_comment": 'Refund issued "today". Resume.'})  # fmt: skip
    assert hook(client, back).json["results"] == ["handed back"]
    assert control()["owner"] == "bot"
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["note"] == 'Refund issued "today". Resume.' and handed["actor"] == AGENT_EMAIL
    notes = freshdesk.notes(ticket_id)
    assert len(notes) == 2 and "Handed back to the bot by mia@example.com" in notes[1]
    assert freshdesk.validation_errors == []


def test_resolved_hands_back_as_solved(client, worker, freshdesk, receiver):
    handoff_id = escalate(client, worker)
    [ticket_id] = freshdesk.tickets
    resolved = automation("resolved", handoff_id, ticket_id, **{"ticket.status": "Resolved"})
    assert hook(client, resolved).json["results"] == ["solved"]
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["resolution"] == "solved"


def test_tickets_that_are_not_handoffs_are_ignored(client):
    plain = automation(
        "assigned", "x", 5, **{"ticket.tags": "vip", "ticket.agent.email": AGENT_EMAIL}
    )
    assert hook(client, plain).json == {"received": 0, "results": []}
    unknown = automation("assigned", "ho_nope", 5, **{"ticket.agent.email": AGENT_EMAIL})
    assert hook(client, unknown).json["results"] == ["ignored: unknown handoff"]


def test_the_template_is_documented_verbatim():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "freshdesk.md").read_text()
    assert WEBHOOK_BODY_TEMPLATE in docs
    for name in ("assigned", "reply", "resolved", "handback"):
        json.loads(automation(name, "ho_1", 1))  # the filled template is JSON


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_with_good_ids(destination):
    findings = destination.doctor()
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    whats = " | ".join(f.what for f in findings)
    assert "signed in to" in whats and "as handoff-bot@example.com" in whats
    assert f"group_ids.billing = {BILLING} (Billing)" in whats
    assert "custom_fields.intent = cf_handoff_intent (Handoff intent, custom_text)" in whats


def test_doctor_with_bad_ids(runtime, freshdesk):
    config = fd_config(freshdesk, group_ids={"general": SUPPORT, "billing": 7}, ticket_type="Bug",
                       custom_fields={"intent": "cf_nope"}, webhook_secret=None, api_agent_email=None)  # fmt: skip
    findings = FreshdeskDestination.from_config(config, runtime).doctor()
    bad = sorted(f.what for f in findings if not f.ok)
    assert bad == ["api_agent_email = None", "custom_fields.intent = cf_nope does not exist",
                   "group_ids.billing = 7 does not exist", "ticket_type = Bug", "webhook_secret is set"]  # fmt: skip


def test_doctor_with_a_wrong_key(runtime, freshdesk):
    [finding] = FreshdeskDestination.from_config(
        fd_config(freshdesk, api_key="wrong-key-123"), runtime
    ).doctor()
    assert not finding.ok and "401" in finding.what and "API key" in finding.fix


def test_the_commented_example_is_valid_settings():
    lines = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text().splitlines()
    start = lines.index("  #  freshdesk:")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  #    "):
            break
        block.append(line[7:])
    import yaml

    text = re.sub(
        r"\$\{(\w+)\}", lambda m: f"{m.group(1).lower()}-value-long-enough", "\n".join(block)
    )
    assert FreshdeskDestination.validate_settings(yaml.safe_load(text)) == []


def test_check_config_and_doctor_on_the_command_line(settings, tmp_path, freshdesk):
    from click.testing import CliRunner

    from connector.cli import main

    config = str(tmp_path / "config.yaml")  # what make_settings wrote for the settings fixture
    runner = CliRunner()
    checked = runner.invoke(main, ["check-config", config])
    assert checked.exit_code == 0 and "freshdesk" in checked.output, checked.output
    doctor = runner.invoke(main, ["doctor", "--config", config])
    assert doctor.exit_code == 0, doctor.output
    assert f"freshdesk: ok  group_ids.billing = {BILLING} (Billing)" in doctor.output


# --- an outage through the worker: everything exactly once ---------------------------------------


def test_outage_and_recovery_deliver_exactly_once(
    client, worker, runtime, freshdesk, receiver, clock
):
    def settle() -> None:
        """Retry until nothing is pending (a slow answer on a busy machine is one more round)."""
        for _ in range(6):
            retry_later()
            with runtime.store.reading() as tx:
                if all(r.status == "done" for r in tx.list_outbox()):
                    return

    def retry_later() -> None:
        clock.advance(61)  # past the longest backoff (60 s) and Freshdesk's window
        drain(worker)

    freshdesk.fail_next(503, times=2)  # down: the lookup is refused twice
    answer = post_event(client, event())
    handoff_id = answer.json["handoff"]["id"]
    drain(worker)
    retry_later()
    assert freshdesk.tickets == {}
    freshdesk.drop_next(apply=True, route=r"^POST /api/v2/tickets$")
    retry_later()  # created, but the answer is lost: no note yet
    freshdesk.fail_next(429, retry_after="30", route=r"^GET /api/v2/tickets$")
    retry_later()  # rate limited
    freshdesk.drop_next(apply=True, route=r"^POST /api/v2/tickets/\d+/notes$")
    retry_later()  # the ticket is found, its note added, the answer lost
    settle()
    [ticket_id] = freshdesk.tickets
    assert len(freshdesk.notes(ticket_id)) == 1
    assert client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json["deliveries"][0][
        "id"
    ] == str(ticket_id)

    back = client.post(f"/v1/handoffs/{handoff_id}/handback", headers=AGENT,
                       json={"actor": "agent.mia", "note": "Refund <issued>."})  # fmt: skip
    assert back.status_code == 200, back.json
    freshdesk.drop_next(apply=True, route=r"^POST /api/v2/tickets/\d+/notes$")
    drain(worker)
    settle()
    notes = freshdesk.notes(ticket_id)
    assert len(notes) == 2 and "Refund &lt;issued&gt;." in notes[1]
    assert len(freshdesk.requests_to("POST", r"^/api/v2/tickets$")) == 1
    with runtime.store.reading() as tx:
        rows = tx.list_outbox()
    assert {r.status for r in rows} == {"done"}, [(r.target, r.status, r.last_error) for r in rows]
    assert freshdesk.validation_errors == []
