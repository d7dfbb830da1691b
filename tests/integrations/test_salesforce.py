"""Salesforce Service Cloud: the real simple-salesforce over HTTPS against the stand-in.

End to end through the app (signed bot event → worker → Case), the shared failure table, outages
with ambiguous failures, the Flow webhook (secret, org, echoes, handback to the bot), each auth
mode against the stand-in's token endpoint, and ``doctor``. The stand-in is extended here, not in
``tests/standins``: ``JwtStandin`` also accepts the JWT bearer grant.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest

pytest.importorskip("simple_salesforce")

from connector.app import create_app  # noqa: E402
from connector.delivery import Worker  # noqa: E402
from connector.errors import ConfigError  # noqa: E402
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
from integrations.base import (  # noqa: E402
    Delivery,
    PermanentDeliveryError,
    TicketRef,
    TransientDeliveryError,
)
from integrations.salesforce import SalesforceDestination  # noqa: E402
from integrations.salesforce.build import (  # noqa: E402
    COMMENT_MAX_BYTES,
    MARKER,
    build_case,
    parse_settings,
    validate,
)
from tests.helpers import (  # noqa: E402  # noqa: E402
    API_KEY,
    SECRET,
    Clock,
    Receiver,
    drain,
    dumps,
    event,
    make_settings,
    signed_headers,
)
from tests.integrations.harness import (  # noqa: E402
    FAILURE_TABLE,
    check_failure,
    connection_refused_case,
)
from tests.standins.base import Response  # noqa: E402
from tests.standins.salesforce import SalesforceStandin  # noqa: E402
from tests.standins.salesforce_spec import DEFAULT_CUSTOM_FIELDS, SPEC, _adjust  # noqa: E402
from tests.standins.specs import SpecValidator, mark  # noqa: E402

ORG_ID = "00DHs0000000001"
WEBHOOK_SECRET = "sf-webhook-secret-0123456789"
AGENT_ID = "005Hs0000000000099"
FIELDS = {
    "summary": "Handoff_Summary__c",
    "widget_url": "Handoff_Widget_URL__c",
    "sentiment": "Handoff_Sentiment__c",
    "intent": "Handoff_Intent__c",
    "team": "Handoff_Team__c",
}
UPSERT = r"PATCH .*/sobjects/Case/Handoff_Id__c/"
AGENT = {"X-API-Key": API_KEY}


def sf_config(standin: SalesforceStandin, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "instance_url": standin.base_url,
        "domain": "custom",
        "auth": {"session": {"session_id": next(iter(standin.tokens))}},
        "fields": dict(FIELDS),
        "queue_ids": {
            "default": standin.queue_id("Support_Queue"),
            "billing": standin.queue_id("Billing_Queue"),
        },
        "webhook_secret": WEBHOOK_SECRET,
        "org_id": ORG_ID,
        "integration_user_id": standin.user_id,
        "requests_per_minute": 6000,
        "timeout_seconds": 1.0,
        "ca_bundle": standin.ca_file,
    }
    config.update(overrides)
    return config


def sample_payload(handoff_id: str = "ho_unit1", **routing: Any) -> HandoffPayload:
    return HandoffPayload(
        handoff_id=handoff_id,
        conversation_id="conv-9",
        created_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        summary="Customer <Ada> wants a refund for order 881 & asked for a person.",
        transcript=Transcript(
            turns=[
                TranscriptTurn(id="m1", role="customer", text="Where is my refund? <script>"),
                TranscriptTurn(id="m2", role="bot", text="Let me check."),
            ],
        ),
        customer=CustomerProfile(name="Ada Lovelace", email="ada@example.com", tier="gold"),
        intent=IntentInfo(name="refund", confidence=0.42, source="bot"),
        sentiment=SentimentInfo(label="Frustrated", score=-0.6, trend="worsening"),
        escalation=Escalation(
            reasons=[Reason(trigger="human_request", rule="human", detail="asked for a person")],
            rules=["human"],
            policy_version="p1",
        ),
        citations=[Citation(title="Refunds", url="https://help.example.com/refunds")],
        draft_reply="I'm checking your refund now.",
        next_action=NextAction(action="issue_refund", reasoning="order lost"),
        routing=Routing(**{"team": "billing", "priority": "urgent", **routing}),
    )


def delivery(handoff_id: str = "ho_unit1", attempt: int = 1, **routing: Any) -> Delivery:
    return Delivery(
        handoff_id=handoff_id,
        payload=sample_payload(handoff_id, **routing),
        idempotency_key=f"deliver:{handoff_id}",
        widget_url=f"http://127.0.0.1:8080/inbox/{handoff_id}",
        attempt=attempt,
    )


def destination(standin: SalesforceStandin, **overrides: Any) -> SalesforceDestination:
    return SalesforceDestination.from_config(sf_config(standin, **overrides), None)


# --- build: pure ----------------------------------------------------------------------------


def _settings(**overrides: Any) -> Any:
    base = {
        "instance_url": "https://acme.my.salesforce.com",
        "domain": "custom",
        "auth": {"session": {"session_id": "x"}},
        "fields": dict(FIELDS),
        "queue_ids": {"billing": "00G000000000001AAA", "default": "00G000000000002"},
    }
    return parse_settings({**base, **overrides})


def test_build_case_fields_owner_and_internal_comment():
    request = build_case(sample_payload(), _settings(), "https://hc.example/inbox/ho_unit1")
    summary = "Customer <Ada> wants a refund for order 881 & asked for a person."
    assert request.fields == {
        "Subject": f"Handoff: {summary}",
        "Description": summary,
        "Origin": "Web",
        "Status": "New",
        "Priority": "High",
        "SuppliedName": "Ada Lovelace",
        "SuppliedEmail": "ada@example.com",
        "Handoff_Summary__c": summary,
        "Handoff_Widget_URL__c": "https://hc.example/inbox/ho_unit1",
        "Handoff_Sentiment__c": "Frustrated",
        "Handoff_Intent__c": "refund",
        "Handoff_Team__c": "billing",
        "OwnerId": "00G000000000001AAA",
    }
    assert request.headers == {"Sforce-Auto-Assign": "FALSE"}
    assert request.note_object == "CaseComment"
    assert request.note_fields["IsPublished"] is False
    body = request.note_fields["CommentBody"]
    assert body.startswith(f"Summary: {summary}\n")
    assert "Draft reply: I'm checking your refund now." in body
    assert body.endswith(request.marker) and request.marker.startswith(MARKER)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [("low", "Low"), ("normal", "Medium"), ("high", "High"), ("urgent", "High")],
)
def test_build_case_priority_map(priority, expected):
    assert (
        build_case(sample_payload(priority=priority), _settings(), "u").fields["Priority"]
        == expected
    )
    custom = _settings(priority_map={"urgent": "Critical"})
    if priority == "urgent":
        assert (
            build_case(sample_payload(priority=priority), custom, "u").fields["Priority"]
            == "Critical"
        )


def test_build_case_without_a_queue_leaves_assignment_rules_on():
    request = build_case(sample_payload(team="sales"), _settings(queue_ids={}), "u")
    assert "OwnerId" not in request.fields and request.headers == {}
    fallback = build_case(sample_payload(team="sales"), _settings(), "u")
    assert fallback.fields["OwnerId"] == "00G000000000002"


def test_build_case_with_none_everywhere():
    payload = sample_payload().model_copy(
        update={
            "sentiment": None,
            "draft_reply": None,
            "next_action": None,
            "citations": [],
            "customer": CustomerProfile(),
            "intent": IntentInfo(),
        }
    )
    request = build_case(payload, _settings(), "u")
    assert "SuppliedName" not in request.fields and "Handoff_Intent__c" not in request.fields
    assert "Customer: unknown" in request.note_fields["CommentBody"]


def test_build_case_omni_channel_sets_skills_not_owner():
    omni = {
        "service_channel_id": "0N9000000000001",
        "skill_ids": {"billing": "0C5000000000001", "refunds": "0C5000000000002"},
    }
    request = build_case(
        sample_payload(skills=["refunds", "english"]), _settings(omni_channel=omni), "u"
    )
    assert "OwnerId" not in request.fields
    assert request.headers == {"Sforce-Auto-Assign": "FALSE"}
    assert request.skill_ids == ["0C5000000000001", "0C5000000000002"]


def test_feed_item_body_is_escaped_rich_text():
    request = build_case(sample_payload(), _settings(note_as="FeedItem"), "u")
    body = request.note_fields["Body"]
    assert request.note_object == "FeedItem" and request.note_fields["IsRichText"] is True
    assert "&lt;script&gt;" in body and "<script>" not in body
    assert "Customer &lt;Ada&gt; wants a refund for order 881 &amp; asked" in body


def test_comment_fits_4000_bytes_dropping_the_oldest_turns_first():
    turns = [
        TranscriptTurn(id=f"m{i}", role="customer", text=f"turn {i} " + "é" * 300)
        for i in range(40)
    ]
    payload = sample_payload().model_copy(update={"transcript": Transcript(turns=turns)})
    body = build_case(payload, _settings(), "u").note_fields["CommentBody"]
    assert len(body.encode()) <= COMMENT_MAX_BYTES
    assert "turn 39" in body and "turn 0 " not in body and body.startswith("Summary:")


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"auth": {}}, "auth"),
        ({"auth": {"session": {"session_id": "a"}, "jwt": {}}}, "auth"),
        (
            {"auth": {"client_credentials": {"client_id": "a"}}},
            "auth.client_credentials.client_secret",
        ),
        (
            {
                "auth": {"client_credentials": {"client_id": "a", "client_secret": "b"}},
                "domain": "login",
            },
            "domain",
        ),
        (
            {"auth": {"jwt": {"client_id": "a", "username": "u", "private_key_file": "/nope"}}},
            "auth.jwt.private_key_file",
        ),
        ({"domain": "prod"}, "domain"),
        ({"instance_url": "http://acme.my.salesforce.com"}, "instance_url"),
        ({"queue_ids": {"billing": "00Gshort"}}, "queue_ids.billing"),
        ({"queue_ids": {"billing": "005000000000001"}}, "queue_ids.billing"),
        ({"external_id_field": "Handoff_Id"}, "external_id_field"),
        ({"fields": {"mood": "Mood__c"}}, "fields.mood"),
        ({"org_id": "00Dbad"}, "org_id"),
        ({"webhook_secret": "short"}, "webhook_secret"),
        (
            {
                "omni_channel": {
                    "service_channel_id": "0N9000000000001",
                    "routing_type": "QueueBased",
                }
            },
            "omni_channel.routing_type",
        ),
        (
            {"omni_channel": {"service_channel_id": "x", "skill_ids": {}}},
            "omni_channel.service_channel_id",
        ),
        (
            {"omni_channel": {"service_channel_id": "0N9000000000001", "skill_ids": {"a": "0C5x"}}},
            "omni_channel.skill_ids.a",
        ),
        ({"note_as": "Email"}, "note_as"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"colour": "blue"}, "colour"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_validate_names_the_key_path(overrides, path):
    base = {
        "instance_url": "https://acme.my.salesforce.com",
        "domain": "custom",
        "auth": {"session": {"session_id": "x"}},
        "webhook_secret": WEBHOOK_SECRET,
        "org_id": ORG_ID,
    }
    problems = validate({**base, **overrides})
    assert path in [p for p, _ in problems], problems


def test_check_config_reports_key_paths(tmp_path):
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, destinations={"salesforce": {"auth": {"session": {}}}})
    paths = [p for p, _ in info.value.problems]
    assert "destinations.salesforce.auth.session.session_id" in paths
    assert "destinations.salesforce.instance_url" in paths


def test_missing_sdk_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "simple_salesforce", None)
    with pytest.raises(ConfigError, match=r"pip install 'handoff-connector\[salesforce\]'"):
        SalesforceDestination.from_config({"auth": {"session": {"session_id": "x"}}}, None)


# --- the wire: deliver, notes, updates ------------------------------------------------------


def test_deliver_upserts_one_case_and_one_comment(salesforce_standin):
    dest = destination(salesforce_standin)
    ref = dest.deliver(delivery())
    again = dest.deliver(delivery())
    assert ref == again
    [case] = salesforce_standin.find("Case")
    assert ref.id == case["Id"] and case["Handoff_Id__c"] == "ho_unit1"
    assert case["OwnerId"] == salesforce_standin.queue_id("Billing_Queue")
    [comment] = salesforce_standin.find("CaseComment", ParentId=case["Id"])
    assert comment["IsPublished"] is False
    [upsert, *_] = salesforce_standin.requests_to("PATCH", "/sobjects/Case/Handoff_Id__c/ho_unit1")
    assert upsert.headers["Sforce-Auto-Assign"] == "FALSE"
    assert salesforce_standin.validation_errors == []


def test_retry_does_not_write_over_a_case_an_agent_took(salesforce_standin):
    dest = destination(salesforce_standin)
    ref = dest.deliver(delivery())
    salesforce_standin.records["Case"][ref.id].update(OwnerId=AGENT_ID, Status="Working")
    dest.deliver(delivery(attempt=2))
    case = salesforce_standin.records["Case"][ref.id]
    assert (case["OwnerId"], case["Status"]) == (AGENT_ID, "Working")
    assert len(salesforce_standin.find("CaseComment")) == 1


def test_feed_item_note(salesforce_standin):
    dest = destination(salesforce_standin, note_as="FeedItem")
    ref = dest.deliver(delivery())
    dest.deliver(delivery(attempt=2))
    [post] = salesforce_standin.find("FeedItem", ParentId=ref.id)
    assert post["IsRichText"] is True and post["Type"] == "TextPost"
    assert salesforce_standin.validation_errors == []


def test_add_note_and_update_are_idempotent(salesforce_standin):
    dest = destination(salesforce_standin)
    ref = dest.deliver(delivery())
    salesforce_standin.drop_next(apply=True, route=r"POST .*/sobjects/CaseComment")
    with pytest.raises(TransientDeliveryError):
        dest.add_note(ref, "Handed back to the bot by Mia: refund sent <ok>")
    dest.add_note(ref, "Handed back to the bot by Mia: refund sent <ok>")
    notes = [c["CommentBody"] for c in salesforce_standin.find("CaseComment", ParentId=ref.id)]
    assert len(notes) == 2 and sum("refund sent <ok>" in n for n in notes) == 1
    dest.update(ref, {"priority": "low", "team": "general", "queue": "support"})
    case = salesforce_standin.records["Case"][ref.id]
    assert case["Priority"] == "Low" and case["Handoff_Team__c"] == "general"
    assert salesforce_standin.validation_errors == []


def test_add_note_to_a_missing_case_is_permanent(salesforce_standin):
    with pytest.raises(PermanentDeliveryError):
        destination(salesforce_standin).update(
            TicketRef("salesforce", "500Hs0000000000404"), {"priority": "low"}
        )


def test_omni_channel_routing_is_created_once(salesforce_standin):
    s = salesforce_standin
    english, billing = (s.find("Skill", DeveloperName=n)[0]["Id"] for n in ("English", "Billing"))
    omni = {
        "service_channel_id": s.find("ServiceChannel")[0]["Id"],
        "skill_ids": {"billing": billing, "english": english},
        "capacity_weight": 2,
    }
    dest = destination(s, omni_channel=omni)
    s.drop_next(apply=True, route=r"POST .*/sobjects/SkillRequirement")
    with pytest.raises(TransientDeliveryError):
        dest.deliver(delivery(skills=["english"]))
    ref = dest.deliver(delivery(attempt=2, skills=["english"]))
    dest.deliver(delivery(attempt=3, skills=["english"]))
    [case] = s.find("Case")
    assert "OwnerId" not in s.requests_to("PATCH", UPSERT[6:])[0].json
    [routing] = s.find("PendingServiceRouting", WorkItemId=ref.id)
    assert routing["IsReadyForRouting"] is True and routing["RoutingType"] == "SkillsBased"
    assert (
        routing["CapacityWeight"] == 2 and routing["ServiceChannelId"] == omni["service_channel_id"]
    )
    skills = sorted(r["SkillId"] for r in s.find("SkillRequirement", RelatedRecordId=routing["Id"]))
    assert skills == sorted([billing, english])
    assert len(s.find("CaseComment")) == 1 and case["Id"] == ref.id
    assert s.validation_errors == []


# --- the shared failure table -----------------------------------------------------------------


@pytest.mark.parametrize("case", FAILURE_TABLE, ids=lambda c: c.id)
def test_failure_table(salesforce_standin, case):
    error = check_failure(
        salesforce_standin, lambda: destination(salesforce_standin).deliver(delivery()), case
    )
    if case.id == "429-retry-after-seconds":  # read from the response, although the SDK drops it
        assert error.retry_after == 7
    assert salesforce_standin.internal_errors == []


def test_connection_refused_is_transient(salesforce_standin):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = destination(salesforce_standin, instance_url=f"https://127.0.0.1:{port}")
    connection_refused_case(lambda: dest.deliver(delivery()))


def test_request_limit_exceeded_is_transient(salesforce_standin):
    salesforce_standin.fail_next(403, code="REQUEST_LIMIT_EXCEEDED")
    with pytest.raises(TransientDeliveryError, match="REQUEST_LIMIT_EXCEEDED") as info:
        destination(salesforce_standin).deliver(delivery())
    assert info.value.status == 403


def test_expired_session_id_is_permanent(salesforce_standin):
    dest = destination(salesforce_standin)
    salesforce_standin.revoke_tokens()
    with pytest.raises(PermanentDeliveryError, match="session"):
        dest.deliver(delivery())


# --- auth modes -------------------------------------------------------------------------------


def _client_credentials(standin: SalesforceStandin) -> dict[str, Any]:
    return {
        "client_credentials": {
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
        }
    }


def test_client_credentials_and_one_reauthentication_after_401(salesforce_standin):
    s = salesforce_standin
    dest = destination(s, auth=_client_credentials(s), integration_user_id=None)
    dest.deliver(delivery("ho_a"))
    s.revoke_tokens()
    dest.deliver(delivery("ho_b"))  # 401, a new token, the same request again
    assert len(s.requests_to("POST", "/services/oauth2/token")) == 2
    assert len(s.find("Case")) == 2
    assert dest._user_id == s.user_id  # learned from the token answer, for echo suppression
    s.fail_next(401, times=2, route="/sobjects/")
    with pytest.raises(PermanentDeliveryError):
        dest.deliver(delivery("ho_c"))
    for request in s.requests:
        if request.path != "/services/oauth2/token":
            assert s.client_secret.encode() not in request.body


def test_client_credentials_refused_is_permanent(salesforce_standin):
    auth = {"client_credentials": {"client_id": "nope", "client_secret": "wrong"}}
    with pytest.raises(PermanentDeliveryError, match="client_credentials"):
        destination(salesforce_standin, auth=auth).deliver(delivery())


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _jwt_spec(document: dict[str, Any]) -> None:
    _adjust(document, DEFAULT_CUSTOM_FIELDS)
    schema = document["paths"]["/services/oauth2/token"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]
    schema["properties"]["grant_type"]["enum"].append(JWT_GRANT)
    schema["properties"]["assertion"] = mark({"type": "string"}, "OAuth 2.0 JWT bearer flow")


class JwtStandin(SalesforceStandin):
    """The stand-in, plus the JWT bearer grant (RFC 7523) as Salesforce documents it."""

    username = "integration@standin.example"

    def __init__(self, public_key: bytes, **kwargs: Any) -> None:
        self.public_key = public_key
        super().__init__(**kwargs)

    def validator(self) -> Any:
        return SpecValidator.cached("salesforce+jwt", SPEC, _jwt_spec, forbid_additional=True)

    def _token(self, request: Any) -> Response:
        import jwt

        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != JWT_GRANT:
            return super()._token(request)
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience="https://login.salesforce.com",
            )
        except jwt.PyJWTError as exc:
            return Response(400, {"error": "invalid_grant", "error_description": str(exc)})
        if claims.get("iss") != self.client_id or claims.get("sub") != self.username:
            return Response(
                400, {"error": "invalid_grant", "error_description": "user hasn't approved"}
            )
        self.tokens.add("00Dstandin!jwt-token")
        return Response(
            200,
            {
                "access_token": "00Dstandin!jwt-token",
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00Dstandin000001/{self.user_id}",
                "token_type": "Bearer",
            },
        )


def test_jwt_bearer(vendor_specs, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with JwtStandin(public) as s:
        auth = {
            "jwt": {
                "client_id": s.client_id,
                "username": s.username,
                "private_key_file": str(key_file),
            }
        }
        ref = destination(s, auth=auth).deliver(delivery())
        assert s.records["Case"][ref.id]["Handoff_Id__c"] == "ho_unit1"
        [token] = s.requests_to("POST", "/services/oauth2/token")
        assert b"PRIVATE KEY" not in token.body
        wrong = {"jwt": {**auth["jwt"], "username": "someone@else.example"}}
        with pytest.raises(PermanentDeliveryError):
            destination(s, auth=wrong).deliver(delivery("ho_2"))
        assert s.validation_errors == [] and s.internal_errors == []


# --- doctor -----------------------------------------------------------------------------------


def test_doctor_good_ids(salesforce_standin):
    s = salesforce_standin
    omni = {
        "service_channel_id": s.find("ServiceChannel")[0]["Id"],
        "skill_ids": {"billing": s.find("Skill", DeveloperName="Billing")[0]["Id"]},
    }
    findings = destination(s, omni_channel=omni).doctor()
    assert findings and all(f.ok for f in findings), [f.what for f in findings if not f.ok]


def test_doctor_bad_ids(salesforce_standin):
    s = salesforce_standin
    omni = {
        "service_channel_id": "0N9Hs0000000000999",
        "skill_ids": {"billing": "0C5Hs0000000000999"},
    }
    dest = destination(
        s,
        omni_channel=omni,
        queue_ids={"billing": "00GHs0000000000999"},
        fields={"intent": "Handoff_Mood__c"},
        external_id_field="Handoff_Summary__c",
    )
    bad = {f.what.split(":")[0].split(" ")[0] for f in dest.doctor() if not f.ok}
    assert {
        "queue_ids.billing",
        "omni_channel.service_channel_id",
        "omni_channel.skill_ids.billing",
        "Case.Handoff_Mood__c",
    } <= bad
    assert any(f.what == "Case.Handoff_Summary__c is not marked External ID" for f in dest.doctor())


def test_doctor_bad_credentials(salesforce_standin):
    dest = destination(salesforce_standin)
    salesforce_standin.revoke_tokens()
    [finding] = dest.doctor()
    assert not finding.ok and "authenticate" in finding.what


# --- end to end through the app ---------------------------------------------------------------


@pytest.fixture
def sf(salesforce_standin, tmp_path, receiver: Receiver, clock: Clock):
    settings = make_settings(
        tmp_path,
        callback_url=receiver.url,
        destinations={"salesforce": sf_config(salesforce_standin)},
        reminders={"enabled": False},  # settle() moves the clock past backoffs, not windows
    )
    runtime = build_runtime(settings, clock=clock)
    app = create_app(runtime=runtime)
    yield SimpleNamespace(
        standin=salesforce_standin,
        runtime=runtime,
        client=app.test_client(),
        worker=Worker(runtime, concurrency=1, worker_id="sf-test"),
        receiver=receiver,
        clock=clock,
    )
    runtime.close()


def escalate(sf: Any, conversation: str = "conv-1", event_id: str = "evt-1") -> str:
    raw = dumps(
        event(
            conversation,
            event_id,
            bot={"summary": "Order 881 never arrived; customer wants a person."},
        )
    )
    answer = sf.client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert answer.status_code == 200, answer.json
    return answer.json["handoff"]["id"]


def settle(sf: Any, rounds: int = 6) -> None:
    """Deliver everything due, moving the test clock past each backoff."""
    for _ in range(rounds):
        drain(sf.worker)
        sf.clock.advance(61)  # past the longest backoff (worker.backoff_max_seconds: 60)
    drain(sf.worker)


def test_bot_event_to_case_end_to_end(sf):
    handoff_id = escalate(sf)
    settle(sf)
    view = sf.client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    payload = HandoffPayload.model_validate(view["payload"])
    [case] = sf.standin.find("Case")
    expected = build_case(
        payload, parse_settings(sf_config(sf.standin)), f"{sf.runtime.base_url}/inbox/{handoff_id}"
    ).fields
    assert {k: case[k] for k in expected} == expected
    assert case["Handoff_Id__c"] == handoff_id
    assert case["Description"] == "Order 881 never arrived; customer wants a person."
    assert case["SuppliedName"] == "Ada Lovelace" and case["Origin"] == "Web"
    queue = "Billing_Queue" if payload.routing.team == "billing" else "Support_Queue"
    assert case["OwnerId"] == sf.standin.queue_id(queue)
    [comment] = sf.standin.find("CaseComment", ParentId=case["Id"])
    assert comment["IsPublished"] is False and "My order never arrived." in comment["CommentBody"]
    [ref] = [d for d in view["deliveries"] if d.get("destination") == "salesforce"] or [None]
    assert ref is None or ref["id"] == case["Id"]
    assert sf.standin.validation_errors == []
    secrets = [WEBHOOK_SECRET, SECRET, API_KEY, sf.runtime.settings.widget.secret]
    for request in sf.standin.requests:
        seen = request.body + json.dumps(dict(request.headers)).encode()
        assert not any(secret.encode() in seen for secret in secrets), request.path


def test_outage_and_recovery_deliver_exactly_once(sf):
    s = sf.standin
    s.drop_next(apply=True, route=UPSERT)  # the Case is made, the answer is lost
    s.fail_next(503, times=2, route=r"GET .*/query")
    s.drop_next(apply=True, route=r"POST .*/sobjects/CaseComment")  # the note too
    escalate(sf)
    settle(sf)
    [case] = s.find("Case")
    assert len(s.find("CaseComment", ParentId=case["Id"])) == 1
    assert len(s.requests_to("PATCH", UPSERT[6:])) == 1  # later attempts looked before writing
    with sf.runtime.store.reading() as tx:
        assert not tx.any_due(sf.clock().timestamp() + 10**6)
    assert s.validation_errors == []


# --- inbound: the Flow callout ------------------------------------------------------------------


def flow(handoff_id: str, case_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "org_id": ORG_ID,
        "event_id": fields.pop("event_id", "flow-1"),
        "object": "Case",
        "case_id": case_id,
        "handoff_id": handoff_id,
        "actor_id": AGENT_ID,
        "actor_name": "Mia Agent",
        **fields,
    }


def post_flow(sf: Any, body: dict[str, Any], *, secret: str = WEBHOOK_SECRET, signed: bool = False):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        headers["X-Handoff-Salesforce-Signature"] = f"sha256={digest}"
    else:
        headers["X-Handoff-Salesforce-Secret"] = secret
    return sf.client.post("/v1/webhooks/salesforce", data=raw, headers=headers)


@pytest.fixture
def delivered(sf):
    handoff_id = escalate(sf)
    settle(sf)
    [case] = sf.standin.find("Case")
    return SimpleNamespace(sf=sf, handoff_id=handoff_id, case_id=case["Id"])


def control(sf: Any) -> str:
    return sf.client.get("/v1/conversations/conv-1/control", headers=AGENT).json["owner"]


def test_webhook_secret_and_org_are_checked(delivered):
    sf, body = delivered.sf, flow(delivered.handoff_id, delivered.case_id, is_closed=False)
    assert post_flow(sf, body).status_code == 200
    assert post_flow(sf, {**body, "event_id": "flow-2"}, signed=True).status_code == 200
    assert post_flow(sf, body, secret="wrong-secret-0123456789").status_code == 401
    assert post_flow(sf, body, secret="wrong-secret-0123456789", signed=True).status_code == 401
    other_org = post_flow(sf, {**body, "org_id": "00DHs0000000002"})
    assert other_org.status_code == 401 and "org" in other_org.json["detail"]
    assert post_flow(sf, {k: v for k, v in body.items() if k != "org_id"}).status_code == 401
    raw = b"not json"
    bad = sf.client.post(
        "/v1/webhooks/salesforce", data=raw, headers={"X-Handoff-Salesforce-Secret": WEBHOOK_SECRET}
    )
    assert bad.status_code == 400 and bad.json["status"] == 400


def test_handback_from_salesforce_reaches_the_bot(delivered):
    sf = delivered.sf
    body = flow(
        delivered.handoff_id,
        delivered.case_id,
        handback=True,
        handback_note="Refund issued; the bot can confirm delivery dates.",
    )
    answer = post_flow(sf, body)
    assert answer.json["results"] == ["handed back"]
    assert post_flow(sf, body).json["results"] == ["duplicate"]
    settle(sf)
    handed = [
        r["json"] for r in sf.receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert len(handed) == 1
    assert handed[0]["note"] == "Refund issued; the bot can confirm delivery dates."
    assert control(sf) == "bot"
    notes = [c["CommentBody"] for c in sf.standin.find("CaseComment", ParentId=delivered.case_id)]
    assert len(notes) == 2 and "Handed back to the bot by Mia Agent" in notes[1]


def test_handback_by_status(sf):
    sf.runtime.destinations["salesforce"].settings = parse_settings(
        sf_config(sf.standin, handback_status="Back to bot")
    )
    handoff_id = escalate(sf)
    settle(sf)
    [case] = sf.standin.find("Case")
    body = flow(
        handoff_id, case["Id"], status="Back to bot", prior_status="New", handback_note="done"
    )
    assert post_flow(sf, body).json["results"] == ["handed back"]


def test_agent_reply_assignment_reassignment_and_close(delivered):
    sf, hid, cid = delivered.sf, delivered.handoff_id, delivered.case_id
    billing = sf.standin.queue_id("Billing_Queue")
    moved = post_flow(
        sf,
        flow(
            hid,
            cid,
            event_id="f1",
            owner_id=billing,
            prior_owner_id=sf.standin.queue_id("Support_Queue"),
        ),
    )
    assert moved.json["results"] == ["reassigned"]
    internal = {
        "org_id": ORG_ID,
        "event_id": "f2",
        "object": "CaseComment",
        "case_id": cid,
        "handoff_id": hid,
        "actor_id": AGENT_ID,
        "body": "internal only",
        "is_published": False,
    }
    assert post_flow(sf, internal).json["received"] == 0
    reply = {**internal, "event_id": "f3", "body": "Hi Ada, I'm on it.", "is_published": True}
    assert post_flow(sf, reply).json["results"] == ["agent replied"]
    assert control(sf) == "agent"
    email = {**internal, "event_id": "f4", "object": "EmailMessage", "incoming": False, "body": "x"}
    assert post_flow(sf, email).json["results"] == ["agent replied"]
    closed = post_flow(sf, flow(hid, cid, event_id="f5", status="Closed", is_closed=True))
    assert closed.json["results"] == ["solved"]
    settle(sf)
    assert control(sf) == "bot"


def test_assignment_to_an_agent_claims(delivered):
    sf = delivered.sf
    body = flow(
        delivered.handoff_id,
        delivered.case_id,
        owner_id=AGENT_ID,
        owner_name="Mia Agent",
        prior_owner_id=sf.standin.queue_id("Support_Queue"),
    )
    assert post_flow(sf, body).json["results"] == ["assigned"]
    assert control(sf) == "agent"


def test_our_own_writes_echo_back_as_nothing(delivered):
    sf, hid, cid = delivered.sf, delivered.handoff_id, delivered.case_id
    ours = flow(
        hid,
        cid,
        event_id="e1",
        actor_id=sf.standin.user_id[:15],
        owner_id=sf.standin.queue_id("Support_Queue"),
        is_closed=True,
    )
    assert post_flow(sf, ours).json == {"received": 0, "results": []}
    [comment] = sf.standin.find("CaseComment", ParentId=cid)
    echoed = {
        "org_id": ORG_ID,
        "event_id": "e2",
        "object": "CaseComment",
        "case_id": cid,
        "handoff_id": hid,
        "actor_id": AGENT_ID,
        "body": comment["CommentBody"],
        "is_published": True,
    }
    assert post_flow(sf, echoed).json["received"] == 0
    assert control(sf) == "pending_agent"


def test_events_list_and_unknown_handoff(delivered):
    sf = delivered.sf
    body = {
        "org_id": ORG_ID,
        "events": [
            {
                "event_id": "l1",
                "object": "CaseComment",
                "handoff_id": "ho_unknown",
                "actor_id": AGENT_ID,
                "is_published": True,
                "body": "hello",
            },
            {"event_id": "l2", "object": "CaseComment", "actor_id": AGENT_ID, "is_published": True},
        ],
    }
    assert post_flow(sf, body).json["results"] == [
        "ignored: unknown handoff",
        "ignored: not a handoff of ours",
    ]


def test_webhooks_off_without_secret(salesforce_standin):
    config = sf_config(salesforce_standin)
    del config["webhook_secret"], config["org_id"]
    dest = SalesforceDestination.from_config(config, None)
    from connector.errors import Unauthorized

    with pytest.raises(Unauthorized):
        dest.verify_webhook({"X-Handoff-Salesforce-Secret": "anything-at-all-123"}, b"{}")


def test_docs_name_every_key():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "salesforce.md").read_text()
    from integrations.salesforce.build import FIELD_ITEMS
    from integrations.salesforce.build import KEYS as _KEYS

    for key in _KEYS:
        assert f"`{key}`" in doc, key
    for item in FIELD_ITEMS:
        assert f"`{item}`" in doc, item


def test_the_commented_example_in_config_example_yaml_is_valid():
    import yaml

    from connector.config import load_config

    root = Path(__file__).resolve().parents[2]
    text = (root / "config.example.yaml").read_text()
    lines = []
    for line in text[text.index("#  salesforce:") :].splitlines()[1:]:
        if not line.startswith("  #    "):
            break
        lines.append(line[len("  #  ") :])
    example = yaml.safe_load("\n".join(["salesforce:", *lines]))["salesforce"]
    example["webhook_secret"] = (
        WEBHOOK_SECRET  # ${SF_WEBHOOK_SECRET} is interpolated by load_config
    )
    assert validate(example) == []
    assert parse_settings(example).queue_ids["billing"].startswith("00G")
    assert load_config(root / "config.example.yaml", env={}).destinations


def test_notes_are_told_apart_by_their_outbox_key(salesforce_standin):  # type: ignore[no-untyped-def]
    """The same reminder words in a later round are a new note; a retry of one row is not."""
    dest = destination(salesforce_standin)
    ref = dest.deliver(delivery())
    dest.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:1:salesforce:note")
    dest.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:1:salesforce:note")
    dest.add_note(ref, "Reminder 1/2: nobody answered.", key="reminder:h:7:salesforce:note")
    notes = [c["CommentBody"] for c in salesforce_standin.find("CaseComment", ParentId=ref.id)]
    assert sum("Reminder 1/2" in n for n in notes) == 2, notes
    assert salesforce_standin.validation_errors == []
