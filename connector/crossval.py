"""Honest figures: k-fold cross-validation of the rules + the learned model, rules alone beside.

A decision that was trained on a row scores well on it whatever it learned, so a file the model
was trained on is scored by cross-validation: the rows are dealt into ``k`` folds (stratified by
gold label, order fixed by a hash of the row id, so a run is repeatable), and each fold is scored
by heads fitted on the other folds only. The rules are not fitted, so their figures are the same
with or without folds; they are reported beside the model's ("rules_only").

:func:`evaluate_honestly` is what ``handoff evaluate`` runs. Its result carries ``versions`` (the
policy version, the model version and embedding model, the package version) and ``validation``
(how the figures were obtained), so a figure can always be traced to what produced it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from connector.evaluation import evaluate, policy_functions

DEFAULT_FOLDS = 5


class CrossValidationUnavailable(ValueError):
    """Folds were asked for, but the learned model cannot load (the [ml] extra is missing)."""


def gold_of(row: dict[str, Any]) -> str:
    """The label a row is stratified on."""
    if "escalate" in row:
        return str(row.get("reason") or "none") if row["escalate"] else "none"
    return str(row.get("team", row.get("label", "?")))


def assign_folds(rows: Sequence[dict[str, Any]], k: int) -> list[int]:
    """Fold of each row (0..k-1): every gold label spread evenly, the order fixed by id hash."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_label[gold_of(row)].append(i)
    folds = [0] * len(rows)
    offset = 0
    for label in sorted(by_label):
        members = sorted(
            by_label[label],
            key=lambda i: hashlib.sha256(str(rows[i].get("id", i)).encode()).hexdigest(),
        )
        for j, i in enumerate(members):
            folds[i] = (offset + j) % k
        offset += len(members)
    return folds


def _with_model(settings: Any, key: str | None, enabled: bool = True) -> Any:
    model = settings.policy.model.model_copy(update={"enabled": enabled, "artefact": key})
    policy = settings.policy.model_copy(update={"model": model})
    return settings.model_copy(update={"policy": policy})


def _package() -> str:
    try:
        return package_version("handoff-connector")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "source"


def versions(settings: Any) -> dict[str, Any]:
    """Policy version, model version (or why there is none), embedding model, package version."""
    from connector.learned import active_model
    from connector.policy import policy_version

    out: dict[str, Any] = {"policy": policy_version(settings.policy), "package": _package()}
    if not settings.policy.model.enabled:
        out["model"] = "disabled"
        return out
    model, why = active_model(settings.policy.model.artefact)
    if model is None:
        out["model"] = f"unavailable: {why}"
    else:
        out["model"] = model.version
        out["embedding_model"] = model.embedding_model
    return out


def trained_on(settings: Any, rows: Sequence[dict[str, Any]]) -> bool:
    """Whether the configured artefact was trained on rows of this file (by row ids)."""
    from connector.learned import active_model
    from connector.learned.train import rows_fingerprint

    if not settings.policy.model.enabled:
        return False
    model, _ = active_model(settings.policy.model.artefact)
    if model is None:
        return False
    fingerprint = rows_fingerprint(rows)
    return any(f.get("ids") == fingerprint for f in model.artefact.meta.get("files", []))


def cross_validate(
    rows: Sequence[dict[str, Any]], settings: Any, k: int = DEFAULT_FOLDS
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Rules + model scored fold by fold; returns (pooled result, one result per fold).

    Heads this file trains are refitted on the other folds; heads it does not train (a team head
    while scoring an escalation file) stay those of the configured artefact.
    """
    from connector.learned import LearnedModel, active_model, register_model
    from connector.learned.train import fit_heads

    base, why = active_model(settings.policy.model.artefact)
    if base is None:
        raise CrossValidationUnavailable(f"cross-validation needs the learned model: {why}")
    folds = assign_folds(rows, k)
    per_fold: dict[int, dict[str, Any]] = {}
    for fold in range(k):
        train_rows = [r for r, f in zip(rows, folds, strict=True) if f != fold]
        heads = {**base.artefact.heads, **fit_heads(train_rows, base.embedder)}
        artefact = type(base.artefact)(
            heads, {**base.artefact.meta, "version": f"{base.version}-fold{fold}"}
        )
        key = f"memory:cv-{fold}-of-{k}"
        register_model(key, LearnedModel(artefact, base.embedder))
        per_fold[fold] = policy_functions(_with_model(settings, key))
    position = {id(row): i for i, row in enumerate(rows)}
    pooled = evaluate(rows, row_fns=lambda row: per_fold[folds[position[id(row)]]])
    each = []
    for fold in range(k):
        held = [r for r, f in zip(rows, folds, strict=True) if f == fold]
        each.append(evaluate(held, **per_fold[fold]))
    return pooled, each


def evaluate_honestly(
    rows: Sequence[dict[str, Any]], settings: Any, folds: int | None = None
) -> dict[str, Any]:
    """What ``handoff evaluate`` reports for one file (see the module docstring).

    ``folds`` None: cross-validate when the configured model was trained on these rows, else
    score the rows as they are; 0 or 1: never; k ≥ 2: always (needs the model).
    """
    cv = trained_on(settings, rows) if folds is None else folds >= 2
    k = folds if folds and folds >= 2 else DEFAULT_FOLDS
    rules_only = evaluate(rows, **policy_functions(_with_model(settings, None, enabled=False)))
    if not settings.policy.model.enabled:
        result = dict(rules_only)
        validation = "rules only (policy.model.enabled is false): no fitting, no folds needed"
    elif cv:
        result, _ = cross_validate(rows, settings, k)
        validation = f"{k}-fold cross-validation: each row scored by heads fitted without it"
    else:
        result = evaluate(rows, **policy_functions(settings))
        validation = "the configured model as it is (it was not trained on these rows)"
    result["rules_only"] = rules_only
    result["validation"] = validation
    result["versions"] = versions(settings)
    return result
