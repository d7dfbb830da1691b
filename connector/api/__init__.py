"""HTTP plumbing shared by the blueprints: the runtime, problem responses, auth, body parsing."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Response, current_app, request
from pydantic import BaseModel

from channels.base import BotChannel, InboundRequest
from connector import security
from connector.errors import ProblemError, Unauthorized
from connector.runtime import Runtime
from connector.schemas import load_json

M = TypeVar("M", bound=BaseModel)
PROBLEM_BASE = "https://handoff-connector.dev/problems/"


def runtime() -> Runtime:
    return current_app.extensions["handoff"]  # type: ignore[no-any-return]


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    slug: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
) -> Response:
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
    text = (
        model.model_dump_json(by_alias=True) if isinstance(model, BaseModel) else json.dumps(model)
    )
    return Response(text, status=status, mimetype="application/json")


def parse_body(model: type[M], raw: bytes | None = None) -> M:
    """Parse the raw body as JSON into ``model``; a 400 problem names every bad field by path, and a
    body over ``limits:`` is a 400 or 413 naming the config key (``connector/limits.py``)."""
    return load_json(
        model, request.get_data(cache=True) if raw is None else raw, runtime().settings.limits
    )


def inbound_request(path: str = "") -> InboundRequest:
    """The current request as a channel sees it (no Flask objects cross into ``channels/``)."""
    return InboundRequest(
        method=request.method,
        path=path,
        headers=request.headers,  # type: ignore[arg-type]
        body=request.get_data(cache=True),
        query=request.args,
        url_path=request.script_root + request.path,
    )


def channel_of(source: str) -> BotChannel:
    found = runtime().channels.get(source)
    if found is None:
        raise Unauthorized(f"unknown bot source {source!r}", slug="unknown-source")
    return found


def authenticate_bot() -> str:
    """Check the source (``X-Handoff-Source``) and let its channel verify the request, before
    anything is parsed."""
    source = request.headers.get(security.SOURCE_HEADER)
    if not source:
        raise Unauthorized(
            f"missing {security.SOURCE_HEADER} header naming the bot source", slug="missing-source"
        )
    channel_of(source).verify(inbound_request(), now=runtime().now().timestamp())
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
