"""Time one whole decision: signals + policy + routing + payload, for 10 to 5,000 turns.

Run: ``.venv/bin/python bench/bench_decisions.py``. Prints figures; never asserts. Target: a
200-turn conversation under 20 ms, and cost that grows linearly or better. This is the pure part
of ``ingest_event`` (the shipped default policy), without the store.

Every run starts with the per-text caches empty (normalised texts, message sentiment, turn-pair
similarity, typo corrections), as if each turn were new to the process: an upper bound, since a
running connector has already seen all but the newest turns. Compiled patterns stay warm, as
they do in a server.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_signals import clear_text_caches, conversation  # noqa: E402

from connector.config import load_config  # noqa: E402
from connector.payload import build_payload  # noqa: E402
from connector.policy import DecisionInput, decide  # noqa: E402
from connector.routing import route  # noqa: E402
from connector.schemas import BotContext, ConversationRef, Customer, Message  # noqa: E402

SETTINGS = load_config(None, env={})
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
SIZES = (10, 100, 200, 1000, 5000)


def one_decision(messages: list[Message]) -> None:
    given = DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c"),
        customer=Customer(name="Ada", tags=["vip"]),
        bot=BotContext(),
        messages=messages,
        new_messages=messages[-2:],
    )
    decision = decide(given, SETTINGS.policy)
    routing, _ = route(decision, given.customer, "en", SETTINGS.routing, NOW, messages=messages)
    build_payload(
        handoff_id="ho",
        inputs=given,
        decision=decision,
        routing=routing,
        prior_handoffs=0,
        now=NOW,
        transcript_url=None,
        policy=SETTINGS.policy,
        settings=SETTINGS.payload,
    )


def timed(messages: list[Message], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        clear_text_caches()
        start = time.perf_counter()
        one_decision(messages)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.95) - 1] * 1000


def main() -> None:
    one_decision(conversation(10))  # compile patterns, load the VADER lexicon
    print(f"{'turns':>6}  {'median ms':>10}  {'p95 ms':>8}  {'µs/turn':>8}")
    for n in SIZES:
        messages = conversation(n)
        median, p95 = timed(messages, repeat=60 if n <= 1000 else 15)
        print(f"{n:>6}  {median:>10.2f}  {p95:>8.2f}  {median * 1000 / n:>8.1f}")


if __name__ == "__main__":
    main()
