"""The stand-ins, driven by the real SDKs over a real socket.

The fault table at the end records what each SDK raises for each failure; it is the reference the
integrations use to sort vendor errors into transient and permanent ones.
"""

from __future__ import annotations

import os

import pytest

zenpy = pytest.importorskip("zenpy")
simple_salesforce = pytest.importorskip("simple_salesforce")
intercom = pytest.importorskip("intercom")

import requests  # noqa: E402
import zenpy.lib.api as zenpy_api  # noqa: E402
from simple_salesforce import Salesforce  # noqa: E402
from zenpy.lib.api_objects import Comment, CustomField, Ticket, User  # noqa: E402

from .fixtures import require_vendor_specs  # noqa: E402
from .intercom import IntercomStandin  # noqa: E402
from .specs import SPECS_ENV, SpecValidator  # noqa: E402
from .zendesk import ZendeskStandin  # noqa: E402

SUPPORT_GROUP = 6130852536346


# -- Zendesk -----------------------------------------------------------------------------------
def test_zendesk_ticket_with_external_id_then_internal_note(zendesk_client, zendesk_standin):
    audit = zendesk_client.tickets.create(
        Ticket(
            subject="Refund request",
            comment=Comment(body="Customer asks for a refund", public=False),
            requester=User(name="Ada", email="ada@example.com"),
            external_id="handoff-1",
            priority="high",
            group_id=SUPPORT_GROUP,
            tags=["handoff"],
            custom_fields=[CustomField(id=360001, value="handoff-1")],
        )
    )
    ticket_id = audit.ticket.id
    update = Ticket(id=ticket_id)
    update.comment = Comment(body="Summary", html_body="<p>Summary</p>", public=False)
    zendesk_client.tickets.update(update)
    zendesk_client.tickets.add_tags(ticket_id, ["bot_escalated"])  # tags: their own endpoint

    [found] = zendesk_client.tickets(external_id="handoff-1")
    stored = zendesk_standin.tickets[ticket_id]
    assert found.id == ticket_id
    assert stored["group_id"] == SUPPORT_GROUP and stored["priority"] == "high"
    assert stored["tags"] == ["handoff", "bot_escalated"]
    assert stored["custom_fields"] == [{"id": 360001, "value": "handoff-1"}]
    assert [n["html_body"] for n in zendesk_standin.internal_notes(ticket_id)][
        1
    ] == "<p>Summary</p>"
    assert len(zendesk_standin.audits[ticket_id]) == 3
    assert zendesk_standin.validation_errors == []


def test_zendesk_lookups(zendesk_client, zendesk_standin):
    assert [g.name for g in zendesk_client.groups()] == ["Support", "Billing"]
    assert [f.id for f in zendesk_client.ticket_fields()] == [360001, 360002]
    assert zendesk_client.users.me().email == zendesk_standin.email
    assert zendesk_standin.validation_errors == []


def test_zendesk_invalid_request_is_refused_and_recorded(zendesk_client, zendesk_standin):
    with pytest.raises(zenpy.lib.exception.APIException, match="RecordInvalid"):
        zendesk_client.tickets.create(Ticket(subject="x", priority="asap"))
    [problem] = zendesk_standin.validation_errors
    assert problem.method == "POST" and "asap" in problem.errors[0]
    assert zendesk_standin.tickets == {}


def test_zendesk_unknown_group_is_record_invalid(zendesk_client, zendesk_standin):
    with pytest.raises(zenpy.lib.exception.APIException, match="Group"):
        zendesk_client.tickets.create(Ticket(subject="x", group_id=1))


def test_zendesk_wrong_token_gets_zendesk_401(zendesk_standin):
    client = zenpy.Zenpy(subdomain="standin", email=zendesk_standin.email, token="wrong")
    with pytest.raises(zenpy.lib.exception.APIException, match="Couldn't authenticate you"):
        client.users.me()
    client.users.session.close()


def test_zendesk_plain_http_mode(vendor_specs, monkeypatch):
    with ZendeskStandin(tls=False) as server:
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        client = zenpy.Zenpy(subdomain="s", email=server.email, token=server.token)
        client.tickets.create(Ticket(subject="x", comment=Comment(body="y")))
        client.users.session.close()
    assert server.requests[0].path == "/api/v2/tickets.json"
    assert server.validation_errors == []


# -- Salesforce --------------------------------------------------------------------------------
def test_salesforce_upsert_case_and_route_with_omni_channel(salesforce_client, salesforce_standin):
    sf, standin = salesforce_client, salesforce_standin
    queue = sf.query(
        "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = 'Support_Queue'"
    )
    case = {"Subject": "Refund", "Origin": "Chat", "OwnerId": queue["records"][0]["Id"]}
    assert sf.Case.upsert("Handoff_Id__c/h-1", case, headers={"Sforce-Auto-Assign": "FALSE"}) == 201
    assert sf.Case.upsert("Handoff_Id__c/h-1", {"Priority": "High"}) == 200
    [stored] = standin.find("Case", Handoff_Id__c="h-1")
    case_id = stored["Id"]
    sf.CaseComment.create({"ParentId": case_id, "CommentBody": "Summary", "IsPublished": False})
    sf.FeedItem.create({"ParentId": case_id, "Body": "Summary", "Type": "TextPost"})
    channel = sf.query("SELECT Id FROM ServiceChannel WHERE DeveloperName = 'sfdc_caseChannel'")
    routing = sf.PendingServiceRouting.create(
        {
            "WorkItemId": case_id,
            "ServiceChannelId": channel["records"][0]["Id"],
            "RoutingType": "SkillsBased",
            "RoutingModel": "MostAvailable",
            "RoutingPriority": 1,
            "CapacityWeight": 1,
            "IsReadyForRouting": False,
        }
    )
    skill = standin.find("Skill", DeveloperName="English")[0]["Id"]
    sf.SkillRequirement.create(
        {"RelatedRecordId": routing["id"], "SkillId": skill, "SkillLevel": 1}
    )
    sf.PendingServiceRouting.update(routing["id"], {"IsReadyForRouting": True})

    assert stored["Priority"] == "High" and stored["OwnerId"] == standin.queue_id("Support_Queue")
    assert sf.Case.get_by_custom_id("Handoff_Id__c", "h-1")["CaseNumber"] == stored["CaseNumber"]
    assert standin.find("CaseComment", ParentId=case_id)[0]["IsPublished"] is False
    assert standin.find("PendingServiceRouting", WorkItemId=case_id)[0]["IsReadyForRouting"]
    assert len(standin.find("SkillRequirement", RelatedRecordId=routing["id"])) == 1
    assert standin.requests_to("PATCH", "/Case/Handoff_Id__c/h-1")[0].headers["Sforce-Auto-Assign"]
    assert standin.validation_errors == []


def test_salesforce_misspelt_field_is_invalid_field(salesforce_client, salesforce_standin):
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest, match="INVALID_FIELD"):
        salesforce_client.Case.create({"Subject": "x", "Handoff_ID__c": "h-1"})
    assert "Handoff_ID__c" in salesforce_standin.validation_errors[0].errors[0]


def test_salesforce_unknown_external_id_field_is_not_found(salesforce_client, salesforce_standin):
    with pytest.raises(simple_salesforce.SalesforceResourceNotFound, match="external ID field"):
        salesforce_client.Case.upsert("Handoff__c/h-1", {"Subject": "x"})
    assert len(salesforce_standin.validation_errors) == 1


def test_salesforce_soql_subset_refuses_unknown_columns(salesforce_client):
    with pytest.raises(simple_salesforce.SalesforceMalformedRequest, match="INVALID_FIELD"):
        salesforce_client.query("SELECT Nope FROM Case")


def test_salesforce_composite_resolves_references(salesforce_client, salesforce_standin):
    api = "/services/data/v59.0/sobjects"
    answer = salesforce_client.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "PATCH",
                    "url": f"{api}/Case/Handoff_Id__c/h-9",
                    "referenceId": "case",
                    "body": {"Subject": "x"},
                },
                {
                    "method": "POST",
                    "url": f"{api}/CaseComment",
                    "referenceId": "note",
                    "body": {"ParentId": "@{case.id}", "CommentBody": "Summary"},
                },
            ],
        },
    )
    assert [r["httpStatusCode"] for r in answer["compositeResponse"]] == [201, 201]
    case_id = salesforce_standin.find("Case", Handoff_Id__c="h-9")[0]["Id"]
    assert salesforce_standin.find("CaseComment", ParentId=case_id)
    assert salesforce_standin.validation_errors == []


def test_salesforce_client_credentials_token(salesforce_standin, salesforce_session):
    form = {
        "grant_type": "client_credentials",
        "client_id": salesforce_standin.client_id,
        "client_secret": salesforce_standin.client_secret,
    }
    url = salesforce_standin.base_url + "/services/oauth2/token"
    token = salesforce_session.post(url, data=form).json()
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        version="59.0",
        session=salesforce_session,
    )
    assert sf.query("SELECT Id FROM Case")["totalSize"] == 0
    bad = salesforce_session.post(url, data={**form, "client_secret": "nope"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")
    salesforce_standin.revoke_tokens()
    with pytest.raises(simple_salesforce.SalesforceExpiredSession):
        sf.query("SELECT Id FROM Case")


def test_salesforce_ambiguous_drop_then_idempotent_retry(salesforce_client, salesforce_standin):
    salesforce_standin.drop_next(apply=True)
    with pytest.raises(requests.ConnectionError):
        salesforce_client.Case.upsert("Handoff_Id__c/h-2", {"Subject": "x"})
    assert salesforce_client.Case.upsert("Handoff_Id__c/h-2", {"Subject": "x"}) == 200
    assert len(salesforce_standin.find("Case", Handoff_Id__c="h-2")) == 1


# -- Intercom ----------------------------------------------------------------------------------
def test_intercom_note_assign_attributes_and_ticket(intercom_client, intercom_standin):
    ic, standin = intercom_client, intercom_standin
    admin = ic.admins.identify().id
    team = ic.teams.list().teams[0].id
    conversation = standin.add_conversation()
    ic.conversations.reply(
        conversation_id=conversation,
        request={
            "message_type": "note",
            "type": "admin",
            "admin_id": admin,
            "body": "<p>Summary</p>",
        },
    )
    ic.conversations.manage(
        conversation_id=conversation,
        request={
            "message_type": "assignment",
            "type": "team",
            "admin_id": admin,
            "assignee_id": team,
        },
    )
    ic.conversations.update(conversation_id=conversation, custom_attributes={"handoff_id": "h-1"})
    ticket_type = ic.ticket_types.list().data[0].id
    ticket = ic.tickets.create(
        ticket_type_id=ticket_type,
        contacts=[{"id": "6762f1261bb69f9f2193bba7"}],
        request_options={
            "additional_body_parameters": {
                "ticket_attributes": {
                    "_default_title_": "Refund",
                    "_default_description_": "Summary",
                }
            }
        },
    )
    state = standin.conversations[conversation]
    assert [n["body"] for n in standin.notes(conversation)] == ["<p>Summary</p>"]
    assert state["team_assignee_id"] == int(team)
    assert state["custom_attributes"] == {"handoff_id": "h-1"}
    assert standin.tickets[ticket.id]["ticket_attributes"]["_default_title_"] == "Refund"
    assert standin.requests[-1].headers["intercom-version"] == "2.14"
    assert standin.validation_errors == []


def test_intercom_invalid_request_is_refused_and_recorded(intercom_client, intercom_standin):
    conversation = intercom_standin.add_conversation()
    with pytest.raises(intercom.core.api_error.ApiError) as caught:
        intercom_client.conversations.reply(
            conversation_id=conversation, request={"message_type": "memo", "type": "admin"}
        )
    assert caught.value.status_code == 400
    assert caught.value.body["errors"][0]["code"] == "parameter_invalid"
    assert len(intercom_standin.validation_errors) == 1


def test_intercom_undefined_custom_attribute(intercom_client, intercom_standin):
    conversation = intercom_standin.add_conversation()
    with pytest.raises(intercom.core.api_error.ApiError):
        intercom_client.conversations.update(
            conversation_id=conversation, custom_attributes={"handof_id": "h-1"}
        )
    assert "handof_id" in intercom_standin.validation_errors[0].errors[0]


# -- machinery ---------------------------------------------------------------------------------
def test_faults_queue_in_order_and_match_routes(intercom_client, intercom_standin):
    intercom_standin.fail_next(503, route="^GET /teams", times=2)
    intercom_standin.fail_next(500)
    with pytest.raises(intercom.core.api_error.ApiError) as first:
        intercom_client.admins.list()
    assert first.value.status_code == 500
    for _ in range(2):
        with pytest.raises(intercom.core.api_error.ApiError) as later:
            intercom_client.teams.list()
        assert later.value.status_code == 503
    assert intercom_client.teams.list().teams


def test_retry_after_reaches_the_sdks(
    intercom_client, intercom_standin, zendesk_client, zendesk_standin, monkeypatch
):
    intercom_standin.fail_next(429, retry_after="7")
    with pytest.raises(intercom.core.api_error.ApiError) as caught:
        intercom_client.admins.list()
    assert caught.value.headers["retry-after"] == "7"
    assert caught.value.headers["x-ratelimit-remaining"] == "0"
    slept: list[float] = []
    monkeypatch.setattr(zenpy_api, "sleep", slept.append)  # zenpy waits by itself, 1 s at a time
    zendesk_standin.fail_next(429, retry_after="2")
    zendesk_client.users.me()
    assert slept == [1, 1] and len(zendesk_standin.requests) == 2


def test_validator_is_loaded_once_per_process(vendor_specs):
    first, second = IntercomStandin(), IntercomStandin()
    assert first.validator() is second.validator()
    assert (
        SpecValidator.cached("intercom", "intercom/api.intercom.io.2.14.yaml") is first.validator()
    )


def test_missing_specs_skip_locally_and_fail_on_ci(monkeypatch, tmp_path):
    monkeypatch.setenv(SPECS_ENV, str(tmp_path / "absent"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=SPECS_ENV):
        require_vendor_specs()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="vendor specs not found"):
        require_vendor_specs()


def test_specs_env_points_at_the_folder(vendor_specs, monkeypatch):
    monkeypatch.setenv(SPECS_ENV, os.fspath(vendor_specs))
    assert require_vendor_specs() == vendor_specs
