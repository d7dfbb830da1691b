"""``/metrics``: what the process did, and what the store holds at scrape time."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from connector import metrics
from connector.app import create_app
from connector.runtime import build_runtime
from tests.helpers import drain, event, make_settings, post_event


def scrape(client) -> dict[tuple[str, tuple], float]:  # type: ignore[no-untyped-def]
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(answer.data.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name: str, **labels) -> float:  # type: ignore[no-untyped-def]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def escalate(client, conversation_id="conv-1", event_id="evt-1") -> str:  # type: ignore[no-untyped-def]
    return post_event(client, event(conversation_id, event_id)).json["handoff"]["id"]


def test_metrics_cover_the_whole_walk(client, runtime, worker, receiver, clock):  # type: ignore[no-untyped-def]
    receiver.responses = [(503, {})]  # the first callback fails once: a retry
    handoff_id = escalate(client)
    post_event(client, event("conv-1", "evt-1"))  # a duplicate
    clock.advance(5)
    drain(worker)
    s = scrape(client)
    assert (
        value(
            s, "handoff_events_total", source="demo", type="conversation.updated", duplicate="false"
        )
        == 1
    )
    assert (
        value(
            s, "handoff_events_total", source="demo", type="conversation.updated", duplicate="true"
        )
        == 1
    )
    assert value(s, "handoff_decisions_total", trigger="human_request", escalate="true") == 1
    assert sum(v for (n, _), v in s.items() if n == "handoff_handoffs_total") == 1
    assert (
        value(
            s,
            "handoff_deliveries_total",
            kind="destination",
            destination="local",
            outcome="delivered",
        )
        == 1
    )
    assert value(s, "handoff_delivery_retries_total", kind="callback", destination="demo") == 1
    assert value(s, "handoff_outbox_depth") == 1  # the callback waits for its retry
    assert value(s, "handoff_outbox_oldest_age_seconds") == 5
    assert value(s, "handoff_timers_pending") == 1
    assert value(s, "handoff_store_up") == 1

    clock.advance(600)
    drain(worker)
    s = scrape(client)
    team = next(
        dict(labels)["team"] for (n, labels), _ in s.items() if n == "handoff_reminders_total"
    )
    assert value(s, "handoff_reminders_total", team=team, kind="reminder") == 1

    key = {"X-API-Key": "test-agent-key"}
    client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "ann"}, headers=key)
    client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "ann", "note": "done"}, headers=key
    )
    s = scrape(client)
    assert value(s, "handoff_first_agent_response_seconds_count", team=team) == 1
    assert value(s, "handoff_first_agent_response_seconds_bucket", team=team, le="900.0") == 1
    assert value(s, "handoff_first_agent_response_seconds_bucket", team=team, le="600.0") == 0
    assert value(s, "handoff_handbacks_total", by="agent") == 1
    assert value(s, "handoff_timers_pending") == 0


def test_dead_letters_are_counted(client, worker, receiver):  # type: ignore[no-untyped-def]
    receiver.responses = [(401, {})]
    escalate(client)
    drain(worker)
    s = scrape(client)
    assert value(s, "handoff_dead_letters_total", kind="callback", destination="demo") == 1
    assert value(s, "handoff_outbox_rows", kind="callback", target="demo", status="dead") == 1


def test_each_app_has_its_own_registry(tmp_path, runtime, client, clock):  # type: ignore[no-untyped-def]
    (tmp_path / "other").mkdir()
    other = build_runtime(make_settings(tmp_path / "other"), clock=clock)
    try:
        escalate(client)
        other_client = create_app(runtime=other).test_client()
        assert (
            sum(v for (n, _), v in scrape(other_client).items() if n == "handoff_events_total") == 0
        )
        assert metrics.of(other).registry is not metrics.of(runtime).registry
    finally:
        other.close()


def test_a_failing_store_reports_down_instead_of_raising(client, runtime, monkeypatch):  # type: ignore[no-untyped-def]
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runtime.store, "reading", broken)
    s = scrape(client)
    assert value(s, "handoff_store_up") == 0
