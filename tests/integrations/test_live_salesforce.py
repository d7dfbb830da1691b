"""After the handoff with Salesforce: the real simple-salesforce against the stand-in. A published
case comment or an outgoing e-mail (posted by the Flow) reaches the bot as ``agent.message``;
the customer's turns become case comments, once, in order; handback ends relaying.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("simple_salesforce")

from tests.helpers import dumps, event, signed_headers  # noqa: E402
from tests.integrations.test_salesforce import (  # noqa: E402
    AGENT,
    AGENT_ID,
    ORG_ID,
    delivered,  # noqa: F401 - fixture
    post_flow,
    settle,
    sf,  # noqa: F401 - fixture
)


def customer_says(sf: Any, event_id: str, text: str) -> None:  # noqa: F811
    raw = dumps(
        event(
            "conv-1", event_id, messages=[{"id": f"{event_id}-1", "role": "customer", "text": text}]
        )
    )
    headers = signed_headers(raw, timestamp=int(sf.clock().timestamp()))  # the test clock moved on
    assert sf.client.post("/v1/events", data=raw, headers=headers).status_code == 200


def test_case_comments_and_emails_reach_the_customer_and_turns_reach_the_case(delivered):  # type: ignore[no-untyped-def]  # noqa: F811
    box, hid, cid = delivered.sf, delivered.handoff_id, delivered.case_id
    comment = {
        "org_id": ORG_ID,
        "event_id": "f1",
        "object": "CaseComment",
        "case_id": cid,
        "handoff_id": hid,
        "actor_id": AGENT_ID,
        "actor_name": "Mia Agent",
        "body": "Hi Ada, Mia here.",
        "is_published": True,
    }
    assert post_flow(box, comment).json["results"] == ["agent replied"]
    assert post_flow(box, comment).json["results"] == ["duplicate"]
    post_flow(box, {**comment, "event_id": "f2", "body": "internal", "is_published": False})
    customer_says(box, "e2", "Thanks, Mia!")
    email = {
        **comment,
        "event_id": "f3",
        "object": "EmailMessage",
        "incoming": False,
        "body": "I've sent the label by e-mail too.",
    }
    post_flow(box, email)
    customer_says(box, "e3", "Got it.")
    settle(box)

    relayed = list(
        dict.fromkeys(
            r["json"]["text"]
            for r in box.receiver.accepted()
            if r["json"]["type"] == "agent.message"
        )
    )
    assert relayed == ["Hi Ada, Mia here.", "I've sent the label by e-mail too."]
    comments = [c["CommentBody"] for c in box.standin.find("CaseComment", ParentId=cid)]
    turns = [c for c in comments if "(customer)" in c]
    assert len(turns) == 2 and "Thanks, Mia!" in turns[0] and "Got it." in turns[1]
    assert all("Ada Lovelace (customer)" in c for c in turns)
    assert box.standin.validation_errors == []

    # our own comments echo back through the Flow as nothing (they carry the connector's marker)
    [ours] = [
        c for c in box.standin.find("CaseComment", ParentId=cid) if "Got it." in c["CommentBody"]
    ]
    echo = {**comment, "event_id": "f4", "body": ours["CommentBody"], "is_published": True}
    assert post_flow(box, echo).json["received"] == 0

    back = box.client.post(
        f"/v1/handoffs/{hid}/handback",
        json={"actor": "Mia Agent", "note": "Label sent."},
        headers=AGENT,
    )
    assert back.status_code == 200
    customer_says(box, "e4", "One more thing")
    settle(box)
    assert not any(
        "One more thing" in c["CommentBody"] for c in box.standin.find("CaseComment", ParentId=cid)
    )
