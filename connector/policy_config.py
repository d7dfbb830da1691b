"""The ``policy`` and ``payload`` sections of the configuration (``routing`` is in ``routing_config``).

Kept apart from :mod:`connector.config` because the rule schema is most of the configuration's
surface; ``config.py`` composes these models into ``Settings`` and re-exports them.

A rule is ``{id, when: {trigger, ...parameters}, then: {escalate, team, queue, priority, tags}}``.
``when`` is one flat model: every parameter has its range checked by pydantic (so an error reads
``policy.rules[3].when.threshold: ...``), the trigger name is checked with a "did you mean", and a
parameter that does not belong to the trigger is an error rather than silently ignored. Checks
that need two sections at once (a rule's team must be a routing team) live in
:func:`connector.config.check_policy`, which ``load_config`` runs after validation.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.generator_config import GeneratorSettings
from connector.payload_text import DRAFT_LANGUAGES, LINES
from connector.signals.human_request import DEFAULT_HUMAN_PATTERNS
from connector.signals.text import check_terms
from connector.signals.topics import DEFAULT_CONTACT_TYPES, DEFAULT_POLICY_TOPICS_BY_LANGUAGE

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


# --- policy ---------------------------------------------------------------------------------

# Which parameters each trigger takes. The keys are the trigger vocabulary of DESIGN.md.
TRIGGER_PARAMS: dict[str, frozenset[str]] = {
    "human_request": frozenset({"languages", "patterns", "last"}),
    "frustration": frozenset({"threshold", "window"}),
    "low_confidence": frozenset({"threshold", "intents"}),
    "policy_topic": frozenset({"groups", "languages", "last"}),
    "customer_tag": frozenset({"tags", "tiers"}),
    "tool_failure": frozenset({"max_failures", "window"}),
    "buying_intent": frozenset({"terms", "exclude", "last"}),
    "repeated_failure": frozenset(
        {"max_fallbacks", "max_rephrasings", "max_bot_failures", "similarity", "window"}
    ),
    "contact_type": frozenset({"types", "last"}),
    "bot_recommended": frozenset(),
}
TRIGGERS = tuple(TRIGGER_PARAMS)

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


def _check_groups(groups: dict[str, Any], builtin: dict[str, Any], what: str) -> None:
    for name, terms in groups.items():
        if not terms and name not in builtin:
            known = ", ".join(builtin)
            raise ValueError(
                f"{name}: no built-in {what} of that name (built-in: {known}); list its terms"
            )
        if isinstance(terms, dict):  # per language: {es: [], custom: [...]}
            _check_languages(name, terms, builtin.get(name) or {}, what)
        else:
            check_terms(terms, f"{name}: ")


def _check_languages(name: str, terms: dict[str, list[str]], builtin: Any, what: str) -> None:
    for lang, own in terms.items():
        if not own and lang not in builtin:
            known = ", ".join(builtin) or "none"
            raise ValueError(
                f"{name}.{lang}: no built-in {what} terms in that language "
                f"(built-in: {known}); list its terms"
            )
        check_terms(own, f"{name}.{lang}: ")


class When(Section):
    """``when``: the trigger and its parameters. Omitted parameters take the signal's default."""

    trigger: str
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    intents: dict[str, Unit] = Field(default_factory=dict)
    # a topic's terms: a list (empty: built-in), or per language ({es: [], custom: [...]})
    groups: dict[str, list[str] | dict[str, list[str]]] | None = None
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
    max_bot_failures: int = Field(default=2, ge=1, le=100)
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
            check_terms(terms)
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
    def _groups(
        cls, groups: dict[str, list[str] | dict[str, list[str]]] | None
    ) -> dict[str, list[str] | dict[str, list[str]]] | None:
        if groups is not None:
            _check_groups(groups, dict(DEFAULT_POLICY_TOPICS_BY_LANGUAGE), "policy topic")
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


class Then(Section):
    """``then``: what the rule decides when its trigger fires."""

    escalate: bool = True
    team: str | None = None  # None: the intent → team classifier picks
    queue: str | None = None  # None: the team's queue
    priority: Priority | None = None  # None: normal
    tags: list[str] = Field(default_factory=list)


class Rule(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = ""
    when: When
    then: Then = Field(default_factory=Then)


class Guardrail(Section):
    """Words a draft reply must never contain (a promise only a person may make)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    forbid: list[str] = Field(min_length=1)
    note: str = ""

    @field_validator("forbid")
    @classmethod
    def _compile(cls, terms: list[str]) -> list[str]:
        check_terms(terms)
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
        _rule("asks_for_person", {"trigger": "human_request", "languages": ["en", "es", "fr", "de", "pt", "it", "nl"]},
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
        _rule("repeated_failure", {"trigger": "repeated_failure", "max_fallbacks": 2, "max_rephrasings": 2,
                                   "max_bot_failures": 2},
              "the bot failed twice or the customer rephrased twice"),
        _rule("low_confidence", {"trigger": "low_confidence", "threshold": 0.4,
                                 "intents": {"billing": 0.6, "refund": 0.7, "cancel": 0.6, "fraud": 0.8}},
              "the bot is not sure what the customer wants"),
        _rule("buying_to_sales", {"trigger": "buying_intent"},
              "a buying signal: a person follows up; routing picks the team (a fee question is billing)"),
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


# Escalation reasons the learned model may add, and the probability each needs. High on purpose:
# the model only adds escalations the rules missed, and a false handoff costs an agent's time.
MODEL_REASONS: tuple[str, ...] = ("human_request", "policy_topic", "buying_intent", "frustration")
DEFAULT_MODEL_THRESHOLDS: dict[str, float] = {
    "human_request": 0.8, "policy_topic": 0.85, "buying_intent": 0.85, "frustration": 0.8,
}  # fmt: skip


class ModelSettings(Section):
    """``policy.model``: the learned signal beside the rules (docs/policy.md, "The learned signal").

    It speaks only where the rules did not: an escalation no rule fired (``model_<reason>``, which
    extends the first escalating rule of that trigger and takes its ``then``), and the team when no
    rule, bot intent or team keyword names one. Without the ``[ml]`` extra the rules run alone.
    """

    enabled: bool = True
    artefact: str | None = None  # None: the artefact shipped with the package
    thresholds: dict[str, Unit] = Field(default_factory=lambda: dict(DEFAULT_MODEL_THRESHOLDS))
    team_threshold: Unit = 0.5
    sentiment_threshold: Unit = 0.6

    @field_validator("thresholds")
    @classmethod
    def _known_reasons(cls, thresholds: dict[str, float]) -> dict[str, float]:
        for reason in thresholds:
            if reason not in MODEL_REASONS:
                raise ValueError(
                    f"unknown reason {reason!r}; the model speaks for {', '.join(MODEL_REASONS)}"
                )
        return thresholds


class PolicySettings(Section):
    rules: list[Rule] = Field(default_factory=default_rules)
    guardrails: list[Guardrail] = Field(default_factory=default_guardrails)
    model: ModelSettings = Field(default_factory=ModelSettings)

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


# --- payload --------------------------------------------------------------------------------

# The English team lines of the draft (connector/payload_text.py writes every language's).
TEAM_DRAFTS = ("billing", "fraud", "technical", "retention", "sales", "partners", "general")
DEFAULT_DRAFTS: dict[str, str] = {team: str(LINES["en"][team]) for team in TEAM_DRAFTS}


class PayloadSettings(Section):
    tone: Literal["friendly", "formal"] = "friendly"
    drafts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DRAFTS))
    generator: GeneratorSettings | None = None  # the optional model (docs/generator.md)

    @field_validator("drafts")
    @classmethod
    def _fallback(cls, drafts: dict[str, str]) -> dict[str, str]:
        if "general" not in drafts:
            raise ValueError("a 'general' draft is required (used when no intent or team matches)")
        for key in drafts:
            lang, colon, _ = key.partition(":")
            if colon and lang not in DRAFT_LANGUAGES:
                raise ValueError(
                    f"{key!r}: drafts are written in {', '.join(DRAFT_LANGUAGES)} "
                    "(a plain key is English, 'es:billing' Spanish)"
                )
        return drafts
