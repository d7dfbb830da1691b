"""Repeated failure (bot fallbacks, rephrased customer turns) and tool failure.

Both look at a recent window of the conversation only, so their cost does not grow with a long
history, and so a conversation that failed an hour ago and then recovered does not escalate now.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import Indel

from connector.signals.lexicon import (
    BOT_APOLOGY_TERMS,
    BOT_EMPATHY,
    BOT_FAILURE_TERMS,
    BOT_NEGATIONS,
    flatten,
)
from connector.signals.text import find_terms, normalize, role_of, stem, tokens

DEFAULT_WINDOW = 12  # messages looked at, newest first
DEFAULT_MAX_FALLBACKS = 2  # fallbacks in the window that make a failure
DEFAULT_MAX_REPHRASINGS = 2  # near-duplicate consecutive customer turns that make a failure
DEFAULT_SIMILARITY = 0.6  # token Jaccard or character ratio at or above which turns are "the same"
DEFAULT_MAX_TOOL_FAILURES = 1
DEFAULT_MIN_WORDS = 3  # "ok", "yes", "fine" said twice are acknowledgements, not rephrasings

DEFAULT_MAX_BOT_FAILURES = 2  # bot turns that say, in their own words, that they failed

# A bot turn that says it failed: it could not find or do what was asked, or does not understand.
# Worded by the bot itself, so it counts even when the bot platform sets no `fallback` flag.
_EN_BOT_FAILURE_TERMS: tuple[str, ...] = (
    r"re:\b(?:i|we)\s+(?:could not|couldn't|couldnt|cannot|can't|cant|was not able to|wasn't able to|"
    r"am not able to|am unable to|was unable to|were unable to|failed to|did not manage to)\b",
    r"re:\b(?:unable|not able) to (?:find|complete|process|book|make|do|help|locate|access|"
    r"understand|reserve|change|update|retrieve|get)\b",
    r"re:\b(?:was|is|it's|its) not possible\b", r"re:\b(?:didn't|did not|doesn't|does not) (?:work|go through)\b",
    r"re:\b(?:failed|unsuccessful)\b", "no results", "nothing found", "no matches", "not find any",
    "don't understand", "didn't understand", "didn't catch", "did not understand", "not sure what you mean",
    "rephrase", "say that again", "not available", "isn't available", "unavailable", "no availability",
    "fully booked", "booked up", "sold out", "no slots", "no openings",
)  # fmt: skip
_EN_BOT_APOLOGY_TERMS: tuple[str, ...] = (
    "sorry",
    "apolog*",
    "unfortunately",
    "i'm afraid",
    "regret",
)
# By language (en here, es, fr, de, pt, it, nl in connector.signals.lexicon), and all in one list:
# bots answer in the customer's language, and a Spanish "no he podido encontrar" is a failure too.
DEFAULT_BOT_FAILURE_TERMS_BY_LANGUAGE: Mapping[str, tuple[str, ...]] = {
    "en": _EN_BOT_FAILURE_TERMS,
    **BOT_FAILURE_TERMS,
}
DEFAULT_BOT_APOLOGY_TERMS_BY_LANGUAGE: Mapping[str, tuple[str, ...]] = {
    "en": _EN_BOT_APOLOGY_TERMS,
    **BOT_APOLOGY_TERMS,
}
DEFAULT_BOT_FAILURE_TERMS: tuple[str, ...] = flatten(DEFAULT_BOT_FAILURE_TERMS_BY_LANGUAGE)
DEFAULT_BOT_APOLOGY_TERMS: tuple[str, ...] = flatten(DEFAULT_BOT_APOLOGY_TERMS_BY_LANGUAGE)
# Empathy is not failure: "sorry to hear that" says nothing about what the bot could do.
_EN_EMPATHY = (
    r"\bsorry (?:to hear|for (?:the|your) (?:wait|delay|loss|trouble)|about (?:that|this|your))\b",
    r"\bapologi[sz]e for the (?:wait|delay)\b",
)
_EMPATHY = re.compile("|".join((*_EN_EMPATHY, *flatten(BOT_EMPATHY))))
_NEGATIVE = re.compile(
    "|".join((r"\b(?:no|not|none|nothing|never|n't)\b|n't\b", *flatten(BOT_NEGATIONS)))
)

# Comparing two 100 KB pastes character by character is quadratic; a rephrasing is short anyway.
_COMPARE_CHARS = 400
_STOP = frozenset(
    "a an the i me my you your is are am to of and or it this that please pls can".split()
)


@dataclass(frozen=True)
class RepeatedFailure:
    """Result of :func:`repeated_failure`: ``failed`` when either count reaches its threshold."""

    failed: bool
    fallbacks: int
    consecutive_fallbacks: int
    rephrasings: int
    max_fallbacks: int
    max_rephrasings: int
    pairs: tuple[tuple[str, str], ...] = ()  # the near-duplicate customer turns, for the audit
    bot_failures: int = 0  # bot turns that said they failed (own words or a fallback flag)
    max_bot_failures: int = DEFAULT_MAX_BOT_FAILURES
    failure_quotes: tuple[str, ...] = ()  # what those turns said, newest first, for the audit


@dataclass(frozen=True)
class ToolFailure:
    """Result of :func:`tool_failure`: the failed tool calls in the window, newest first."""

    failed: bool
    count: int
    tools: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def _content_words(norm: str) -> frozenset[str]:
    """The stemmed content words of a normalised text; cached, as each turn is compared with the
    turns before and after it, by several signals."""
    return frozenset(stem(t) for t in tokens(norm)) - _STOP


def _jaccard(na: str, nb: str) -> float:
    """Jaccard similarity of the stemmed content words of two normalised texts (0 when either has none)."""
    ta, tb = _content_words(na), _content_words(nb)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two texts: the larger of stemmed-token Jaccard and difflib's ratio."""
    na, nb = normalize(a, _COMPARE_CHARS), normalize(b, _COMPARE_CHARS)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    return max(_jaccard(na, nb), SequenceMatcher(None, na, nb, autojunk=False).ratio())


@lru_cache(maxsize=4096)
def similar(a: str, b: str, threshold: float) -> bool:
    """``similarity(a, b) >= threshold``, answered without difflib's diff where a bound settles it.

    The longest common subsequence (rapidfuzz's Indel similarity, in C) matches at least as many
    characters as difflib's blocks, so its ratio is an upper bound of difflib's: when it falls
    short of the threshold, so does difflib's ratio, and the slow comparison is skipped.
    Cached: the sentiment trend and the rephrasing count compare the same pairs of turns, and
    every event of a conversation re-reads its recent turns.
    """
    na, nb = normalize(a, _COMPARE_CHARS), normalize(b, _COMPARE_CHARS)
    if not na or not nb:
        return threshold <= 0.0
    if na == nb:
        return True
    if _jaccard(na, nb) >= threshold:
        return True
    if Indel.normalized_similarity(na, nb) < threshold:
        return False
    return SequenceMatcher(None, na, nb, autojunk=False).ratio() >= threshold


def says_it_failed(
    text: str | None,
    *,
    terms: Sequence[str] = DEFAULT_BOT_FAILURE_TERMS,
    apologies: Sequence[str] = DEFAULT_BOT_APOLOGY_TERMS,
) -> str | None:
    """The words by which a bot turn says it failed, or None. A failure phrase counts; an apology
    counts only with a negation beside it ("sorry, there is nothing at 7"); empathy never does.

    Cached by text and lists: every event re-reads the bot turns of the recent window."""
    try:
        return _says_it_failed_cached(text, terms, apologies)
    except TypeError:  # lists given as lists
        return _says_it_failed(text, terms, apologies)


def _says_it_failed(text: str | None, terms: Sequence[str], apologies: Sequence[str]) -> str | None:
    norm = _EMPATHY.sub(" ", normalize(text))
    found = find_terms(norm, terms)
    if found:
        return found[0]
    sorry = find_terms(norm, apologies)
    if sorry and _NEGATIVE.search(norm):
        return sorry[0]
    return None


_says_it_failed_cached = lru_cache(maxsize=4096)(_says_it_failed)


def repeated_failure(
    messages: Sequence[Any],
    *,
    window: int = DEFAULT_WINDOW,
    max_fallbacks: int = DEFAULT_MAX_FALLBACKS,
    max_rephrasings: int = DEFAULT_MAX_REPHRASINGS,
    similarity_threshold: float = DEFAULT_SIMILARITY,
    min_words: int = DEFAULT_MIN_WORDS,
    max_bot_failures: int = DEFAULT_MAX_BOT_FAILURES,
) -> RepeatedFailure:
    """Count bot fallbacks, bot turns that say they failed, and customer rephrasings among the
    last ``window`` messages; ``failed`` when any count reaches its threshold."""
    recent = list(messages[-window:]) if window > 0 else []
    fallbacks = 0
    consecutive = 0
    streak_open = True
    quotes: list[str] = []
    bot_failures = 0
    for message in reversed(recent):
        if role_of(message) != "bot":
            continue
        flagged = bool(getattr(message, "fallback", False))
        said = says_it_failed(getattr(message, "text", ""))
        if flagged or said:
            bot_failures += 1
            quotes.append(said or "fallback")
        if flagged:
            fallbacks += 1
            consecutive += 1 if streak_open else 0
        else:
            streak_open = False
    customer = [str(getattr(m, "text", "") or "") for m in recent if role_of(m) == "customer"]
    pairs = tuple(
        (a[:200], b[:200])
        for a, b in zip(customer, customer[1:], strict=False)
        if len(b.split()) >= min_words and similar(a, b, similarity_threshold)
    )
    return RepeatedFailure(
        failed=fallbacks >= max_fallbacks
        or len(pairs) >= max_rephrasings
        or bot_failures >= max_bot_failures,
        fallbacks=fallbacks,
        consecutive_fallbacks=consecutive,
        rephrasings=len(pairs),
        max_fallbacks=max_fallbacks,
        max_rephrasings=max_rephrasings,
        pairs=pairs,
        bot_failures=bot_failures,
        max_bot_failures=max_bot_failures,
        failure_quotes=tuple(quotes),
    )


def tool_failure(
    messages: Sequence[Any],
    *,
    window: int = DEFAULT_WINDOW,
    max_failures: int = DEFAULT_MAX_TOOL_FAILURES,
) -> ToolFailure:
    """Failed tool calls (``ok`` false) among the last ``window`` messages."""
    tools: list[str] = []
    errors: list[str] = []
    for message in reversed(list(messages[-window:]) if window > 0 else []):
        for call in getattr(message, "tool_calls", None) or ():
            if not getattr(call, "ok", True):
                tools.append(str(getattr(call, "name", "") or "?"))
                errors.append(str(getattr(call, "error", "") or "")[:200])
    return ToolFailure(len(tools) >= max_failures, len(tools), tuple(tools), tuple(errors))
