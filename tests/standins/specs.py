"""The vendors' OpenAPI documents: where they are, loading them once, validating requests.

The documents live outside the repo (``HANDOFF_VENDOR_SPECS``, default ``<repo>/../shared/specs``;
see ``PROVENANCE.md`` there). Each one is read once per process and adjusted in memory only:
``servers`` becomes ``/``, the strict spec validator is off, and whatever a stand-in adds by hand
is marked ``x-added-by-hand: true`` in the copy it validates against.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest

__all__ = ["SPECS_ENV", "SpecValidator", "SpecsMissing", "load_document", "specs_dir"]

SPECS_ENV = "HANDOFF_VENDOR_SPECS"
REPO_ROOT = Path(__file__).resolve().parents[2]


class SpecsMissing(RuntimeError):
    """The vendor specs folder (or one file in it) is not there."""


def specs_dir() -> Path:
    """The specs folder: ``$HANDOFF_VENDOR_SPECS`` or ``<repo root>/../shared/specs``."""
    configured = os.environ.get(SPECS_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "specs"


def spec_file(relative: str) -> Path:
    """A file under the specs folder; raises ``SpecsMissing`` naming the env var to set."""
    path = specs_dir() / relative
    if not path.is_file():
        raise SpecsMissing(
            f"vendor spec {path} not found: set {SPECS_ENV} to the shared specs folder "
            "(see shared/specs/PROVENANCE.md)"
        )
    return path


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    pass


# Zendesk's file has a bare ``=`` scalar, which YAML 1.1 resolves to the ``value`` tag.
_Loader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)

_documents: dict[Path, dict[str, Any]] = {}
_validators: dict[tuple[str, Path], SpecValidator] = {}
_lock = threading.Lock()


def load_document(relative: str) -> dict[str, Any]:
    """The parsed document (cached; callers must not mutate it, use ``copy.deepcopy``)."""
    path = spec_file(relative)
    with _lock:
        if path not in _documents:
            with path.open(encoding="utf-8") as fh:
                if path.suffix == ".json":
                    _documents[path] = json.load(fh)
                else:
                    _documents[path] = yaml.load(fh, Loader=_Loader)
        return _documents[path]


class SpecValidator:
    """Validates one request against an OpenAPI document with openapi-core.

    Build it through ``SpecValidator.cached(key, relative_path, adjust, forbid_additional)`` so each
    document is parsed and compiled once per process.
    """

    def __init__(self, document: dict[str, Any], *, forbid_additional: bool = False) -> None:
        self.document = document
        self.openapi = OpenAPI.from_dict(
            document,
            config=Config(
                spec_validator_cls=None,  # both vendors' files fail strict validation
                additional_properties_default_policy="forbid" if forbid_additional else "allow",
            ),
        )

    @classmethod
    def cached(
        cls,
        key: str,
        relative: str,
        adjust: Callable[[dict[str, Any]], None] | None = None,
        *,
        forbid_additional: bool = False,
    ) -> SpecValidator:
        """The process-wide validator for ``relative`` adjusted by ``adjust`` (keyed by ``key``)."""
        path = spec_file(relative)
        with _lock:
            found = _validators.get((key, path))
        if found is not None:
            return found
        document = copy.deepcopy(load_document(relative))
        document["servers"] = [{"url": "/"}]
        if adjust is not None:
            adjust(document)
        validator = cls(document, forbid_additional=forbid_additional)
        with _lock:
            return _validators.setdefault((key, path), validator)

    def validate(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        json_body: Any,
        raw_body: bytes,
    ) -> list[str]:
        """Readable validation errors, ``[]`` when the request is what the vendor documents."""
        content_type = next(
            (v for k, v in headers.items() if k.lower() == "content-type"), "application/json"
        )
        body = json.dumps(json_body).encode() if json_body is not None else raw_body
        request = MockRequest(
            "http://127.0.0.1",
            method,
            path,
            args=_multidict(query),
            headers=headers,
            data=body or None,
            content_type=content_type.split(";")[0].strip().lower(),
        )
        return [_describe(exc) for exc in self.openapi.iter_request_errors(request)]


def _multidict(query: dict[str, list[str]]) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict([(k, v) for k, values in query.items() for v in values])


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__
    details = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in getattr(cause, "schema_errors", None) or ()
    ]
    if details:
        return f"{type(exc).__name__}: " + "; ".join(details)
    return f"{exc}" + (f" ({cause})" if cause is not None else "")


def mark(obj: dict[str, Any], note: str) -> dict[str, Any]:
    """Mark a hand-added spec fragment, so a reader of the adjusted copy can tell."""
    obj["x-added-by-hand"] = True
    obj["x-added-because"] = note
    return obj
