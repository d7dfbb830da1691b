"""A stand-in for Direct Line 3.0, the way back to a Bot Framework / Copilot Studio bot.

It takes ``POST /v3/directline/conversations/{id}/activities`` with the Direct Line secret as a
bearer token, checks the activity against ``Activity`` in Microsoft's published Direct Line 3.0
document (Swagger 2.0, which openapi-core does not read: its JSON Schema definitions are checked
with jsonschema) and answers a ``ResourceResponse``.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import jsonschema

from .base import Request, Response, StandinServer
from .specs import load_document

SPEC = "botframework/directline-3.0.json"


def activity_errors(activity: Any) -> list[str]:
    """What Direct Line 3.0's ``Activity`` definition refuses in ``activity`` (``[]``: fine)."""
    document = copy.deepcopy(load_document(SPEC))
    schema = {"$ref": "#/definitions/Activity", "definitions": document["definitions"]}
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(activity)
    ]


class DirectLineStandin(StandinServer):
    vendor = "directline"

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"/v3/directline/conversations/(?P<conversation>[^/]+)/activities", self.post)
        ]

    def check_auth(self, request: Request) -> Response | None:
        if request.header("Authorization") != f"Bearer {self.secret}":
            return self.error(403, message="invalid Direct Line secret")
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        return {"error": {"code": code or "ServiceError", "message": message or str(status)}}

    def post(self, request: Request) -> Response:
        errors = (
            activity_errors(request.json) if isinstance(request.json, dict) else ["not an object"]
        )
        if errors:
            self.validation_errors.append(_problem(request, errors))
            return self.error(400, "BadArgument", "; ".join(errors))
        conversation = request.params["conversation"]
        activity_id = f"{conversation}|{next(self._ids):07d}"
        self.activities.setdefault(conversation, []).append({**request.json, "id": activity_id})
        return Response(200, {"id": activity_id})


def _problem(request: Request, errors: list[str]) -> Any:
    from .base import ValidationProblem

    return ValidationProblem(request.method, request.path, errors)
