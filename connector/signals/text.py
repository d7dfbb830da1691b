"""Text helpers shared by the signals: normalisation, tokens, and a small term syntax.

Term syntax (used by every configurable keyword list, so the config can pass its own):

- ``refund``         a word, with common English inflections (refunds, refunded, refunding)
- ``reimburs*``      a prefix: any word that starts with ``reimburs``
- ``money back``     a phrase: words in order, separated by whitespace or punctuation
- ``problem ... payment``  ``...`` lets up to four words sit between the two sides
- ``re:<regex>``     a raw regular expression, matched on the normalised text

Matching is case-insensitive, accent-insensitive and bounded by word edges. Texts are normalised
with :func:`normalize` (NFKC, casefold, accents stripped, curly quotes straightened).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

# A pasted log or document can be 100 KB; customers state what they want at the start or the end,
# so analysing head and tail keeps the cost of a signal bounded without losing the request.
DEFAULT_MAX_CHARS = 4000

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})
_GAP = r"(?:\W+\w+){0,4}?\W+"


def clip(text: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Return ``text`` or, when longer than ``max_chars``, its head and tail joined by a newline."""
    if not text:
        return ""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + "\n" + text[-half:]


@lru_cache(maxsize=4096)
def normalize(text: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Casefolded, accent-free, whitespace-collapsed form of ``text`` (clipped to ``max_chars``).

    Cached: several signals read the same turns, and per-character accent stripping is the
    costliest step of most of them.
    """
    text = clip(text, max_chars)
    if not text.isascii():  # plain ASCII has no accents, compatibility forms or curly quotes
        text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())


def tokens(text: str) -> list[str]:
    """Word tokens of an already normalised text (letters and digits; inner apostrophes kept)."""
    return _WORD.findall(text)


def stem(word: str) -> str:
    """A deliberately light English stemmer: enough to join refund/refunds/refunded/refunding."""
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _word_pattern(word: str, last: bool) -> str:
    if word.endswith("*"):
        return re.escape(word[:-1]) + r"\w*"
    if not last or len(word) < 3 or not word.isalpha():
        return re.escape(word)
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return re.escape(word[:-1]) + r"(?:y|ies|ied|ying)"
    if word.endswith("e"):
        return re.escape(word[:-1]) + r"(?:e|es|ed|ing|er|ers)"
    return re.escape(word) + r"(?:s|es|ed|ing|er|ers)?"


def term_regex(term: str) -> str:
    """Translate one term of the syntax above into a regular expression (without edges)."""
    term = term.strip()
    if term.startswith("re:"):
        return term[3:]
    parts: list[str] = []
    chunks = [c.strip() for c in normalize(term).split("...")]
    for i, chunk in enumerate(chunks):
        words = chunk.split()
        parts.append(
            r"\W+".join(_word_pattern(w, j == len(words) - 1) for j, w in enumerate(words))
        )
        if i < len(chunks) - 1:
            parts.append(_GAP)
    return "".join(parts)


@lru_cache(maxsize=512)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = [f"(?:{term_regex(t)})" for t in terms if t and t.strip()]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One compiled pattern for a list of terms (cached), or ``None`` for an empty list."""
    return _compile(tuple(terms))


def find_terms(text: str, terms: Iterable[str]) -> list[str]:
    """Distinct matched substrings of normalised ``text``, in order of appearance."""
    pattern = compile_terms(terms)
    if pattern is None or not text:
        return []
    seen: dict[str, None] = {}
    for m in pattern.finditer(text):
        seen.setdefault(m.group(0), None)
    return list(seen)


def check_terms(terms: list[str], where: str = "") -> None:
    """Every term must translate to a regex that compiles (``re:`` terms are raw regexes)."""
    for i, term in enumerate(terms):
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"{where}item {i}: a term must be a non-empty string")
        try:
            re.compile(term_regex(term))
        except re.error as exc:
            raise ValueError(f"{where}item {i}: regex does not compile: {exc}") from exc


def role_of(message: Any) -> str:
    """Role of a message-like object; data-file roles ``user``/``assistant`` map to customer/bot."""
    role = str(getattr(message, "role", "") or "")
    return {"user": "customer", "assistant": "bot"}.get(role, role)


def customer_texts(messages: Sequence[Any], last: int | None = None) -> list[str]:
    """Raw texts of customer turns, oldest first; only the last ``last`` when given."""
    out: list[str] = []
    for message in reversed(messages):
        if role_of(message) == "customer":
            out.append(str(getattr(message, "text", "") or ""))
            if last is not None and len(out) >= last:
                break
    out.reverse()
    return out


# --- typo tolerance -------------------------------------------------------------------------------
# Customers type fast ("retun my order", "pucrhase", "isue paying"). Words one edit away from a
# keyword's word (a missing, extra, swapped or wrong letter; same first letter; 4+ letters) are
# read as that word before keyword matching. Only keyword vocabulary is a target, so this cannot
# turn ordinary words into arbitrary ones.

_VOCAB_WORD = re.compile(r"[a-z]{4,}")


@lru_cache(maxsize=64)
def keyword_vocabulary(terms: tuple[str, ...]) -> frozenset[str]:
    """Literal words (4+ letters) that occur in ``terms``, regexes included."""
    words: set[str] = set()
    for term in terms:
        for word in _VOCAB_WORD.findall(term[3:] if term.startswith("re:") else normalize(term)):
            words.add(word)
            if word.endswith("s") and len(word) > 4:  # "issues?" in a regex also means "issue"
                words.add(word[:-1])
    return frozenset(words)


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or swap."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1 or a == b:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


@lru_cache(maxsize=4096)
def _correction(word: str, vocab: frozenset[str]) -> str:
    if len(word) < 4 or word in vocab or not word.isalpha():
        return word
    for candidate in vocab:
        # 4-letter words only by a missing letter ("isue"); short words are too easy to confuse
        if (
            candidate[0] == word[0]
            and (len(word) > 4 or len(candidate) == 5)
            and _one_edit(word, candidate)
        ):
            return candidate
    return word


def correct_typos(norm: str, vocab: frozenset[str]) -> str:
    """``norm`` (already normalised) with near-miss words replaced by keyword words."""
    if not vocab or not norm:
        return norm
    return re.sub(r"[a-z]{4,}", lambda m: _correction(m.group(0), vocab), norm)
