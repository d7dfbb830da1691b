"""What a rule builds from its settings (term groups, pattern tables) is built once per settings
object: a reload, which builds new objects, is read at once, and two policies alive side by side
never see each other's terms."""

from __future__ import annotations

import gc

from connector.config import PolicySettings
from connector.policy import decide
from connector.policy_config import Rule
from tests.test_policy import said


def policy(topic_terms: list[str], person_patterns: list[str], types: list[str]) -> PolicySettings:
    return PolicySettings(
        rules=[
            Rule.model_validate(
                {"id": "topic", "when": {"trigger": "policy_topic", "groups": {"own": topic_terms}}}
            ),
            Rule.model_validate(
                {
                    "id": "person",
                    "when": {
                        "trigger": "human_request",
                        "languages": [],
                        "patterns": person_patterns,
                    },
                }
            ),
            Rule.model_validate(
                {"id": "contact", "when": {"trigger": "contact_type", "types": {"own": types}}}
            ),
        ]
    )


def test_policies_side_by_side_keep_their_own_terms():
    first = policy(["warrant*"], [r"\bpage the on.?call\b"], ["our invoice"])
    second = policy(["guarantee"], [r"\bcall the boss\b"], ["our parcel"])
    for _ in range(2):  # the second round reads what the first one built
        assert decide(said("still under warranty?"), first).rule == "topic"
        assert decide(said("still under warranty?"), second).escalate is False
        assert decide(said("is there a guarantee"), second).rule == "topic"
        assert decide(said("please page the on-call"), first).rule == "person"
        assert decide(said("please page the on-call"), second).escalate is False
        assert decide(said("call the boss now"), second).rule == "person"
        assert decide(said("about our invoice"), first).rule == "contact"
        assert decide(said("about our invoice"), second).escalate is False


def test_a_reload_is_read_at_once():
    for generation in range(40):  # settings dropped and rebuilt, as a reload does
        terms = [f"zork{generation}"]
        current = policy(terms, [rf"\bping{generation}\b"], [f"vendor{generation}"])
        assert decide(said(f"about zork{generation}"), current).rule == "topic"
        assert decide(said(f"about zork{generation - 1}"), current).escalate is False
        assert decide(said(f"ping{generation}"), current).rule == "person"
        detail = decide(said(f"from vendor{generation}"), current).reasons[0].detail
        assert detail == f"own: 'vendor{generation}'"
        del current
        gc.collect()  # a new object may take the freed one's id: it must not read its terms
