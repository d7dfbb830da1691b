"""Time one whole decision: signals + policy + routing + payload, for 10 to 5,000 turns.

Run: ``.venv/bin/python bench/bench_decisions.py``. Prints figures; never asserts. Targets: a
200-turn conversation under 20 ms with the rules alone, p95 under 10 ms with the learned model
(issue 16), and cost that grows linearly or better. This is the pure part of ``ingest_event``
(the shipped default policy), without the store. Both columns come from the same run: the rules
alone (``policy.model.enabled: false``) and the rules + the learned model.

With the model, the newest customer turn of every sample is a text the process has never seen
(it is embedded: the real cost of an event); older turns were embedded by earlier events and come
from the cache, as in a running connector. Without the ``[ml]`` extra only the rules column prints.

Every run starts with the per-text caches empty (normalised texts, message sentiment, turn-pair
similarity, typo corrections), as if each turn were new to the process: an upper bound, since a
running connector has already seen all but the newest turns. Compiled patterns stay warm, as
they do in a server.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_signals import clear_text_caches, conversation  # noqa: E402

from connector.config import load_config  # noqa: E402
from connector.payload import build_payload  # noqa: E402
from connector.policy import DecisionInput, decide  # noqa: E402
from connector.routing import route  # noqa: E402
from connector.schemas import BotContext, ConversationRef, Customer, Message  # noqa: E402

SETTINGS = load_config(None, env={})
RULES_ONLY = SETTINGS.policy.model_copy(
    update={"model": SETTINGS.policy.model.model_copy(update={"enabled": False})}
)
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
SIZES = (10, 100, 200, 1000, 5000)


def one_decision(messages: list[Message], policy: Any = SETTINGS.policy) -> None:
    given = DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c"),
        customer=Customer(name="Ada", tags=["vip"]),
        bot=BotContext(),
        messages=messages,
        new_messages=messages[-2:],
    )
    decision = decide(given, policy)
    routing, _ = route(decision, given.customer, "en", SETTINGS.routing, NOW, messages=messages)
    build_payload(
        handoff_id="ho",
        inputs=given,
        decision=decision,
        routing=routing,
        prior_handoffs=0,
        now=NOW,
        transcript_url=None,
        policy=policy,
        settings=SETTINGS.payload,
    )


_FRESH = itertools.count()


def _fresh_last_turn(messages: list[Message]) -> list[Message]:
    """The conversation with its newest customer turn reworded into a never-seen text."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "customer":
            out[i] = out[i].model_copy(update={"text": f"{out[i].text} (ref {next(_FRESH)})"})
            break
    return out


def timed(messages: list[Message], repeat: int, policy: Any) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        given = _fresh_last_turn(messages)
        clear_text_caches()
        start = time.perf_counter()
        one_decision(given, policy)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.95) - 1] * 1000


def main() -> None:
    from connector.learned import active_model

    model, why = active_model(None)
    one_decision(conversation(10), RULES_ONLY)  # compile patterns, load the VADER lexicon
    columns = [("rules", RULES_ONLY)]
    if model is None:
        print(f"learned model unavailable ({why}): rules only")
    else:
        one_decision(conversation(10), SETTINGS.policy)  # load the ONNX session
        model.embedder.embed([m.text for m in conversation(40) if m.role == "customer"])
        columns.append((f"rules + model {model.version}", SETTINGS.policy))
    print(f"{'':>6}" + "".join(f"  {name:>28}" for name, _ in columns))
    print(
        f"{'turns':>6}"
        + "".join(f"  {'median ms':>10} {'p95 ms':>8} {'µs/turn':>8}" for _ in columns)
    )
    for n in SIZES:
        messages = conversation(n)
        cells = []
        for _, policy in columns:
            median, p95 = timed(messages, repeat=60 if n <= 1000 else 15, policy=policy)
            cells.append(f"  {median:>10.2f} {p95:>8.2f} {median * 1000 / n:>8.1f}")
        print(f"{n:>6}" + "".join(cells))


if __name__ == "__main__":
    main()
