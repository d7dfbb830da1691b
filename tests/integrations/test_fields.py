"""Honest vendor fields: the pure rules as tables, then each vendor's real SDK against its stand-in.

A bad e-mail or phone is left out with a line in the internal note (never sent, never clipped),
control characters and bidi overrides never reach a vendor, and Zendesk refusing the requester
files the ticket without it instead of dead-lettering the handoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.fields import (
    clean,
    clean_deep,
    contact,
    contact_problems,
    valid_email,
    valid_phone,
)

CLEAN_CASES = [
    ("plain text", "plain text"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("nul\x00 and bell\x07 and esc\x1b go", "nul and bell and esc go"),
    ("c1 \x85\x9b gone", "c1  gone"),
    ("bidi \u202eevil\u202c and \u2066isolate\u2069", "bidi evil and isolate"),
    ("marks \u200e\u200f\u061c", "marks "),
    ("émoji 🙂 and 中文 stay", "émoji 🙂 and 中文 stay"),
]


@pytest.mark.parametrize(("text", "expected"), CLEAN_CASES)
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_clean_deep_reaches_every_string() -> None:
    assert clean_deep({"a\x00": ["x\u202ey", {"b": "c\x07"}], "n": 1, "t": None}) == {
        "a": ["xy", {"b": "c"}],
        "n": 1,
        "t": None,
    }


EMAIL_CASES = [
    ("ada@example.com", "ada@example.com"),
    ("  Ada.Lovelace+vip@Example.COM ", "Ada.Lovelace+vip@example.com"),
    ("kim.lee at example dot com", None),
    ("unknown", None),
    ("a@b", None),
    ("two@@example.com", None),
    ("dots..twice@example.com", None),
    ("x" * 65 + "@example.com", None),
    ("a@" + "b" * 250 + ".com", None),
]


@pytest.mark.parametrize(("value", "expected"), EMAIL_CASES)
def test_valid_email(value: str, expected: str | None) -> None:
    assert valid_email(value) == expected


PHONE_CASES = [
    ("+44 20 7946 0958", 40, "+44 20 7946 0958"),
    ("(555) 010-9999", 40, "(555) 010-9999"),
    ("+44 20 7946 0958", 14, "+442079460958"),  # fits without its spaces
    ("call me maybe", 40, None),
    ("123", 40, None),  # too few digits
    ("1" * 16, 40, None),  # more than E.164 allows
]


@pytest.mark.parametrize(("value", "limit", "expected"), PHONE_CASES)
def test_valid_phone(value: str, limit: int, expected: str | None) -> None:
    assert valid_phone(value, limit) == expected


def test_contact_leaves_out_what_does_not_fit_and_says_so() -> None:
    checked = contact(
        "N" * 100,
        "kim.lee at example dot com",
        "call me",
        name_max=80,
        phone_max=40,
        email_max=80,
        vendor="Salesforce",
    )
    assert checked.name is not None and len(checked.name) == 80 and checked.name.endswith("…")
    assert (checked.email, checked.phone) == (None, None)
    assert "'kim.lee at example dot com' is not a valid address" in checked.note()
    assert "phone 'call me'" in checked.note() and "shortened to 80" in checked.note()
    long_but_valid = "a" * 40 + "@" + "b" * 40 + ".com"  # 85 characters: valid, but not in 80
    assert (
        contact(
            None, long_but_valid, None, name_max=80, phone_max=40, email_max=80, vendor="Salesforce"
        ).email
        is None
    )
    assert (
        contact(
            "Ada", "ada@example.com", "+1 555 010 9999", name_max=80, phone_max=40, vendor="x"
        ).left_out
        == []
    )


def test_contact_problems_are_warnings_for_intake() -> None:
    assert contact_problems("unknown", "12") == [
        "customer.email is not a valid e-mail address: it will not be sent to a helpdesk",
        "customer.phone is not a phone number: it will not be sent to a helpdesk",
    ]
    assert contact_problems("ada@example.com", None) == []


# --- through the real SDKs ----------------------------------------------------------------------

BAD = {
    "name": "Kim \u202eeeL\u202c\x00",
    "email": "kim.lee at example dot com",
    "phone": "+1 " + "5" * 45,
}


def bad_event_payload(payload: Any) -> Any:
    customer = payload.customer.model_copy(update=BAD)
    return payload.model_copy(update={"customer": customer, "summary": "Order\x00 881 \u202elost"})


@pytest.fixture
def zendesk(vendor_specs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tests.integrations.test_zendesk import TICKET_FIELDS
    from tests.standins.fixtures import _serve
    from tests.standins.zendesk import ZendeskStandin

    yield from _serve(ZendeskStandin(ticket_fields=TICKET_FIELDS), monkeypatch)


def _delivery(payload: Any, handoff_id: str) -> Any:
    from integrations.base import Delivery

    return Delivery(
        handoff_id=handoff_id,
        payload=payload,
        idempotency_key=f"k-{handoff_id}",
        widget_url=f"http://127.0.0.1:8080/inbox/{handoff_id}",
    )


def test_zendesk_gets_no_bad_email_and_the_note_says_why(runtime, zendesk):  # type: ignore[no-untyped-def]
    pytest.importorskip("zenpy")
    from integrations.fields import clean_deep as deep
    from integrations.zendesk import ZendeskDestination
    from tests.integrations.test_zendesk import payload, zd_config

    destination = ZendeskDestination.from_config(zd_config(zendesk), runtime)
    cleaned = type(payload()).model_validate(
        deep(bad_event_payload(payload("ho_bad")).model_dump(mode="json"))
    )
    destination.deliver(_delivery(cleaned, "ho_bad"))
    [ticket] = zendesk.tickets.values()
    assert zendesk.validation_errors == []
    body = zendesk.requests_to("POST", r"/api/v2/tickets")[0].body.decode()
    assert "kim.lee at example dot com" not in body.split('"comment"')[0]  # not as the requester
    assert '"requester"' not in body and "\\u0000" not in body and "\\u202e" not in body
    assert "is not a valid address and was not sent to Zendesk" in body
    assert ticket["subject"].endswith("Kim eeL")


def test_zendesk_refusing_the_requester_files_the_ticket_without_it(runtime, zendesk):  # type: ignore[no-untyped-def]
    pytest.importorskip("zenpy")
    from integrations.zendesk import ZendeskDestination
    from tests.integrations.test_zendesk import payload, zd_config

    destination = ZendeskDestination.from_config(zd_config(zendesk), runtime)
    zendesk.fail_next(
        422,
        route=r"POST .*/tickets",
        body={
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"requester": [{"description": "Requester: Email is invalid"}]},
        },
    )
    destination.deliver(_delivery(payload("ho_refused"), "ho_refused"))
    assert len(zendesk.tickets) == 1
    second = zendesk.requests_to("POST", r"/api/v2/tickets")[-1].body.decode()
    assert '"requester"' not in second and "refused the customer" in second


def test_salesforce_gets_no_clipped_email_or_phone(salesforce_standin):  # type: ignore[no-untyped-def]
    pytest.importorskip("simple_salesforce")
    from tests.integrations.test_salesforce import delivery, destination

    sf = destination(salesforce_standin)
    base = delivery("ho_sfbad")
    sf.deliver(
        _delivery(
            bad_event_payload(base.payload).model_copy(
                update={
                    "customer": base.payload.customer.model_copy(update={**BAD, "name": "N" * 90})
                }
            ),
            "ho_sfbad",
        )
    )
    [case] = salesforce_standin.find("Case")
    assert "SuppliedEmail" not in case or not case["SuppliedEmail"]
    assert "SuppliedPhone" not in case or not case["SuppliedPhone"]
    assert len(case["SuppliedName"]) == 80
    assert salesforce_standin.validation_errors == []


def test_intake_warns_about_contact_fields_and_still_opens_the_handoff(client):  # type: ignore[no-untyped-def]
    from tests.helpers import event, post_event

    body = event("conv-bad-contact", "evt-bad-contact")
    body["customer"].update(email="unknown", phone="call me")
    answer = post_event(client, body)
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["handoff"] is not None
    assert data["warnings"] == contact_problems("unknown", "call me")
    replay = post_event(client, body).get_json()  # the replayed answer says the same
    assert replay["duplicate"] is True and replay["warnings"] == data["warnings"]
    good = event("conv-good-contact", "evt-good-contact")
    assert post_event(client, good).get_json()["warnings"] == []
