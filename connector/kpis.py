"""Handoff-quality KPIs: one summary row per handoff, and the period's KPIs summed from the rows.

Pure: no store, no clock. ``handoff_row`` turns one handoff's facts into its KPI row; the store
keeps that row in ``handoff_kpis`` (written in the same transaction as the facts, see
``Tx.refresh_handoff_kpis``), and ``aggregate`` sums the rows of a period. ``compute`` is the slow
path from the raw rows of ``Tx.report_data``; it builds the same rows and must give the same KPIs
(a test computes both on one store). Definitions, with the timestamps each one reads, are in
docs/kpis.md:

- handoff rate: handoffs opened / conversations started in the period;
- first response: handoff opened → first agent reply or take-over (p50, p90);
- handle time: the bot's stretch (the first turn's own timestamp → the last turn before the
  handoff) and the human's (first agent response → handback by an agent);
- routing accuracy: of the handoffs an agent acted on, the share never reassigned by the helpdesk
  (timeout reroutes are not routing misses); no agent activity → no data;
- draft usage: share of handoffs with a draft whose draft was used (copied, inserted or sent), and
  the share of sent drafts sent unedited;
- repeat-context rate: share of handoffs with messages after the handoff where the agent asked for
  something the payload already held, or the customer restated it;
- CSAT: mean of the latest score each handoff received.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import compress
from operator import mul
from typing import Any

from connector.repeat_context import agent_asks_known, customer_restates

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


def parse_since(text: str, now: datetime, *, label: str = "--since") -> datetime:
    """``7d``, ``24h``, ``30m``, ``2w``, or an ISO date/time; raise ``ValueError`` saying what works.

    ``label`` names the input in the message: the CLI option, or the web form's field."""
    match = _SINCE.match(text or "")
    if match:
        amount = int(match.group(1))
        if amount > 3650 * 86_400 // _UNITS[match.group(2).lower()]:
            raise ValueError(f"{label} {text!r} is too far back (at most ten years)")
        return now - timedelta(seconds=amount * _UNITS[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(
            f"{label} {text!r} is not a period (7d, 24h, 30m, 2w) or a date (2024-05-01)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ValueError(f"{label} {text!r} is in the future")
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


# --- one row per handoff -------------------------------------------------------------------------

# The columns of a KPI row, in the order the store keeps them (``handoff_kpis``).
ROW_FIELDS = (
    "handoff_id",
    "created_at",
    "day",
    "team",
    "source",
    "primary_reason",
    "reasons",
    "intent",
    "has_draft",
    "bot_seconds",
    "first_response_seconds",
    "human_seconds",
    "anomalies",
    "agent_active",
    "reassigned",
    "timed_out",
    "csat_score",
    "csat_scale",
    "draft_used",
    "drafts_sent",
    "drafts_sent_unedited",
    "repeat_observed",
    "repeat_context",
    "agent_asks",
    "customer_restates",
)
# What ``Tx.list_handoff_kpis`` returns of each row, in this order: what ``aggregate`` reads.
# Not created_at (the period is the query's) nor primary_reason (the first of ``reasons``): every
# value fetched is a Python object made, and at 100,000 rows those are most of a report's time.
LIST_FIELDS = tuple(f for f in ROW_FIELDS if f not in ("created_at", "primary_reason"))
TIMER_ACTOR = "connector:timer"


def _seconds(begin: datetime | None, end: datetime | None) -> tuple[float | None, int]:
    """(end − begin in seconds, 1 if the clock went backwards) — None when either is unknown."""
    if begin is None or end is None:
        return None, 0
    seconds = (end - begin).total_seconds()
    return (None, 1) if seconds < 0 else (seconds, 0)


def handoff_row(
    h: dict[str, Any],
    facts: list[dict[str, Any]],
    post_messages: list[dict[str, Any]],
    known: dict[str, Any],
    draft_actions: list[str],
) -> dict[str, Any]:
    """The KPI row of one handoff from its own facts (``ROW_FIELDS``); pure.

    ``h`` holds the handoff's columns (``id``, ``created_at``, ``team``, ``source``, ``intent``,
    ``reasons`` in rule order, ``has_draft``, ``handback_at``, ``handback_actor``, ``claimed_by``)
    and the bot stretch's timestamps: ``first_message_at`` and ``last_turn_at`` (the messages' own
    times, up to the handoff), else ``conversation_created_at`` and ``created_at`` (arrival).
    ``facts`` are its handoff facts in the order written, ``post_messages`` the agent and customer
    messages after the handoff in order, ``known`` what the payload held, ``draft_actions`` the
    actions of its draft events."""
    anomalies = 0
    original_team = h.get("team")
    for f in facts:
        if f["kind"] in ("reassigned", "rerouted"):
            original_team = f["data"].get("from_team")
            break
    reasons = list(h.get("reasons") or [])
    opened = _dt(h["created_at"])
    if h.get("first_message_at") and h.get("last_turn_at"):
        begin, end = _dt(h["first_message_at"]), _dt(h["last_turn_at"])
    else:
        begin, end = _dt(h.get("conversation_created_at")), opened
    bot_seconds, backwards = _seconds(begin, end)
    anomalies += backwards
    first = next((f for f in facts if f["kind"] == "first_response"), None)
    first_seconds = None
    if first is not None and opened:
        if "clock_skew_seconds" in first["data"]:
            anomalies += 1
        first_seconds = float(first["data"].get("seconds") or 0.0)
    timed_out = h.get("handback_actor") == TIMER_ACTOR
    human_seconds = None
    if not timed_out and first is not None and h.get("handback_at"):
        human_seconds, backwards = _seconds(_dt(first["at"]), _dt(h["handback_at"]))
        anomalies += backwards
    csat = [f["data"] for f in facts if f["kind"] == "csat" and f["data"].get("score") is not None]
    reassigned = any(f["kind"] == "reassigned" for f in facts)

    asks: list[str] = []
    restates = 0
    observed = False
    handback_at = _dt(h.get("handback_at"))
    agent_spoke = False
    for message in post_messages:
        at = _dt(message.get("at"))
        if at and handback_at and at > handback_at:
            continue  # after the handback the customer talks to the bot again
        observed = True
        if message["role"] == "agent":
            agent_spoke = True
            category = agent_asks_known(message["text"] or "", known)
            if category:
                asks.append(category)
        elif customer_restates(message["text"] or "", known):
            restates += 1
    sent = [a for a in draft_actions if a in DRAFT_SENT]
    agent_active = bool(
        first is not None
        or reassigned
        or h.get("claimed_by")
        or agent_spoke
        or draft_actions
        or (h.get("handback_at") and not timed_out)
    )
    return {
        "handoff_id": h["id"],
        "created_at": h["created_at"],
        "day": h["created_at"][:10],
        "team": original_team,
        "source": h.get("source"),
        "primary_reason": reasons[0] if reasons else "unknown",
        "reasons": ",".join(reasons),
        "intent": h.get("intent"),
        "has_draft": int(bool(h.get("has_draft"))),
        "bot_seconds": bot_seconds,
        "first_response_seconds": first_seconds,
        "human_seconds": human_seconds,
        "anomalies": anomalies,
        "agent_active": int(agent_active),
        "reassigned": int(reassigned),
        "timed_out": int(timed_out),
        "csat_score": float(csat[-1]["score"]) if csat else None,
        "csat_scale": float(csat[-1].get("scale") or 5.0) if csat else None,
        "draft_used": int(any(a in DRAFT_USED for a in draft_actions)),
        "drafts_sent": len(sent),
        "drafts_sent_unedited": sum(1 for a in sent if a == "sent_unedited"),
        "repeat_observed": int(observed),
        "repeat_context": int(bool(asks) or restates > 0),
        "agent_asks": ",".join(asks),
        "customer_restates": restates,
    }


def payload_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """What a KPI row reads from a handoff/v1 payload: intent, reasons in rule order, draft, turns,
    and what the agent was told (the customer and the customer's turns)."""
    reasons = (payload.get("escalation") or {}).get("reasons") or []
    turns = (payload.get("transcript") or {}).get("turns") or []
    return {
        "intent": (payload.get("intent") or {}).get("name"),
        "reasons": [str(r["trigger"]) for r in reasons if isinstance(r, dict) and r.get("trigger")],
        "has_draft": bool(payload.get("draft_reply")),
        "transcript_turns": len(turns),
        "known": {
            "customer": payload.get("customer") or {},
            "customer_texts": [t.get("text", "") for t in turns if t.get("role") == "customer"],
        },
    }


def row_from_store(
    handoff: Any, conversation: Any, messages: list[Any], facts: list[Any], draft_actions: list[str]
) -> dict[str, Any]:
    """``handoff_row`` from the store's rows of one handoff (HandoffRow, ConversationRow or None,
    the conversation's MessageRows, the handoff's FactRows): what ``Tx.refresh_handoff_kpis`` keeps."""
    fields = payload_fields(handoff.payload)
    turns = fields["transcript_turns"]
    stamps = [m.at for m in messages if m.seq is not None and m.seq <= turns and m.at]
    handback = handoff.handback or {}
    h = {
        "id": handoff.id,
        "created_at": handoff.created_at,
        "team": handoff.team,
        "source": handoff.source,
        "intent": fields["intent"],
        "reasons": fields["reasons"],
        "has_draft": fields["has_draft"],
        "claimed_by": handoff.claimed_by,
        "handback_at": handback.get("at"),
        "handback_actor": handback.get("actor"),
        "first_message_at": min(stamps) if stamps else None,
        "last_turn_at": max(stamps) if stamps else None,
        "conversation_created_at": conversation.created_at if conversation else None,
    }
    post = [
        {"role": m.role, "text": m.text, "at": m.at}
        for m in sorted(messages, key=lambda m: m.seq or 0)
        if m.role in ("agent", "customer") and (m.seq or 0) > turns
    ]
    return handoff_row(
        h,
        [{"kind": f.kind, "at": f.at, "data": f.data} for f in facts],
        post,
        fields["known"],
        draft_actions,
    )


def rows_from_data(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The KPI rows of every handoff in ``Tx.report_data``'s raw rows (the slow path)."""
    facts_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in data["facts"]:
        facts_by[fact["handoff_id"]].append(fact)
    post_by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in data["post_messages"]:
        post_by[message["handoff_id"]].append(message)
    drafts_by: dict[str, list[str]] = defaultdict(list)
    for e in data["drafts"]["events"]:
        drafts_by[e["handoff_id"]].append(e["action"])
    return [
        handoff_row(
            h,
            facts_by.get(h["id"], []),
            post_by.get(h["id"], []),
            data["known"].get(h["id"]) or {},
            drafts_by.get(h["id"], []),
        )
        for h in data["handoffs"]
    ]


# --- the KPIs ----------------------------------------------------------------------------------------


def compute(
    data: dict[str, Any],
    *,
    team: str | None = None,
    source: str | None = None,
    targets: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Every KPI of the report from ``Tx.report_data`` rows; ``team`` keeps the team's handoffs only."""
    return aggregate(
        [as_tuple(r) for r in rows_from_data(data)],
        conversations=data["conversations"],
        since=data["since"],
        until=data["until"],
        team=team,
        source=source,
        drafts_available=data["drafts"]["available"],
        targets=targets,
    )


def as_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    """A KPI row as the store lists it: its values in ``LIST_FIELDS`` order."""
    return tuple(row[f] for f in LIST_FIELDS)


_I = {name: i for i, name in enumerate(LIST_FIELDS)}


def _present(values: tuple[Any, ...]) -> list[float]:
    return [v for v in values if v is not None]


def _named(counts: Counter[Any], missing: str) -> Counter[str]:
    """``counts`` with its None key (no team, no intent) under the name the report shows."""
    if None in counts:
        counts[missing] += counts.pop(None)
    return counts


def aggregate(
    rows: list[tuple[Any, ...]],
    *,
    conversations: int,
    since: str,
    until: str,
    team: str | None = None,
    source: str | None = None,
    drafts_available: bool = True,
    targets: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The period's KPIs from its handoffs' KPI rows (``as_tuple(handoff_row(...))``); ``team``
    keeps the rows of handoffs first routed to that team, ``source`` those of one bot source.
    Every share whose denominator is empty is None (no data).

    Column by column rather than row by row: at 100,000 rows the counting runs in C (``Counter``,
    ``sum``, ``zip``) and the whole sum takes a few tens of milliseconds."""
    return assemble(
        sums(rows, team=team, source=source),
        conversations=conversations,
        since=since,
        until=until,
        team=team,
        source=source,
        drafts_available=drafts_available,
        targets=targets,
    )


def sums(
    rows: list[tuple[Any, ...]], *, team: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """What ``assemble`` reads, summed from the KPI rows (``SUM_KEYS``). A store may sum them in
    its database instead (``Tx.sum_handoff_kpis``); the report is then the same."""
    if team is not None or source is not None:
        t_i, s_i = _I["team"], _I["source"]
        rows = [
            r
            for r in rows
            if (team is None or r[t_i] == team) and (source is None or r[s_i] == source)
        ]
    col = (
        dict(zip(LIST_FIELDS, zip(*rows, strict=True), strict=True))
        if rows
        else {f: () for f in LIST_FIELDS}
    )
    teams = col["team"]
    first_by_team: dict[str, list[float]] = defaultdict(list)
    for t, seconds in zip(teams, col["first_response_seconds"], strict=True):
        if seconds is not None:
            first_by_team[t or "-"].append(seconds)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for (day, combo), count in Counter(zip(col["day"], col["reasons"], strict=True)).items():
        per_day[day][(combo or "unknown").split(",", 1)[0]] += count  # once, by its deciding reason
    reasons: Counter[str] = Counter()
    for combo, count in Counter(col["reasons"]).items():
        for reason in (combo or "unknown").split(","):
            reasons[reason] += count
    asks: Counter[str] = Counter()
    for combo, count in Counter(col["agent_asks"]).items():
        for category in filter(None, (combo or "").split(",")):
            asks[category] += count
    csat = _present(col["csat_score"])
    scales = _present(col["csat_scale"])
    bot, human = _present(col["bot_seconds"]), _present(col["human_seconds"])
    return {
        "handoffs": len(rows),
        "by_team": Counter(teams),
        "active_by_team": Counter(compress(teams, col["agent_active"])),
        "reassigned_by_team": Counter(compress(teams, col["reassigned"])),
        "first_p50_by_team": {k: percentile(v, 50) for k, v in first_by_team.items()},
        "per_day": {day: dict(counts) for day, counts in per_day.items()},
        "reasons": dict(reasons),
        "agent_asks": dict(asks),
        "intents": Counter(col["intent"]),
        "csat_responses": len(csat),
        "csat_sum": sum(csat),
        "csat_scale": max(scales) if scales else None,
        "first_response": sorted(_present(col["first_response_seconds"])),
        "bot_p50": percentile(bot, 50),
        "human_p50": percentile(human, 50),
        "bot_count": len(bot),
        "human_count": len(human),
        "with_draft": sum(col["has_draft"]),
        "drafts_used": sum(map(mul, col["has_draft"], col["draft_used"])),
        "drafts_sent": sum(col["drafts_sent"]),
        "drafts_sent_unedited": sum(col["drafts_sent_unedited"]),
        "repeat_observed": sum(col["repeat_observed"]),
        "repeat_context": sum(col["repeat_context"]),
        "customer_restates": sum(col["customer_restates"]),
        "timed_out": sum(col["timed_out"]),
        "anomalies": sum(col["anomalies"]),
    }


def assemble(
    s: dict[str, Any],
    *,
    conversations: int,
    since: str,
    until: str,
    team: str | None = None,
    source: str | None = None,
    drafts_available: bool = True,
    targets: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The report's KPIs from the period's sums (``sums``, or a store's ``sum_handoff_kpis``)."""
    n = s["handoffs"]
    handoffs_by_team = _named(Counter(s["by_team"]), "-")
    active_by_team = _named(Counter(s["active_by_team"]), "-")
    reassigned_by_team = _named(Counter(s["reassigned_by_team"]), "-")
    reasons = Counter(s["reasons"])
    intents = _named(Counter(s["intents"]), "unknown")
    first_response = s["first_response"]
    active, reassigned = sum(active_by_team.values()), sum(reassigned_by_team.values())
    with_draft, used, sent = s["with_draft"], s["drafts_used"], s["drafts_sent"]
    observed, repeated = s["repeat_observed"], s["repeat_context"]
    csat_n = s["csat_responses"]
    return {
        "since": since,
        "until": until,
        "team": team,
        "source": source,
        "conversations": conversations,
        "handoffs": n,
        "handoff_rate": _share(n, conversations) if conversations >= n else None,
        "first_response": {
            "count": len(first_response),
            "p50": percentile(first_response, 50),
            "p90": percentile(first_response, 90),
            "values": first_response,
            "by_team": dict(sorted(s["first_p50_by_team"].items())),
        },
        "handle_time": {
            "bot_p50": s["bot_p50"],
            "human_p50": s["human_p50"],
            "bot_count": s["bot_count"],
            "human_count": s["human_count"],
        },
        "routing": {
            "accuracy": _share(active - reassigned, active),
            "reassigned": reassigned,
            "judged": active,
            "by_team": {
                k: {
                    "handoffs": v,
                    "reassigned": reassigned_by_team[k],
                    "accuracy": _share(
                        active_by_team[k] - reassigned_by_team[k], active_by_team[k]
                    ),
                }
                for k, v in sorted(handoffs_by_team.items())
            },
        },
        "drafts": {
            "available": drafts_available,
            "with_draft": with_draft,
            "used": used,
            "usage": _share(used, with_draft) if drafts_available else None,
            "sent": sent,
            "unedited_share": _share(s["drafts_sent_unedited"], sent),
        },
        "repeat_context": {
            "observed": observed,
            "handoffs": repeated,
            "rate": _share(repeated, observed),
            "agent_asks": dict(sorted(s["agent_asks"].items())),
            "customer_restates": s["customer_restates"],
        },
        "csat": {
            "responses": csat_n,
            "mean": s["csat_sum"] / csat_n if csat_n else None,
            "scale": s["csat_scale"] if s["csat_scale"] is not None else 5.0,  # one per helpdesk
        },
        "timed_out": s["timed_out"],
        "per_day": {day: dict(sorted(c.items())) for day, c in sorted(s["per_day"].items())},
        "reason_mix": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "top_intents": sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
        "top_reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
        "clock_anomalies": s["anomalies"],
        "targets": dict(targets or TARGETS),
    }


def off_target(k: dict[str, Any]) -> dict[str, bool]:
    """Which target KPIs miss their configured target (a KPI with no data misses nothing)."""
    t = k["targets"]
    routing, usage, repeat = (
        k["routing"]["accuracy"],
        k["drafts"]["usage"],
        k["repeat_context"]["rate"],
    )
    return {
        "routing_accuracy": routing is not None and routing < t["routing_accuracy_min"],
        "draft_usage": usage is not None
        and not t["draft_usage_min"] <= usage <= t["draft_usage_max"],
        "repeat_context": repeat is not None and repeat > t["repeat_context_max"],
    }
