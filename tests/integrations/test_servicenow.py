"""ServiceNow CSM: our Table API client over HTTPS against the stand-in, end to end through the app
and the worker.

Covers the build step on its own, the exact case a bot event becomes (work note, never a customer
comment), the shared failure table (on the lookup, the create and the note), ambiguous failures
delivered exactly once, OAuth, the contact lookup, webhook signatures and every agent action,
echo suppression, and the doctor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConfigError
from connector.schemas import (
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
from integrations.base import Delivery, PermanentDeliveryError, TicketRef, TransientDeliveryError
from integrations.servicenow import ServiceNowDestination
from integrations.servicenow.build import ServiceNowSettings, build_case, render_work_note
from tests.helpers import API_KEY, drain, event, make_settings, post_event
from tests.integrations.harness import FAILURE_TABLE, check_failure, connection_refused_case
from tests.standins.fixtures import _serve
from tests.standins.servicenow import ServiceNowStandin

AGENT = {"Authorization": f"Bearer {API_KEY}"}
WEBHOOK_SECRET = "sn-webhook-signing-secret"
GENERAL, BILLING = "a" * 32, "b" * 32
FIELDS = {
    "intent": "u_handoff_intent",
    "sentiment": "u_handoff_sentiment",
    "widget_url": "u_handoff_url",
}
CONTACT = {
    "sys_id": "c" * 32,
    "email": "ada@example.com",
    "account": "d" * 32,
    "user_name": "ada.lovelace",
}


@pytest.fixture
def servicenow(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    standin = ServiceNowStandin(custom_fields=set(FIELDS.values()), contacts=[CONTACT])
    yield from _serve(standin, monkeypatch)


def sn_config(standin: ServiceNowStandin | None, **over: Any) -> dict[str, Any]:
    """The settings for ``standin``; without one (the pure tests) for a made-up instance."""
    standin = standin or ServiceNowStandin()
    return {
        "instance_url": standin.base_url if standin._httpd else "https://acme.service-now.com",
        "auth": {"basic": {"username": standin.username, "password": standin.password}},
        "assignment_groups": {"general": GENERAL, "billing": BILLING}, "fields": dict(FIELDS),
        "contact_type": "chat", "contact_lookup": True, "webhook_secret": WEBHOOK_SECRET,
        "timeout_seconds": 1.0, "requests_per_minute": 10_000, **over,
    }  # fmt: skip


@pytest.fixture
def settings(tmp_path, receiver, servicenow):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, receiver.url, destinations={"servicenow": sn_config(servicenow)})


@pytest.fixture
def destination(runtime) -> ServiceNowDestination:  # type: ignore[no-untyped-def]
    return runtime.destinations["servicenow"]


def payload(handoff_id: str = "ho_test1", **over: Any) -> HandoffPayload:
    data: dict[str, Any] = dict(
        handoff_id=handoff_id, conversation_id="conv-9", created_at=datetime(2026, 7, 1, tzinfo=UTC),
        summary="Order 881 never arrived [code]<img src=x>[/code]\nThe customer wants a person.",
        transcript=Transcript(turns=[TranscriptTurn(id="m1", role="customer", text="hi")],
                              url="https://connector.example/t/conv-9"),
        customer=CustomerProfile(name="Ada Lovelace", email="ada@example.com", tier="gold",
                                 channel="web", language="en"),
        intent=IntentInfo(name="order_status", confidence=0.42, source="bot"),
        sentiment=SentimentInfo(label="Frustrated", score=-0.6, trend="worsening"),
        escalation=Escalation(reasons=[Reason(trigger="human_request", rule="asks_for_person")],
                              rules=["asks_for_person"], policy_version="p-1"),
        citations=[Citation(title="Shipping times", url="https://help.example.com/ship")],
        draft_reply="Hi Ada, I'm checking order 881 now.",
        next_action=NextAction(action="check_carrier", reasoning="tracking stalled"),
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


def test_build_case_is_the_exact_record():
    settings = ServiceNowSettings.model_validate(sn_config(None))
    case = build_case(payload(), settings, "http://127.0.0.1:8080/inbox/ho_test1")
    note = case.pop("work_notes")
    assert case == {
        "short_description": "[Handoff] Order 881 never arrived (code)<img src=x>(/code)",
        "description": "Order 881 never arrived (code)<img src=x>(/code)\nThe customer wants a person.",
        "priority": "2", "correlation_id": "ho_test1", "correlation_display": "handoff-connector",
        "assignment_group": GENERAL, "contact_type": "chat", "u_handoff_intent": "order_status",
        "u_handoff_sentiment": "frustrated", "u_handoff_url": "http://127.0.0.1:8080/inbox/ho_test1",
    }  # fmt: skip
    assert "comments" not in case  # the customer-visible journal never carries the handoff
    assert "[code]" not in note.lower() and "Draft reply (edit before sending):" in note
    assert (
        "Frustrated (score -0.60, worsening)" in note and "handoff-connector ref ho_test1" in note
    )


@pytest.mark.parametrize(("change", "missing"), [
    ({"routing": Routing(team="sales", priority="low")}, "assignment_group"),
    ({"sentiment": None, "intent": IntentInfo()}, "u_handoff_sentiment"),
], ids=["unmapped-team", "missing-values"])  # fmt: skip
def test_build_case_leaves_out_what_it_cannot_fill(change, missing):
    settings = ServiceNowSettings.model_validate(sn_config(None, contact_type=None))
    case = build_case(payload(**change), settings, "http://x/inbox/1")
    assert missing not in case and "contact_type" not in case


def test_settings_problems_name_their_key_paths(tmp_path):
    bad = {"instance_url": "http://acme.service-now.com", "auth": {"basic": {"username": "u", "password": "p"},
           "oauth": {"client_id": "i", "client_secret": "s"}}, "assignment_groups": {"billing": "xyz"},
           "fields": {"mood": "u_mood"}, "priority_map": {"high": "9"}, "webhook_secret": "short",
           "colour": "red"}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"servicenow": bad})
    paths = {path for path, _ in info.value.problems}
    expected = {f"destinations.servicenow.{k}" for k in (
        "instance_url", "assignment_groups.billing", "fields.mood.[key]", "priority_map.high",
        "webhook_secret", "colour")}  # fmt: skip
    assert expected <= paths, paths
    oauth = {**sn_config(None), "auth": {"oauth": {"client_id": "i", "client_secret": "s"}}}
    problems = ServiceNowDestination.validate_settings(oauth)
    assert [p for p, _ in problems] == ["integration_user"]
    assert [p for p, _ in ServiceNowDestination.validate_settings({**oauth, "auth": {}})] == [
        "auth"
    ]
    assert ServiceNowDestination.validate_settings(sn_config(None)) == []


# --- end to end: bot event -> case ---------------------------------------------------------------


def test_bot_event_becomes_one_case_with_a_work_note(client, worker, runtime, servicenow):
    handoff_id = escalate(client, worker)
    [case] = servicenow.cases.values()
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    sent = HandoffPayload.model_validate(view["payload"])
    settings = runtime.destinations["servicenow"].settings
    widget = f"{runtime.base_url}/inbox/{handoff_id}"
    expected = build_case(sent, settings, widget) | {
        "contact": CONTACT["sys_id"],
        "account": CONTACT["account"],
    }
    [create] = servicenow.requests_to("POST", r"/api/now/table/sn_customerservice_case$")
    assert create.json == expected  # exactly what the build step made, plus the contact lookup
    assert case["correlation_id"] == handoff_id and case["assignment_group"] == GENERAL
    assert case["contact"] == CONTACT["sys_id"] and case["account"] == CONTACT["account"]
    assert servicenow.notes(case["sys_id"]) == [render_work_note(sent, widget)]
    assert servicenow.notes(case["sys_id"], "comments") == []  # nothing the customer can see
    assert view["deliveries"][0]["destination"] == "servicenow"
    assert view["deliveries"][0]["id"] == case["sys_id"]
    assert servicenow.validation_errors == []
    for r in servicenow.requests:
        assert servicenow.password.encode() not in r.body and WEBHOOK_SECRET.encode() not in r.body


def test_a_retry_finds_the_case_instead_of_creating_another(destination, servicenow):
    first = destination.deliver(delivery())
    again = destination.deliver(delivery(attempt=2))
    previous = destination.deliver(delivery(attempt=3, previous=first))
    assert first.id == again.id == previous.id and len(servicenow.cases) == 1
    assert first.extra["number"] == "CS0001001" and first.url and first.id in first.url


def test_created_but_answer_lost_is_delivered_once(destination, servicenow):
    servicenow.drop_next(apply=True, route=r"^POST /api/now/table/sn_customerservice_case$")
    with pytest.raises(TransientDeliveryError):  # the connection dropped after the create
        destination.deliver(delivery())
    ref = destination.deliver(delivery(attempt=2))
    assert list(servicenow.cases) == [ref.id] and len(servicenow.notes(ref.id)) == 1


# --- the shared failure table --------------------------------------------------------------------


class OnRoute:
    """The stand-in, with every fault the harness queues pinned to one route."""

    def __init__(self, standin: ServiceNowStandin, route: str):
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
def test_failure_table(step, case, destination, servicenow):
    table = r"/api/now/table/sn_customerservice_case"
    route = {"lookup": rf"^GET {table}$", "create": rf"^POST {table}$",
             "note": rf"^PATCH {table}/[0-9a-f]+$"}[step]  # fmt: skip
    if step == "note":
        ref = destination.deliver(delivery())
        attempt = lambda: destination.add_note(ref, "Reminder: nobody answered yet.", key="r1")  # noqa: E731
    else:
        attempt = lambda: destination.deliver(delivery())  # noqa: E731
    error = check_failure(OnRoute(servicenow, route), attempt, case)
    if case.id.startswith("429-retry-after"):
        assert error.retry_after is not None and 0 < error.retry_after <= 31
    attempt()  # and then it recovers, exactly once, whatever the failure did on the vendor's side
    attempt()
    [sys_id] = servicenow.cases
    assert len(servicenow.notes(sys_id)) == (2 if step == "note" else 1)
    assert servicenow.validation_errors == []


def test_connection_refused_is_transient(runtime, servicenow):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = sn_config(servicenow, instance_url=f"https://127.0.0.1:{port}")
    destination = ServiceNowDestination.from_config(config, runtime)
    assert "ConnectionError" in str(
        connection_refused_case(lambda: destination.deliver(delivery()))
    )


def test_an_invalid_field_is_permanent_with_servicenow_words(runtime, servicenow):
    config = sn_config(servicenow, fields={"intent": "u_no_such_field"})
    with pytest.raises(PermanentDeliveryError) as info:
        ServiceNowDestination.from_config(config, runtime).deliver(delivery())
    assert info.value.status == 400 and "u_no_such_field" in str(info.value)
    servicenow.validation_errors.clear()


# --- OAuth, notes, updates -----------------------------------------------------------------------


def test_oauth_client_credentials_and_a_revoked_token(runtime, servicenow, clock):
    config = sn_config(servicenow, auth={"oauth": {"client_id": servicenow.client_id,
                       "client_secret": servicenow.client_secret}}, integration_user="handoff.oauth")  # fmt: skip
    destination = ServiceNowDestination.from_config(config, runtime)
    ref = destination.deliver(delivery())
    destination.add_note(ref, "one", key="k1")
    assert len(servicenow.requests_to("POST", r"^/oauth_token\.do$")) == 1  # the token is kept
    servicenow.revoke_tokens()
    destination.add_note(ref, "two", key="k2")  # a 401 fetches a new token and sends again
    clock.advance(1800)
    destination.add_note(ref, "three", key="k3")  # expired by the clock: a new one first
    assert len(servicenow.requests_to("POST", r"^/oauth_token\.do$")) == 3
    assert len(servicenow.notes(ref.id)) == 4 and servicenow.validation_errors == []
    wrong = sn_config(servicenow, auth={"oauth": {"client_id": "x", "client_secret": "y"}},
                      integration_user="handoff.oauth")  # fmt: skip
    with pytest.raises(PermanentDeliveryError) as info:
        ServiceNowDestination.from_config(wrong, runtime).deliver(delivery())
    assert info.value.status == 401


def test_notes_are_told_apart_by_their_outbox_key(destination, servicenow):
    ref = destination.deliver(delivery())
    for key in (
        "reminder:h:1:servicenow:note",
        "reminder:h:1:servicenow:note",
        "reminder:h:7:servicenow:note",
    ):
        destination.add_note(ref, "Reminder 1/2: nobody answered [code]<b>x</b>[/code].", key=key)
    notes = servicenow.notes(ref.id)
    assert sum("Reminder 1/2" in n for n in notes) == 2 and all("[code]" not in n for n in notes)
    assert servicenow.notes(ref.id, "comments") == []


def test_update_moves_group_and_priority(destination, servicenow):
    ref = destination.deliver(delivery())
    destination.update(ref, {"team": "billing", "priority": "urgent", "queue": "billing"})
    case = servicenow.cases[ref.id]
    assert (case["assignment_group"], case["priority"]) == (BILLING, "1")
    destination.update(ref, {"team": "nowhere"})  # unknown team: nothing to send
    assert len(servicenow.requests_to("PATCH", r"/sn_customerservice_case/")) == 1


def test_note_to_a_deleted_case_is_permanent(destination):
    with pytest.raises(PermanentDeliveryError) as info:
        destination.add_note(TicketRef("servicenow", "f" * 32), "hello")
    assert info.value.status == 404


# --- webhooks ------------------------------------------------------------------------------------


def signed(
    body: bytes, *, secret: str = WEBHOOK_SECRET, at: datetime | None = None
) -> dict[str, str]:
    stamp = str(int((at or datetime.now(UTC)).timestamp()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-Handoff-Timestamp": stamp,
            "X-Handoff-Signature": base64.b64encode(mac).decode()}  # fmt: skip


def rest_call(handoff_id: str, sys_id: str, action: str, *, mod: int = 1, **over: Any) -> bytes:
    body: dict[str, Any] = {
        "event_id": f"{sys_id}:{mod}", "action": action, "actor": "mia.agent",
        "case": {"sys_id": sys_id, "number": "CS0001001", "correlation_id": handoff_id, "state": "10",
                 "assignment_group": GENERAL, "assigned_to": "", "contact_user": "ada.lovelace"},
        "comment": {"author": "", "text": ""},
    }  # fmt: skip
    for key, value in over.items():
        part, _, name = key.partition("__")
        if name:
            body[part][name] = value
        else:
            body[part] = value
    return json.dumps(body).encode()


def hook(client, body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/v1/webhooks/servicenow", data=body, headers=headers or signed(body))


@pytest.mark.parametrize(("make_headers", "status"), [
    (lambda b: signed(b), 200),
    (lambda b: signed(b, secret="not-the-secret-at-all"), 401),
    (lambda b: signed(b, at=datetime.now(UTC) - timedelta(minutes=10)), 401),
    (lambda b: signed(b, at=datetime.now(UTC) + timedelta(minutes=10)), 401),
    (lambda b: {**signed(b), "X-Handoff-Timestamp": "1700000000"}, 401),
    (lambda b: {"Content-Type": "application/json"}, 401),
], ids=["valid", "wrong-secret", "stale", "future", "timestamp-swapped", "unsigned"])  # fmt: skip
def test_webhook_signatures(client, make_headers, status):
    body = rest_call("ho_unknown", "e" * 32, "assigned")
    answer = client.post("/v1/webhooks/servicenow", data=body, headers=make_headers(body))
    assert answer.status_code == status, answer.json
    if status == 401:
        assert answer.json["type"].endswith("/unauthorized")


@pytest.mark.parametrize("body", [b"not json", b'{"case": 3, "action": "assigned"}', b"[]",
                                  rest_call("ho_1", "e" * 32, "deleted")])  # fmt: skip
def test_unreadable_body_is_a_400_not_a_500(client, body):
    answer = hook(client, body)
    assert answer.status_code == 400, answer.json


def test_agent_actions_come_back(client, worker, servicenow, receiver):
    handoff_id = escalate(client, worker)
    [sys_id] = servicenow.cases
    control = lambda: client.get("/v1/conversations/conv-1/control", headers=AGENT).json  # noqa: E731
    view = lambda: client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json  # noqa: E731

    moved = rest_call(handoff_id, sys_id, "assigned", mod=2, case__assignment_group=BILLING)
    assert hook(client, moved).json["results"] == ["reassigned"]
    assert view()["team"] == "billing" and control()["owner"] == "pending_agent"

    assigned = rest_call(handoff_id, sys_id, "assigned", mod=3, case__assignment_group=BILLING,
                         case__assigned_to="mia.agent")  # fmt: skip
    assert hook(client, assigned).json["results"] == ["assigned"]
    assert hook(client, assigned).json["results"] == ["duplicate"]  # the REST call was retried
    assert control()["owner"] == "agent" and view()["status"] == "with_agent"

    reply = rest_call(handoff_id, sys_id, "comment", mod=4, comment__author="mia.agent",
                      comment__text="Hi Ada, your refund is on its way.")  # fmt: skip
    assert hook(client, reply).json["results"] == ["agent replied"]
    customer = rest_call(handoff_id, sys_id, "comment", mod=5, actor="ada.lovelace",
                         comment__author="ada.lovelace", comment__text="thanks")  # fmt: skip
    assert hook(client, customer).json == {"received": 0, "results": []}

    echo = rest_call(handoff_id, sys_id, "handback", mod=6, actor=servicenow.username)
    assert hook(client, echo).json == {"received": 0, "results": []}  # our own write

    back = rest_call(handoff_id, sys_id, "handback", mod=7, comment__text="Refund issued. Resume.")
    assert hook(client, back).json["results"] == ["handed back"]
    assert control()["owner"] == "bot"
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["note"] == "Refund issued. Resume." and handed["actor"] == "mia.agent"
    notes = servicenow.notes(sys_id)
    assert len(notes) == 2 and "Handed back to the bot by mia.agent" in notes[1]
    assert servicenow.notes(sys_id, "comments") == [] and servicenow.validation_errors == []


def test_resolved_hands_back_as_solved(client, worker, servicenow, receiver):
    handoff_id = escalate(client, worker)
    [sys_id] = servicenow.cases
    assert hook(client, rest_call(handoff_id, sys_id, "resolved", case__state="6")).json[
        "results"
    ] == ["solved"]
    drain(worker)
    [handed] = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed["resolution"] == "solved"


def test_cases_that_are_not_handoffs_are_ignored(client):
    assert hook(client, rest_call("", "e" * 32, "assigned")).json == {"received": 0, "results": []}
    unknown = rest_call("ho_nope", "e" * 32, "assigned", case__assigned_to="mia.agent")
    assert hook(client, unknown).json["results"] == ["ignored: unknown handoff"]


def test_the_business_rule_is_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "servicenow.md").read_text()
    for needle in (
        "X-Handoff-Signature",
        "X-Handoff-Timestamp",
        "generateMac",
        "correlation_id",
        '"assigned"',
        '"comment"',
        '"resolved"',
        '"handback"',
        "sys_mod_count",
    ):
        assert needle in docs, needle


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_with_good_ids(destination):
    findings = destination.doctor()
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    whats = " | ".join(f.what for f in findings)
    assert "credentials: can read sn_customerservice_case" in whats
    assert f"assignment_groups.billing = {BILLING} (Billing)" in whats
    assert "fields.intent = u_handoff_intent" in whats and "contact_lookup: can read" in whats


def test_doctor_with_bad_ids(runtime, servicenow):
    config = sn_config(servicenow, assignment_groups={"general": GENERAL, "billing": "9" * 32},
                       fields={"intent": "u_nope"}, webhook_secret=None)  # fmt: skip
    findings = ServiceNowDestination.from_config(config, runtime).doctor()
    bad = sorted(f.what for f in findings if not f.ok)
    assert bad == [f"assignment_groups.billing = {'9' * 32} does not exist",
                   "fields.intent = u_nope is not a field of sn_customerservice_case",
                   "webhook_secret is set"]  # fmt: skip


def test_doctor_with_a_wrong_password(runtime, servicenow):
    config = sn_config(
        servicenow, auth={"basic": {"username": servicenow.username, "password": "wrong"}}
    )
    [finding] = ServiceNowDestination.from_config(config, runtime).doctor()
    assert not finding.ok and "401" in finding.what and "sn_customerservice_agent" in finding.fix


def test_the_commented_example_is_valid_settings():
    """The block in config.example.yaml, uncommented and with its ${…} filled, passes check-config."""
    import re

    import yaml

    lines = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text().splitlines()
    start = lines.index("  #  servicenow:")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  #    "):
            break
        block.append(line[7:])
    text = re.sub(
        r"\$\{(\w+)\}", lambda m: f"{m.group(1).lower()}-value-long-enough", "\n".join(block)
    )
    assert ServiceNowDestination.validate_settings(yaml.safe_load(text)) == []


def test_check_config_and_doctor_on_the_command_line(settings, tmp_path, servicenow):
    from click.testing import CliRunner

    from connector.cli import main

    config = str(tmp_path / "config.yaml")  # what make_settings wrote for the settings fixture
    runner = CliRunner()
    checked = runner.invoke(main, ["check-config", config])
    assert checked.exit_code == 0 and "servicenow" in checked.output, checked.output
    doctor = runner.invoke(main, ["doctor", "--config", config])
    assert doctor.exit_code == 0, doctor.output
    assert f"servicenow: ok  assignment_groups.billing = {BILLING} (Billing)" in doctor.output


# --- an outage through the worker: everything exactly once ---------------------------------------


def test_outage_and_recovery_deliver_exactly_once(
    client, worker, runtime, servicenow, receiver, clock
):
    def settle() -> None:
        """Retry until nothing is pending (a slow answer on a busy machine is one more round)."""
        for _ in range(6):
            retry_later()
            with runtime.store.reading() as tx:
                if all(r.status == "done" for r in tx.list_outbox()):
                    return

    def retry_later() -> None:
        clock.advance(61)  # past the longest backoff in these settings (60 s)
        drain(worker)

    servicenow.fail_next(503, times=2)  # down: the lookup is refused twice
    answer = post_event(client, event())
    handoff_id = answer.json["handoff"]["id"]
    drain(worker)
    retry_later()
    assert servicenow.cases == {}
    servicenow.drop_next(apply=True, route=r"^POST /api/now/table/sn_customerservice_case$")
    retry_later()  # created, but the answer is lost
    servicenow.delay_next(2.0, route=r"^GET /api/now/table/sn_customerservice_case$")
    retry_later()  # the lookup times out
    settle()
    [sys_id] = servicenow.cases
    assert len(servicenow.notes(sys_id)) == 1
    assert (
        client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json["deliveries"][0]["id"]
        == sys_id
    )

    servicenow.drop_next(apply=True, route=r"^PATCH /api/now/table/sn_customerservice_case/")
    back = client.post(f"/v1/handoffs/{handoff_id}/handback", headers=AGENT,
                       json={"actor": "agent.mia", "note": "Refund issued."})  # fmt: skip
    assert back.status_code == 200, back.json
    drain(worker)
    settle()
    notes = servicenow.notes(sys_id)
    assert len(notes) == 2 and "Refund issued." in notes[1]
    assert len(servicenow.requests_to("POST", r"/sn_customerservice_case$")) == 1
    with runtime.store.reading() as tx:
        rows = tx.list_outbox()
    assert {r.status for r in rows} == {"done"}, [(r.target, r.status, r.last_error) for r in rows]
    assert servicenow.validation_errors == []
