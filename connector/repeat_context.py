"""Repeat context: does a message after the handoff ask for, or restate, what the payload held?

Simple text signals, pure: an agent question about a category the payload already carried
(e-mail, phone, name, an order or account reference, the issue itself), or a customer message that
repeats a contact detail, an id or most of the words of an earlier turn.
"""

from __future__ import annotations

import re
from typing import Any

_ASKING = re.compile(
    r"\?|\b(could|can|would) you (please )?(tell|give|send|share|confirm|provide)|"
    r"\bplease (tell|give|send|share|confirm|provide)|\bmay i (have|get)|\bwhat('s| is) your\b",
    re.I,
)
_ASKS_FOR = {
    "email": re.compile(r"\be-?mail\b", re.I),
    "phone": re.compile(r"\b(phone|mobile|telephone)\b", re.I),
    "name": re.compile(r"\b(your (full )?name|who am i (speaking|talking) (to|with))\b", re.I),
    "reference": re.compile(
        r"\b(order|invoice|account|booking|reference|ticket)\s*(number|no\.?|id|#)", re.I
    ),
    "issue": re.compile(
        r"\b(what('s| is) the (issue|problem)|how can i help|describe (the|your) (issue|problem)|"
        r"what (seems to be|happened))\b",
        re.I,
    ),
}
_ID_TOKEN = re.compile(r"\b(?:[A-Z]{2,6}-?\d{3,}|#\d{3,}|\d{5,})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_WORD = re.compile(r"[a-z0-9']{3,}")
_STOP = frozenset(
    "the and you your for with that this have was were are not but can our from they them "
    "what when will would could please thanks thank just about there their been has had".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def agent_asks_known(text: str, known: dict[str, Any]) -> str | None:
    """The category an agent message asks for that the payload already held, else None."""
    if not _ASKING.search(text):
        return None
    customer = known.get("customer") or {}
    texts = " ".join(known.get("customer_texts") or [])
    held = {
        "email": bool(customer.get("email")),
        "phone": bool(customer.get("phone")),
        "name": bool(customer.get("name")),
        "reference": bool(_ID_TOKEN.search(texts)),
        "issue": bool(texts.strip()),
    }
    for category, pattern in _ASKS_FOR.items():
        if held[category] and pattern.search(text):
            return category
    return None


def customer_restates(text: str, known: dict[str, Any]) -> bool:
    """A customer message after the handoff that repeats an id, contact detail or earlier message."""
    customer = known.get("customer") or {}
    before = known.get("customer_texts") or []
    lowered = text.lower()
    for value in (customer.get("email"), customer.get("phone")):
        if value and str(value).lower() in lowered:
            return True
    earlier_ids = set(_ID_TOKEN.findall(" ".join(before)))
    if earlier_ids & set(_ID_TOKEN.findall(text)):
        return True
    words = _content_words(text)
    if len(words) >= 4:
        for old in before:
            old_words = _content_words(old)
            if old_words and len(words & old_words) / len(words) >= 0.6:
                return True
    return False
