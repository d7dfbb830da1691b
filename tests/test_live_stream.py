"""``GET /v1/handoffs/{id}/stream`` on a real socket: who may open it, what it sends, and that a
reconnect resumes after the last turn it saw."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.helpers import API_KEY, dumps, event, signed_headers


def open_handoff(base: str) -> dict[str, Any]:
    raw = dumps(event())
    answer = requests.post(f"{base}/v1/events", data=raw, headers=signed_headers(raw), timeout=10)
    return dict(answer.json()["handoff"])


def say(base: str, event_id: str, text: str) -> None:
    raw = dumps(
        event(
            event_id=event_id, messages=[{"id": f"{event_id}-1", "role": "customer", "text": text}]
        )
    )
    assert (
        requests.post(
            f"{base}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
        ).status_code
        == 200
    )


def read_events(lines: Any, count: int) -> list[tuple[str | None, str, dict[str, Any]]]:
    """The next ``count`` events from a stream's lines, as (id, event, data)."""
    out: list[tuple[str | None, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
            continue
        if "event" in fields:
            out.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
            if len(out) == count:
                return out
        fields = {}
    return out


def test_the_stream_sends_control_and_new_turns_and_resumes_after_the_last_id(live_server):  # type: ignore[no-untyped-def]
    handoff = open_handoff(live_server)
    view = requests.get(
        f"{live_server}/v1/handoffs/{handoff['id']}", headers={"X-API-Key": API_KEY}, timeout=10
    )
    token = view.json()["widget_url"].split("token=")[
        1
    ]  # bots get no widget link: an agent's view has it
    url = f"{live_server}/v1/handoffs/{handoff['id']}/stream"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(f"{url}?token=forged", timeout=10).status_code == 401
    missing = requests.get(f"{live_server}/v1/handoffs/nope/stream?key={API_KEY}", timeout=10)
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-handoff")

    say(live_server, "e2", "first")
    with requests.get(f"{url}?token={token}", stream=True, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(chunk_size=1, decode_unicode=True)  # each event as it comes
        [(_, kind, control), (first_id, turn_kind, turn)] = read_events(lines, 2)
        assert (kind, control["owner"], control["status"]) == ("control", "pending_agent", "open")
        assert (turn_kind, turn["role"], turn["text"]) == ("turn", "customer", "first")
        say(live_server, "e3", "second")  # arrives while the stream is open
        [(_, kind, turn)] = read_events(lines, 1)
        assert (kind, turn["text"]) == ("turn", "second")
    # the browser reconnects with the last id it saw: only what came after
    with requests.get(
        f"{url}?key={API_KEY}", headers={"Last-Event-ID": str(first_id)}, stream=True, timeout=10
    ) as stream:
        [_, (_, kind, turn)] = read_events(stream.iter_lines(chunk_size=1, decode_unicode=True), 2)
        assert (kind, turn["text"]) == ("turn", "second")


def test_the_stream_announces_a_reminder(live_server, worker, clock):  # type: ignore[no-untyped-def]
    from tests.helpers import drain

    handoff = open_handoff(live_server)
    drain(worker)
    url = f"{live_server}/v1/handoffs/{handoff['id']}/stream?key={API_KEY}"
    with requests.get(url, stream=True, timeout=10) as stream:
        lines = stream.iter_lines(chunk_size=1, decode_unicode=True)
        [(_, kind, _)] = read_events(lines, 1)
        assert kind == "control"
        clock.advance(10 * 60 + 1)  # past the default response window
        drain(worker)
        kinds = [k for _, k, _ in read_events(lines, 1)]
        assert kinds == ["reminder"]
