"""Logistic-regression heads on sentence embeddings, trained with numpy and stored as small arrays.

A head is multinomial logistic regression (softmax) with an L2 penalty, fitted by full-batch
gradient descent with class weights that balance the classes (a rare reason is not drowned by
"none"). Training is deterministic: the same rows give the same weights, bit for bit on one machine.

An artefact is one ``.npz`` file holding each head's weights and bias, plus a JSON ``meta`` entry:
the classes, the embedding model id, the training files' row counts and a hash of their ids, the
sources and licences of the training rows, and the version ``m-`` + 12 hex digits of the SHA-256 of
the weights. The version names the weights, so the audit trail says which model spoke.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEADS = ("escalation", "team", "sentiment")
DEFAULT_L2 = 1e-3
DEFAULT_STEPS = 400
DEFAULT_RATE = 2.0  # unit-length inputs: a large step is stable


@dataclass
class Head:
    """One softmax classifier: ``classes``, weights ``(dims, classes)`` and ``bias``."""

    classes: tuple[str, ...]
    weights: Any
    bias: Any

    def probabilities(self, vectors: Any) -> Any:
        """Rows of class probabilities for ``(n, dims)`` vectors."""
        logits = np.asarray(vectors, dtype=np.float32) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def rank(self, vector: Any) -> list[tuple[str, float]]:
        """``(class, probability)`` for one vector, most probable first."""
        probs = self.probabilities(np.asarray(vector)[None, :])[0]
        order = np.argsort(-probs)
        return [(self.classes[i], float(probs[i])) for i in order]


def fit_head(
    vectors: Any,
    labels: list[str],
    *,
    l2: float = DEFAULT_L2,
    steps: int = DEFAULT_STEPS,
    rate: float = DEFAULT_RATE,
) -> Head:
    """Fit a balanced softmax regression; ``labels`` name each row's class."""
    x = np.asarray(vectors, dtype=np.float64)
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise ValueError(f"a head needs two classes or more, got {classes}")
    index = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)))
    y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    counts = y.sum(axis=0)
    row_weight = (y @ (len(labels) / (len(classes) * counts)))[:, None] / len(labels)
    w = np.zeros((x.shape[1], len(classes)))
    b = np.zeros(len(classes))
    for _ in range(steps):
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - y) * row_weight
        w -= rate * (x.T @ grad + l2 * w)
        b -= rate * grad.sum(axis=0)
    return Head(classes, w.astype(np.float32), b.astype(np.float32))


@dataclass
class Artefact:
    """The trained heads and what they were trained on (see the module docstring)."""

    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "m-unversioned"))


def weights_version(heads: dict[str, Head]) -> str:
    """``m-`` + 12 hex digits of the SHA-256 of the heads' classes and weights."""
    digest = hashlib.sha256()
    for name in sorted(heads):
        head = heads[name]
        digest.update(json.dumps([name, list(head.classes)]).encode())
        digest.update(np.ascontiguousarray(head.weights, dtype=np.float32).tobytes())
        digest.update(np.ascontiguousarray(head.bias, dtype=np.float32).tobytes())
    return "m-" + digest.hexdigest()[:12]


def save_artefact(artefact: Artefact, path: str | Path) -> str:
    """Write ``path`` (.npz, float16 weights: a few hundred KB) and return the version."""
    arrays: dict[str, Any] = {}
    for name, head in artefact.heads.items():
        # float16 halves the file; the scores move by < 0.001. The version hashes what is stored.
        head.weights = head.weights.astype(np.float16).astype(np.float32)
        head.bias = head.bias.astype(np.float16).astype(np.float32)
        arrays[f"{name}.weights"] = head.weights.astype(np.float16)
        arrays[f"{name}.bias"] = head.bias.astype(np.float16)
    meta = dict(artefact.meta)
    meta["heads"] = {name: list(head.classes) for name, head in artefact.heads.items()}
    meta["version"] = weights_version(artefact.heads)
    artefact.meta = meta
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    Path(path).write_bytes(buffer.getvalue())
    return str(meta["version"])


def load_artefact(path: str | Path) -> Artefact:
    """Read an artefact written by :func:`save_artefact`; raises ``ValueError`` when malformed."""
    try:
        with np.load(str(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            heads = {
                name: Head(
                    tuple(classes),
                    data[f"{name}.weights"].astype(np.float32),
                    data[f"{name}.bias"].astype(np.float32),
                )
                for name, classes in meta["heads"].items()
            }
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a model artefact ({exc.__class__.__name__}: {exc})") from exc
    return Artefact(heads, meta)
