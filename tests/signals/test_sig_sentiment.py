"""Sentiment classes, cues and trend."""

import pytest

from connector.schemas import Message
from connector.signals import classify_message, conversation_sentiment

CASES = [
    ("useless-bot", "this is useless, you are not helping", "Frustrated"),
    ("profanity", "where is my fucking refund", "Frustrated"),
    ("caps-and-punctuation", "WHY IS MY CARD STILL BLOCKED???", "Frustrated"),
    ("anger-word", "I am so fed up with this app", "Frustrated"),
    ("bad-service", "worst customer service ever", "Frustrated"),
    ("no-thanks", "no thanks", "Uninterested"),
    ("not-interested", "I'm not interested", "Uninterested"),
    ("whatever", "whatever", "Uninterested"),
    ("short-ok", "ok", "Uninterested"),
    ("cannot-afford", "I can't afford it right now", "Uninterested"),
    ("price-question", "How much does the premium plan cost?", "Interested"),
    ("quote", "Can I get a quote for home insurance?", "Interested"),
    ("donate", "I would like to donate $5", "Interested"),
    ("upgrade", "I want to upgrade to the family plan", "Interested"),
    ("positive", "That sounds great, thank you so much!", "Interested"),
    ("plain-fact", "My order number is 1234", "Neutral"),
    ("excited-not-angry", "Yes!!! Sign me up", "Interested"),
    # asking for a person is not engagement; a product word beside it still is
    ("asks-for-person", "Can I talk to a real person please? I need this refunded.", "Neutral"),
    ("would-like-an-agent", "I would like to speak to an agent", "Neutral"),
    ("want-to-talk", "I want to talk to a real person.", "Neutral"),
    ("person-about-pricing", "Can I speak to someone about pricing?", "Interested"),
    ("keen-then-person", "Sure! I would like to donate. Can I talk to someone?", "Interested"),
]


@pytest.mark.parametrize(("text", "label"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify_message(text, label):
    result = classify_message(text)
    assert result.label == label, result
    assert -1.0 <= result.score <= 1.0


def test_result_explains_itself():
    result = classify_message("this is useless!!!")
    assert "useless" in result.cues and "punctuation" in result.cues
    assert result.thresholds == (0.45, -0.3)


def test_thresholds_are_parameters():
    text = "That sounds fine"
    assert classify_message(text, positive_threshold=0.99).label == "Neutral"
    assert classify_message(text, positive_threshold=0.1).label == "Interested"


def _conv(*texts):
    out = []
    for i, t in enumerate(texts):
        out.append(Message(id=f"c{i}", role="customer", text=t))
        out.append(
            Message(id=f"b{i}", role="bot", text="Sorry, I did not get that.", fallback=True)
        )
    return out


def test_repeated_question_is_a_frustration_cue():
    result = conversation_sentiment(_conv("how do I reset my pin", "how do I reset my pin?"))
    assert result.label == "Frustrated"
    assert "repeated" in result.cues


@pytest.mark.parametrize(
    ("texts", "trend"),
    [
        (
            ("thanks, that is great", "hmm ok", "this is useless", "you are terrible!!!"),
            "worsening",
        ),
        (
            ("this is useless!!", "this is bad", "ok that helps", "great, thank you so much!"),
            "improving",
        ),
        (("my order id is 5", "it was sent monday"), "steady"),
    ],
    ids=["worsening", "improving", "steady"],
)
def test_trend(texts, trend):
    assert conversation_sentiment(_conv(*texts)).trend == trend


def test_unit_customer_side_keeps_recent_frustration():
    texts = ("this is ridiculous, fix it!!!", "ok", "fine")
    assert conversation_sentiment(_conv(*texts), unit="last_user_message").label != "Frustrated"
    assert conversation_sentiment(_conv(*texts), unit="customer").label == "Frustrated"


def test_no_customer_turns_is_neutral():
    assert conversation_sentiment([Message(id="1", role="bot", text="Hello!")]).label == "Neutral"
