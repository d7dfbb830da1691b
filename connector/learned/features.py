"""What a head reads of a conversation: the customer's recent turns, embedded and averaged.

Shared by training (``train.py``) and by the decision (``LearnedModel.rank``); it imports nothing
of the evaluation or training code, so the decision core stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

TEAM_TURNS = 2
SIDE_TURNS = 12


def customer_turns(messages: Sequence[Any], last: int) -> list[str]:
    """The texts of the last ``last`` customer turns, oldest first (role ``customer`` or ``user``)."""
    out: list[str] = []
    for message in reversed(messages):
        if getattr(message, "role", None) in ("customer", "user"):
            text = str(getattr(message, "text", "") or "").strip()
            if text:
                out.append(text)
                if len(out) >= last:
                    break
    return out[::-1]


def _mean(vectors: Any) -> Any:
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-9)


def feature(
    embedder: Any, messages: Sequence[Any], head: str, unit: str = "last_user_message"
) -> Any:
    """The vector ``head`` reads for a conversation (zeros when there is no customer turn)."""
    last = TEAM_TURNS if head == "team" else SIDE_TURNS if unit != "last_user_message" else 1
    texts = customer_turns(messages, last)
    if not texts:
        return np.zeros(embedder.embed([""]).shape[1], dtype=np.float32)
    return _mean(embedder.embed(texts))
