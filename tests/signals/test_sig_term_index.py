"""The word index in front of ``find_terms`` changes no result: for every built-in term list and
the texts of the shared data files (and edge cases written here), ``find_terms`` returns exactly
what the whole compiled pattern returns, the same strings in the same order."""

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache

import pytest

from connector.signals import text as text_module
from connector.signals.human_request import DEFAULT_PERSON_WORDS
from connector.signals.lexicon import flatten
from connector.signals.text import (
    compile_terms,
    correct_typos,
    find_terms,
    keyword_vocabulary,
    normalize,
)
from tests.helpers import SHARED_DATA, shared_data_missing

DATA = SHARED_DATA

# Modules whose term lists reach find_terms (the signals, and the payload's summary).
MODULES = (
    "connector.signals.lexicon",
    "connector.signals.topics",
    "connector.signals.failures",
    "connector.signals.sentiment",
    "connector.signals.intent",
    "connector.signals.human_request",
    "connector.payload_summary",
)

EDGE_TEXTS = (
    "",
    " ",
    "don't",
    "a'don't",
    "money'back",
    "i want my money back",
    "i want my money'back please",
    "refund_me",
    "_refund",
    "refund_",
    "refunds refunded refunding refunder refunders refundes",
    "reimbursement reimburs reimbur",
    "$0",
    "i paid $0 and 0 dollars",
    "e-mail email e mail",
    "2x charged charged2 charged twice",
    "l'avocat d'accord s'il vous plait",
    "je n'ai pas pu",
    "n'",
    "'",
    "'refund'",
    "\u2019refund\u2019 don\u2019t",
    "reembolsó reembolso devolución",
    "ÀÉÎÕÜ café naïve",
    "...",
    "problem ... payment",
    "problem with the payment",
    "problem with my card and my payment",
    "ok",
    "ok.",
    "no",
    "nope, nah",
    "sue me, suing, sued, sues",
    "studies study studied studying",
    "closes close closed closing closer",
    "how do i return this?",
    "return",
    "return my order, exchange it",
    "I'M SO ANGRY!!!",
    "i'm angry",
    "wtf ffs",
    "rgpd, lgpd; dsgvo",
    "1234 5678",
    "a" * 60,
    "refund" * 10,
    "x_" * 30,
    "\n\n\t",
    "re:refund",
    "talk to a human agent",
    "ik wil mijn geld terug",
    "Me cobraron dos veces",
)


def _lists(value, where: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every tuple of strings in ``value``, nested mappings included, and each mapping of
    language to terms flattened, as the signals match them."""
    if isinstance(value, tuple) and value and all(isinstance(t, str) for t in value):
        yield where, value
    elif isinstance(value, Mapping):
        inner = list(value.items())
        if inner and all(
            isinstance(v, tuple) and all(isinstance(t, str) for t in v) for _, v in inner
        ):
            yield f"{where} (flattened)", flatten(value)
        for key, item in inner:
            yield from _lists(item, f"{where}[{key!r}]")


@cache
def term_lists() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.isupper() or attr.lstrip("_").isupper():
                for where, terms in _lists(value, f"{name}.{attr}"):
                    found.setdefault(where, terms)
    return found


@cache
def distinct_lists() -> dict[tuple[str, ...], str]:
    """Each list once (a flattened mapping is often also a constant of its own), with a name."""
    out: dict[tuple[str, ...], str] = {}
    for where, terms in term_lists().items():
        out.setdefault(terms, where)
    return out


def _data_texts() -> list[str]:
    paths = sorted(DATA.glob("*.jsonl"))
    if not paths:
        shared_data_missing(f"no data files in {DATA}")
    texts: dict[str, None] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                for turn in json.loads(line).get("conversation") or ():
                    texts.setdefault(str(turn.get("text") or ""), None)
    return list(texts)


def _plain(text: str, terms: tuple[str, ...]) -> list[str]:
    """What find_terms returned before the index: the whole pattern, run on every text."""
    pattern = compile_terms(terms)
    if pattern is None or not text:
        return []
    return list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))


def _variants(raw: str, vocabularies: tuple[frozenset[str], ...]) -> set[str]:
    """The texts the signals run find_terms on: normalised, and typo-corrected where they do."""
    norm = normalize(raw)
    return {norm, raw, *(correct_typos(norm, vocab) for vocab in vocabularies)}


def _vocabularies() -> tuple[frozenset[str], ...]:
    from connector.signals.topics import DEFAULT_POLICY_TOPICS

    topics = keyword_vocabulary(tuple(t for terms in DEFAULT_POLICY_TOPICS.values() for t in terms))
    return topics, DEFAULT_PERSON_WORDS


def _mismatches(texts) -> tuple[list[str], int]:
    """(what differs, how many times the index spared the whole pattern)."""
    wrong, spared = [], 0
    for text in texts:
        for terms, where in distinct_lists().items():
            expected = _plain(text, terms)
            if find_terms(text, terms) != expected:
                wrong.append(f"{where} on {text[:80]!r}: expected {expected}")
            if text:
                index = text_module._term_index(terms)
                spared += text_module._pattern_for(text, index) is not index.pattern
    return wrong, spared


def test_the_term_lists_are_found():
    lists = term_lists()
    names = " ".join(lists)
    assert len(lists) > 100
    for expected in (
        "DEFAULT_POLICY_TOPICS_BY_LANGUAGE['refund'] (flattened)",
        "DEFAULT_BOT_FAILURE_TERMS",
        "DEFAULT_DISENGAGEMENT_TERMS",
        "TEAM_KEYWORDS['fraud']['es']",
        "_ABUSE",
    ):
        assert expected in names


def test_index_matches_the_whole_pattern_on_the_shared_data():
    vocabularies = _vocabularies()
    texts = {v for raw in _data_texts() for v in _variants(raw, vocabularies)}
    assert len(texts) > 2000
    wrong, spared = _mismatches(sorted(texts))
    assert wrong == []
    assert spared > len(texts) * len(distinct_lists()) // 2  # the index is not bypassed


def test_index_matches_the_whole_pattern_on_edge_cases():
    vocabularies = _vocabularies()
    texts = {v for raw in EDGE_TEXTS for v in _variants(raw, vocabularies)}
    assert _mismatches(sorted(texts))[0] == []


# Terms written here for the shapes the index treats differently, with texts where each matches.
SHAPES = [
    ("refund", "refunds", ["refunds"]),
    ("refund", "refund_", []),
    ("study", "she studies", ["studies"]),
    ("close", "closing now", ["closing"]),
    ("reimburs*", "reimbursement", ["reimbursement"]),
    ("reimburs*", "xreimbursement", []),
    ("don't", "i don't", ["don't"]),
    ("don't", "a'don't", ["don't"]),
    ("money'back", "my money'back", ["money'back"]),
    ("e-mail", "my e-mail", ["e-mail"]),
    ("a_b*", "a_bcd", ["a_bcd"]),
    ("$0", "paid $0", ["$0"]),
    ("... payment", " payment", [" payment"]),
    ("... payment", "my payment", []),
    ("problem ... payment", "problem with my payment", ["problem with my payment"]),
    (r"re:\bpay\w+", "paying", ["paying"]),
    ("d'accord*", "d'accordo", ["d'accordo"]),
    ("x" * 30 + "*", "x" * 40, ["x" * 40]),
    ("x" * 30 + "*", "x" * 29, []),
]


def test_word_forms_are_what_the_word_pattern_matches():
    suffixes = ("", "s", "es", "ed", "ing", "er", "ers", "y", "ies", "ied", "ying", "e", "x")
    for word in ("refund", "study", "play", "close", "sue", "go", "tax", "cafe", "a1b", "don't"):
        for last in (True, False):
            pattern = re.compile(text_module._word_pattern(word, last))
            stems = {word, word[:-1]}
            candidates = {s + suffix for s in stems for suffix in suffixes}
            matched = {c for c in candidates if pattern.fullmatch(c)}
            assert matched == set(text_module._word_forms(word, last)), (word, last)


REGEX_SHAPES = [
    (
        r"re:\b(?:devolver|devuelv\w*|regres\w*)\s+dinero",
        "quiero regresar dinero",
        ["regresar dinero"],
    ),
    (r"re:\b(?:devolver|devuelv\w*|regres\w*)\s+dinero", "devuelvan dinero", ["devuelvan dinero"]),
    (r"re:\bcobros?\b", "dos cobros", ["cobros"]),
    (r"re:\b(?:m'a|j'ai ete)\s+factur\w*", "il m'a facture", ["m'a facture"]),
    (r"re:^\W*(?:no|nope)\b", "nope.", ["nope"]),
    (r"re:(?i:abc)", "x ABC", ["ABC"]),
    (r"re:(?<!x)abc", "abc", ["abc"]),
    (r"re:\b(?:a|b)cd", "bcd", ["bcd"]),
    (r"re:(a)\1", "aa", ["aa"]),
    (r"re:(ab)|x\1", "ab", ["ab"]),
    (r"re:a?bc", "bc", ["bc"]),
    (r"re:[.!?]\s*how", "ok . how", [". how"]),
    (r"re:\b(?:de|volgens de)\s+avg\b", "volgens de avg", ["volgens de avg"]),
    (r"re:\b(?:de|volgens de)\s+avg\b", "delivery avg", []),
    (r"re:(?:a|)bc", "x bc", ["bc"]),
    (r"re:\bfoo(?:bar)?\b", "foobar", ["foobar"]),
    (r"re:\b(?:i|we)\s+x", "we x", ["we x"]),
    (r"re:ab$", "xx ab", ["ab"]),
    (r"re:ab_x", "ab_x", ["ab_x"]),
    (r"re:ab(?:_x)?", "ab_x", ["ab_x"]),
    (r"re:(?a:\bab\W)", "ab\u00e9", ["ab\u00e9"]),
    (r"re:ab\w*", "abc_d", ["abc_d"]),
    (r"re:(?:ab|cd\w*)ef", "cdxef", ["cdxef"]),
]


@pytest.mark.parametrize(("term", "text", "expected"), SHAPES + REGEX_SHAPES)
def test_each_term_shape(term, text, expected):
    """Plain terms and raw ``re:`` terms of every shape the index reads, amid two others."""
    terms = ("zzz", term, "yyy*")
    assert _plain(text, terms) == expected
    assert find_terms(text, terms) == expected


def test_a_term_that_does_not_compile_still_raises():
    with pytest.raises(re.error):
        find_terms("ab", ("refund", r"re:(?a)\bab"))


def test_raw_terms_that_only_compile_together_are_not_separated():
    # "(?!q" and ")+x(" only compile side by side, where they wrap "foo" in a repeated group:
    # the whole pattern must run, or "foofoox" would be lost
    terms = (r"re:(?!q", "foo", r"re:))+x(")
    assert _plain("foofoox", terms) == ["foofoox"]
    assert find_terms("foofoox", terms) == ["foofoox"]
