"""The widget's tokens, headers and draft events, through HTTP (the browser tests drive the page)."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import pytest

from connector import security
from connector.drafts import levenshtein
from tests.helpers import API_KEY, dumps, event, signed_headers

AGENT = {"Authorization": f"Bearer {API_KEY}"}
HOST = "http://localhost"  # the test client's origin


def escalate(
    client, conversation_id: str = "conv-1", draft: str = "Hi Ada, checking order 881."
) -> dict:  # type: ignore[no-untyped-def]
    raw = dumps(
        event(conversation_id, event_id=f"evt-{conversation_id}", bot={"draft_reply": draft})
    )
    answer = client.post("/v1/events", data=raw, headers=signed_headers(raw))
    assert answer.status_code == 200, answer.json
    return with_widget_link(client, answer.json["handoff"])


def with_widget_link(client, handoff: dict) -> dict:  # type: ignore[no-untyped-def]
    """The bot's handoff reference plus the widget link an agent gets (the bot gets none)."""
    view = client.get(f"/v1/handoffs/{handoff['id']}", headers=AGENT)
    return {**handoff, "widget_url": view.json["widget_url"]}


def token_of(handoff: dict) -> str:
    return parse_qs(urlsplit(handoff["widget_url"]).query)["token"][0]


def widget_headers(runtime, token: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        security.WIDGET_TOKEN_HEADER: token,
        "Origin": HOST,
        security.CSRF_HEADER: security.csrf_token(runtime.settings.widget.secret, token),
        **extra,
    }


def test_api_answers_link_the_widget_with_a_fresh_token(client, runtime):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    url = urlsplit(handoff["widget_url"])
    assert url.path == f"/widget/handoffs/{handoff['id']}"
    claims = security.verify_widget_token(
        runtime.settings.widget.secret,
        token_of(handoff),
        handoff["id"],
        now=runtime.now().timestamp(),
    )
    assert claims["exp"] - claims["iat"] == runtime.settings.widget.token_ttl_seconds
    view = client.get(f"/v1/handoffs/{handoff['id']}", headers=AGENT).json
    assert token_of(view) != token_of(handoff)  # minted per answer
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "Hi Ada, checking order 881." in page.get_data(as_text=True)


def test_widget_page_sends_a_strict_csp_with_the_configured_frame_ancestors(client, runtime):  # type: ignore[no-untyped-def]
    runtime.settings.widget.frame_ancestors = [
        "https://*.zendesk.com",
        "https://acme.my.salesforce.com",
    ]
    url = urlsplit(escalate(client)["widget_url"])
    page = client.get(f"{url.path}?{url.query}")
    csp = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["base-uri"] == "'none'"
    assert (
        directives["frame-ancestors"]
        == "'self' https://*.zendesk.com https://acme.my.salesforce.com"
    )
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert (
        page.headers["Referrer-Policy"] == "no-referrer"
        and page.headers["X-Content-Type-Options"] == "nosniff"
    )
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert (
        "<script>" not in html and " style=" not in html and "http://" not in html.split("<body")[0]
    )
    static = client.get("/widget/static/widget.js")
    assert (
        static.status_code == 200 and "frame-ancestors" in static.headers["Content-Security-Policy"]
    )
    static.close()


@pytest.mark.parametrize("case", ["missing", "forged", "garbage", "expired", "other-handoff"])
def test_bad_tokens_get_problem_json(client, runtime, clock, case):  # type: ignore[no-untyped-def]
    first, second = escalate(client, "conv-1"), escalate(client, "conv-2")
    token = token_of(first)
    if case == "forged":
        token = security.issue_widget_token(
            "not-the-widget-secret-at-all", first["id"], now=clock().timestamp(), ttl=600
        )
    elif case == "garbage":
        token = token[:-4] + "AAAA"
    elif case == "expired":
        clock.advance(runtime.settings.widget.token_ttl_seconds + 1)
    target = second["id"] if case == "other-handoff" else first["id"]
    query = "" if case == "missing" else f"?token={token}"
    expected = (
        (403, "widget-token-wrong-handoff")
        if case == "other-handoff"
        else (
            401,
            {"missing": "missing-widget-token", "expired": "expired-widget-token"}.get(
                case, "bad-widget-token"
            ),
        )
    )
    for response in (
        client.get(f"/widget/handoffs/{target}{query}"),
        client.post(
            f"/v1/handoffs/{target}/claim",
            json={"actor": "mia"},
            headers=widget_headers(runtime, token) if case != "missing" else {},
        ),
        client.post(
            f"/v1/handoffs/{target}/draft-events",
            json={"action": "copied"},
            headers=widget_headers(runtime, token) if case != "missing" else {},
        ),
    ):
        assert response.mimetype == "application/problem+json"
        slug = (
            expected[1]
            if case != "missing" or "/widget/" in response.request.path
            else "missing-api-key"
        )
        assert (response.status_code, response.json["type"].rsplit("/", 1)[1]) == (
            expected[0],
            slug,
        )
        assert "Content-Security-Policy" in response.headers or response.request.path.startswith(
            "/v1/"
        )


def test_a_widget_token_opens_one_handoff_not_the_list(client, runtime):  # type: ignore[no-untyped-def]
    token = token_of(escalate(client))
    listed = client.get("/v1/handoffs", headers={security.WIDGET_TOKEN_HEADER: token})
    assert listed.status_code == 403 and listed.json["type"].endswith("/widget-token-scope")


@pytest.mark.parametrize(
    "headers,slug",
    [
        ({"Origin": "https://evil.example"}, "cross-site-request"),
        ({"Origin": None, "Referer": "https://evil.example/page"}, "cross-site-request"),
        ({"Origin": None}, "cross-site-request"),
        ({"Sec-Fetch-Site": "cross-site"}, "cross-site-request"),
        ({security.CSRF_HEADER: None}, "csrf-token-mismatch"),
        ({security.CSRF_HEADER: "wrong-wrong-wrong"}, "csrf-token-mismatch"),
    ],
    ids=[
        "foreign-origin",
        "foreign-referer",
        "no-origin",
        "sec-fetch-cross-site",
        "no-csrf",
        "wrong-csrf",
    ],
)
def test_cross_site_widget_actions_are_refused(client, runtime, headers, slug):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    token = token_of(handoff)
    sent = {k: v for k, v in {**widget_headers(runtime, token), **headers}.items() if v is not None}
    for path, body in (
        (f"/v1/handoffs/{handoff['id']}/claim", {"actor": "mia"}),
        (f"/v1/handoffs/{handoff['id']}/handback", {"actor": "mia", "note": "x"}),
        (f"/v1/handoffs/{handoff['id']}/draft-events", {"action": "copied"}),
        (f"/widget/handoffs/{handoff['id']}/token", {}),
    ):
        response = client.post(path, json=body, headers=sent)
        assert response.status_code == 403, (path, response.json)
        assert response.json["type"].endswith("/" + slug)
    assert (
        client.get("/v1/conversations/conv-1/control", headers=AGENT).json["owner"]
        == "pending_agent"
    )


def test_widget_token_claims_hands_back_and_renews(client, runtime, clock):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    token = token_of(handoff)
    claimed = client.post(
        f"/v1/handoffs/{handoff['id']}/claim",
        json={"actor": "mia"},
        headers=widget_headers(runtime, token),
    )
    assert claimed.status_code == 200 and claimed.json["owner"] == "agent"
    clock.advance(runtime.settings.widget.token_ttl_seconds - 30)
    renewed = client.post(
        f"/widget/handoffs/{handoff['id']}/token", headers=widget_headers(runtime, token)
    )
    assert renewed.status_code == 200
    fresh = renewed.json["token"]
    assert renewed.json["csrf"] == security.csrf_token(runtime.settings.widget.secret, fresh)
    clock.advance(60)  # the old token has expired, the renewed one works
    back = client.post(
        f"/v1/handoffs/{handoff['id']}/handback",
        json={"actor": "mia", "note": "done"},
        headers=widget_headers(runtime, token),
    )
    assert back.status_code == 401
    back = client.post(
        f"/v1/handoffs/{handoff['id']}/handback",
        json={"actor": "mia", "note": "done"},
        headers=widget_headers(runtime, fresh),
    )
    assert back.status_code == 200 and back.json["owner"] == "bot"


def test_a_token_issued_for_an_agent_acts_as_that_agent(client, runtime):  # type: ignore[no-untyped-def]
    handoff = escalate(client)
    session = client.post(
        "/v1/widget/sessions",
        headers=AGENT,
        json={"handoff_id": handoff["id"], "agent": "mia@example.com"},
    )
    token = session.json["token"]
    url = f"/v1/handoffs/{handoff['id']}"
    claimed = client.post(
        f"{url}/claim", json={"actor": "bob"}, headers=widget_headers(runtime, token)
    )
    assert claimed.status_code == 200
    again = client.post(
        f"{url}/claim", json={"actor": "bob"}, headers=widget_headers(runtime, token)
    )
    assert (
        again.status_code == 200
    )  # the same agent claiming twice is a no-op, not "already claimed"
    copied = client.post(
        f"{url}/draft-events",
        json={"action": "copied", "actor": "bob"},
        headers=widget_headers(runtime, token),
    )
    assert copied.json["actor"] == "mia@example.com"
    back = client.post(
        f"{url}/handback",
        json={"actor": "bob", "note": "sorted"},
        headers=widget_headers(runtime, token),
    )
    assert back.status_code == 200 and back.json["owner"] == "bot"
    with runtime.store.reading() as tx:
        assert tx.get_handoff(handoff["id"]).claimed_by == "mia@example.com"
        actors = {a.action: a.actor for a in tx.list_audit("conv-1")}
    assert actors["handback"] == "mia@example.com" and "bob" not in actors.values()
    # a token without an agent (an API answer's link) keeps the actor the page sends
    other = escalate(client, "conv-2")
    plain = client.post(
        f"/v1/handoffs/{other['id']}/claim",
        json={"actor": "bob"},
        headers=widget_headers(runtime, token_of(other)),
    )
    assert plain.status_code == 200
    with runtime.store.reading() as tx:
        assert tx.get_handoff(other["id"]).claimed_by == "bob"


def test_draft_events_record_the_edit_distance(client, runtime):  # type: ignore[no-untyped-def]
    handoff = escalate(client, draft="Hi Ada, checking order 881.")
    token = token_of(handoff)
    url = f"/v1/handoffs/{handoff['id']}/draft-events"
    copied = client.post(url, json={"action": "copied"}, headers=widget_headers(runtime, token))
    assert copied.status_code == 201 and copied.json["edit_distance"] is None
    sent = client.post(
        url,
        json={"action": "sent_edited", "final_text": "Hi Ada, checking order 882!"},
        headers=AGENT,
    )
    assert sent.status_code == 201
    assert (sent.json["edit_distance"], sent.json["via"], sent.json["actor"]) == (
        2,
        "api_key",
        "api",
    )
    bad = client.post(url, json={"action": "liked"}, headers=AGENT)
    assert bad.status_code == 400 and bad.json["errors"][0]["path"] == "action"
    missing = client.post(
        "/v1/handoffs/ho_nope/draft-events", json={"action": "copied"}, headers=AGENT
    )
    assert missing.status_code == 404
    with runtime.store.reading() as tx:
        rows = tx.list_draft_events(handoff["id"])
        audit = [a.action for a in tx.list_audit("conv-1")]
    assert [r["action"] for r in rows] == ["copied", "sent_edited"]
    assert "final_text" not in rows[1] and rows[1]["final_chars"] == len(
        "Hi Ada, checking order 882!"
    )
    assert {"draft.copied", "draft.sent_edited"} <= set(audit)


def test_sessions_exchange_an_api_key_for_a_widget_link(client, runtime):  # type: ignore[no-untyped-def]
    runtime.settings.widget.frame_ancestors = ["https://*.zendesk.com"]
    handoff = escalate(client)
    by_conversation = client.post(
        "/v1/widget/sessions",
        headers=AGENT,
        json={
            "conversation_id": "conv-1",
            "agent": "mia@example.com",
            "host_origin": "https://acme.zendesk.com",
        },
    )
    assert (
        by_conversation.status_code == 200 and by_conversation.json["handoff_id"] == handoff["id"]
    )
    claims = security.verify_widget_token(
        runtime.settings.widget.secret,
        by_conversation.json["token"],
        handoff["id"],
        now=runtime.now().timestamp(),
    )
    assert claims["agent"] == "mia@example.com"
    url = urlsplit(by_conversation.json["widget_url"])
    page = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    assert (
        'data-host-origin="https://acme.zendesk.com"' in page and 'value="mia@example.com"' in page
    )
    assert client.post("/v1/widget/sessions", json={"conversation_id": "conv-1"}).status_code == 401
    assert client.post("/v1/widget/sessions", headers=AGENT, json={}).status_code == 400
    assert (
        client.post("/v1/widget/sessions", headers=AGENT, json={"handoff_id": "nope"}).status_code
        == 404
    )
    evil = client.get(
        f"{url.path}?token={by_conversation.json['token']}&host_origin=https://evil.example"
    )
    assert evil.status_code == 400 and evil.json["type"].endswith("/bad-host-origin")


def test_customer_text_is_escaped_in_the_widget(client):  # type: ignore[no-untyped-def]
    raw = dumps(
        event(
            messages=[
                {
                    "id": "e1",
                    "role": "customer",
                    "text": "<img src=x onerror=alert(1)> talk to a human",
                }
            ],
            customer={"id": "c", "name": "<script>alert(2)</script>"},
            bot={
                "draft_reply": "</textarea><script>alert(3)</script>",
                "citations": [{"title": "click", "url": "javascript:alert(4)"}],
            },
        )
    )
    handoff = client.post("/v1/events", data=raw, headers=signed_headers(raw)).json["handoff"]
    url = urlsplit(with_widget_link(client, handoff)["widget_url"])
    page = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    for raw_text in (
        "<img src=x",
        "<script>alert(2)",
        "</textarea><script>",
        'javascript:alert(4)"',
    ):
        assert raw_text not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and 'href="javascript' not in page


def test_console_filters_and_shows_the_widget(client, runtime, clock):  # type: ignore[no-untyped-def]
    first, second = escalate(client, "conv-1"), escalate(client, "conv-2")
    client.post(f"/v1/handoffs/{first['id']}/claim", json={"actor": "mia"}, headers=AGENT)
    open_page = client.get(f"/inbox?key={API_KEY}").get_data(as_text=True)
    assert second["id"] in open_page and first["id"] not in open_page
    with_agent = client.get(f"/inbox?status=with_agent&key={API_KEY}").get_data(as_text=True)
    assert first["id"] in with_agent and "With mia" in with_agent
    waiting = client.get(f"/inbox?status=waiting&key={API_KEY}").get_data(as_text=True)
    assert second["id"] not in waiting  # not yet past its respond-by time
    clock.advance(24 * 3600)
    waiting = client.get(f"/inbox?status=waiting&key={API_KEY}").get_data(as_text=True)
    assert second["id"] in waiting and "waiting too long" in waiting and first["id"] not in waiting
    assert client.get(f"/inbox?status=nope&key={API_KEY}").status_code == 400
    team = client.get(f"/inbox?status=all&team=nobody&key={API_KEY}").get_data(as_text=True)
    assert "No handoffs here." in team
    assert (
        "frame-ancestors 'self'"
        in client.get(f"/inbox?key={API_KEY}").headers["Content-Security-Policy"]
    )


def test_levenshtein_matches_the_textbook_table():
    def textbook(a: str, b: str) -> int:
        row = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, row[0] = row[0], i
            for j, cb in enumerate(b, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        return row[-1]

    rng = random.Random(5)
    assert (
        levenshtein("kitten", "sitting") == 3
        and levenshtein("", "abc") == 3
        and levenshtein("é", "e") == 1
    )
    for _ in range(500):
        a = "".join(rng.choice("abcd ") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("abce ") for _ in range(rng.randint(0, 90)))
        assert levenshtein(a, b) == textbook(a, b), (a, b)
    long_a = "".join(rng.choice("abcdefghij ") for _ in range(10_000))
    assert levenshtein(long_a, long_a[::-1]) > 0  # 10k × 10k finishes quickly (bit-parallel)


def test_respond_by_names_the_day_unless_it_is_today():
    from datetime import UTC, datetime

    from sidebar_widget.view import due_text

    saturday = datetime(2026, 11, 21, 12, 34, tzinfo=UTC)
    assert due_text("2026-11-21T15:00:00Z", saturday) == "15:00 UTC"
    assert due_text("2026-11-23T08:00:00Z", saturday) == "Mon 23 Nov 08:00 UTC"
    assert due_text("2026-11-21T16:00:00+01:00", saturday) == "15:00 UTC"  # shown in UTC


def test_widget_header_shows_the_deadline_and_the_queue_once(client, runtime):  # type: ignore[no-untyped-def]
    from sidebar_widget.view import due_text

    handoff = escalate(client)
    routing = client.get(f"/v1/handoffs/{handoff['id']}", headers=AGENT).json["payload"]["routing"]
    url = urlsplit(handoff["widget_url"])
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    header = html.split('class="hw-meta"', 1)[1].split("</p>", 1)[0]
    assert f'respond by <time datetime="{routing["respond_by"]}">' in header
    assert due_text(routing["respond_by"], runtime.now()) in header
    assert (routing["team"], routing["queue"]) == ("general", "support")
    assert "general · queue support" in header
    # the demo's billing team has a queue of the same name: said once
    with runtime.store.atomic() as tx:
        row = tx.get_handoff(handoff["id"])
        tx.update_handoff(
            handoff["id"], payload={**row.payload, "routing": {**routing, "queue": "general"}}
        )
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    header = html.split('class="hw-meta"', 1)[1].split("</p>", 1)[0]
    assert "queue" not in header and header.count("general") == 1
