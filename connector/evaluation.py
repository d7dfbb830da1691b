"""Measure the connector's decisions on labelled JSONL files (the format of ``shared/data``).

Each row has ``conversation`` (a list of ``{role, text}``; ``user`` is the customer, ``assistant``
the bot) and one gold field that names the kind of file: ``escalate`` (with ``reason``) →
escalation, ``team`` → routing, ``label`` (with ``unit``) → sentiment.

The decisions are injectable callables, so the real policy can be measured the same way:

- ``escalate_fn(messages) -> (escalate: bool, reason: str)``
- ``route_fn(messages) -> team``
- ``sentiment_fn(messages, unit) -> label``

:func:`policy_functions` runs the real policy and routing of a configuration (what ``handoff
evaluate`` and ``python -m connector.evaluation FILE [FILE …] [--json]`` measure); the defaults of
:func:`evaluate` (:func:`signals_decide`, :func:`signals_route`, :func:`signals_sentiment`) apply
the signals directly, as a reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.signals import (
    buying_intent,
    classify_team,
    conversation_sentiment,
    human_request_in,
    policy_topics,
    repeated_failure,
)
from connector.signals.text import customer_texts

REASONS = ("human_request", "policy_topic", "buying_intent", "repeated_failure", "frustration")
TEAMS = ("billing", "technical", "retention", "fraud", "sales", "general")
LABELS = ("Interested", "Neutral", "Uninterested", "Frustrated")

# (escalate, reason) or (escalate, reason, ids of the rules that fired, deciding one first)
EscalateFn = Callable[[Sequence[Any]], tuple[Any, ...]]
RowFn = Callable[[dict[str, Any]], tuple[Any, ...]]
RouteFn = Callable[[Sequence[Any]], str]
SentimentFn = Callable[[Sequence[Any], str], str]


@dataclass(frozen=True)
class EvalMessage:
    """A message built from a data-file turn; the same attributes the signals read."""

    role: str
    text: str
    fallback: bool = False
    tool_calls: tuple[Any, ...] = field(default_factory=tuple)
    intent: str | None = None
    confidence: float | None = None


def to_messages(conversation: Iterable[dict[str, Any]]) -> list[EvalMessage]:
    """Data-file turns → messages (``user`` → customer, ``assistant`` → bot)."""
    roles = {"user": "customer", "assistant": "bot"}
    return [
        EvalMessage(roles.get(str(t.get("role")), str(t.get("role"))), str(t.get("text") or ""))
        for t in conversation
    ]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def detect_kind(rows: Sequence[dict[str, Any]]) -> str:
    """``escalation``, ``routing`` or ``sentiment``, from the gold field of the first row."""
    for key, kind in (("escalate", "escalation"), ("team", "routing"), ("label", "sentiment")):
        if rows and key in rows[0]:
            return kind
    raise ValueError("rows have none of the gold fields escalate, team, label")


def signals_decide(messages: Sequence[Any]) -> tuple[bool, str]:
    """Reference escalation: the first signal that fires, in a fixed priority order.

    human_request → policy_topic → frustration → repeated_failure → buying_intent; otherwise
    ``(False, "none")``. Signals read the newest customer turn (history for the last two).
    """
    if human_request_in(messages).requested:
        return True, "human_request"
    last = "\n".join(customer_texts(messages, last=1))
    if policy_topics(last).matched:
        return True, "policy_topic"
    if conversation_sentiment(messages).label == "Frustrated":
        return True, "frustration"
    if repeated_failure(messages).failed:
        return True, "repeated_failure"
    if buying_intent(last).matched:
        return True, "buying_intent"
    return False, "none"


def signals_route(messages: Sequence[Any]) -> str:
    """Reference routing: :func:`classify_team` on the customer's last two turns."""
    return classify_team("\n".join(customer_texts(messages, last=2))).team


def signals_sentiment(messages: Sequence[Any], unit: str = "last_user_message") -> str:
    """Reference sentiment: :func:`conversation_sentiment` with the row's ``unit``."""
    return conversation_sentiment(messages, unit=unit).label


def _as_messages(messages: Sequence[Any]) -> list[Any]:
    from connector.schemas import Message

    roles = {"customer", "bot", "agent", "system"}
    return [
        Message(
            id=str(i),
            role=m.role if m.role in roles else "system",
            text=str(m.text or "")[:100_000],
            fallback=bool(getattr(m, "fallback", False)),
        )
        for i, m in enumerate(messages)
    ]


def reason_of(decision: Any) -> str:
    """The gold-file reason a decision gives: its first reason's trigger; for the learned model
    (trigger ``model``, rule ``model_<reason>``) the reason it names."""
    if not decision.reasons:
        return "none"
    first = decision.reasons[0]
    return first.rule[len("model_") :] if first.trigger == "model" else first.trigger


def policy_functions(settings: Any = None) -> dict[str, Any]:
    """``escalate_fn``, ``route_fn`` and ``sentiment_fn`` that run the real policy and routing.

    ``settings`` is a :class:`connector.config.Settings`; ``None`` means the shipped defaults.
    The decision point is after the last turn, and every turn counts as new.
    """
    from connector.config import load_config
    from connector.policy import DecisionInput, decide
    from connector.routing import guess_team
    from connector.schemas import BotContext, ConversationRef, Customer

    settings = settings or load_config(None, env={})

    def inputs(messages: Sequence[Any]) -> tuple[Any, list[Any]]:
        msgs = _as_messages(messages)
        return DecisionInput(
            "conversation.updated", ConversationRef(id="eval"), Customer(), BotContext(), msgs, msgs
        ), msgs

    def escalate_fn(messages: Sequence[Any]) -> tuple[bool, str, list[str]]:
        decision = decide(inputs(messages)[0], settings.policy)
        return decision.escalate, reason_of(decision), [r.rule for r in decision.reasons]

    def route_fn(messages: Sequence[Any]) -> str:
        given, msgs = inputs(messages)
        return guess_team(decide(given, settings.policy), msgs, settings.routing).team

    def sentiment_fn(messages: Sequence[Any], unit: str = "last_user_message") -> str:
        from connector.learned.advice import learned_sentiment

        msgs = _as_messages(messages)
        label = conversation_sentiment(msgs, unit=unit).label
        return learned_sentiment(msgs, settings.policy.model, label, unit)[0]

    return {"escalate_fn": escalate_fn, "route_fn": route_fn, "sentiment_fn": sentiment_fn}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def _confusion(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for gold, pred in pairs:
        out[gold][pred] = out[gold].get(pred, 0) + 1
    return {g: dict(sorted(p.items())) for g, p in sorted(out.items())}


def _per_class(
    pairs: Sequence[tuple[str, str]], classes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    seen = [c for c in classes if any(c in pair for pair in pairs)]
    seen += sorted({x for pair in pairs for x in pair} - set(seen))
    out = {}
    for c in seen:
        tp = sum(g == c and p == c for g, p in pairs)
        fp = sum(g != c and p == c for g, p in pairs)
        fn = sum(g == c and p != c for g, p in pairs)
        out[c] = {"support": tp + fn, **_prf(tp, fp, fn)}
    return out


def _per_rule(results: Sequence[tuple[Any, ...]], fired: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per rule: how often it fired, on rows to escalate (caught) or not (wrongly fired), and how
    often it decided, rightly (gold escalate) or not."""
    out: dict[str, dict[str, int]] = {}
    for (_, gold, _, _, _), rules in zip(results, fired, strict=True):
        for i, rule in enumerate(dict.fromkeys(rules)):
            entry = out.setdefault(
                rule,
                {"fired": 0, "caught": 0, "wrongly_fired": 0, "decided": 0, "decided_wrongly": 0},
            )
            entry["fired"] += 1
            entry["caught" if gold else "wrongly_fired"] += 1
            if i == 0:
                entry["decided"] += 1
                entry["decided_wrongly"] += 0 if gold else 1
    return dict(sorted(out.items()))


def _escalation(rows: Sequence[dict[str, Any]], fn: RowFn) -> dict[str, Any]:
    results = []
    fired: list[Sequence[str]] = []
    for row in rows:
        answer = fn(row)
        escalate, reason = answer[0], answer[1]
        fired.append(answer[2] if len(answer) > 2 else ())
        gold_reason = str(row.get("reason") or ("none" if not row["escalate"] else "unspecified"))
        results.append(
            (
                row,
                bool(row["escalate"]),
                gold_reason,
                bool(escalate),
                reason if escalate else "none",
            )
        )

    def summary(items: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
        tp = sum(g and p for _, g, _, p, _ in items)
        fp = sum(p and not g for _, g, _, p, _ in items)
        fn_ = sum(g and not p for _, g, _, p, _ in items)
        return {"n": len(items), **_prf(tp, fp, fn_)}

    per_reason: dict[str, dict[str, Any]] = {}
    for reason in [r for r in (*REASONS, "none") if any(x[2] == r or x[4] == r for x in results)]:
        gold = [x for x in results if x[2] == reason]
        pred = [x for x in results if x[4] == reason]
        per_reason[reason] = {
            "support": len(gold),
            # for "none" this is the share correctly *not* escalated
            "recall": round(sum(x[3] == x[1] for x in gold) / len(gold), 4) if gold else None,
            "reason_recall": round(sum(x[4] == reason for x in gold) / len(gold), 4)
            if gold
            else None,
            "predicted": len(pred),
            "precision": round(sum(x[1] == x[3] for x in pred) / len(pred), 4) if pred else None,
            "reason_precision": round(sum(x[2] == reason for x in pred) / len(pred), 4)
            if pred
            else None,
        }
    by_source: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for x in results:
        by_source[str(x[0].get("source", "?"))].append(x)
    extra = {"per_rule": _per_rule(results, fired)} if any(fired) else {}
    return {
        **summary(results),
        "per_reason": per_reason,
        **extra,
        "confusion": _confusion([(x[2], x[4]) for x in results]),
        "per_source": {s: summary(items) for s, items in sorted(by_source.items())},
    }


def _classification(
    rows: Sequence[dict[str, Any]],
    gold_key: str,
    predict: Callable[[dict[str, Any]], str],
    classes: Sequence[str],
) -> dict[str, Any]:
    pairs = [(str(row[gold_key]), predict(row)) for row in rows]
    per_class = _per_class(pairs, classes)
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row, pair in zip(rows, pairs, strict=True):
        by_source[str(row.get("source", "?"))].append(pair)
    gold_labels = [c for c in per_class if per_class[c]["support"]]

    def accuracy(ps: Sequence[tuple[str, str]]) -> float:
        return round(sum(g == p for g, p in ps) / len(ps), 4) if ps else 0.0

    def macro(ps: Sequence[tuple[str, str]], labels: Sequence[str]) -> float:
        pc = _per_class(ps, classes)
        return (
            round(sum(pc[c]["f1"] for c in labels if c in pc) / len(labels), 4) if labels else 0.0
        )

    return {
        "n": len(pairs),
        "accuracy": accuracy(pairs),
        # macro-F1 over every class that occurs in gold or prediction (scikit-learn's default)
        "macro_f1": macro(pairs, list(per_class)),
        "macro_f1_gold_classes": macro(pairs, gold_labels),
        "per_class": per_class,
        "confusion": _confusion(pairs),
        "per_source": {
            s: {
                "n": len(ps),
                "accuracy": accuracy(ps),
                "macro_f1": macro(ps, list(_per_class(ps, classes))),
            }
            for s, ps in sorted(by_source.items())
        },
        "predicted": dict(Counter(p for _, p in pairs)),
    }


def evaluate(
    rows: Sequence[dict[str, Any]],
    *,
    escalate_fn: EscalateFn = signals_decide,
    route_fn: RouteFn = signals_route,
    sentiment_fn: SentimentFn = signals_sentiment,
    row_fns: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score ``rows`` of one kind; returns ``{kind: metrics}`` (see :func:`report_json`).

    ``row_fns(row)``, when given, returns the functions that score that row (cross-validation
    scores each row with a model that never saw it: :mod:`connector.crossval`).
    """
    kind = detect_kind(rows)
    default = {"escalate_fn": escalate_fn, "route_fn": route_fn, "sentiment_fn": sentiment_fn}

    def fns(row: dict[str, Any]) -> dict[str, Any]:
        return row_fns(row) if row_fns is not None else default

    if kind == "escalation":
        return {
            "escalation": _escalation(
                rows, lambda r: fns(r)["escalate_fn"](to_messages(r["conversation"]))
            )
        }
    if kind == "routing":
        res = _classification(
            rows, "team", lambda r: fns(r)["route_fn"](to_messages(r["conversation"])), TEAMS
        )
        res["per_team"] = res.pop("per_class")
        return {"routing": res}
    res = _classification(
        rows,
        "label",
        lambda r: fns(r)["sentiment_fn"](
            to_messages(r["conversation"]), str(r.get("unit") or "last_user_message")
        ),
        LABELS,
    )
    return {"sentiment": res}


def evaluate_file(path: str | Path, **fns: Any) -> dict[str, Any]:
    """:func:`evaluate` on a JSONL file."""
    return evaluate(load_rows(path), **fns)


def report_json(result: dict[str, Any]) -> dict[str, Any]:
    """The stable JSON shape: escalation{precision, recall, f1, per_reason}, routing{accuracy,
    per_team}, sentiment{macro_f1, per_class}; confusion, per_source and counts ride along."""
    return json.loads(json.dumps(result))


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [
        [("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r]
        for r in rows
    ]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
        for i, h in enumerate(header)
    ]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _confusion_table(confusion: dict[str, dict[str, int]]) -> str:
    cols = sorted({p for preds in confusion.values() for p in preds})
    return _table(
        ["gold \\ pred", *cols],
        [[g, *(preds.get(c, 0) for c in cols)] for g, preds in confusion.items()],
    )


def report_text(result: dict[str, Any]) -> str:
    """Human-readable tables for the result of :func:`evaluate` (or of
    :func:`connector.crossval.evaluate_honestly`: validation, versions and rules alone first)."""
    out: list[str] = []
    if "validation" in result:
        versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
        out.append(f"VALIDATION  {result['validation']}")
        out.append(f"VERSIONS    {versions}")
    headline: dict[str, Sequence[str]] = {
        "escalation": ("precision", "recall", "f1"), "routing": ("accuracy",), "sentiment": ("macro_f1",),
    }  # fmt: skip
    for kind, figure_keys in headline.items():
        alone = result.get("rules_only", {}).get(kind)
        if alone:
            figures = "  ".join(f"{k}={alone[k]:.3f}" for k in figure_keys)
            out.append(f"RULES ALONE  {kind}  {figures}")
    if "escalation" in result:
        e = result["escalation"]
        out.append(
            f"ESCALATION  n={e['n']}  precision={e['precision']:.3f}  recall={e['recall']:.3f}  f1={e['f1']:.3f}"
        )
        keys = ("support", "recall", "reason_recall", "predicted", "precision", "reason_precision")
        out.append(
            _table(
                ["reason", *keys], [[r, *(v[k] for k in keys)] for r, v in e["per_reason"].items()]
            )
        )
        out.append(_confusion_table(e["confusion"]))
        if e.get("per_rule"):
            cols = ("fired", "caught", "wrongly_fired", "decided", "decided_wrongly")
            out.append(
                _table(
                    ["rule", *cols], [[r, *(v[c] for c in cols)] for r, v in e["per_rule"].items()]
                )
            )
        out.append(_table(["source", "n", "precision", "recall", "f1"],
                          [[s, v["n"], v["precision"], v["recall"], v["f1"]] for s, v in e["per_source"].items()]))  # fmt: skip
    for kind, per in (("routing", "per_team"), ("sentiment", "per_class")):
        if kind in result:
            r = result[kind]
            out.append(f"{kind.upper()}  n={r['n']}  accuracy={r['accuracy']:.3f}  macro_f1={r['macro_f1']:.3f}"
                       f"  macro_f1(gold classes)={r['macro_f1_gold_classes']:.3f}")  # fmt: skip
            columns = ("support", "precision", "recall", "f1")
            out.append(
                _table(
                    [per[4:], *columns], [[c, *(v[k] for k in columns)] for c, v in r[per].items()]
                )
            )
            out.append(_confusion_table(r["confusion"]))
            out.append(_table(["source", "n", "accuracy", "macro_f1"],
                              [[s, v["n"], v["accuracy"], v["macro_f1"]] for s, v in r["per_source"].items()]))  # fmt: skip
    return "\n\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--json", action="store_true", help="print report_json instead of tables")
    args = parser.parse_args(argv)
    fns = policy_functions()
    for path in args.files:
        result = evaluate_file(path, **fns)
        if args.json:
            print(json.dumps(report_json(result), indent=2))
        else:
            print(f"== {path}\n{report_text(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
