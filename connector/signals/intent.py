"""Which team should take the conversation, when the bot sent no intent.

Two config-driven layers, both explainable:

1. **Keywords per team** (term syntax of :mod:`connector.signals.text`). Each matched term adds
   one vote; the team with most votes wins, ties broken by the order of ``keywords``.
2. **Example phrases per team**, scored by a tiny multinomial naive Bayes over stemmed words and
   word pairs (plain Python, trained once per phrase set and cached). It decides only when no
   keyword matched, and its posterior is the reported confidence.

When neither is confident the ``default_team`` is returned with the reason ``"default"``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.signals.lexicon import TEAM_KEYWORDS, flatten_groups, with_english
from connector.signals.text import customer_texts, find_terms, normalize, stem, tokens
from connector.signals.topics import _MONEY, _NOT_ARRIVED

_CLOSE = (
    r"(?:close|closing|cancel\w*|delete|deleting|terminate|terminating|shut|quit|end|get rid of)"
)
_PRODUCT = r"(?:accounts?|plans?|policy|policies|insurance|membership|subscription|contract)"

_EN_TEAM_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "fraud": (
        "stolen", "stole", "steal*", "theft", "thief", "fraud*", "scam*", "phishing", "hack*",
        "compromised", "unauthori*", "not authori*", "didn't authori*", "did not authori*",
        "suspicious", "not mine", "wasn't me", "wasn't by me", "not by me",
        "re:\\b(?:payment|charge|transaction|withdrawal|debit|purchase)s?\\b(?:\\W+\\w+){0,4}?\\W+"
        "(?:not|don't|dont) recogni[sz]e\\b", "didn't make", "did not make", "didn't do",
        "i didn't", "without permission", "someone ... my card", "someone ... my account",
        "somebody ... my card", "someone used", "somebody used", "someone has", "someone else",
        "odd withdrawal", "weird withdrawal", "strange withdrawal", "lost ... card",
        "lost ... phone", "card ... lost", "lost my wallet", "freeze ... card", "freeze ... account",
        "report ... lost", "report ... stolen", "left ... phone", "forgot my phone",
    ),
    "retention": (
        rf"re:\b{_CLOSE}\b(?:\W+\w+){{0,4}}?\W+{_PRODUCT}\b",
        rf"re:\b{_PRODUCT}\s+(?:closed|cancel\w*|deleted|terminated)\b",
        "switch* banks", "switching to another", "leave your bank", "leaving your bank",
        "move ... to a different bank", "close my", "cancel my",
    ),
    "billing": (
        "charg*", "fee", "fees", "bill", "bills", "billing", "refund*", "invoice*",
        "exchange rate", "overcharg*", "pay my", "payment status", "payment due",
        "amount due", "balance due", "what is due", "autopay", "auto pay", "automatic payment*",
        "schedule ... payment*", "credit card payment*", "loan payment*", "pay ... loan",
        "loan balance", "credit card balance", "account balance", "balance on the loan",
        "payment preference", "billing preference", "top up ... fee*", "swift", "sepa",
        "dispute ... charge", "reverse ... transaction", "cost to exchange", "pay to exchange",
        "billed", rf"re:\b{_MONEY}\b(?:\W+\w+){{0,4}}?\W+(?:not|never|hasn't|hasnt)\s+"
        rf"(?:\w+\s+)?{_NOT_ARRIVED}\b",
    ),
    "technical": (
        "log in", "login", "log on", "sign in", "password*", "passcode*", "pin", "pin number",
        "blocked", "unblock*", "locked out", "reset", "not working", "doesn't work",
        "won't work", "wouldn't work", "didn't work", "contactless", "declined", "denied",
        "rejected", "not accepted", "isn't being accepted", "error", "bug", "crash*",
        "online banking", "online account", "portal", "app won't", "app doesn't",
        "doesn't recogni*", "not recognize me", "let me log", "verify ... identity",
        "verification", "security question*", "two factor", "2fa", "otp", "access ... app",
        "access ... online",
    ),
    "sales": (
        "quote", "quotation", "enrol*", "sign up", "apply*", "application", "open ... account",
        "new account", "new credit card", "new card ... for my business", "get a loan",
        "take out a loan", "a loan", "loan for", "loans", "mortgage", "interest rate*",
        "cards you offer", "you offer", "offers", "compare", "options you have", "insure",
        "the cost for", "pricing", "price*", "buy", "purchas*", "upgrade", "demo",
    ),
}  # fmt: skip

# Each team's keywords by language (en here, the others in connector.signals.lexicon), and all of
# them in one list per team: what the classifier and a team without configured keywords read.
DEFAULT_TEAM_KEYWORDS_BY_LANGUAGE: Mapping[str, Mapping[str, tuple[str, ...]]] = with_english(
    _EN_TEAM_KEYWORDS, TEAM_KEYWORDS
)
DEFAULT_TEAM_KEYWORDS: Mapping[str, tuple[str, ...]] = flatten_groups(
    DEFAULT_TEAM_KEYWORDS_BY_LANGUAGE
)

DEFAULT_TEAM_EXAMPLES: Mapping[str, tuple[str, ...]] = {
    "billing": (
        "why was I charged a fee", "there is an extra charge on my bill", "I was charged twice",
        "my refund has not arrived", "how much does the transfer cost", "what are your fees",
        "I want to pay my bill", "when is my payment due", "check the status of my payment",
        "set up automatic payments", "the amount on my statement is wrong",
        "the exchange rate was wrong", "change how I am billed", "what is my balance",
        "I need to dispute a charge", "I was billed for something I did not receive",
    ),
    "fraud": (
        "my card was stolen", "I lost my card", "someone used my card", "I do not recognise "
        "this payment", "there is a transaction I did not make", "my phone was stolen",
        "my account was hacked", "I think this is a scam", "someone took money from my account",
        "please freeze my card", "unknown withdrawal from an ATM", "a direct debit I did not set up",
    ),
    "technical": (
        "I cannot log in", "I forgot my password", "reset my passcode", "my PIN is blocked",
        "the app does not work", "the app keeps crashing", "my card is declined",
        "contactless is not working", "I cannot verify my identity", "set up online banking",
        "change my security question", "I get an error message", "I want to change my PIN",
    ),
    "retention": (
        "close my account", "cancel my plan", "delete my account", "I want to leave",
        "cancel my subscription", "terminate my membership", "I am switching to another bank",
        "I no longer need this account", "end my contract", "cancel my insurance policy",
    ),
    "sales": (
        "I want to open a new account", "can I get a quote", "apply for a loan",
        "what credit cards do you offer", "I want to enrol in a plan", "tell me about your loans",
        "what are your interest rates", "I would like to buy insurance", "compare your products",
        "how much does the premium plan cost", "I want to upgrade", "book a demo",
    ),
    "general": (
        "how long does delivery take", "when will my card arrive", "where is the nearest branch",
        "update my address", "change my email address", "what currencies do you support",
        "how do I transfer money", "what are your opening hours", "add a dependent",
        "how old do I need to be", "where can I use my card", "how long does a transfer take",
        "file a claim", "I need to make a deposit", "activate my card", "top up my account",
    ),
}  # fmt: skip

DEFAULT_TEAM = "general"
DEFAULT_MIN_CONFIDENCE = 0.6  # below this the naive-Bayes guess is not trusted: general wins


@dataclass(frozen=True)
class TeamGuess:
    """Result of :func:`classify_team`.

    ``source`` is ``"keywords"``, ``"examples"`` or ``"default"``; ``matched`` lists the keywords
    that voted for ``team`` (or, for examples, the stemmed words it shares with that team's phrases); ``scores`` holds each team's
    votes or posterior, so a reviewer can see the runner-up.
    """

    team: str
    confidence: float
    source: str
    matched: tuple[str, ...] = ()
    scores: tuple[tuple[str, float], ...] = ()


_STOP = frozenset(
    "a an the i me my we our you your is are am was be to of in on for and or it this that do does "
    "can could would will please pls hi hello hey there with how what when why need want like".split()
)


def _features(text: str) -> list[str]:
    words = [stem(t) for t in tokens(normalize(text, 1000)) if t not in _STOP]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


@lru_cache(maxsize=16)
def _train(examples: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Any, ...]:
    counts = {team: Counter(f for p in phrases for f in _features(p)) for team, phrases in examples}
    vocab = {f for c in counts.values() for f in c}
    totals = {team: sum(c.values()) for team, c in counts.items()}
    return counts, len(vocab) or 1, totals, vocab


def _naive_bayes(text: str, examples: Mapping[str, Sequence[str]]) -> tuple[dict[str, float], Any]:
    frozen = tuple((t, tuple(p)) for t, p in examples.items() if p)
    if not frozen:
        return {}, {}
    counts, size, totals, vocab = _train(frozen)
    feats = [f for f in _features(text) if f in vocab]
    if not feats:
        return {}, {}
    logp = {
        team: sum(math.log((counts[team][f] + 1) / (totals[team] + size)) for f in feats)
        for team in counts
    }
    top = max(logp.values())
    exp = {team: math.exp(v - top) for team, v in logp.items()}
    norm = sum(exp.values())
    evidence = {
        team: tuple(dict.fromkeys(f for f in feats if counts[team][f]))[:6] for team in counts
    }
    return {team: v / norm for team, v in exp.items()}, evidence


# A PIN, code or number the customer offers to identify themselves ("my PIN is 4821, for
# verification") says who they are, not that access is broken: it is read out before the team
# keywords look, so it does not vote for `technical`.
DEFAULT_IDENTIFICATION = re.compile(
    r"\b(?:(?:here(?:'s| is)|my|the)\s+)?(?:pin|passcode|security code|pin number|pin code|"
    r"customer (?:number|id)|account number|member(?:ship)? number)\s*(?:is|was|:|=|-|#)?\s*\d[\d -]{2,18}\b"
    r"(?:\s*,?\s*(?:for|to)\s+(?:(?:the\s+)?(?:verification|identification|security|id)|verify(?:ing)?"
    r"(?:\s+(?:me|my identity|who i am))?|identify(?:ing)?\s+(?:me|myself))(?:\s+purposes)?)?"
    r"|\b(?:for|to)\s+(?:verification|identification|verify(?:ing)? (?:me|my identity|who i am)|"
    r"identify(?:ing)? (?:me|myself))(?:\s+purposes)?\W*(?:my\s+)?(?:pin|passcode|security code)"
    r"\s*(?:is|:)?\s*\d[\d -]{2,18}\b"
)


def without_identification(norm: str) -> str:
    """``norm`` with identification offers (a PIN and its number) blanked out."""
    return DEFAULT_IDENTIFICATION.sub(" ", norm)


def classify_team(
    text: str | None,
    *,
    keywords: Mapping[str, Sequence[str]] = DEFAULT_TEAM_KEYWORDS,
    examples: Mapping[str, Sequence[str]] = DEFAULT_TEAM_EXAMPLES,
    default_team: str = DEFAULT_TEAM,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> TeamGuess:
    """Guess the team for one customer text; never raises, always returns a team."""
    norm = without_identification(normalize(text))
    hits = {team: found for team, terms in keywords.items() if (found := find_terms(norm, terms))}
    if hits:
        # A longer match is a more specific one ("loan balance" beats "loan"); on a tie the team
        # mentioned first wins, since customers tend to open with what they came for.
        weight = {t: float(sum(min(3, len(h.split())) for h in found)) for t, found in hits.items()}
        first = {t: min(norm.find(h) for h in found) for t, found in hits.items()}
        best = max(hits, key=lambda t: (weight[t], -first[t]))
        scores = tuple(sorted(weight.items(), key=lambda kv: -kv[1]))
        confidence = round(weight[best] / sum(weight.values()), 3)
        return TeamGuess(best, confidence, "keywords", tuple(hits[best]), scores)
    posterior, evidence = _naive_bayes(norm, examples)
    if posterior:
        best = max(posterior, key=lambda t: posterior[t])
        scores = tuple(
            (t, round(p, 3)) for t, p in sorted(posterior.items(), key=lambda kv: -kv[1])
        )
        if posterior[best] >= min_confidence:
            return TeamGuess(best, round(posterior[best], 3), "examples", evidence[best], scores)
        return TeamGuess(default_team, round(1 - posterior[best], 3), "default", (), scores)
    return TeamGuess(default_team, 0.0, "default")


def team_for(messages: Sequence[Any], *, last: int = 1, **options: Any) -> TeamGuess:
    """:func:`classify_team` over the last ``last`` customer turns joined."""
    return classify_team("\n".join(customer_texts(messages, last=last)), **options)
