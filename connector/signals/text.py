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
import re._constants as _sre  # the stdlib's regex parser (private; 3.11 to 3.13): a raw term
import re._parser as _sre_parse  # it cannot read is not indexed, and runs on every text
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

# A pasted log or document can be 100 KB; customers state what they want at the start or the end,
# so analysing head and tail keeps the cost of a signal bounded without losing the request.
DEFAULT_MAX_CHARS = 4000

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})
_GAP = r"(?:\W+\w+){0,4}?\W+"


class FrozenGroups(tuple[tuple[str, tuple[str, ...]], ...]):
    """Ordered named lists (keyword groups, pattern tables) as ``((name, items), ...)``, hashed
    once: the cache key of a signal for lists built once and matched against every new turn."""

    _hash: int

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self._hash = tuple.__hash__(self)
            return self._hash

    @classmethod
    def of(cls, groups: Mapping[str, Sequence[str]]) -> FrozenGroups:
        """``groups`` frozen, or as they are when they already are."""
        if isinstance(groups, FrozenGroups):
            return groups
        return cls((name, tuple(items)) for name, items in groups.items())


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


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [f"(?:{term_regex(t)})" for t in terms]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@lru_cache(maxsize=512)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    return _alternation(t for t in terms if t and t.strip())


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One compiled pattern for a list of terms (cached), or ``None`` for an empty list."""
    return _compile(tuple(terms))


# --- the word index in front of find_terms ---------------------------------------------------------
# Most term lists match nothing in most texts, and a regex of a hundred alternatives costs
# microseconds per text to rule that out. The compiled pattern puts a non-word character (or the
# text's edge) before every term, and every word of a plain term is matched between non-word
# characters, so a match needs each of its words in the text as a whole token: one of its
# inflected forms, a token it starts (``prefix*``), or, when the word goes on with ``'`` or ``-``,
# the letters before that character. A raw ``re:`` term whose parsed regex starts with letters
# (``\b(?:devolver|regres\w*)\s``) needs one of them at the start of a token, or as a whole
# token when a non-word character or ``\b`` follows. When no term's key is in the text, only the
# terms without one (``^\W*…``, ``$0``, a leading ``...``) are run, in the same order: a left-out
# alternative could not match at any position, so every match (and which term wins it) is the
# same. tests/signals/test_sig_term_index.py holds this to the whole pattern on the shared data.

_RUN = re.compile(r"[^\W_]+")  # a token: a maximal run of letters and digits
# Prefixes are compared on their first four characters (three for a three-letter prefix): a token
# that starts with a prefix starts with its first characters too, and those two slices of each
# token are cheap to list. A shorter prefix is not a key: its term is run on every text.
_PREFIX_CHARS = 4
_MIN_PREFIX = 3


def _word_forms(word: str, last: bool) -> tuple[str, ...]:
    """Every string ``_word_pattern(word, last)`` matches, for a word without ``*``."""
    if not last or len(word) < 3 or not word.isalpha():
        return (word,)
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return tuple(word[:-1] + s for s in ("y", "ies", "ied", "ying"))
    if word.endswith("e"):
        return tuple(word[:-1] + s for s in ("e", "es", "ed", "ing", "er", "ers"))
    return tuple(word + s for s in ("", "s", "es", "ed", "ing", "er", "ers"))


# How a head found at the start of a raw regex sits in the text: the whole token, or its start;
# OPEN while the parsed items end right after it (what follows them decides).
_OPEN, _WHOLE, _START = 0, 1, 2
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_NOT_WORD = (_sre.CATEGORY_SPACE, _sre.CATEGORY_NOT_WORD)
_MAX_HEADS = 64


def _is_word(code: int) -> bool:
    return _RUN.fullmatch(chr(code)) is not None


def _ends_token(op: Any, arg: Any) -> bool:
    """Whether a parsed item, wherever it matches, has neither a letter nor a digit at its start
    (or is at the end of the text): after a head of letters, the token ends there."""
    if op is _sre.LITERAL:
        return not _is_word(arg)
    if op is _sre.AT:
        return arg in (_sre.AT_BOUNDARY, _sre.AT_END, _sre.AT_END_STRING)
    if op is _sre.IN:
        return all(
            (o is _sre.CATEGORY and a in _NOT_WORD) or (o is _sre.LITERAL and not _is_word(a))
            for o, a in arg
        )
    if op in _REPEATS:
        return arg[0] >= 1 and len(arg[2]) > 0 and _ends_token(*arg[2][0])
    if op is _sre.SUBPATTERN:
        return not arg[1] and not arg[2] and len(arg[3]) > 0 and _ends_token(*arg[3][0])
    if op is _sre.BRANCH:
        return all(len(alt) > 0 and _ends_token(*alt[0]) for alt in arg[1])
    return False


def _first_heads(op: Any, arg: Any) -> list[tuple[str, int]] | None:
    """The heads of a group, an alternation or a class of letters, else None."""
    if op is _sre.BRANCH:
        return [h for branch in arg[1] for h in _literal_heads(branch)]
    if op is _sre.SUBPATTERN and not arg[1] and not arg[2]:  # a group without flags
        return _literal_heads(arg[3])
    if op is _sre.IN and all(o is _sre.LITERAL and _is_word(a) for o, a in arg):
        return [(chr(a), _OPEN) for _, a in arg]
    return None


def _literal_heads(items: Any) -> list[tuple[str, int]]:
    """(head, how it sits) pairs, one of which every match of the parsed regex ``items`` starts
    with; a head is letters and digits, possibly empty (when nothing could be told)."""
    items = list(items)
    k = 0
    while k < len(items) and items[k][0] in _ZERO_WIDTH:
        k += 1  # zero-width: the match still starts with what follows
    heads: list[tuple[str, int]] = [("", _OPEN)]
    while k < len(items) and any(how == _OPEN for _, how in heads):
        op, arg = items[k]
        inner = (
            [(chr(arg), _OPEN)] if op is _sre.LITERAL and _is_word(arg) else _first_heads(op, arg)
        )
        if inner is None or len(heads) * len(inner) > _MAX_HEADS:
            break
        heads = [(h, how) for h, how in heads if how != _OPEN] + [
            (h + more, how) for h, was in heads if was == _OPEN for more, how in inner
        ]
        k += 1
    if k < len(items):
        after = _WHOLE if _ends_token(*items[k]) else _START
        heads = [(h, after if how == _OPEN else how) for h, how in heads]
    return heads


def _regex_keys(regex: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(whole tokens, token starts) one of which a match of a raw ``re:`` term needs at its start,
    or None when that cannot be told. The compiled pattern puts a non-word character (or the
    text's edge) before every term, so a match starts a token, and ends one when the term does."""
    try:
        parsed = _sre_parse.parse(regex)
    except Exception:  # noqa: BLE001 - an unparsable term is simply not indexed
        return None
    if parsed.state.flags & ~re.UNICODE:  # a flag of its own (case, ASCII classes …)
        return None
    heads = _literal_heads(parsed.data)
    if not all(len(h) >= (_MIN_PREFIX if how == _START else 1) for h, how in heads):
        return None
    whole = tuple(h for h, how in heads if how != _START)  # OPEN: the term ends, so the token
    starts = tuple(h[:_PREFIX_CHARS] for h, how in heads if how == _START)
    return whole, starts


def _word_keys(word: str, last: bool) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The keys of one word of a term (see :func:`_index_keys`), or None for a word that starts
    with neither a letter nor a digit."""
    run = _RUN.match(word)
    if run is None:
        return None
    head = run.group(0)
    if word == head + "*":
        return ((), (head[:_PREFIX_CHARS],)) if len(head) >= _MIN_PREFIX else None
    if word == head:
        return _word_forms(word, last), ()
    # the word goes on with a character that is neither a letter nor a digit ("don't", "e-mail",
    # "a_b*"), matched literally: the letters before it are a whole token of the text
    return (head,), ()


def _index_keys(term: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(tokens one of which a match needs, prefixes one of which a token must start with), or
    None when the term cannot be indexed. Every word of a term is matched between non-word
    characters (see :func:`term_regex`), so any of them will do: the longest, for the fewest texts
    that have it."""
    term = term.strip()
    if term.startswith("re:"):
        return _regex_keys(term[3:])
    best: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    for chunk in normalize(term).split("..."):
        words = chunk.split()
        for j, word in enumerate(words):
            keys = _word_keys(word, j == len(words) - 1)
            if keys is not None and (best is None or _selectivity(keys) > _selectivity(best)):
                best = keys
    return best


def _selectivity(keys: tuple[tuple[str, ...], tuple[str, ...]]) -> int:
    exact, prefixes = keys
    return 2 * min(map(len, exact)) + 1 if exact else 2 * min(map(len, prefixes))


@dataclass(frozen=True)
class _TermIndex:
    pattern: re.Pattern[str] | None  # every term: what find_terms has always run
    rest: re.Pattern[str] | None  # only the terms that cannot be indexed, in the same order
    exact: frozenset[str]  # tokens that let an indexed term match
    prefixes: frozenset[str]  # token prefixes (cut at _PREFIX_CHARS) that let one match


# A back-reference counts groups over the whole alternation: leaving a term out could renumber.
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


def _separable(term: str) -> bool:
    """Whether a term stays one alternative of its own in the whole pattern: a raw term that does
    not compile alone (``(?!q``) can close or reopen its neighbours' groups there, and one with a
    back-reference counts their groups."""
    term = term.strip()
    if not term.startswith("re:"):
        return True
    if _GROUP_REFERENCE.search(term):
        return False
    try:
        re.compile(term[3:])
    except re.error:
        return False
    return True


@lru_cache(maxsize=512)
def _term_index(terms: tuple[str, ...]) -> _TermIndex:
    pattern = _compile(terms)
    if not all(_separable(t) for t in terms):  # the whole pattern, always
        return _TermIndex(pattern, pattern, frozenset(), frozenset())
    exact: set[str] = set()
    prefixes: set[str] = set()
    rest: list[str] = []
    for term in terms:
        if not term or not term.strip():
            continue
        keys = _index_keys(term)
        if keys is None:
            rest.append(term)
            continue
        exact.update(keys[0])
        prefixes.update(keys[1])
    return _TermIndex(pattern, _alternation(rest), frozenset(exact), frozenset(prefixes))


@lru_cache(maxsize=128)
def _text_tokens(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The tokens of ``text`` and their prefixes (up to ``_PREFIX_CHARS`` characters). Cached for
    the few texts of one event, which every signal's lists are looked up in."""
    runs = frozenset(_RUN.findall(text))
    cuts = (map(itemgetter(slice(n)), runs) for n in range(_MIN_PREFIX, _PREFIX_CHARS + 1))
    return runs, frozenset(chain.from_iterable(cuts))


def _pattern_for(text: str, index: _TermIndex) -> re.Pattern[str] | None:
    """The pattern to run on ``text``: all the terms when a key is in the text, else the rest."""
    runs, starts = _text_tokens(text)
    if index.exact.isdisjoint(runs) and index.prefixes.isdisjoint(starts):
        return index.rest
    return index.pattern


def find_terms(text: str, terms: Iterable[str]) -> list[str]:
    """Distinct matched substrings of normalised ``text``, in order of appearance."""
    index = _term_index(terms if isinstance(terms, tuple) else tuple(terms))
    if index.pattern is None or not text:
        return []
    pattern = _pattern_for(text, index)
    if pattern is None:
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


_DATA_ROLES = {"user": "customer", "assistant": "bot"}


def role_of(message: Any) -> str:
    """Role of a message-like object; data-file roles ``user``/``assistant`` map to customer/bot."""
    role = getattr(message, "role", "") or ""
    if type(role) is not str:
        role = str(role)
    return _DATA_ROLES.get(role, role)


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
    return _VOCAB_WORD.sub(lambda m: _correction(m.group(0), vocab), norm)
