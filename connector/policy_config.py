"""The ``policy``, ``routing`` and ``payload`` sections of the configuration.

Kept apart from :mod:`connector.config` because the rule schema is most of the configuration's
surface; ``config.py`` composes these models into ``Settings`` and re-exports them.

A rule is ``{id, when: {trigger, ...parameters}, then: {escalate, team, queue, priority, tags}}``.
``when`` is one flat model: every parameter has its range checked by pydantic (so an error reads
``policy.rules[3].when.threshold: ...``), the trigger name is checked with a "did you mean", and a
parameter that does not belong to the trigger is an error rather than silently ignored. Checks
that need two sections at once (a rule's team must be a routing team) live in
:func:`check_policy`, which ``load_config`` runs after validation.
"""

from __future__ import annotations

import difflib
import re
import string
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.signals.human_request import DEFAULT_HUMAN_PATTERNS
from connector.signals.text import term_regex
from connector.signals.topics import DEFAULT_CONTACT_TYPES, DEFAULT_POLICY_TOPICS

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- policy ---------------------------------------------------------------------------------

# Which parameters each trigger takes. The keys are the trigger vocabulary of DESIGN.md.
TRIGGER_PARAMS: dict[str, frozenset[str]] = {
    "human_request": frozenset({"languages", "patterns", "last"}),
    "frustration": frozenset({"threshold", "window"}),
    "low_confidence": frozenset({"threshold", "intents"}),
    "policy_topic": frozenset({"groups", "last"}),
    "customer_tag": frozenset({"tags", "tiers"}),
    "tool_failure": frozenset({"max_failures", "window"}),
    "buying_intent": frozenset({"terms", "exclude", "last"}),
    "repeated_failure": frozenset({"max_fallbacks", "max_rephrasings", "similarity", "window"}),
    "contact_type": frozenset({"types", "last"}),
    "bot_recommended": frozenset(),
}
TRIGGERS = tuple(TRIGGER_PARAMS)

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


def _check_terms(terms: list[str], where: str = "") -> None:
    """Every term must translate to a regex that compiles (``re:`` terms are raw regexes)."""
    for i, term in enumerate(terms):
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"{where}item {i}: a term must be a non-empty string")
        try:
            re.compile(term_regex(term))
        except re.error as exc:
            raise ValueError(f"{where}item {i}: regex does not compile: {exc}") from exc


def _check_groups(groups: dict[str, list[str]], builtin: dict[str, Any], what: str) -> None:
    for name, terms in groups.items():
        if not terms and name not in builtin:
            known = ", ".join(builtin)
            raise ValueError(
                f"{name}: no built-in {what} of that name (built-in: {known}); list its terms"
            )
        _check_terms(terms, f"{name}: ")


class When(_Section):
    """``when``: the trigger and its parameters. Omitted parameters take the signal's default."""

    trigger: str
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    intents: dict[str, Unit] = Field(default_factory=dict)
    groups: dict[str, list[str]] | None = None
    types: dict[str, list[str]] | None = None
    terms: list[str] | None = None
    exclude: list[str] | None = None
    languages: list[str] | None = None
    patterns: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    tiers: list[str] = Field(default_factory=list)
    max_failures: int = Field(default=1, ge=1, le=100)
    max_fallbacks: int = Field(default=2, ge=1, le=100)
    max_rephrasings: int = Field(default=2, ge=1, le=100)
    similarity: Unit = 0.6
    window: int = Field(default=12, ge=1, le=1000)
    last: int = Field(default=1, ge=1, le=20)

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, trigger: str) -> str:
        if trigger not in TRIGGER_PARAMS:
            close = difflib.get_close_matches(trigger, TRIGGERS, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown trigger {trigger!r}{hint}; known: {', '.join(TRIGGERS)}")
        return trigger

    @field_validator("terms", "exclude")
    @classmethod
    def _terms_compile(cls, terms: list[str] | None) -> list[str] | None:
        if terms:
            _check_terms(terms)
        return terms

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"item {i}: regex does not compile: {exc}") from exc
        return patterns

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if groups is not None:
            _check_groups(groups, dict(DEFAULT_POLICY_TOPICS), "policy topic")
        return groups

    @field_validator("types")
    @classmethod
    def _types(cls, types: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if types is not None:
            _check_groups(types, dict(DEFAULT_CONTACT_TYPES), "contact type")
        return types

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages: list[str] | None) -> list[str] | None:
        for lang in languages or ():
            if lang not in DEFAULT_HUMAN_PATTERNS:
                known = ", ".join(DEFAULT_HUMAN_PATTERNS)
                raise ValueError(
                    f"no built-in patterns for language {lang!r} (built-in: {known}); "
                    "add your own under patterns"
                )
        return languages

    @model_validator(mode="after")
    def _params_fit_trigger(self) -> When:
        if self.trigger not in TRIGGER_PARAMS:
            return self
        allowed = TRIGGER_PARAMS[self.trigger]
        # Compared with the defaults, not with what was set: a dumped config lists every field.
        extra = sorted(
            name
            for name, field in type(self).model_fields.items()
            if name not in allowed
            and name != "trigger"
            and getattr(self, name) != field.get_default(call_default_factory=True)
        )
        if extra:
            takes = ", ".join(sorted(allowed)) or "no parameters"
            raise ValueError(
                f"{', '.join(extra)}: not a parameter of trigger {self.trigger!r} "
                f"(it takes: {takes})"
            )
        if self.trigger == "low_confidence" and self.threshold is not None and self.threshold < 0:
            raise ValueError("threshold: a confidence threshold must be between 0 and 1")
        return self


class Then(_Section):
    """``then``: what the rule decides when its trigger fires."""

    escalate: bool = True
    team: str | None = None  # None: the intent → team classifier picks
    queue: str | None = None  # None: the team's queue
    priority: Priority | None = None  # None: normal
    tags: list[str] = Field(default_factory=list)


class Rule(_Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = ""
    when: When
    then: Then = Field(default_factory=Then)


class Guardrail(_Section):
    """Words a draft reply must never contain (a promise only a person may make)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    forbid: list[str] = Field(min_length=1)
    note: str = ""

    @field_validator("forbid")
    @classmethod
    def _compile(cls, terms: list[str]) -> list[str]:
        _check_terms(terms)
        return terms


def _rule(rule_id: str, when: dict[str, Any], description: str = "", **then: Any) -> Rule:
    return Rule.model_validate(
        {"id": rule_id, "description": description, "when": when, "then": then}
    )


SERVICE_TOPICS: dict[str, list[str]] = {"refund": [], "billing": [], "complaint": [], "privacy": []}


def default_rules() -> list[Rule]:
    """The shipped rules, in order; ``config.example.yaml`` spells out the same list."""
    return [
        _rule("supplier_or_contractor", {"trigger": "contact_type", "types": {"supplier": [], "contractor": []}},
              "not a customer: route to the partner team", team="partners", priority="low",
              tags=["not-a-customer"]),
        _rule("bypass_bot_tag", {"trigger": "customer_tag", "tags": ["bypass-bot"]},
              "customers tagged to skip the bot go straight to a person", priority="high"),
        _rule("asks_for_person", {"trigger": "human_request", "languages": ["en", "es", "fr", "de", "pt", "it"]},
              "the customer asks for a person: always, at once", priority="high"),
        _rule("legal_or_medical", {"trigger": "policy_topic", "groups": {"legal": [], "medical": []}},
              "legal and medical questions are never answered by the bot", priority="high",
              tags=["sensitive"]),
        _rule("policy_keywords", {"trigger": "policy_topic", "groups": dict(SERVICE_TOPICS)},
              "refunds, billing problems, complaints, privacy: a person decides"),
        _rule("tool_failed", {"trigger": "tool_failure", "max_failures": 1},
              "a tool call failed: never fake an answer"),
        _rule("frustrated", {"trigger": "frustration"}, "the customer is frustrated",
              priority="high"),
        _rule("repeated_failure", {"trigger": "repeated_failure", "max_fallbacks": 2, "max_rephrasings": 2},
              "the bot failed twice or the customer rephrased twice"),
        _rule("low_confidence", {"trigger": "low_confidence", "threshold": 0.4,
                                 "intents": {"billing": 0.6, "refund": 0.7, "cancel": 0.6, "fraud": 0.8}},
              "the bot is not sure what the customer wants"),
        _rule("buying_to_sales", {"trigger": "buying_intent"}, "a buying signal: to sales",
              team="sales"),
        _rule("escalate_on_bot_recommendation", {"trigger": "bot_recommended"},
              "the bot recommends a human; rules above may decide otherwise"),
    ]  # fmt: skip


def default_guardrails() -> list[Guardrail]:
    return [
        Guardrail(id="no_refund_promise", note="only a person may approve a refund", forbid=[
            r"re:\b(?:i|we)(?:'ll| will| shall| are going to| can| have)\s+(?:\w+\s+){0,2}?"
            r"(?:refund|reimburs|credit you)\w*",
            r"re:\brefund\w*\s+(?:has been|have been|is|was|will be)\s+(?:\w+\s+)?"
            r"(?:issued|approved|processed|sent|on its way)",
            "full refund", "money back guarantee*",
        ]),
        Guardrail(id="no_compensation_promise", note="compensation needs approval", forbid=[
            r"re:\b(?:i|we)(?:'ll| will| are going to)\s+(?:\w+\s+){0,2}?(?:compensat|waive)\w*",
            "guarantee*",
        ]),
    ]  # fmt: skip


class PolicySettings(_Section):
    rules: list[Rule] = Field(default_factory=default_rules)
    guardrails: list[Guardrail] = Field(default_factory=default_guardrails)

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: dict[str, int] = {}
        for i, rule in enumerate(rules):
            if rule.id in seen:
                raise ValueError(
                    f"duplicate rule id {rule.id!r} (rules[{seen[rule.id]}] and rules[{i}])"
                )
            seen[rule.id] = i
        return rules


# --- routing --------------------------------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d\d):(?P<m1>\d\d)-(?P<h2>\d\d):(?P<m2>\d\d)$"
)


def parse_hours(spec: str) -> tuple[list[int], int, int]:
    """``"mon-fri 09:00-17:30"`` → (weekdays 0-6, start minute, end minute). Raises ValueError."""
    m = _HOURS.match(spec.strip().lower())
    if not m:
        raise ValueError(f"{spec!r}: write it as 'mon-fri 09:00-17:00' or 'sat 10:00-14:00'")
    d1, d2 = m["d1"], m["d2"] or m["d1"]
    for day in (d1, d2):
        if day not in DAYS:
            raise ValueError(f"{spec!r}: unknown day {day!r} (use {', '.join(DAYS)})")
    start = int(m["h1"]) * 60 + int(m["m1"])
    end = int(m["h2"]) * 60 + int(m["m2"])
    if int(m["m1"]) > 59 or int(m["m2"]) > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"{spec!r}: times run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{spec!r}: the end must be after the start; split overnight spans in two")
    a, b = DAYS.index(d1), DAYS.index(d2)
    days = list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    return days, start, end


class TeamSettings(_Section):
    queue: str | None = None
    wait_minutes: int = Field(default=5, ge=0, le=24 * 60)
    skills: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    hours: list[str] = Field(default_factory=list)
    on_call: str | None = None
    on_call_wait_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # What the intent → team classifier looks for; None: the built-in list for this team name.
    keywords: list[str] | None = None
    examples: list[str] | None = None

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, keywords: list[str] | None) -> list[str] | None:
        if keywords:
            _check_terms(keywords)
        return keywords

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {zone!r} (an IANA name such as Europe/Paris)"
            ) from exc
        return zone

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: list[str]) -> list[str]:
        for i, spec in enumerate(hours):
            try:
                parse_hours(spec)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from exc
        return hours


MESSAGE_FIELDS = {"wait": "{wait}", "on_call": "{wait}", "unavailable": "{callback_time}"}
PLACEHOLDERS = frozenset({"wait", "callback_time", "team"})


class MessageTemplates(_Section):
    """What the customer is told, per language. Placeholders: {wait}, {callback_time}, {team}."""

    wait: str
    on_call: str
    unavailable: str

    @model_validator(mode="after")
    def _placeholders(self) -> MessageTemplates:
        for name in MESSAGE_FIELDS:
            text = getattr(self, name)
            try:
                used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
            unknown = used - PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"{name}: unknown placeholder(s) {sorted(unknown)}; "
                    f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
                )
        return self


DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "wait": "I'm passing this conversation to a person on our team. The wait is about {wait} minutes; "
                "they will see everything we have discussed, so you won't need to repeat it.",
        "on_call": "Our team is outside its usual hours, but someone on call will pick this up; the wait "
                   "is about {wait} minutes. They will see everything we have discussed.",
        "unavailable": "Nobody from our team is available right now, so I can't pass you to a person at "
                       "the moment. We can call you back or reply by e-mail from {callback_time}: tell me "
                       "which you prefer and how to reach you. Nothing we discussed will be lost.",
    },
    "es": {
        "wait": "Estoy pasando esta conversación a una persona de nuestro equipo. La espera es de unos "
                "{wait} minutos; verá todo lo que hemos hablado, así que no tendrá que repetirlo.",
        "on_call": "Nuestro equipo está fuera de su horario, pero una persona de guardia atenderá su caso; "
                   "la espera es de unos {wait} minutos.",
        "unavailable": "Ahora mismo no hay nadie de nuestro equipo disponible, así que no puedo pasarle con "
                       "una persona. Podemos llamarle o escribirle por correo a partir de {callback_time}: "
                       "dígame qué prefiere y cómo contactarle. No se perderá nada de lo hablado.",
    },
    "fr": {
        "wait": "Je transmets cette conversation à une personne de notre équipe. L'attente est d'environ "
                "{wait} minutes ; elle verra tout notre échange, vous n'aurez rien à répéter.",
        "on_call": "Notre équipe est en dehors de ses horaires, mais une personne d'astreinte va prendre "
                   "le relais ; l'attente est d'environ {wait} minutes.",
        "unavailable": "Personne de notre équipe n'est disponible pour le moment, je ne peux donc pas vous "
                       "mettre en relation maintenant. Nous pouvons vous rappeler ou vous répondre par "
                       "e-mail à partir de {callback_time} : dites-moi ce que vous préférez et comment "
                       "vous joindre. Rien de notre échange ne sera perdu.",
    },
    "de": {
        "wait": "Ich übergebe dieses Gespräch an eine Person aus unserem Team. Die Wartezeit beträgt etwa "
                "{wait} Minuten; sie sieht unseren ganzen Verlauf, Sie müssen nichts wiederholen.",
        "on_call": "Unser Team ist außerhalb der Geschäftszeiten, aber eine Person in Bereitschaft "
                   "übernimmt; die Wartezeit beträgt etwa {wait} Minuten.",
        "unavailable": "Gerade ist niemand aus unserem Team erreichbar, daher kann ich Sie im Moment nicht "
                       "an eine Person übergeben. Wir können Sie ab {callback_time} zurückrufen oder per "
                       "E-Mail antworten: Sagen Sie mir, was Ihnen lieber ist und wie wir Sie erreichen. "
                       "Nichts aus unserem Gespräch geht verloren.",
    },
    "pt": {
        "wait": "Estou passando esta conversa para uma pessoa da nossa equipe. A espera é de cerca de "
                "{wait} minutos; ela verá tudo o que conversamos, então você não precisará repetir.",
        "on_call": "Nossa equipe está fora do horário, mas uma pessoa de plantão vai assumir; a espera é "
                   "de cerca de {wait} minutos.",
        "unavailable": "No momento ninguém da nossa equipe está disponível, então não consigo passar você "
                       "para uma pessoa agora. Podemos ligar de volta ou responder por e-mail a partir de "
                       "{callback_time}: diga o que prefere e como falar com você. Nada do que "
                       "conversamos será perdido.",
    },
}  # fmt: skip


def default_teams() -> dict[str, TeamSettings]:
    weekdays = ["mon-fri 08:00-20:00"]
    return {
        "general": TeamSettings(queue="support", wait_minutes=5, skills=["general"]),
        "billing": TeamSettings(queue="billing", wait_minutes=10, skills=["billing", "refunds"],
                                timezone="Europe/London", hours=weekdays),
        "technical": TeamSettings(queue="tech-support", wait_minutes=10, skills=["technical"],
                                  timezone="Europe/London", hours=["mon-sun 07:00-23:00"],
                                  on_call="tech-on-call", on_call_wait_minutes=30),
        "fraud": TeamSettings(queue="fraud", wait_minutes=3, skills=["fraud", "security"]),
        "retention": TeamSettings(queue="retention", wait_minutes=10, skills=["retention"],
                                  timezone="Europe/London", hours=["mon-sat 08:00-20:00"]),
        "sales": TeamSettings(queue="sales", wait_minutes=5, skills=["sales"],
                              timezone="America/New_York", hours=["mon-fri 09:00-18:00"]),
        "partners": TeamSettings(queue="partners", wait_minutes=60, skills=["procurement"],
                                 timezone="Europe/London", hours=["mon-fri 09:00-17:00"]),
    }  # fmt: skip


class RoutingSettings(_Section):
    default_team: str = "general"
    default_language: str = "en"
    priority_tags: list[str] = Field(default_factory=lambda: ["vip"])
    priority_tiers: list[str] = Field(default_factory=lambda: ["gold", "platinum", "enterprise"])
    wait_history: int = Field(default=20, ge=1, le=1000)
    wait_min_samples: int = Field(default=3, ge=1, le=1000)
    wait_percentile: int = Field(default=75, ge=1, le=100)
    messages: dict[str, MessageTemplates] = Field(
        default_factory=lambda: {k: MessageTemplates(**v) for k, v in DEFAULT_MESSAGES.items()}
    )
    teams: dict[str, TeamSettings] = Field(default_factory=default_teams)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingSettings:
        if self.default_team not in self.teams:
            raise ValueError(f"default_team {self.default_team!r} is not one of teams")
        if self.default_language not in self.messages:
            raise ValueError(f"default_language {self.default_language!r} has no messages")
        return self


# --- payload --------------------------------------------------------------------------------

DEFAULT_DRAFTS: dict[str, str] = {
    "billing": "I'm looking at the charges on your account now and will confirm what happened and "
               "what the next step is.",
    "fraud": "Your security comes first: I'm reviewing the activity on your account now and will tell "
             "you straight away what we have secured.",
    "technical": "I'm checking what is going wrong on our side and will walk you through the fix.",
    "retention": "I'm sorry to hear you're thinking of leaving. I'm looking at your account so we can "
                 "go through your options together.",
    "sales": "I'd be glad to help with that. I'm pulling together the details and options that fit "
             "what you described.",
    "partners": "Thanks for getting in touch. I'm passing your message to the right person on our "
                "partner team.",
    "general": "I'm looking into this for you now.",
}  # fmt: skip


class PayloadSettings(_Section):
    tone: Literal["friendly", "formal"] = "friendly"
    drafts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DRAFTS))

    @field_validator("drafts")
    @classmethod
    def _fallback(cls, drafts: dict[str, str]) -> dict[str, str]:
        if "general" not in drafts:
            raise ValueError("a 'general' draft is required (used when no intent or team matches)")
        return drafts


def check_policy(policy: PolicySettings, routing: RoutingSettings) -> list[tuple[str, str]]:
    """Checks across sections: every team a rule names must be a routing team."""
    problems: list[tuple[str, str]] = []
    teams = list(routing.teams)
    for i, rule in enumerate(policy.rules):
        team = rule.then.team
        if team is not None and team not in routing.teams:
            close = difflib.get_close_matches(team, teams, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                (
                    f"policy.rules[{i}].then.team",
                    f"unknown team {team!r}{hint}; teams: {', '.join(teams)}",
                )
            )
    return problems
