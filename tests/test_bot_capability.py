"""The bot gets no agent capability (issue 13, item 4): its answers carry no widget token, widget
tokens die with the handoff's handback, and an open widget cannot renew itself forever."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from connector import security
from tests.helpers import API_KEY, event, post_event

AGENT = {"Authorization": f"Bearer {API_KEY}"}


def widget_headers(runtime, token: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        security.WIDGET_TOKEN_HEADER: token,
        "Origin": "http://localhost",
        security.CSRF_HEADER: security.csrf_token(runtime.settings.widget.secret, token),
    }


def agent_token(client, handoff_id: str, agent: str = "mia@example.com") -> str:  # type: ignore[no-untyped-def]
    session = client.post(
        "/v1/widget/sessions", headers=AGENT, json={"handoff_id": handoff_id, "agent": agent}
    )
    assert session.status_code == 200, session.json
    return session.json["token"]  # type: ignore[no-any-return]


def test_bot_answers_carry_no_agent_credential(client, runtime) -> None:  # type: ignore[no-untyped-def]
    first = post_event(client, event())
    again = post_event(client, event())
    for answer in (first.json, again.json):
        text = json.dumps(answer)
        assert "token" not in text and "/widget/" not in text, text
        ref = answer["handoff"]
        assert ref["url"] == f"{runtime.base_url}/inbox/{ref['id']}"
    # the link is for agents: without their key it opens nothing
    path = urlsplit(first.json["handoff"]["url"]).path
    assert client.get(path).status_code == 401
    assert client.get(path, headers=AGENT).status_code == 200
    # nor can the bot's own credential reach an agent action
    assert (
        client.post(
            f"/v1/handoffs/{first.json['handoff']['id']}/claim",
            json={"actor": "bot"},
            headers={security.SOURCE_HEADER: "demo"},
        ).status_code
        == 401
    )


def test_handback_revokes_every_widget_token_issued_before_it(client, runtime, clock) -> None:  # type: ignore[no-untyped-def]
    handoff_id = post_event(client, event()).json["handoff"]["id"]
    token = agent_token(client, handoff_id)
    linked = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json["widget_url"]
    plain = parse_qs(urlsplit(linked).query)["token"][0]
    assert (
        client.post(
            f"/v1/handoffs/{handoff_id}/claim",
            json={"actor": "x"},
            headers=widget_headers(runtime, token),
        ).status_code
        == 200
    )
    clock.advance(5)
    back = client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        json={"actor": "mia@example.com", "note": "sorted"},
    )
    assert back.status_code == 200
    clock.advance(5)
    for old in (token, plain):
        for method, path in (
            ("GET", f"/v1/handoffs/{handoff_id}"),
            ("POST", f"/v1/handoffs/{handoff_id}/claim"),
            ("POST", f"/v1/handoffs/{handoff_id}/draft-events"),
            ("POST", f"/widget/handoffs/{handoff_id}/token"),
        ):
            body = {"actor": "x", "action": "copied"} if method == "POST" else None
            refused = client.open(
                path, method=method, json=body, headers=widget_headers(runtime, old)
            )
            assert refused.status_code == 401, (path, refused.json)
            assert refused.json["type"].endswith("/revoked-widget-token")
        # the page itself still loads until the token expires (the widget reloads after its own
        # handback to show the outcome), offering no action on a handoff that is over
        page = client.get(f"/widget/handoffs/{handoff_id}?token={old}").get_data(as_text=True)
        assert (
            "Handed back to the bot" in page
            and 'id="hw-claim"' not in page
            and 'id="hw-handback"' not in page
        )
    # a link minted afterwards (an agent reviewing the history) still opens the page
    later = agent_token(client, handoff_id)
    assert client.get(f"/widget/handoffs/{handoff_id}?token={later}").status_code == 200


def test_a_widget_session_cannot_renew_itself_forever(client, runtime, clock) -> None:  # type: ignore[no-untyped-def]
    widget = runtime.settings.widget
    handoff_id = post_event(client, event()).json["handoff"]["id"]
    token = agent_token(client, handoff_id)
    start = int(clock.now.timestamp())
    expires = start + widget.token_ttl_seconds
    renewals = 0
    while True:
        clock.advance(expires - clock.now.timestamp() - 30)  # the page renews shortly before expiry
        renewed = client.post(
            f"/widget/handoffs/{handoff_id}/token", headers=widget_headers(runtime, token)
        )
        if renewed.status_code != 200:
            break
        renewals += 1
        token, expires = renewed.json["token"], renewed.json["expires_at"]
        claims = security.verify_widget_token(
            widget.secret, token, handoff_id, now=clock.now.timestamp()
        )
        assert claims["agent"] == "mia@example.com"  # a renewal keeps who the credential named
        assert renewed.json["expires_at"] == claims["exp"] <= start + widget.session_max_seconds
        assert renewals < 100, "renewal never ended"
    assert renewed.status_code == 401 and renewed.json["type"].endswith("/widget-session-over")
    assert renewals >= widget.session_max_seconds // widget.token_ttl_seconds - 1
    # the handoff view does not mint a widget token its own link could renew from, either
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=widget_headers(runtime, token))
    assert view.status_code == 200
    assert parse_qs(urlsplit(view.json["widget_url"]).query)["token"] == [token]
