"""``handoff report`` and ``/dashboard``: the KPI table, and one self-contained HTML page.

The page has no external reference at all (no CDN, no web font, no script): charts are inline SVG
drawn here, with the target lines (repeat-context under 5 %, routing accuracy over 90 %, draft usage
50–70 %) on them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from html import escape
from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup

from connector.clock import iso
from connector.kpis import assemble, compute, off_target, sums
from connector.report_template import TEMPLATE

PERIODS = [
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
    ("30d", "last 30 days"),
    ("90d", "last 90 days"),
]
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#9ca3af"]
FIRST_RESPONSE_BUCKETS = [
    (60, "<1m"),
    (120, "1–2m"),
    (300, "2–5m"),
    (600, "5–10m"),
    (900, "10–15m"),
    (1800, "15–30m"),
    (3600, "30–60m"),
    (7200, "1–2h"),
    (float("inf"), ">2h"),
]


def build_report(
    store: Any,
    start: datetime,
    end: datetime,
    *,
    team: str | None = None,
    source: str | None = None,
    targets: dict[str, float] | None = None,
    from_raw: bool = False,
) -> dict[str, Any]:
    """Query the store for [start, end) and compute the KPIs. An empty period is a valid report.

    Sums the per-handoff KPI rows (in the database where the store can: ``Tx.sum_handoff_kpis``,
    else ``Tx.list_handoff_kpis`` and ``kpis.sums``); ``from_raw`` recomputes them from
    the raw tables instead (the slow path: the tests prove both give the same report)."""
    if end < start:  # a clock that jumped back: report the empty period rather than fail
        end = start
    with store.reading() as tx:
        if from_raw:
            kpis = compute(
                tx.report_data(iso(start), iso(end), team),
                team=team,
                source=source,
                targets=targets,
            )
        else:
            since, until = iso(start), iso(end)
            summed = tx.sum_handoff_kpis(since, until, team, source)  # in the database, if it can
            kpis = assemble(
                summed
                if summed is not None
                else sums(tx.list_handoff_kpis(since, until), team=team, source=source),
                conversations=tx.count_conversations(since, until),
                since=since,
                until=until,
                team=team,
                source=source,
                targets=targets,
            )
    span = (end.date() - start.date()).days + 1
    kpis["days"] = (
        [(start + timedelta(days=i)).date().isoformat() for i in range(span)]
        if span <= 92
        else sorted(kpis["per_day"])
    )  # long periods: only the days that had handoffs
    return kpis


# --- text ------------------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def dur(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def kpi_rows(k: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(KPI, value, target or note) for the table printed by the CLI and shown on the page."""
    t = k["targets"]
    fr, ht, rc, dr = k["first_response"], k["handle_time"], k["repeat_context"], k["drafts"]
    off = off_target(k)
    draft_note = _mark(
        off["draft_usage"], f"target {t['draft_usage_min']:.0%}–{t['draft_usage_max']:.0%}"
    )
    if not dr["available"]:
        draft_note = "no draft events recorded"
    elif dr["usage"] is None:
        draft_note = "no data: no handoff had a draft"
    routing_note = _mark(
        off["routing_accuracy"],
        f"target > {t['routing_accuracy_min']:.0%}; {k['routing']['reassigned']} reassigned",
    )
    if k["routing"]["accuracy"] is None:
        routing_note = "no data: no agent acted on a handoff"
    repeat_note = _mark(
        off["repeat_context"], f"target < {t['repeat_context_max']:.0%}; {rc['observed']} observed"
    )
    if rc["rate"] is None:
        repeat_note = "no data: no messages after a handoff"
    return [
        ("Conversations", str(k["conversations"]), ""),
        ("Handoffs", str(k["handoffs"]), ""),
        ("Handoff rate", pct(k["handoff_rate"]), ""),
        ("First agent response p50", dur(fr["p50"]), f"{fr['count']} responded"),
        ("First agent response p90", dur(fr["p90"]), ""),
        (
            "Handle time, bot (p50)",
            dur(ht["bot_p50"]),
            f"{ht['bot_count']} timed: first turn → last turn before the handoff",
        ),
        (
            "Handle time, human (p50)",
            dur(ht["human_p50"]),
            f"{ht['human_count']} handed back by agents",
        ),
        ("Routing accuracy", pct(k["routing"]["accuracy"]), routing_note),
        ("Draft usage", pct(dr["usage"]), draft_note),
        ("Drafts sent unedited", pct(dr["unedited_share"]), f"of {dr['sent']} sent"),
        ("Repeat-context rate", pct(rc["rate"]), repeat_note),
        (
            "CSAT (post-escalation)",
            "n/a"
            if k["csat"]["mean"] is None
            else f"{k['csat']['mean']:.2f} / {k['csat']['scale']:g}",
            f"{k['csat']['responses']} responses",
        ),
        ("Handed back after no answer", str(k["timed_out"]), ""),
    ]


OFF_TARGET = "OFF TARGET"


def _mark(off: bool, note: str) -> str:
    return f"{OFF_TARGET}: {note}" if off else note


def kpi_table(k: dict[str, Any]) -> str:
    rows = kpi_rows(k)
    width = max(len(r[0]) for r in rows)
    head = f"Handoff KPIs {k['since'][:16]} → {k['until'][:16]}" + (
        f" (team {k['team']})" if k["team"] else ""
    )
    lines = [head, "-" * len(head)]
    lines += [f"{name:<{width}}  {value:>12}  {note}".rstrip() for name, value, note in rows]
    if k["handoffs"] == 0:
        lines.append("(no handoffs in this period)")
    if k["clock_anomalies"]:
        lines.append(f"note: {k['clock_anomalies']} duration(s) ignored: the clock went backwards")
    return "\n".join(lines)


# --- SVG -------------------------------------------------------------------------------------------


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px">{body}</svg>'
    )


def stacked_days(per_day: dict[str, dict[str, int]], days: list[str], series: list[str]) -> Markup:
    """Handoffs per day, stacked by the reason that decided each one (so each counts once)."""
    width, height, left, bottom = 720, 260, 40, 40
    totals = [sum(per_day.get(d, {}).values()) for d in days]
    top = max(totals + [1])
    slot = (width - left - 10) / max(1, len(days))
    bar = max(2.0, slot * 0.7)
    scale = (height - bottom - 20) / top
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{height - bottom - top * scale + 4:.1f}" font-size="11" '
        f'text-anchor="end">{top}</text>',
    ]
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = float(height - bottom)
        counts = per_day.get(day, {})
        for j, name in enumerate(series):
            value = (
                counts.get(name, 0)
                if name != "other"
                else sum(v for k, v in counts.items() if k not in series)
            )
            if value:
                h = value * scale
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(day)} {escape(name)}: '
                    f"{value}</title></rect>"
                )
        if len(days) <= 31 or i % max(1, len(days) // 15) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
                f'text-anchor="middle">{escape(day[5:])}</text>'
            )
    for j, name in enumerate(series):
        parts.append(
            f'<rect x="{left + j * 110}" y="{height - 14}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{left + j * 110 + 14}" y="{height - 5}" '
            f'font-size="11">{escape(name[:14])}</text>'
        )
    return _svg(width, height, "".join(parts), "Handoffs per day by deciding reason")


def histogram(values: list[float]) -> Markup:
    counts = [0] * len(FIRST_RESPONSE_BUCKETS)
    for value in values:
        for i, (limit, _) in enumerate(FIRST_RESPONSE_BUCKETS):
            if value < limit:
                counts[i] += 1
                break
    width, height, left, bottom = 720, 220, 40, 30
    top = max(counts + [1])
    slot = (width - left - 10) / len(counts)
    scale = (height - bottom - 20) / top
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>'
    ]
    for i, ((_, label), count) in enumerate(zip(FIRST_RESPONSE_BUCKETS, counts, strict=True)):
        x, h = left + i * slot + slot * 0.1, count * scale
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{label}: {count}</title></rect>'
            f'<text x="{x + slot * 0.4:.1f}" y="{height - bottom + 14}" font-size="11" '
            f'text-anchor="middle">{label}</text>'
        )
        if count:
            parts.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{height - bottom - h - 4:.1f}" font-size="10" '
                f'text-anchor="middle">{count}</text>'
            )
    return _svg(width, height, "".join(parts), "First agent response time distribution")


def percent_bars(
    items: list[tuple[str, float | None]],
    *,
    target: float | None = None,
    band: tuple[float, float] | None = None,
    label: str,
) -> Markup:
    """Horizontal 0–100 % bars, with a target line or band."""
    width, left, row = 720, 150, 26
    height = 30 + row * max(1, len(items))
    span = width - left - 60

    def x(value: float) -> float:
        return left + span * max(0.0, min(1.0, value))

    parts = []
    if band:
        parts.append(
            f'<rect x="{x(band[0]):.1f}" y="10" width="{x(band[1]) - x(band[0]):.1f}" '
            f'height="{height - 20}" fill="#16a34a" opacity="0.15"><title>target {band[0]:.0%}–'
            f"{band[1]:.0%}</title></rect>"
        )
    for i, (name, value) in enumerate(items):
        y = 14 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{escape(name[:22])}</text>'
        )
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 13}" font-size="12" fill="#666">n/a</text>')
            continue
        parts.append(
            f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" height="18" fill="{PALETTE[0]}"/>'
            f'<text x="{x(value) + 4:.1f}" y="{y + 13}" font-size="12">{value * 100:.1f} %</text>'
        )
    if target is not None:
        parts.append(
            f'<line x1="{x(target):.1f}" y1="6" x2="{x(target):.1f}" y2="{height - 6}" stroke="#dc2626" '
            f'stroke-dasharray="4 3"><title>target {target:.0%}</title></line>'
            f'<text x="{x(target) + 3:.1f}" y="{height - 4}" font-size="10" fill="#dc2626">'
            f"target {target:.0%}</text>"
        )
    return _svg(width, height, "".join(parts), label)


# --- HTML ------------------------------------------------------------------------------------------


def _template() -> Template:
    return Environment(autoescape=True).from_string(TEMPLATE)


def render_html(
    k: dict[str, Any], *, generated_at: datetime | None = None, nav: dict[str, Any] | None = None
) -> str:
    """The report page. ``nav`` (the dashboard only) adds the links between the connector's pages
    and the filter form: ``{"since": "7d", "teams": [...], "sources": [...], "key": str | None}``."""
    t = k["targets"]
    primary: Counter[str] = Counter()
    for counts in k["per_day"].values():
        primary.update(counts)
    series = [name for name, _ in primary.most_common(6)]
    if len(primary) > 6:
        series.append("other")
    routing = [(team, row["accuracy"]) for team, row in k["routing"]["by_team"].items()]
    charts = {
        "per_day": stacked_days(k["per_day"], k.get("days") or sorted(k["per_day"]), series),
        "first_response": histogram(k["first_response"]["values"]),
        "routing": percent_bars(
            routing or [("all teams", None)],
            target=t["routing_accuracy_min"],
            label="Routing accuracy by team",
        ),
        "drafts": percent_bars(
            [
                ("draft usage", k["drafts"]["usage"]),
                ("sent unedited", k["drafts"]["unedited_share"]),
            ],
            band=(t["draft_usage_min"], t["draft_usage_max"]),
            label="Draft usage",
        ),
        "repeat": percent_bars(
            [("repeat-context", k["repeat_context"]["rate"])],
            target=t["repeat_context_max"],
            label="Repeat-context rate",
        ),
    }
    return _template().render(
        k=k,
        rows=kpi_rows(k),
        charts=charts,
        off_marker=OFF_TARGET,
        nav=nav,
        periods=PERIODS,
        generated_at=iso(generated_at) if generated_at else k["until"],
    )
