"""Frustration that does not shout (issue 16, item 4): sarcasm, rhetorical complaints, complaints
repeated over several turns. Cases written for these tests from the issue's description."""

from __future__ import annotations

import pytest

from connector.schemas import Message
from connector.signals import classify_message, conversation_sentiment

ONE_MESSAGE = [
    ("thanks-for-nothing", "well thanks a lot for nothing", "Frustrated"),
    ("thank-you-for-nothing", "thank you for nothing, really", "Frustrated"),
    ("anyone-reading", "is anyone actually reading this?", "Frustrated"),
    ("you-even-listening", "are you even listening to me", "Frustrated"),
    ("why-bother", "why do I even bother writing to you", "Frustrated"),
    ("oh-great", "oh great, it logged me out again", "Frustrated"),
    ("third-time", "this is the third time I've explained it", "Frustrated"),
    ("yet-again", "my order is late yet again", "Frustrated"),
    ("whats-the-point", "what's the point of this chat", "Frustrated"),
    # near misses: sincere thanks and praise, sadness, a plain question
    ("sincere-thanks", "thanks a lot, that fixed it!", "Interested"),
    ("thanks-for-help", "thank you for your help today", "Interested"),
    ("sad-not-angry", "my dog died last week and I need to update the policy", "Neutral"),
    ("plain-question", "what time does the branch open on saturday", "Neutral"),
]


@pytest.mark.parametrize(
    "text,label", [c[1:] for c in ONE_MESSAGE], ids=[c[0] for c in ONE_MESSAGE]
)
def test_one_message(text: str, label: str) -> None:
    result = classify_message(text)
    if label == "Frustrated":
        assert result.label == "Frustrated", result
    else:
        assert result.label != "Frustrated", result


def _said(*texts: str) -> list[Message]:
    out = []
    for i, text in enumerate(texts):
        out.append(Message(id=f"c{i}", role="customer", text=text))
        out.append(Message(id=f"b{i}", role="bot", text="Let me check that for you."))
    return out[:-1]


CONVERSATIONS = [
    (
        "complaints-pile-up",
        (
            "the delivery was a disaster and the box was crushed",
            "and now the replacement is broken too, awful",
            "honestly this has been a terrible experience",
        ),
        True,
    ),
    (
        "one-complaint-then-calm",
        (
            "the app crashed and I lost my draft, terrible",
            "ok I found it in the backups",
            "where do I export it",
        ),
        False,
    ),
    (
        "declining-twice-is-not-a-complaint",
        ("no thanks, I can't afford it", "no, I really don't want to", "not interested sorry"),
        False,
    ),
]


@pytest.mark.parametrize(
    "texts,frustrated", [c[1:] for c in CONVERSATIONS], ids=[c[0] for c in CONVERSATIONS]
)
def test_repeated_complaints(texts: tuple[str, ...], frustrated: bool) -> None:
    result = conversation_sentiment(_said(*texts))
    assert (result.label == "Frustrated") is frustrated, result
