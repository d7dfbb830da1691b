"""The ``routing`` section of the configuration: teams, their hours and on-call, and what the
customer is told about the wait, per language. ``connector/routing.py`` applies it.
"""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connector.policy_config import Section
from connector.signals.text import check_terms

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


def _iso_day(day: Any) -> bool:
    """A date, or its ISO text ``2026-12-25`` (YAML reads an unquoted one as a date already)."""
    if isinstance(day, date):
        return True
    if not isinstance(day, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", day):
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


class TeamSettings(Section):
    queue: str | None = None
    wait_minutes: int = Field(default=5, ge=0, le=24 * 60)
    skills: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    hours: list[str] = Field(default_factory=list)
    on_call: str | None = None
    on_call_wait_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Whole days the team is closed although its hours say open (public holidays), as ISO dates
    # in the team's time zone: no response window counts them, and nobody is promised on them.
    holidays: list[date] = Field(default_factory=list)
    # What the intent → team classifier looks for; None: the built-in list for this team name.
    keywords: list[str] | None = None
    examples: list[str] | None = None
    # Bridge messages (connector/live.py), by language ("en", "fr", …; "*" for any other), with
    # {agent}, {team}, {topic}: the agent's first words when they take over (None: none; {}: the
    # built-in en/fr/es/de lines), and what the bot relays when the agent hands back ({}: nothing).
    # Off by default: a bot that relays every customer.update would otherwise change behaviour.
    bridge_join: dict[str, str] | None = None
    bridge_handback: dict[str, str] = Field(default_factory=dict)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, keywords: list[str] | None) -> list[str] | None:
        if keywords:
            check_terms(keywords)
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

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, holidays: Any) -> Any:
        for i, day in enumerate(holidays if isinstance(holidays, list) else ()):
            if not _iso_day(day):
                raise ValueError(f"item {i}: {day!r} is not a date; write it as 2026-12-25")
        return holidays

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
MESSAGE_FIELDS.update(after_hours="{callback_time}", after_hours_email="")
PLACEHOLDERS = frozenset({"wait", "callback_time", "team"})


class MessageTemplates(Section):
    """What the customer is told, per language. Placeholders: {wait}, {callback_time}, {team}."""

    wait: str
    on_call: str
    unavailable: str
    # Outside the team's hours with nobody on call: the handoff waits for the team, and the
    # customer is told when someone will answer ({callback_time}: the team's next opening), or,
    # when no opening is known, that the answer comes by e-mail. None: the built-in text for the
    # language (AFTER_HOURS), else ``unavailable``.
    after_hours: str | None = None
    after_hours_email: str | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> MessageTemplates:
        for name in MESSAGE_FIELDS:
            text = getattr(self, name)
            if text is None:
                continue
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


# Built-in ``after_hours`` / ``after_hours_email`` texts by language, for message sets that do not
# set them (kept apart from DEFAULT_MESSAGES so configs written before these keys stay valid).
AFTER_HOURS: dict[str, dict[str, str]] = {
    "en": {
        "after_hours": "Our {team} team is closed right now. Your conversation is waiting for them and "
                       "someone will answer from {callback_time}; they will see everything we have "
                       "discussed. If you would rather be called back or get an e-mail then, tell me how "
                       "to reach you.",
        "after_hours_email": "Our {team} team is away right now. Your conversation is waiting for them "
                             "and someone will answer by e-mail as soon as they are back; tell me the "
                             "address to use if it is not the one on your account. Nothing we discussed "
                             "will be lost.",
    },
    "es": {
        "after_hours": "Nuestro equipo está cerrado en este momento. Su conversación le espera y una "
                       "persona le responderá a partir de {callback_time}; verá todo lo que hemos "
                       "hablado. Si prefiere que le llamemos o le escribamos por correo entonces, dígame "
                       "cómo contactarle.",
        "after_hours_email": "Nuestro equipo no está disponible en este momento. Su conversación le "
                             "espera y una persona le responderá por correo en cuanto vuelva; dígame qué "
                             "dirección usar si no es la de su cuenta. No se perderá nada de lo hablado.",
    },
    "fr": {
        "after_hours": "Notre équipe est fermée pour le moment. Votre conversation l'attend et une "
                       "personne vous répondra à partir de {callback_time} ; elle verra tout notre "
                       "échange. Si vous préférez être rappelé ou recevoir un e-mail à ce moment-là, "
                       "dites-moi comment vous joindre.",
        "after_hours_email": "Notre équipe est absente pour le moment. Votre conversation l'attend et "
                             "une personne vous répondra par e-mail dès son retour ; indiquez-moi "
                             "l'adresse à utiliser si ce n'est pas celle de votre compte. Rien de notre "
                             "échange ne sera perdu.",
    },
    "de": {
        "after_hours": "Unser Team ist gerade nicht besetzt. Ihr Gespräch wartet auf das Team, und ab "
                       "{callback_time} antwortet Ihnen eine Person; sie sieht unseren ganzen Verlauf. "
                       "Wenn Sie dann lieber einen Rückruf oder eine E-Mail möchten, sagen Sie mir, wie "
                       "wir Sie erreichen.",
        "after_hours_email": "Unser Team ist gerade nicht erreichbar. Ihr Gespräch wartet auf das Team, "
                             "und sobald es zurück ist, antwortet Ihnen eine Person per E-Mail; nennen "
                             "Sie mir die Adresse, falls es nicht die Ihres Kontos ist. Nichts aus "
                             "unserem Gespräch geht verloren.",
    },
    "pt": {
        "after_hours": "Nossa equipe está fechada agora. Sua conversa está aguardando a equipe e uma "
                       "pessoa responderá a partir de {callback_time}; ela verá tudo o que conversamos. "
                       "Se preferir receber uma ligação ou um e-mail nesse momento, diga como falar com "
                       "você.",
        "after_hours_email": "Nossa equipe não está disponível agora. Sua conversa está aguardando a "
                             "equipe e uma pessoa responderá por e-mail assim que ela voltar; diga qual "
                             "endereço usar se não for o da sua conta. Nada do que conversamos será "
                             "perdido.",
    },
}  # fmt: skip


def after_hours_text(templates: MessageTemplates, language: str, *, known_time: bool) -> str:
    """What the customer is told outside the team's hours: the language's own ``after_hours``
    (or ``after_hours_email`` when no opening is known), else the built-in one, else
    ``unavailable``."""
    key = "after_hours" if known_time else "after_hours_email"
    own: str | None = getattr(templates, key)
    return own or AFTER_HOURS.get(language, {}).get(key) or templates.unavailable


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


class RoutingSettings(Section):
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
