"""The policy: explicit rules, not the model, decide whether a human takes over.

``decide`` is a pure function of the conversation and the policy settings: no store, no HTTP, no
clock. Every decision lists each reason with its trigger, the rule that fired and a detail, and
carries the policy version (a hash of the rules) so the audit trail says which rules decided.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from connector.config import PolicySettings
from connector.schemas import BotContext, ConversationRef, Customer, Decision, Message, Reason


@dataclass(frozen=True)
class DecisionInput:
    """Everything a decision may look at."""

    event_type: str
    conversation: ConversationRef
    customer: Customer
    bot: BotContext
    messages: Sequence[Message]  # the whole transcript, oldest first
    new_messages: Sequence[Message]  # the turns this event added


def policy_version(settings: PolicySettings) -> str:
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


@lru_cache(maxsize=32)
def _compiled(phrases: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in phrases]


def decide(inputs: DecisionInput, settings: PolicySettings) -> Decision:
    version = policy_version(settings)
    reasons: list[Reason] = []
    for message in inputs.new_messages:
        if message.role != "customer":
            continue
        for index, pattern in enumerate(_compiled(tuple(settings.human_request_phrases))):
            match = pattern.search(message.text)
            if match:
                reasons.append(
                    Reason(trigger="human_request", rule=f"human_request_phrases[{index}]",
                           detail=f"customer wrote {match.group(0)!r}")
                )
                break
        if reasons:
            break
    if inputs.event_type == "handoff.requested" and settings.escalate_on_bot_recommendation:
        recommendation = inputs.bot.recommend_handoff
        detail = recommendation.reason if recommendation and recommendation.reason else "bot asked for a human"
        reasons.append(Reason(trigger="bot_recommended", rule="escalate_on_bot_recommendation", detail=detail))
    priority = "high" if any(r.trigger == "human_request" for r in reasons) else "normal"
    return Decision(escalate=bool(reasons), reasons=reasons, priority=priority, policy_version=version)
