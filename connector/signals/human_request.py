"""Does the customer ask for a human? Direct and indirect requests, negation-aware, multilingual.

``detect_human_request(text)`` returns a :class:`HumanRequest` that names the matched phrase, the
language of the pattern that matched and whether a negated request was seen ("I don't need an
agent"). Patterns are regular expressions over :func:`connector.signals.text.normalize` output
(casefolded, accents stripped), grouped by language so the config can extend or replace them.

Two choices that differ from a plain keyword list, both on purpose:

- "Ask an agent how/where/if …" is *indirect speech*: the customer wants the bot to find out, not
  to be transferred. It is excluded by default (``DEFAULT_INDIRECT_EXCLUSIONS``); pass ``()`` to
  count it as a request.
- Rejecting the bot ("I don't want to talk to you", "why am I talking to a machine") is a request
  for a human even though it contains a negation, so those patterns are never negated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.signals.text import FrozenGroups, correct_typos, normalize, role_of

# Who a customer may ask for. Departments count: "connect me to the spa" is a transfer to people.
_EN_WHO = (
    r"(?:(?:a|an|the|one of your|your|some|any|other|another|actual|real|live|normal|human|"
    r"non[- ]?robotic|customer service|customer support|support|service|care)\s+){0,4}"
    r"(?:human(?:\s+being)?s?|person|someone|somebody|some one|anyone|anybody|agents?|"
    r"representatives?|reps?|operators?|executives?|manager|supervisor|staff|employee|"
    r"advis[eo]rs?|consultant|associate|specialist|human agent|customer (?:service|care|support)|"
    r"reception|front desk|concierge|department|team)\b"
)
# Verbs of talking take anything between them and the person ("speak with a f***ing human");
# verbs of wanting only take the usual modifiers, so "get my team account" stays out.
_EN_TALK = (
    r"\b(?:talk|speak|chat|reach|contact|put me through|get me through|"
    r"put me in touch)\w*\s+(?:(?:to|with|through to|over to)\s+)?(?:[\w'-]+\s+){0,3}?"
)
_EN_WANT = (
    r"\b(?:get|give|need|want|ask|bring|find|send|route|call|put|pass|switch|connect|transfer|"
    r"escalate|forward)\w*\s+(?:me\s+)?"
    r"(?:(?:to|with|through to|through|for)\s+)?"
)

DEFAULT_HUMAN_PATTERNS: Mapping[str, tuple[str, ...]] = {
    "en": (
        _EN_TALK + _EN_WHO,
        _EN_WANT + _EN_WHO,
        r"\b(?:connect|transfer|put|pass|switch|forward)\w*\s+me\s+(?:through\s+)?(?:to|with)\b",
        r"\b(?:someone|somebody) else\b(?:\W+\w+){0,3}?\W+(?:help|look|take|handle|check|deal)",
        r"^\W*(?:(?:an?|the|human|live|real)\s+)*(?:agent|human|representative|operator|person|"
        r"rep|manager|supervisor|customer service)\b\W*(?:please|pls|plz|now|asap)?\W*$",
        r"\b(?:agent|human|representative|operator|real person)\s+(?:please|pls|plz|now)\b",
        r"\bi want (?:to )?talk\b",
        r"\b(?:(?:a|an|the)\s+)?(?:(?:real|live|actual|human)\s+)?(?:person|human|agent|someone|"
        r"somebody|anyone)\s+(?:\w+\s+){0,2}?(?:i can |i could |to |who can )(?:talk|speak|chat)\b",
        r"\b(?:live|human) (?:chat|support|help|assistance)\b",
        # transfers to a department: "can I be put through to the spa", "transfer me to the bar"
        r"\b(?:be|get|being)\s+(?:transferred|connected|put through|passed|forwarded|redirected)"
        r"\s+(?:to|with)\b(?!\s+(?:the\s+|my\s+|a\s+)?(?:internet|wifi|wi-fi|network|app|server|"
        r"account|bank|printer|tv|device|bluetooth)\b)",
        # availability: "is anyone available to talk?", "are any agents online", "anybody there?"
        r"\b(?:is|are)\s+(?:there\s+)?(?:anyone|anybody|someone|somebody|(?:any|an?)\s+(?:agents?|"
        r"humans?|people|persons?|staff|representatives?|operators?))\s+(?:\w+\s+){0,2}?"
        r"(?:available|free|around|online|there|in the office|on duty)\b",
        r"^\W*(?:hello\W+|hi\W+)?(?:anyone|anybody|someone|somebody)\s+(?:there|available|around|"
        r"home|awake)\b",
    ),
    "es": (
        r"\b(?:hablar|comunicar(?:me)?|chatear|conversar|contactar|pasa(?:me|r)?|comunica(?:me)?|"
        r"transfier[ae](?:me)?|conectar?(?:me)?|quiero|necesito)\s+(?:con\s+|a\s+)?(?:un|una|el|la|"
        r"algun|alguna)?\s*(?:agente|humano|persona|asesor|asesora|representante|operador|operadora|"
        r"ejecutivo|encargado|gerente|supervisor|alguien|empleado)\b",
        r"\bpersona (?:real|de verdad)\b|\bser humano\b",
    ),
    "fr": (
        r"\b(?:parler|discuter|m'adresser|joindre|contacter|passer|mettre|mettez|transferer|"
        r"transferez|veux|voudrais|besoin d'?)[\s-]*(?:moi\s+)?(?:en relation avec|avec|a)?\s*(?:un|une|"
        r"le|la|l')?\s*(?:conseiller|conseillere|agent|humain|personne|operateur|operatrice|"
        r"quelqu'un|interlocuteur|responsable|representant|employe|vrai)\b",
        r"\b(?:un|une) (?:vrai|vraie|veritable) (?:personne|humain|conseiller)\b",
    ),
    "de": (
        r"\b(?:mit|an)\s+(?:einem|einer|einen|dem|der|jemandem|ihrem|ihrer)?\s*(?:echten|richtigen|"
        r"menschlichen)?\s*(?:menschen|mitarbeiter(?:in)?|berater(?:in)?|person|kundenberater(?:in)?|"
        r"agenten|kundendienst|kundenservice|sachbearbeiter(?:in)?|jemand(?:em)?|vorgesetzten)\b"
        r"(?:\W+\w+){0,3}\W+(?:sprechen|reden|verbinden|chatten|weiterleiten|telefonieren)",
        r"\b(?:verbinden sie mich|leiten sie mich|ich (?:will|mochte|brauche) (?:einen|eine|den)?\s*"
        r"(?:menschen|mitarbeiter|berater|person))\b",
        r"\b(?:echten|richtigen) menschen\b",
    ),
    "pt": (
        r"\b(?:falar|conversar|atendimento|contatar|contactar|chamar|passar?|transferir|quero|"
        r"preciso(?: de)?)\s+(?:com\s+|a\s+|para\s+)?(?:um|uma|o|a|algum|alguma)?\s*(?:atendente|"
        r"humano|pessoa|agente|operador|operadora|assistente|alguem|representante|consultor|"
        r"funcionario|gerente)\b",
        r"\bpessoa (?:real|de verdade)\b|\bser humano\b",
    ),
    "it": (
        r"\b(?:parlare|passami|voglio|ho bisogno di)\s+(?:con\s+)?(?:un|una|un')?\s*(?:operatore|"
        r"operatrice|persona|umano|agente|consulente|qualcuno)\b",
    ),
    # Dutch puts the verb last: "ik wil graag een medewerker spreken", "kan ik met iemand praten"
    "nl": (
        r"\b(?:met|naar)\s+(?:een|de|uw|jullie)?\s*(?:echte?\s+)?(?:medewerker|medewerkster|mens|"
        r"persoon|iemand|adviseur|agent|operator|klantenservice)\b(?:\W+\w+){0,3}?\W+(?:spreken|"
        r"praten|chatten|bellen|doorverbinden|doorverbonden|verbinden|verbonden)\b",
        r"\b(?:een|de)\s+(?:echte?\s+)?(?:medewerker|medewerkster|mens|persoon|adviseur)\s+"
        r"(?:\w+\s+)?(?:spreken|aan de lijn|aan de telefoon)\b",
        r"\b(?:verbind|verbindt|zet)\s+(?:me|mij)\s+(?:\w+\s+)?door\b",
        r"\becht(?:e)? (?:mens|persoon)\b",
    ),
}

DEFAULT_BOT_REJECTION_PATTERNS: Mapping[str, tuple[str, ...]] = {
    "en": (
        r"\b(?:do not|don't|dont|no longer) (?:want|wish|like) to (?:talk|speak|chat) (?:to|with) "
        r"(?:you|a bot|a robot|a machine|this bot|the bot)\b",
        r"\b(?:talk|talking|speak|speaking|chat|chatting|wasting (?:my )?time)\w* (?:to|with) "
        r"(?:a|this|the|some) (?:machine|bot|robot|chatbot|computer|program)\b",
        r"\bwith a (?:machine|bot|robot)\b",
        r"\b(?:not|no|stop|enough) (?:a |the |this )?(?:bot|robot|machine|chatbot)s?\b",
    ),
    "es": (r"\bno quiero (?:hablar|chatear) con (?:un |una |el )?(?:bot|robot|maquina)\b",),
    "fr": (
        r"\bje ne veux pas (?:parler|discuter) (?:a|avec) (?:un |une )?(?:robot|bot|machine)\b",
    ),
    "de": (r"\b(?:nicht|keine lust) mit (?:einem |dem )?(?:bot|roboter|maschine)\b",),
    "pt": (r"\bnao quero (?:falar|conversar) com (?:um |uma |o )?(?:bot|robo|maquina)\b",),
    "it": (r"\bnon voglio (?:parlare|chattare) con (?:un |una |il |la )?(?:bot|robot|macchina)\b",),
    "nl": (r"\b(?:wil|ga) niet (?:met|tegen) (?:een |de |deze )?(?:bot|robot|computer|machine)\b",),
}

DEFAULT_NEGATIONS: Mapping[str, tuple[str, ...]] = {
    "en": (
        r"\b(?:don't|dont|do not|doesn't|does not|didn't|did not|won't|will not|wouldn't|no need|"
        r"not need|never|without|not necessary|not|no)\b",
    ),
    "es": (r"\b(?:no|sin|nunca|tampoco)\b",),
    "fr": (r"\b(?:pas|jamais|sans|ne|n')\b|\bn'",),
    "de": (r"\b(?:nicht|kein|keine|keinen|keinem|niemals|ohne)\b",),
    "pt": (r"\b(?:nao|sem|nunca)\b",),
    "it": (r"\b(?:non|senza|mai)\b",),
    "nl": (r"\b(?:niet|geen|nooit|zonder)\b",),
}

# "ask an agent how to…" / "can u ask an agent if…": the customer wants an answer, not a transfer.
DEFAULT_INDIRECT_EXCLUSIONS: tuple[str, ...] = (
    r"\bask (?:an? |the |your )?(?:agent|human|person|someone|representative)s?\s+(?:how|where|"
    r"if|whether|what|when|why|which|who|to|about|for|my|is|are|do|does|can|could)\b",
)

# Words a typo away from these are read as them before matching ("agnet", "somone", "huamn"):
# requests are often typed in a hurry, and these words carry the whole request.
DEFAULT_PERSON_WORDS: frozenset[str] = frozenset(
    "agent agents human humans someone somebody anyone anybody person people representative "
    "representatives operator operators supervisor manager customer service support".split()
)

# How far before a match a negation still applies (characters, within the same clause).
DEFAULT_NEGATION_WINDOW = 40

_CLAUSE_BREAK = re.compile(r"[.;!?,]|\b(?:but|and|so|just|pero|mais|aber|mas|y|et|und|e)\b")


@dataclass(frozen=True)
class HumanRequest:
    """Result of :func:`detect_human_request`.

    ``requested`` is true when a non-negated request (or a rejection of the bot) was found;
    ``phrase`` and ``language`` describe the first such match; ``negated`` lists requests that were
    seen but negated, so an audit trail can show why they did not count.
    """

    requested: bool
    phrase: str | None = None
    language: str | None = None
    kind: str | None = None  # "direct" | "bot_rejection"
    negated: tuple[str, ...] = ()


@lru_cache(maxsize=64)
def _compiled(
    groups: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (lang, re.compile("|".join(f"(?:{p})" for p in pats))) for lang, pats in groups if pats
    )


@lru_cache(maxsize=64)
def _compiled_exclusions(exclusions: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(exclusion) for exclusion in exclusions)


def _freeze(mapping: Mapping[str, Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(mapping, FrozenGroups):  # built once by the caller, hashed once
        return mapping
    return tuple((k, tuple(v)) for k, v in mapping.items())


def _negated(text: str, start: int, end: int, negations: re.Pattern[str], window: int) -> bool:
    before = text[max(0, start - window) : start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    return bool(negations.search(before) or negations.search(text[start:end]))


def detect_human_request(
    text: str | None,
    *,
    patterns: Mapping[str, Sequence[str]] = DEFAULT_HUMAN_PATTERNS,
    bot_rejections: Mapping[str, Sequence[str]] = DEFAULT_BOT_REJECTION_PATTERNS,
    negations: Mapping[str, Sequence[str]] = DEFAULT_NEGATIONS,
    exclusions: Sequence[str] = DEFAULT_INDIRECT_EXCLUSIONS,
    negation_window: int = DEFAULT_NEGATION_WINDOW,
    typo_words: frozenset[str] = DEFAULT_PERSON_WORDS,
) -> HumanRequest:
    """Detect a request for a human in one customer text. Never raises on any string input.

    Cached by text and options: the policy's trigger and the sentiment signal both read each new
    customer turn, and every event re-reads the recent ones.
    """
    return _detect(
        text,
        _freeze(patterns),
        _freeze(bot_rejections),
        _freeze(negations),
        tuple(exclusions),
        negation_window,
        typo_words,
    )


@lru_cache(maxsize=4096)
def _detect(
    text: str | None,
    patterns: tuple[tuple[str, tuple[str, ...]], ...],
    bot_rejections: tuple[tuple[str, tuple[str, ...]], ...],
    negations: tuple[tuple[str, tuple[str, ...]], ...],
    exclusions: tuple[str, ...],
    negation_window: int,
    typo_words: frozenset[str],
) -> HumanRequest:
    norm = normalize(text)
    if not norm:
        return HumanRequest(requested=False)
    # Typos are read as English person words for the English patterns only: "agente" is Spanish
    # for agent, not a typo of it.
    fixed = correct_typos(norm, typo_words) if typo_words else norm
    for exclusion in _compiled_exclusions(exclusions):
        norm = exclusion.sub(" ", norm)
        fixed = exclusion.sub(" ", fixed)
    for lang, pattern in _compiled(bot_rejections):
        m = pattern.search(norm)
        if m:
            return HumanRequest(True, m.group(0).strip(), lang, "bot_rejection")
    neg = dict(_compiled(negations))
    seen_negated: list[str] = []
    for lang, pattern in _compiled(patterns):
        neg_pattern = neg.get(lang) or neg.get("en")
        read = fixed if lang == "en" else norm
        for m in pattern.finditer(read):
            if neg_pattern is not None and _negated(
                read, m.start(), m.end(), neg_pattern, negation_window
            ):
                seen_negated.append(m.group(0).strip())
                continue
            return HumanRequest(True, m.group(0).strip(), lang, "direct", tuple(seen_negated))
    return HumanRequest(False, negated=tuple(seen_negated))


def human_request_in(messages: Sequence[Any], *, last: int = 1, **options: Any) -> HumanRequest:
    """:func:`detect_human_request` over the last ``last`` customer turns, newest first."""
    checked = 0
    negated: list[str] = []
    for message in reversed(messages):
        if role_of(message) != "customer":
            continue
        result = detect_human_request(getattr(message, "text", ""), **options)
        if result.requested:
            return result
        negated.extend(result.negated)
        checked += 1
        if checked >= last:
            break
    return HumanRequest(False, negated=tuple(negated))
