"""Policy topics, buying intent and contact type."""

import pytest

from connector.signals import buying_intent, contact_type, policy_topics

TOPICS = [
    ("I want a refund", "refund"),
    ("I was refunded only half", "refund"),
    ("how do I get a reimbursement", "refund"),
    ("I want my money back", "refund"),
    ("I want to return the product", "refund"),
    ("I was charged twice for the same order", "billing"),
    ("money was deducted from my account", "billing"),
    ("I have a problem making a payment", "billing"),
    ("I paid 500 but my wallet shows 0", "billing"),
    ("my bonus has not been credited", "billing"),
    ("I want to lodge a complaint", "complaint"),
    ("very bad experience", "complaint"),
    ("I will talk to my lawyer", "legal"),
    ("I'm going to sue you", "legal"),
    ("I had an allergic reaction to the tablets", "medical"),
    ("can I take this while pregnant", "medical"),
    ("please delete my personal data under GDPR", "privacy"),
]


@pytest.mark.parametrize(("text", "topic"), TOPICS, ids=[t for t, _ in TOPICS])
def test_policy_topic(text, topic):
    result = policy_topics(text)
    assert result.matched and result.topic == topic, result
    assert result.terms


NOT_TOPICS = [
    "I want to see my invoices",
    "I wanna know how to download a bill",
    "When's my replacement card coming?",
    "what is the exchange rate for euros",
    "in return for my loyalty, any offers?",
    "what time does check in start?",
]


@pytest.mark.parametrize("text", NOT_TOPICS)
def test_not_a_policy_topic(text):
    assert not policy_topics(text).matched


def test_topic_groups_are_configurable_and_ordered():
    groups = {"warranty": ("warrant*",), "refund": ("refund",)}
    result = policy_topics("warranty refund please", topics=groups)
    assert result.topic == "warranty"
    assert [name for name, _ in result.matches] == ["warranty", "refund"]


BUYING = [
    "I want to make a purchase",
    "where can I place an order?",
    "can I get a quote for pet insurance",
    "I want to apply for a loan",
    "what are the requirements to take a loan",
    "please call me back tomorrow",
    "do you offer a demo?",
    "I want to upgrade my plan",
]


@pytest.mark.parametrize("text", BUYING)
def test_buying_intent(text):
    assert buying_intent(text).matched


NOT_BUYING = [
    "how much did I already buy at the grocery this month",
    "How to change address of placed order",
    "where is my order",
    "my pin codes do not work",
]


@pytest.mark.parametrize("text", NOT_BUYING)
def test_not_buying(text):
    assert not buying_intent(text).matched


CONTACTS = [
    ("I'm a supplier and our invoice is overdue", "supplier"),
    ("we are a vendor for your stores", "supplier"),
    ("invoice from our company is still unpaid", "supplier"),
    ("I am a contractor working on your site", "contractor"),
    ("subcontracting question for the install", "contractor"),
]


@pytest.mark.parametrize(("text", "kind"), CONTACTS, ids=[t for t, _ in CONTACTS])
def test_contact_type(text, kind):
    assert contact_type(text).topic == kind


@pytest.mark.parametrize(
    "text", ["the vendor charged me twice", "I bought it from a supplier", "hello"]
)
def test_customers_are_not_contacts(text):
    assert not contact_type(text).matched
