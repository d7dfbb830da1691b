"""Features and training: labelled JSONL rows (the format of ``shared/data``) → an artefact.

What each head reads (the same at training and at decision time):

- ``escalation``: the newest customer turn. Classes: ``none`` and the reasons of the rows.
- ``team``: the mean of the last two customer turns' vectors (a follow-up "yes, that one" keeps
  the topic of the turn before).
- ``sentiment``: the newest customer turn, or the mean of the customer's turns (up to the last
  twelve) for rows whose ``unit`` is the whole customer side.

Each turn is embedded on its own and cached, so the features of a long conversation cost only its
new turns. Rows labelled ``repeated_failure`` are skipped by the escalation head: the failure is in
the bot's turns across the conversation, which the rules count; the newest customer turn alone
cannot show it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from connector.learned.features import feature
from connector.learned.heads import Artefact, Head, fit_head

SKIPPED_REASONS = frozenset({"repeated_failure"})


def head_of(row: dict[str, Any]) -> tuple[str, str] | None:
    """``(head, label)`` a row trains, or None for a row no head learns from."""
    if "escalate" in row:
        reason = str(row.get("reason") or "none") if row["escalate"] else "none"
        return None if reason in SKIPPED_REASONS else ("escalation", reason)
    if "team" in row:
        return "team", str(row["team"])
    if "label" in row:
        return "sentiment", str(row["label"])
    return None


def _messages(row: dict[str, Any]) -> list[Any]:
    from connector.evaluation import to_messages

    return to_messages(row.get("conversation") or [])


def rows_fingerprint(rows: Iterable[dict[str, Any]]) -> str:
    """SHA-256 (16 hex digits) of the sorted row ids: names a training set without its text."""
    ids = sorted(str(r.get("id")) for r in rows)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def fit_heads(rows: Sequence[dict[str, Any]], embedder: Any) -> dict[str, Head]:
    """Fit one head per kind of row present (a head needs two classes)."""
    grouped: dict[str, tuple[list[Any], list[str]]] = {}
    for row in rows:
        target = head_of(row)
        if target is None:
            continue
        head, label = target
        vector = feature(
            embedder, _messages(row), head, str(row.get("unit") or "last_user_message")
        )
        vectors, labels = grouped.setdefault(head, ([], []))
        vectors.append(vector)
        labels.append(label)
    return {
        head: fit_head(np.stack(vectors), labels)
        for head, (vectors, labels) in grouped.items()
        if len(set(labels)) >= 2
    }


def train(paths: Sequence[str | Path], embedder: Any) -> Artefact:
    """Train on labelled JSONL files; the artefact's meta names the files, sources and licences."""
    from connector.evaluation import load_rows

    rows: list[dict[str, Any]] = []
    files = []
    for path in paths:
        file_rows = load_rows(path)
        rows.extend(file_rows)
        files.append(
            {"name": Path(path).name, "rows": len(file_rows), "ids": rows_fingerprint(file_rows)}
        )
    heads = fit_heads(rows, embedder)
    if not heads:
        raise ValueError("no head could be trained: the files need two labels or more per kind")
    used = [r for r in rows if head_of(r) is not None]
    sources = Counter(str(r.get("source", "?")) for r in used)
    licences = sorted({str(r.get("license", "?")) for r in used})
    meta = {
        "embedding_model": getattr(embedder, "model_id", "?"),
        "files": files,
        "sources": dict(sorted(sources.items())),
        "licenses": licences,
        "skipped_reasons": sorted(SKIPPED_REASONS),
    }
    return Artefact(heads, meta)


def train_to(paths: Sequence[str | Path], out: str | Path) -> Artefact:
    """``handoff train``: train on ``paths`` and write the artefact to ``out``; returns it."""
    from connector.learned.embed import load_embedder

    artefact = train(paths, load_embedder())
    from connector.learned.heads import save_artefact

    save_artefact(artefact, out)
    return artefact
