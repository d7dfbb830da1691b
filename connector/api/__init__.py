"""HTTP plumbing shared by the blueprints: the runtime, problem responses, auth, body parsing."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Response, current_app, request
from pydantic import BaseModel, ValidationError

from connector import limits, security
from connector.errors import BadRequest, ProblemError, Unauthorized
from connector.runtime import Runtime

M = TypeVar("M", bound=BaseModel)
PROBLEM_BASE = "https://handoff-connector.dev/problems/"


def runtime() -> Runtime:
    return current_app.extensions["handoff"]  # type: ignore[no-any-return]


def problem_response(status: int, title: str, detail: str = "", slug: str = "about:blank",
                     errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": slug if slug == "about:blank" else PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def from_problem(exc: ProblemError) -> Response:
    response = problem_response(exc.status, exc.title, exc.detail, exc.slug, exc.errors)
    if exc.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def json_response(model: BaseModel | dict[str, Any], status: int = 200) -> Response:
    text = model.model_dump_json(by_alias=True) if isinstance(model, BaseModel) else json.dumps(model)
    return Response(text, status=status, mimetype="application/json")


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def parse_body(model: type[M], raw: bytes | None = None) -> M:
    """Parse the raw body as JSON into ``model``; a 400 problem names every bad field by path.

    JSON over ``limits:`` (depth, number length) is a 400, a body over its message or text limits
    a 413; both name the config key (``connector/limits.py``).
    """
    raw = request.get_data(cache=True) if raw is None else raw
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object", slug="malformed-json")
    try:
        data = limits.loads(raw, runtime().settings.limits)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", slug="malformed-json") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object", slug="malformed-json")
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        errors = [{"path": _path(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = errors[0]
        raise BadRequest(
            f"{len(errors)} invalid field(s); first: {first['path']}: {first['message']}",
            slug="validation-error", title="Invalid request body", errors=errors,
        ) from None
    limits.check_body(body, runtime().settings.limits)
    return body


def authenticate_bot() -> str:
    """Check the source and its signature over the raw body, before anything is parsed."""
    rt = runtime()
    source = request.headers.get(security.SOURCE_HEADER)
    if not source:
        raise Unauthorized(f"missing {security.SOURCE_HEADER} header naming the bot source",
                           slug="missing-source")
    settings = rt.settings.sources.get(source)
    if settings is None:
        raise Unauthorized(f"unknown bot source {source!r}", slug="unknown-source")
    body = request.get_data(cache=True)
    security.verify(settings.secret, request.headers.get(security.SIGNATURE_HEADER), body,
                    now=rt.now().timestamp(), window=rt.settings.security.replay_window_seconds)
    return source


def presented_api_key(allow_query: bool = False) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    key = request.headers.get("X-API-Key")
    if key:
        return key
    if allow_query:
        return request.args.get("key") or request.form.get("key")
    return None


def require_api_key(allow_query: bool = False) -> None:
    security.check_api_key(presented_api_key(allow_query), runtime().settings.security.api_keys)
