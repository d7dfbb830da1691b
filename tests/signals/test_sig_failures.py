"""Repeated failure (fallbacks, rephrasings) and tool failure."""

import pytest

from connector.schemas import Message, ToolCall
from connector.signals import repeated_failure, similarity, tool_failure
from connector.signals.failures import similar


def _turns(*spec):
    """spec items: ("c", text) customer, ("b", text) bot, ("f", text) bot fallback."""
    return [
        Message(
            id=str(i), role="customer" if kind == "c" else "bot", text=text, fallback=kind == "f"
        )
        for i, (kind, text) in enumerate(spec)
    ]


CASES = [
    ("no-failure", [("c", "hi"), ("b", "hello"), ("c", "my card"), ("b", "sure")], False, 0, 0),
    ("two-fallbacks", [("c", "x"), ("f", "?"), ("c", "y"), ("f", "?")], True, 2, 0),
    ("one-fallback", [("c", "x"), ("f", "?"), ("c", "y"), ("b", "ok")], False, 1, 0),
    (
        "rephrasings",
        [
            ("c", "how do I reset my pin"),
            ("b", "Here is our FAQ"),
            ("c", "how can I reset my PIN?"),
            ("b", "Here is our FAQ"),
            ("c", "reset my pin how"),
        ],
        True,
        0,
        2,
    ),
    (
        "different-questions",
        [("c", "where is my card"), ("b", "on its way"), ("c", "what are your fees")],
        False,
        0,
        0,
    ),
]


@pytest.mark.parametrize(
    ("spec", "failed", "fallbacks", "rephrasings"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_repeated_failure(spec, failed, fallbacks, rephrasings):
    result = repeated_failure(_turns(*spec))
    assert (result.failed, result.fallbacks, result.rephrasings) == (failed, fallbacks, rephrasings)


def test_thresholds_are_parameters():
    msgs = _turns(("c", "x"), ("f", "?"))
    assert not repeated_failure(msgs).failed
    assert repeated_failure(msgs, max_fallbacks=1).failed


def test_old_failures_outside_the_window_do_not_count():
    msgs = _turns(
        ("c", "x"), ("f", "?"), ("c", "y"), ("f", "?"), *[("c", "fine"), ("b", "ok")] * 10
    )
    assert not repeated_failure(msgs).failed


def test_consecutive_fallbacks_counts_the_latest_streak():
    msgs = _turns(
        ("c", "a"),
        ("f", "?"),
        ("c", "b"),
        ("b", "ok"),
        ("c", "c"),
        ("f", "?"),
        ("c", "d"),
        ("f", "?"),
    )
    assert repeated_failure(msgs).consecutive_fallbacks == 2


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("how do I reset my pin", "How can I reset my PIN?", True),
        ("where is my refund", "where is my refund!!", True),
        ("where is my card", "what are your fees", False),
        ("", "", False),
    ],
    ids=["rephrased", "punctuation", "different", "empty"],
)
def test_similarity(a, b, same):
    assert (similarity(a, b) >= 0.6) is same


def _mutations(seed: int) -> list[tuple[str, str]]:
    """Pairs of turns at every distance: rephrasings, typos, dropped and swapped words, strangers."""
    import random

    rng = random.Random(seed)
    base = [
        "how do I reset my pin",
        "where is my refund for order 4471",
        "my card was charged twice",
        "I still have not received the parcel",
        "can I talk to someone about my bill please",
        "the app keeps crashing when I log in",
        "why was my transfer declined yesterday",
    ]
    pairs = []
    for text in base:
        for _ in range(40):
            chars = list(text)
            for _ in range(rng.randint(0, 12)):
                i = rng.randrange(len(chars))
                op = rng.choice("dis")
                if op == "d" and len(chars) > 3:
                    del chars[i]
                elif op == "i":
                    chars.insert(i, rng.choice("abcdefghijklmnopqrstuvwxyz ?!"))
                else:
                    chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz ")
            words = "".join(chars).split()
            if rng.random() < 0.3:
                rng.shuffle(words)
            pairs.append((text, " ".join(words)))
        pairs.append((text, rng.choice(base)))
    return pairs


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.6, 0.7, 0.8, 0.9])
def test_similar_agrees_with_similarity(threshold):
    # ``similar`` skips difflib when a cheaper upper bound already settles the answer; the answer
    # must be exactly the one the full comparison gives
    for a, b in _mutations(seed=int(threshold * 10)):
        assert similar(a, b, threshold) is (similarity(a, b) >= threshold), (a, b)


def test_tool_failure():
    msgs = [
        Message(id="1", role="customer", text="where is my parcel"),
        Message(
            id="2",
            role="bot",
            text="Let me check",
            tool_calls=[
                ToolCall(name="track", ok=False, error="timeout"),
                ToolCall(name="faq", ok=True),
            ],
        ),
    ]
    result = tool_failure(msgs)
    assert (result.failed, result.count, result.tools, result.errors) == (
        True,
        1,
        ("track",),
        ("timeout",),
    )
    assert not tool_failure(msgs[:1]).failed
    assert not tool_failure(msgs, max_failures=2).failed
