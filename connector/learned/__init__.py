"""The learned signal: sentence embeddings + logistic-regression heads, beside the rules.

Optional: it needs the ``[ml]`` extra (onnxruntime, numpy, tokenizers and the packages that carry
the model and tokenizer files). :func:`active_model` returns the loaded model, or ``None`` with the
one-line reason it is unavailable, so the policy runs the rules alone and says why in
``Decision.checked``. Nothing here imports numpy or onnxruntime at import time.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

SHIPPED_ARTEFACT = "heads/default.npz"

_LOCK = threading.Lock()
_MODELS: dict[str, tuple[Any, str | None]] = {}


def shipped_artefact() -> Path:
    """The artefact that ships with the package (trained on the shared dev files)."""
    return Path(str(resources.files("connector.learned").joinpath(SHIPPED_ARTEFACT)))


class LearnedModel:
    """An artefact's heads with the embedder they were trained on."""

    def __init__(self, artefact: Any, embedder: Any) -> None:
        self.artefact = artefact
        self.embedder = embedder
        self.version = artefact.version
        self.embedding_model = str(artefact.meta.get("embedding_model", "?"))

    def rank(
        self, head: str, messages: Any, unit: str = "last_user_message"
    ) -> list[tuple[str, float]]:
        """``(class, probability)`` of ``head`` for a conversation, most probable first;
        ``[]`` when the artefact has no such head."""
        from connector.learned.features import feature

        found = self.artefact.heads.get(head)
        if found is None:
            return []
        return found.rank(feature(self.embedder, messages, head, unit))  # type: ignore[no-any-return]


def load_model(artefact: str | None = None) -> LearnedModel:
    """Load an artefact (None: the shipped one) and the embedder; raises on any problem."""
    from connector.learned.embed import load_embedder
    from connector.learned.heads import load_artefact

    path = Path(artefact) if artefact else shipped_artefact()
    loaded = load_artefact(path)
    embedder = load_embedder()
    wanted = loaded.meta.get("embedding_model")
    if wanted and wanted != embedder.model_id:
        raise ValueError(
            f"{path}: trained on {wanted}, this install embeds with {embedder.model_id}"
        )
    return LearnedModel(loaded, embedder)


def active_model(artefact: str | None = None) -> tuple[LearnedModel | None, str | None]:
    """``(model, None)``, or ``(None, why)`` when it cannot load; loaded once per artefact."""
    key = artefact or ""
    with _LOCK:
        cached = _MODELS.get(key)
        if cached is None:
            try:
                cached = (load_model(artefact), None)
            except ImportError as exc:
                cached = (None, f"{exc.name or exc} is not installed (the [ml] extra)")
            except Exception as exc:  # noqa: BLE001 - any load failure means rules alone, said once
                cached = (None, f"{exc.__class__.__name__}: {exc}"[:300])
            _MODELS[key] = cached
        return cached


def register_model(key: str, model: LearnedModel) -> None:
    """Make ``model`` what ``policy.model.artefact: KEY`` loads (cross-validation fits heads in
    memory per fold; nothing is written to disk)."""
    with _LOCK:
        _MODELS[key] = (model, None)


def forget_models() -> None:
    """Drop loaded models (a retrained artefact at the same path is read again)."""
    with _LOCK:
        _MODELS.clear()
