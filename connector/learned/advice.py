"""What the learned model adds to a decision the rules already made.

The rules go first and explain themselves. The model then speaks only where they did not:

- **escalation**: when no rule fired, the escalation head's most probable reason whose probability
  reaches its threshold (``policy.model.thresholds``) becomes reason ``model_<reason>``. The model
  only *extends* a rule: the reason must be the trigger of an escalating rule that uses its
  built-in vocabulary (a ``human_request`` rule with the ``en`` patterns, a ``policy_topic`` rule
  with a built-in group, ``buying_intent`` with the built-in terms, any ``frustration`` rule),
  since that vocabulary is what the heads learned. The decision then takes that rule's ``then``
  (priority, tags, queue, team): an operator who replaced the words or dropped the rule is not
  second-guessed;
- **team**: when the deciding rule names no team and the bot named no intent, the team head's
  ranking is written to ``Decision.learned`` as ``model_team`` (:func:`proposed_team` reads it back).
  Routing uses it when no team keyword matched and the top team's probability reaches
  ``policy.model.team_threshold``: keywords are rules, and rules go first.

Every line it writes names the model version (the artefact's weights hash), the embedding model,
the score and the threshold; when it stays silent, ``Decision.learned`` says what it saw; when it
cannot load, ``Decision.learned`` says why and the rules decide alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.learned import active_model
from connector.policy_config import ModelSettings
from connector.schemas import Reason

TRIGGER = "model"


@dataclass
class Advice:
    """The model's contribution: at most one escalation reason, plus notes (``checked``, which
    the policy puts in ``Decision.learned``: the rules' own ``checked`` lists rules only)."""

    escalation: Reason | None = None
    extends: Any = None  # the rule whose reason the model added (its ``then`` applies)
    checked: list[Reason] = field(default_factory=list)
    version: str | None = None


def _has_bot_intent(inputs: Any) -> bool:
    if inputs.bot is not None and inputs.bot.intent is not None and inputs.bot.intent.name:
        return True
    return any(getattr(m, "intent", None) for m in inputs.messages)


def advise(
    inputs: Any,
    settings: ModelSettings,
    *,
    rules: Sequence[Any] = (),
    rules_escalated: bool,
    rule_team: str | None,
) -> Advice:
    """The model's advice for one decision (see the module docstring). Never raises."""
    advice = Advice()
    if not settings.enabled:
        return advice
    if not any(getattr(m, "role", None) == "customer" for m in inputs.new_messages):
        return advice
    model, why = active_model(settings.artefact)
    if model is None:
        advice.checked.append(
            Reason(
                trigger=TRIGGER,
                rule="model",
                detail=f"learned model unavailable ({why}): rules alone",
            )
        )
        return advice
    advice.version = model.version
    label = f"model {model.version} ({model.embedding_model})"
    try:
        if not rules_escalated:
            _escalation(advice, model, inputs, settings, label, rules)
        if rule_team is None and not _has_bot_intent(inputs):
            _team(advice, model, inputs, settings, label)
    except Exception as exc:  # noqa: BLE001 - the model failing must never lose the rules' decision
        advice.escalation = None
        advice.checked.append(
            Reason(
                trigger=TRIGGER, rule="model", detail=f"{label} failed: {exc.__class__.__name__}"
            )
        )
    return advice


def _builtin(rule: Any) -> bool:
    when = rule.when
    if when.trigger == "human_request":
        return when.languages is None or "en" in when.languages
    if when.trigger == "policy_topic":
        return when.groups is None or any(not terms for terms in when.groups.values())
    if when.trigger == "buying_intent":
        return not when.terms
    return when.trigger == "frustration"


def extendable(rules: Sequence[Any]) -> dict[str, Any]:
    """Reason → the first escalating rule with that trigger and its built-in vocabulary."""
    out: dict[str, Any] = {}
    for rule in rules:
        if rule.then.escalate and _builtin(rule):
            out.setdefault(rule.when.trigger, rule)
    return out


def _escalation(
    advice: Advice, model: Any, inputs: Any, settings: ModelSettings, label: str, rules: Any
) -> None:
    ranking = model.rank("escalation", inputs.messages)
    if not ranking:
        return
    extends = extendable(rules)
    for reason, score in ranking:
        threshold = settings.thresholds.get(reason)
        if threshold is not None and score >= threshold and reason in extends:
            advice.extends = extends[reason]
            advice.escalation = Reason(
                trigger=TRIGGER,
                rule=f"model_{reason}",
                detail=f"{label}: {reason} {score:.2f} >= threshold {threshold:.2f} "
                f"(extends rule {extends[reason].id})",
            )
            return
    top = ", ".join(f"{r} {s:.2f}" for r, s in ranking[:3])
    advice.checked.append(
        Reason(
            trigger=TRIGGER,
            rule="model_escalation",
            detail=f"{label}: no reason reached its threshold ({top})",
        )
    )


_PROPOSAL = re.compile(r": team (?P<team>[\w.-]+) (?P<score>[0-9.]+) >= threshold")


def _team(advice: Advice, model: Any, inputs: Any, settings: ModelSettings, label: str) -> None:
    ranking = model.rank("team", inputs.messages)
    if not ranking:
        return
    team, score = ranking[0]
    top = ", ".join(f"{t} {s:.2f}" for t, s in ranking[:3])
    if score >= settings.team_threshold:
        detail = (
            f"{label}: team {team} {score:.2f} >= threshold {settings.team_threshold:.2f} ({top})"
        )
    else:
        detail = f"{label}: no team reached {settings.team_threshold:.2f} ({top})"
    advice.checked.append(Reason(trigger=TRIGGER, rule="model_team", detail=detail))


def proposed_team(checked: Sequence[Reason]) -> tuple[str, float, str] | None:
    """``(team, probability, detail)`` the model proposed in a decision's ``learned``, if any."""
    for reason in checked:
        if reason.rule == "model_team":
            found = _PROPOSAL.search(reason.detail)
            if found:
                return found["team"], float(found["score"]), reason.detail
    return None


def learned_sentiment(
    messages: Sequence[Any],
    settings: ModelSettings,
    rules_label: str,
    unit: str = "last_user_message",
) -> tuple[str, str | None]:
    """The sentiment label after the model's say, and the cue that says why (None: unchanged).

    The rules' label stands unless the sentiment head gives Frustrated at least
    ``settings.sentiment_threshold`` (frustration without anger words), or the rules read Neutral
    (no cue either way) and the head's top label reaches the threshold. Never raises.
    """
    if not settings.enabled or rules_label == "Frustrated":
        return rules_label, None
    model, _ = active_model(settings.artefact)
    if model is None:
        return rules_label, None
    try:
        ranking = model.rank("sentiment", messages, unit)
    except Exception:  # noqa: BLE001 - the rules' label stands
        return rules_label, None
    if not ranking:
        return rules_label, None
    scores = dict(ranking)
    threshold = settings.sentiment_threshold
    top, score = ranking[0]
    if scores.get("Frustrated", 0.0) >= threshold:
        top, score = "Frustrated", scores["Frustrated"]
    elif rules_label != "Neutral" or score < threshold:
        return rules_label, None
    if top == rules_label:
        return rules_label, None
    return top, f"model {model.version}: {top} {score:.2f} >= threshold {threshold:.2f}"
