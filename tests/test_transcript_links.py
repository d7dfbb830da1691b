"""The "Full transcript" link: signed, expiring, opens for a helpdesk agent without the API key."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from connector import security
from connector.schemas import HandoffPayload
from integrations.zendesk.build import ZendeskSettings, build_ticket
from tests.helpers import API_KEY, dumps, event, signed_headers

AGENT = {"Authorization": f"Bearer {API_KEY}"}


def escalate(client, conversation_id: str = "conv-t1") -> dict:  # type: ignore[no-untyped-def]
    raw = dumps(event(conversation_id, event_id=f"evt-{conversation_id}"))
    answer = client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert answer.status_code == 200, answer.json
    view = client.get(f"/v1/handoffs/{answer.json['handoff']['id']}", headers=AGENT)
    assert view.status_code == 200
    return view.json


def local(url: str) -> str:
    """The path and query of a link, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_payload_link_is_signed_and_opens_without_the_api_key(client, runtime):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    url = handoff["payload"]["transcript"]["url"]
    parts = urlsplit(url)
    assert parts.path == f"/transcripts/{handoff['id']}"
    assert API_KEY not in url and "key=" not in url
    token = parse_qs(parts.query)["t"][0]
    claims = security.verify_transcript_token(
        runtime.settings.widget.secret, token, handoff["id"], now=runtime.now().timestamp()
    )
    assert claims["exp"] - claims["iat"] == runtime.settings.widget.transcript_link_ttl_seconds
    page = client.get(local(url))  # no Authorization header: a helpdesk agent's browser
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Transcript" in text and handoff["conversation_id"] in text
    for turn in handoff["payload"]["transcript"]["turns"]:
        assert turn["text"].split("<")[0][:20] in text
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_the_zendesk_note_carries_the_signed_link(client):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    payload = HandoffPayload.model_validate(handoff["payload"])
    settings = ZendeskSettings.model_validate(
        {"subdomain": "acme", "email": "bot@acme.com", "token": "t" * 20}
    )
    note = build_ticket(payload, settings, "https://c.example/inbox/x")["comment"]["html_body"]
    link = re.search(r'<a href="([^"]+)">Full transcript</a>', note)
    assert link and "/transcripts/" in link.group(1) and "?t=ht1." in link.group(1)
    assert API_KEY not in note


def test_the_widget_links_a_fresh_signed_transcript(client, runtime, clock):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    clock.advance(runtime.settings.widget.transcript_link_ttl_seconds + 60)  # the note's is over
    fresh = client.get(f"/v1/handoffs/{handoff['id']}", headers=AGENT).json  # a new widget link
    widget = client.get(local(fresh["widget_url"]))
    assert widget.status_code == 200
    link = re.search(
        r'<a href="([^"]+)"[^>]*data-transcript-link>Full transcript</a>', widget.get_data(True)
    )
    assert link, "the widget shows no Full transcript link"
    url = link.group(1).replace("&amp;", "&")
    assert API_KEY not in url
    assert client.get(local(url)).status_code == 200
    stale = client.get(local(handoff["payload"]["transcript"]["url"]))
    assert stale.status_code == 401


@pytest.mark.parametrize(
    "mangle,status,slug",
    [
        (lambda url, other: url.split("?")[0], 401, "bad-transcript-link"),
        (lambda url, other: url[:-3] + "abc", 401, "bad-transcript-link"),
        (lambda url, other: url.replace("?t=ht1.", "?t=hw1."), 401, "bad-transcript-link"),
        (lambda url, other: other.split("?")[0] + "?" + url.split("?")[1], 403, "wrong-handoff"),
        (lambda url, other: url + "&expired", 401, "expired-transcript-link"),
    ],
    ids=["no token", "altered", "a widget token's prefix", "another handoff's", "expired"],
)
def test_a_bad_link_gets_a_clear_page(client, runtime, clock, mangle, status, slug):  # type: ignore[no-untyped-def]
    url = escalate(client, "conv-a")["payload"]["transcript"]["url"]
    other = escalate(client, "conv-b")["payload"]["transcript"]["url"]
    target = mangle(url, other)
    if target.endswith("&expired"):
        target = target.removesuffix("&expired")
        clock.advance(runtime.settings.widget.transcript_link_ttl_seconds)
    page = client.get(local(target), headers={"Accept": "text/html"})
    assert page.status_code == status
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "This transcript link does not open" in text and slug in text
    assert "conv-a" not in text and "conv-b" not in text  # nothing of the conversation leaks
    problem = client.get(local(target))  # a tool, not a browser: the usual problem JSON
    assert problem.status_code == status and problem.mimetype == "application/problem+json"
    assert problem.json["type"].endswith(slug) or slug in problem.json["type"]


def test_a_widget_token_does_not_open_a_transcript(client):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    widget_token = parse_qs(urlsplit(handoff["widget_url"]).query)["token"][0]
    page = client.get(f"/transcripts/{handoff['id']}?t={widget_token}")
    assert page.status_code == 401
