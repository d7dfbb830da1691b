"""Bad input: every signal returns a result and never raises."""

import pytest

from connector.schemas import Message, ToolCall
from connector.signals import (
    buying_intent,
    classify_message,
    classify_team,
    contact_type,
    conversation_sentiment,
    detect_human_request,
    human_request_in,
    policy_topics,
    repeated_failure,
    team_for,
    tool_failure,
)

TEXT_SIGNALS = [
    detect_human_request,
    classify_message,
    classify_team,
    policy_topics,
    buying_intent,
    contact_type,
]
CONVERSATION_SIGNALS = [
    conversation_sentiment,
    repeated_failure,
    tool_failure,
    human_request_in,
    team_for,
]

BAD_TEXTS = {
    "empty": "",
    "none": None,
    "whitespace": " \n\t ",
    "100kb": ("refund please " * 8000)[:100_000],
    "100kb-no-spaces": "x" * 100_000,
    "emoji": "😡😡😡 🤬 agent 🙏",
    "rtl-arabic": "أريد التحدث إلى موظف",
    "rtl-hebrew": "אני רוצה לדבר עם נציג",
    "html-script": "<script>alert('agent')</script><b>refund</b>&amp;",
    "control-chars": "\x00\x01\x1b[31mhello\u200b\u202e",
    "punctuation-only": "?!?!?!?!?!" * 100,
    "regex-metachars": r"(.*)+[a-z]{1,}\\ ^$ |",
}


@pytest.mark.parametrize("text", list(BAD_TEXTS.values()), ids=list(BAD_TEXTS))
@pytest.mark.parametrize("signal", TEXT_SIGNALS, ids=lambda f: f.__name__)
def test_text_signals_never_crash(signal, text):
    assert signal(text) is not None


def _conversation(n):
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(Message(id=str(i), role="customer", text=f"question {i % 7} about my card"))
        else:
            calls = [ToolCall(name="lookup", ok=i % 3 != 0, error=None)]
            out.append(
                Message(id=str(i), role="bot", text="answer", fallback=i % 5 == 0, tool_calls=calls)
            )
    return out


CONVERSATIONS = {
    "empty": [],
    "bot-only": [Message(id="1", role="bot", text="hi")],
    "system-and-agent": [
        Message(id="1", role="system", text="x"),
        Message(id="2", role="agent", text="y"),
    ],
    "5000-messages": _conversation(5000),
    "huge-turns": [Message(id=str(i), role="customer", text="é" * 100_000) for i in range(3)],
}


@pytest.mark.parametrize("messages", list(CONVERSATIONS.values()), ids=list(CONVERSATIONS))
@pytest.mark.parametrize("signal", CONVERSATION_SIGNALS, ids=lambda f: f.__name__)
def test_conversation_signals_never_crash(signal, messages):
    assert signal(messages) is not None


def test_results_are_frozen():
    result = detect_human_request("agent please")
    with pytest.raises(AttributeError):
        result.requested = False  # type: ignore[misc]
