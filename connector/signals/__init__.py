"""Signals: pure functions of a conversation that a policy turns into decisions.

No store, no HTTP, no clock, no downloads: text and message objects in (anything with ``role``,
``text`` and optionally ``fallback``, ``tool_calls``, ``intent``, ``confidence``), small frozen
dataclasses out, each carrying what matched and the threshold it was compared with, so a policy
can copy it into the audit trail. Every tunable list or threshold is a keyword argument whose
default is a module-level ``DEFAULT_…`` constant; the config passes its own.
"""

from connector.signals.failures import (
    RepeatedFailure,
    ToolFailure,
    repeated_failure,
    similarity,
    tool_failure,
)
from connector.signals.human_request import HumanRequest, detect_human_request, human_request_in
from connector.signals.intent import TeamGuess, classify_team, team_for
from connector.signals.sentiment import Sentiment, classify_message, conversation_sentiment
from connector.signals.topics import (
    TopicMatch,
    buying_intent,
    contact_type,
    in_customer_turns,
    match_groups,
    policy_topics,
)

__all__ = [
    "HumanRequest",
    "RepeatedFailure",
    "Sentiment",
    "TeamGuess",
    "ToolFailure",
    "TopicMatch",
    "buying_intent",
    "classify_message",
    "classify_team",
    "contact_type",
    "conversation_sentiment",
    "detect_human_request",
    "human_request_in",
    "in_customer_turns",
    "match_groups",
    "policy_topics",
    "repeated_failure",
    "similarity",
    "team_for",
    "tool_failure",
]
