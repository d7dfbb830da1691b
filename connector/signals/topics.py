"""Keyword-group signals: policy topics, buying intent, and supplier/contractor contacts.

Every group is a list of terms in the syntax of :mod:`connector.signals.text` (words with
inflections, ``prefix*``, phrases, ``a ... b`` gaps, ``re:`` regexes), matched on word edges.
Groups are ordered: the first group that matches is the ``topic``, all matches are kept for the
audit trail. The defaults aim at *problems and requests* ("I was charged twice", "refund me"),
not at information look-ups ("where can I download my invoice"), which a bot can answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.signals.lexicon import (
    LANGUAGES,
    POLICY_TOPIC_TERMS,
    flatten_groups,
    with_english,
)
from connector.signals.text import (
    FrozenGroups,
    compile_terms,
    correct_typos,
    customer_texts,
    find_terms,
    keyword_vocabulary,
    normalize,
)

_MONEY = r"(?:money|amount|bonus|cash ?back|cash|payment|deposit|balance|refund|funds|credit)"
_NOT_ARRIVED = r"(?:received|credited|added|add|showing|shown|reflect\w*|updated|arrived|came)"

_EN_POLICY_TOPICS: Mapping[str, tuple[str, ...]] = {
    "refund": (
        "refund*", "reimburs*", "money back", "back my money", "chargeback", "charge back",
        "return policy", "exchange policy", "re:replacement(?!\\s+card)",
        r"re:\b(?:return|exchange)\w*\s+(?:my|the|this|these|those|it|them|an?|old|our)\b",
        r"re:\b(?:can|could|may|need to|want to|wanna|how to|how do i|how can i|to)\s+"
        r"(?:\w+\s+)?(?:return|exchange)\b(?!\s+rate)",
        r"re:^\W*(?:return|exchange)\b(?!\s+rate)",
        # money back without the word: "I want to be paid back", "give me my money back",
        # "return the money you took", "reverse the charge", "credit it back to my card"
        r"re:\b(?:pay|credit|put|send|transfer|refund)\s+(?:me|us|it|that|this|the (?:money|amount|"
        r"charge|fee|difference))\s+back\b",
        r"re:\b(?:be|get|getting|been)\s+(?:paid|credited|reimbursed|refunded)\s+back\b",
        r"re:\b(?:return|give|send|refund|reimburse)\w*\s+(?:me\s+)?(?:back\s+)?(?:my|the|our|all (?:my|the))\s+"
        r"(?:\w+\s+)?(?:money|funds|cash|deposit|payment)\b",
        r"re:\b(?:get|want|need|have|recover|claim)\w*\s+(?:\w+\s+){0,3}?(?:money|funds|cash|payment)\s+"
        r"(?:\w+\s+)?(?:back|returned|reimbursed|repaid)\b",
        r"re:\brevers(?:e|al|ed|ing)\b(?:\W+\w+){0,3}?\W+(?:charge|payment|transaction|debit)s?\b",
    ),
    "billing": (
        "overcharg*", "double charg*", "charged twice", "charged ... twice", "charged", "deducted",
        "debited", "wrong amount", "incorrect amount", "unknown charge", "billing error",
        "payment related", "dispute ... charge", "charge ... dispute",
        r"re:\b(?:pay(?:ment|ing)?s?|bill(?:ing|ed|s)?|charges?|invoices?)\s+(?:\w+\s+){0,2}?"
        r"(?:issues?|problems?|errors?|fail\w*|declined|disputes?|mistakes?|wrong)\b",
        r"re:\b(?:issues?|problems?|errors?|trouble|mistakes?)\s+(?:\w+\s+){0,3}?"
        r"(?:pay\w*|bill\w*|charg\w*|invoic\w*)",
        rf"re:\b{_MONEY}\b(?:\W+\w+){{0,4}}?\W+(?:not|never|didn't|didnt|hasn't|hasnt)\s+"
        rf"(?:\w+\s+)?{_NOT_ARRIVED}\b",
        rf"re:\b{_MONEY}\s+(?:\w+\s+)?(?:gone|missing|disappeared|vanished)\b",
        r"re:\b(?:deposit\w*|added|add|paid|transferred|won)\b[^.?!]{0,40}\bbut\b",
        # money owed and not given: "you did not give my bonus", "never got my cashback"
        rf"re:\b(?:not|never|didn't|didnt|haven't|havent|no)\s+(?:\w+\s+){{0,2}}?(?:give|given|"
        rf"gave|get|got|receiv\w*|credit\w*)\s+(?:\w+\s+){{0,3}}?{_MONEY}s?\b",
        rf"re:^\W*(?:pls |please )?give\s+(?:me\s+)?(?:my\s+)?{_MONEY}s?\b",
    ),
    "complaint": (
        "complain*", "grievance*", "very bad", "bad experience", "bad service", "poor service",
        "terrible service", r"re:\bworst\b", "what the hell", "discontent*", "dissatisf*", "unsatisf*",
        "not satisfied", "unhappy with", "ombudsman", "pathetic", "disgrace*",
    ),
    "legal": (
        # Written as re:\b… where a common word of another language is one letter away and the
        # typo tolerance would read it as the term: fr "cours", "cour"; es, pt "solicitar".
        "lawyer*", "attorney*", r"re:\bsolicitors?\b", "sue", "suing", "lawsuit*", "legal",
        r"re:\bcourts?\b",
        "litigation", "subpoena", "small claims", "tribunal",
    ),
    "medical": (
        # fr, nl "aller"; "prison"
        "side effect*", r"re:\ballerg\w*", "adverse reaction", "overdose*", "pregnan*", "doctor*",
        "prescription*", "symptom*", "hospital*", "medical", "medication*", r"re:\bpoison\w*",
        "chest pain", "injur*", "breastfeed*",
    ),
    "privacy": (
        "gdpr", "data protection", "personal data", "data breach", "delete my data",
        "privacy", "identity theft",
    ),
}  # fmt: skip

# Each topic's terms by language (en here, es, fr, de, pt, it, nl in connector.signals.lexicon):
# the config can name the languages it reads and replace one language's terms; the explanation
# names the language of each matched term.
DEFAULT_POLICY_TOPICS_BY_LANGUAGE: Mapping[str, Mapping[str, tuple[str, ...]]] = with_english(
    _EN_POLICY_TOPICS, POLICY_TOPIC_TERMS
)
# The same terms, all languages in one list per topic: what the signal matches.
DEFAULT_POLICY_TOPICS: Mapping[str, tuple[str, ...]] = flatten_groups(
    DEFAULT_POLICY_TOPICS_BY_LANGUAGE
)

DEFAULT_BUYING_TERMS: tuple[str, ...] = (
    "buy", "purchas*", "place ... order", "make ... order", "order my", "order now",
    "re:^\\W*(?:i want to |i'd like to |i wanna )?order\\b", "re:\\bcod\\b", "cash on delivery",
    r"re:\b(?:i want to|i'd like to|i would like to|how (?:can|do) i|how to|where (?:can|do) i|"
    r"can i)\s+(?:\w+\s+)?(?:order|buy|purchase|subscribe)\b",
    "quote", "quotation", "pricing", "price list", "demo", "free trial", "upgrade*",
    "sign me up", r"re:\benrol(?:l|ls|ling|ing|ment)?\b", "subscribe",
    r"re:\bappl(?:y|ying|ication)\b(?:\W+\w+){0,4}?\W+(?:loan|mortgage|credit card|card|account|"
    r"policy|insurance|overdraft)s?\b",
    r"re:\b(?:take|taking|get|getting|need|want|new|eligible|ask for|looking for)\b(?:\W+\w+){0,3}?"
    r"\W+(?:loan|mortgage)s?\b",
    "call me", "call mi", "call ... my number", "call back", "callback", "contact me", "arrange ... call", "book ... call",
    "talk to sales", "sales team", "interested in buying",
)  # fmt: skip

# Past purchases and existing orders are service questions, not buying signals.
DEFAULT_BUYING_EXCLUSIONS: tuple[str, ...] = (
    r"re:\b(?:did|have|had|has)\s+(?:i|we|you|they)\s+(?:\w+\s+)?(?:buy|bought|order|ordered|"
    r"purchase|purchased)\b",
    "placed order",
    "placed ... order",
    "previous order*",
    "order status",
    "status of my order",
    "change ... order",
    "cancel ... order",
    "track ... order",
    "where is my order",
    # purchases someone else made are a fraud report, not a buying signal
    r"re:\bpurchas\w*\s+(?:\w+\s+){0,3}?(?:made|done|that|which|i didn't|i did not|wasn't|was not|"
    r"not by me|not mine)\b",
    r"re:\b(?:didn't|did not|never|not|unable to|can't|cannot)\s+(?:\w+\s+){0,4}?purchas\w*",
    r"re:\b(?:someone|somebody)\b[^.?!]{0,60}\bpurchas\w*",
)

DEFAULT_CONTACT_TYPES: Mapping[str, tuple[str, ...]] = {
    "supplier": (
        r"re:\b(?:i am|i'm|im|we are|we're|as)\s+(?:a |an |your |the )?(?:\w+\s+)?(?:supplier|"
        r"vendor|wholesaler|manufacturer|distributor)s?\b",
        "your supplier", "our invoice", "invoice from our company", "our company supplies",
        "we supply", "we supplied", "supplier invoice", "supplier payment", "supplier portal",
        "vendor invoice", "vendor payment", "vendor portal", "vendor registration",
        "purchase order number", "remittance advice", "accounts payable",
    ),
    "contractor": (
        "contractor*", "subcontract*", "freelanc*",
        r"re:\b(?:i am|i'm|im|we are|we're)\s+(?:a |an |the |your )?(?:\w+\s+)?(?:installer|"
        r"technician|consultant|agency)\b",
        "work for you", "working for your company", "contract work",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class TopicMatch:
    """Result of a keyword-group signal: ``topic`` is the first group that matched, or None.

    ``matches`` holds ``(group, matched words)`` for every group that matched, in group order.
    """

    matched: bool
    topic: str | None = None
    matches: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(t for _, found in self.matches for t in found)


def freeze_groups(groups: Mapping[str, Sequence[str]]) -> FrozenGroups:
    """``groups`` in the form :func:`match_groups` caches by (pass it instead of the mapping)."""
    return FrozenGroups.of(groups)


def match_groups(
    text: str | None, groups: Mapping[str, Sequence[str]] | FrozenGroups
) -> TopicMatch:
    """Match ``text`` against ordered keyword ``groups``; never raises.

    Cached by text and groups: several rules read the same new customer turn."""
    if isinstance(groups, FrozenGroups):  # built once by the caller, hashed once
        return _match_groups(text, groups)
    return _match_groups(text, tuple((name, tuple(terms)) for name, terms in groups.items()))


@lru_cache(maxsize=64)
def _vocabulary(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> frozenset[str]:
    return keyword_vocabulary(tuple(t for _, terms in groups for t in terms))


@lru_cache(maxsize=4096)
def _match_groups(text: str | None, groups: tuple[tuple[str, tuple[str, ...]], ...]) -> TopicMatch:
    vocab = _vocabulary(groups)
    norm = correct_typos(normalize(text), vocab)
    found = tuple(
        (name, tuple(hits)) for name, terms in groups if (hits := find_terms(norm, terms))
    )
    return TopicMatch(bool(found), found[0][0] if found else None, found)


def topic_groups(
    configured: Mapping[str, Sequence[str] | Mapping[str, Sequence[str]]] | None = None,
    languages: Sequence[str] | None = None,
    builtin: Mapping[str, Mapping[str, tuple[str, ...]]] = DEFAULT_POLICY_TOPICS_BY_LANGUAGE,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The policy topics a rule reads, as ``{topic: {language: terms}}``.

    ``configured`` is the rule's ``groups``: None for every built-in topic; per topic, an empty
    list for the built-in terms, a list for your own terms instead (language ``custom``), or a
    mapping ``{language: terms}`` naming the languages read, where an empty list is that
    language's built-in terms and any other key (``custom``, ``acme``) adds a list of your own.
    ``languages`` keeps only those built-in languages (your own lists are always read).
    """
    picked: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, terms in (configured if configured is not None else builtin).items():
        if isinstance(terms, Mapping):
            picked[name] = {lang: tuple(own) or builtin[name][lang] for lang, own in terms.items()}
        elif terms and configured is not None:
            picked[name] = {"custom": tuple(terms)}
        else:
            picked[name] = dict(builtin[name])
    if languages is None:
        return picked
    keep = set(languages)
    return {
        name: {lang: t for lang, t in by_lang.items() if lang in keep or lang not in LANGUAGES}
        for name, by_lang in picked.items()
    }


def policy_topics(
    text: str | None, *, topics: Mapping[str, Sequence[str]] = DEFAULT_POLICY_TOPICS
) -> TopicMatch:
    """Policy topics (refund, billing, complaint, legal, medical, privacy …) in one text."""
    return match_groups(text, topics)


def buying_intent(
    text: str | None,
    *,
    terms: Sequence[str] = DEFAULT_BUYING_TERMS,
    exclusions: Sequence[str] = DEFAULT_BUYING_EXCLUSIONS,
) -> TopicMatch:
    """Buying signals (order, purchase, quote, apply for a loan, call me back …) in one text.

    Text matching ``exclusions`` (past purchases, existing orders) is blanked out first.
    """
    norm = normalize(text)
    pattern = compile_terms(exclusions)
    if pattern is not None:
        norm = pattern.sub(" ", norm)
    return match_groups(norm, {"buying_intent": terms})


def contact_type(
    text: str | None,
    *,
    types: Mapping[str, Sequence[str]] | FrozenGroups = DEFAULT_CONTACT_TYPES,
) -> TopicMatch:
    """Is the sender a supplier or a contractor rather than a customer? ``topic`` says which."""
    return match_groups(text, types)


def in_customer_turns(
    signal: Any, messages: Sequence[Any], *, last: int = 1, **options: Any
) -> TopicMatch:
    """Apply a text signal (e.g. :func:`policy_topics`) to the last ``last`` customer turns joined."""
    return signal("\n".join(customer_texts(messages, last=last)), **options)
