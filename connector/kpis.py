"""Handoff-quality KPIs: pure functions over the rows ``Tx.report_data`` returns.

No store, no clock: the caller passes the rows and the period. Definitions (also in
docs/operations.md):

- handoff rate: handoffs opened / conversations started in the period;
- first response: handoff opened → first agent reply or take-over (p50, p90);
- handle time: the bot's stretch (conversation start → handoff) and the human's (first agent
  response → handback by an agent);
- routing accuracy: share of handoffs never reassigned by the helpdesk (timeout reroutes are not
  routing misses);
- draft usage: share of handoffs with a draft whose draft was used (copied, inserted or sent), and
  the share of sent drafts sent unedited;
- repeat-context rate: share of handoffs with messages after the handoff where the agent asked for
  something the payload already held, or the customer restated it (simple text signals below);
- CSAT: mean of the scores the helpdesk reported.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

TARGETS = {
    "repeat_context_max": 0.05,
    "routing_accuracy_min": 0.90,
    "draft_usage_min": 0.50,
    "draft_usage_max": 0.70,
}
DRAFT_USED = frozenset({"copied", "inserted", "sent_unedited", "sent_edited", "used", "sent"})
DRAFT_SENT = frozenset({"sent_unedited", "sent_edited"})

_SINCE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.I)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``24h``, ``30m``, ``2w``, or an ISO date/time; raise ``ValueError`` saying what works."""
    match = _SINCE.match(text or "")
    if match:
        amount = int(match.group(1))
        if amount > 3650 * 86_400 // _UNITS[match.group(2).lower()]:
            raise ValueError(f"--since {text!r} is too far back (at most ten years)")
        return now - timedelta(seconds=amount * _UNITS[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(
            f"--since {text!r} is not a period (7d, 24h, 30m, 2w) or a date (2024-05-01)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ValueError(f"--since {text!r} is in the future")
    return moment


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- repeat context: simple text signals ----------------------------------------------------------

_ASKING = re.compile(
    r"\?|\b(could|can|would) you (please )?(tell|give|send|share|confirm|provide)|"
    r"\bplease (tell|give|send|share|confirm|provide)|\bmay i (have|get)|\bwhat('s| is) your\b",
    re.I,
)
_ASKS_FOR = {
    "email": re.compile(r"\be-?mail\b", re.I),
    "phone": re.compile(r"\b(phone|mobile|telephone)\b", re.I),
    "name": re.compile(r"\b(your (full )?name|who am i (speaking|talking) (to|with))\b", re.I),
    "reference": re.compile(
        r"\b(order|invoice|account|booking|reference|ticket)\s*(number|no\.?|id|#)", re.I
    ),
    "issue": re.compile(
        r"\b(what('s| is) the (issue|problem)|how can i help|describe (the|your) (issue|problem)|"
        r"what (seems to be|happened))\b",
        re.I,
    ),
}
_ID_TOKEN = re.compile(r"\b(?:[A-Z]{2,6}-?\d{3,}|#\d{3,}|\d{5,})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_WORD = re.compile(r"[a-z0-9']{3,}")
_STOP = frozenset(
    "the and you your for with that this have was were are not but can our from they them "
    "what when will would could please thanks thank just about there their been has had".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def agent_asks_known(text: str, known: dict[str, Any]) -> str | None:
    """The category an agent message asks for that the payload already held, else None."""
    if not _ASKING.search(text):
        return None
    customer = known.get("customer") or {}
    texts = " ".join(known.get("customer_texts") or [])
    held = {
        "email": bool(customer.get("email")),
        "phone": bool(customer.get("phone")),
        "name": bool(customer.get("name")),
        "reference": bool(_ID_TOKEN.search(texts)),
        "issue": bool(texts.strip()),
    }
    for category, pattern in _ASKS_FOR.items():
        if held[category] and pattern.search(text):
            return category
    return None


def customer_restates(text: str, known: dict[str, Any]) -> bool:
    """A customer message after the handoff that repeats an id, contact detail or earlier message."""
    customer = known.get("customer") or {}
    before = known.get("customer_texts") or []
    lowered = text.lower()
    for value in (customer.get("email"), customer.get("phone")):
        if value and str(value).lower() in lowered:
            return True
    earlier_ids = set(_ID_TOKEN.findall(" ".join(before)))
    if earlier_ids & set(_ID_TOKEN.findall(text)):
        return True
    words = _content_words(text)
    if len(words) >= 4:
        for old in before:
            old_words = _content_words(old)
            if old_words and len(words & old_words) / len(words) >= 0.6:
                return True
    return False


# --- the KPIs ----------------------------------------------------------------------------------------


def compute(data: dict[str, Any], *, team: str | None = None) -> dict[str, Any]:
    """Every KPI of the report from ``Tx.report_data`` rows; ``team`` keeps the team's handoffs only."""
    facts_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in data["facts"]:
        facts_by[fact["handoff_id"]].append(fact)

    def original_team(h: dict[str, Any]) -> str | None:
        for f in facts_by.get(h["id"], ()):
            if f["kind"] in ("reassigned", "rerouted"):
                return f["data"].get("from_team")  # type: ignore[no-any-return]
        return h["team"]  # type: ignore[no-any-return]

    teams_of = {h["id"]: original_team(h) for h in data["handoffs"]}
    handoffs = [h for h in data["handoffs"] if team is None or teams_of[h["id"]] == team]
    ids = {h["id"] for h in handoffs}
    anomalies = 0

    first_response: list[float] = []
    first_by_team: dict[str, list[float]] = defaultdict(list)
    bot_stretch: list[float] = []
    human_stretch: list[float] = []
    reassigned_by_team: Counter[str] = Counter()
    handoffs_by_team: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    intents: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    csat: list[float] = []
    csat_scale = 5.0
    timed_out = 0
    for h in handoffs:
        opened = _dt(h["created_at"])
        own = facts_by.get(h["id"], [])
        kinds = {f["kind"] for f in own}
        t = teams_of[h["id"]] or "-"
        handoffs_by_team[t] += 1
        if "reassigned" in kinds:
            reassigned_by_team[t] += 1
        day = h["created_at"][:10]
        for reason in h["reasons"] or ["unknown"]:
            per_day[day][reason] += 1
            reasons[reason] += 1
        intents[h["intent"] or "unknown"] += 1
        started = _dt(h["conversation_created_at"])
        if opened and started:
            seconds = (opened - started).total_seconds()
            if seconds < 0:
                anomalies += 1
            else:
                bot_stretch.append(seconds)
        first = (
            next((f for f in own if f["kind"] == "first_response"), None)
            if "first_response" in kinds
            else None
        )
        if first is not None and opened:
            if "clock_skew_seconds" in first["data"]:
                anomalies += 1
            seconds = float(first["data"].get("seconds", 0.0))
            first_response.append(seconds)
            first_by_team[t].append(seconds)
        if h["handback_actor"] == "connector:timer":
            timed_out += 1
        elif first is not None and h["handback_at"]:
            begin, end = _dt(first["at"]), _dt(h["handback_at"])
            if begin and end:
                seconds = (end - begin).total_seconds()
                if seconds < 0:
                    anomalies += 1
                else:
                    human_stretch.append(seconds)
        for f in own if "csat" in kinds else ():
            if f["kind"] == "csat" and "score" in f["data"]:
                csat.append(float(f["data"]["score"]))
                csat_scale = float(f["data"].get("scale", csat_scale))

    # repeat context
    asks: Counter[str] = Counter()
    restated = 0
    repeated: set[str] = set()
    observed: set[str] = set()
    handback_at = {h["id"]: _dt(h["handback_at"]) for h in handoffs}
    for message in data["post_messages"]:
        hid = message["handoff_id"]
        if hid not in ids:
            continue
        at, end = _dt(message.get("at")), handback_at.get(hid)
        if at and end and at > end:
            continue  # after the handback the customer talks to the bot again
        observed.add(hid)
        known = data["known"].get(hid) or {}
        if message["role"] == "agent":
            category = agent_asks_known(message["text"], known)
            if category:
                asks[category] += 1
                repeated.add(hid)
        elif customer_restates(message["text"], known):
            restated += 1
            repeated.add(hid)

    # drafts
    drafts = data["drafts"]
    with_draft = sum(1 for h in handoffs if h["has_draft"])
    used = {
        e["handoff_id"]
        for e in drafts["events"]
        if e["handoff_id"] in ids and e["action"] in DRAFT_USED
    }
    sent = [e for e in drafts["events"] if e["handoff_id"] in ids and e["action"] in DRAFT_SENT]

    n = len(handoffs)
    conversations = data["conversations"]
    reassigned = sum(reassigned_by_team.values())
    return {
        "since": data["since"],
        "until": data["until"],
        "team": team,
        "conversations": conversations,
        "handoffs": n,
        "handoff_rate": _share(n, conversations) if conversations >= n else None,
        "first_response": {
            "count": len(first_response),
            "p50": percentile(first_response, 50),
            "p90": percentile(first_response, 90),
            "values": first_response,
            "by_team": {k: percentile(v, 50) for k, v in sorted(first_by_team.items())},
        },
        "handle_time": {
            "bot_p50": percentile(bot_stretch, 50),
            "human_p50": percentile(human_stretch, 50),
            "bot_count": len(bot_stretch),
            "human_count": len(human_stretch),
        },
        "routing": {
            "accuracy": _share(n - reassigned, n),
            "reassigned": reassigned,
            "by_team": {
                k: {
                    "handoffs": v,
                    "reassigned": reassigned_by_team[k],
                    "accuracy": _share(v - reassigned_by_team[k], v),
                }
                for k, v in sorted(handoffs_by_team.items())
            },
        },
        "drafts": {
            "available": drafts["available"],
            "with_draft": with_draft,
            "used": len(used),
            "usage": _share(len(used), with_draft) if drafts["available"] else None,
            "sent": len(sent),
            "unedited_share": _share(
                sum(1 for e in sent if e["action"] == "sent_unedited"), len(sent)
            ),
        },
        "repeat_context": {
            "observed": len(observed),
            "handoffs": len(repeated),
            "rate": _share(len(repeated), len(observed)),
            "agent_asks": dict(asks),
            "customer_restates": restated,
        },
        "csat": {
            "responses": len(csat),
            "mean": sum(csat) / len(csat) if csat else None,
            "scale": csat_scale,
        },
        "timed_out": timed_out,
        "per_day": {day: dict(counts) for day, counts in sorted(per_day.items())},
        "top_intents": intents.most_common(10),
        "top_reasons": reasons.most_common(10),
        "clock_anomalies": anomalies,
        "targets": TARGETS,
    }
