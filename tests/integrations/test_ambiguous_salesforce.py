"""Salesforce after an ambiguous create, with SOQL lagging the writes: still one Case.

The Case is upserted on its External ID field, so even when the retry's lookup misses a Case the
lost attempt made, the retry's upsert lands on that Case instead of making a second one. (The
Intercom and Zendesk versions, which need a settle time, are in their own test modules.)
"""

from __future__ import annotations

from typing import Any

import pytest

from connector.app import create_app
from connector.delivery import Worker
from connector.runtime import build_runtime
from tests.helpers import drain, event, make_settings, post_event

pytest.importorskip("simple_salesforce")

from tests.integrations.test_salesforce import sf_config  # noqa: E402


def test_an_ambiguous_upsert_with_a_lagging_query_makes_one_case(
    tmp_path, receiver, clock, salesforce_standin
):  # type: ignore[no-untyped-def]
    standin: Any = salesforce_standin
    standin.clock = clock
    standin.query_lag_seconds = 45
    settings = make_settings(
        tmp_path,
        receiver.url,
        destinations={"salesforce": sf_config(standin)},
        reminders={"enabled": False},
    )
    runtime = build_runtime(settings, clock=clock)
    try:
        client = create_app(runtime=runtime).test_client()
        answer = post_event(client, event("conv-sf-lag", "evt-sf-lag"))
        handoff_id = answer.get_json()["handoff"]["id"]
        standin.drop_next(apply=True, route=r"PATCH .*/sobjects/Case/Handoff_Id__c/")
        worker = Worker(runtime, concurrency=1, worker_id="sf-lag")
        drain(worker)
        for _ in range(5):  # retry as soon as due: the lookup still misses the Case
            with runtime.store.reading() as tx:
                due = tx.next_due_at()
            if due is None:
                break
            clock.advance(max(0.0, due - clock().timestamp()) + 0.01)
            drain(worker)
        [case] = standin.find("Case")
        assert case["Handoff_Id__c"] == handoff_id
        with runtime.store.reading() as tx:
            assert tx.get_ticket_refs(handoff_id)["salesforce"]["id"] == case["Id"]
        assert len(standin.requests_to("PATCH", r"/sobjects/Case/Handoff_Id__c/")) == 2
        assert standin.validation_errors == []
    finally:
        runtime.close()
