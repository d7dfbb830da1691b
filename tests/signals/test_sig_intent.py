"""Team routing from text when the bot sends no intent."""

import pytest

from connector.schemas import Message
from connector.signals import classify_team, team_for

CASES = [
    ("Someone stole my card", "fraud"),
    ("There is a payment on my account I don't recognise", "fraud"),
    ("I lost my phone and don't want others in my account", "fraud"),
    ("I want to close my account", "retention"),
    ("please cancel one of my insurance plans", "retention"),
    ("Why was I charged a fee for my top up?", "billing"),
    ("My refund still has not arrived", "billing"),
    ("I need to pay my bill", "billing"),
    ("I forgot my password and cannot log in", "technical"),
    ("My card keeps getting declined", "technical"),
    ("I'd like a quote for home insurance", "sales"),
    ("I want to apply for a mortgage", "sales"),
    ("What are your opening hours?", "general"),
    ("", "general"),
]


@pytest.mark.parametrize(("text", "team"), CASES, ids=[t or "empty" for t, _ in CASES])
def test_classify_team(text, team):
    guess = classify_team(text)
    assert guess.team == team, guess
    assert 0.0 <= guess.confidence <= 1.0


def test_keywords_explain_the_choice():
    guess = classify_team("I want to cancel my plan")
    assert guess.source == "keywords" and guess.matched


def test_examples_decide_when_no_keyword_matches():
    guess = classify_team(
        "aardvark zebra", keywords={}, examples={"zoo": ("zebra aardvark",), "x": ("y",)}
    )
    assert (guess.team, guess.source) == ("zoo", "examples")


def test_config_replaces_teams():
    guess = classify_team("my parcel is late", keywords={"logistics": ("parcel",)}, examples={})
    assert guess.team == "logistics"
    assert (
        classify_team("nothing here", keywords={}, examples={}, default_team="triage").team
        == "triage"
    )


def test_team_for_reads_customer_turns():
    msgs = [
        Message(id="1", role="bot", text="Do you want to close your account?"),
        Message(id="2", role="customer", text="my card was stolen"),
    ]
    assert team_for(msgs).team == "fraud"
