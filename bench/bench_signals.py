"""Time every signal on conversations of 10, 100, 200 and 1,000 turns. Prints figures; never asserts.

Run: ``.venv/bin/python bench/bench_signals.py``. Target: all signals on a 200-turn conversation
well under 10 ms, and cost that grows linearly or better (most signals read a recent window).
Each run starts with the per-text caches empty (see ``clear_text_caches``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from connector.schemas import Message, ToolCall
from connector.signals import (
    buying_intent,
    classify_team,
    contact_type,
    conversation_sentiment,
    failures,
    human_request_in,
    policy_topics,
    repeated_failure,
    sentiment,
    text,
    tool_failure,
)
from connector.signals.facts import _key_facts
from connector.signals.text import customer_texts

CUSTOMER = [
    "Hi, my card payment was declined at the shop this morning",
    "I already tried that and it still does not work!!",
    "Can you check why I was charged a fee for the top up?",
    "this is useless, I have asked the same thing three times",
    "ok",
    "I would like to get a quote for travel insurance as well",
    "can I talk to a real person please",
]
BOT = [
    "Sorry to hear that. Could you tell me the last four digits of the card?",
    "Here is an article about declined payments.",
    "Sorry, I did not understand that.",
]


def conversation(turns: int) -> list[Message]:
    out = []
    for i in range(turns):
        if i % 2 == 0:
            out.append(Message(id=str(i), role="customer", text=CUSTOMER[(i // 2) % len(CUSTOMER)]))
        else:
            calls = [
                ToolCall(name="card_status", ok=i % 7 != 1, error=None if i % 7 != 1 else "timeout")
            ]
            out.append(
                Message(
                    id=str(i),
                    role="bot",
                    text=BOT[i % len(BOT)],
                    fallback=i % 5 == 0,
                    tool_calls=calls,
                )
            )
    return out


def all_signals(messages: list[Message]) -> None:
    last = "\n".join(customer_texts(messages, last=1))
    human_request_in(messages)
    conversation_sentiment(messages)
    conversation_sentiment(messages, unit="customer")
    repeated_failure(messages)
    tool_failure(messages)
    policy_topics(last)
    buying_intent(last)
    contact_type(last)
    classify_team(last)


SIGNALS: dict[str, Callable[[list[Message]], Any]] = {
    "human_request": human_request_in,
    "sentiment": conversation_sentiment,
    "repeated_failure": repeated_failure,
    "tool_failure": tool_failure,
    "policy_topics": lambda m: policy_topics(customer_texts(m, last=1)[-1]),
    "team": lambda m: classify_team(customer_texts(m, last=1)[-1]),
    "ALL": all_signals,
}


def clear_text_caches() -> None:
    """Forget every per-text result, as if each turn were new to the process (an upper bound: a
    running connector has seen all but the newest turns). Compiled patterns stay warm."""
    for cache in (
        text.normalize,
        text._correction,
        text._text_tokens,
        sentiment._classify_cached,
        failures.similar,
        failures._says_it_failed_cached,
    ):
        cache.cache_clear()
    _key_facts.cache_clear()  # the payload's key facts (references, amounts, dates)


def timed(fn: Callable[[list[Message]], Any], messages: list[Message], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        clear_text_caches()
        start = time.perf_counter()
        fn(messages)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    all_signals(conversation(10))  # compile patterns and load the VADER lexicon once
    sizes = (10, 100, 200, 1000)
    print(f"{'signal (median ms)':<20}" + "".join(f"{n:>10} turns" for n in sizes))
    for name, fn in SIGNALS.items():
        row = [timed(fn, conversation(n), repeat=50) for n in sizes]
        print(f"{name:<20}" + "".join(f"{ms:>16.3f}" for ms in row))


if __name__ == "__main__":
    main()
