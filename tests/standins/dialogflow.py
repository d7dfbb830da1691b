"""A stand-in for Dialogflow CX's ``detectIntent`` (the way back to the bot), checking each body
with the ``google-cloud-dialogflow-cx`` package's own ``DetectIntentRequest`` type (proto3 JSON,
unknown fields refused) and the bearer token. It records the event inputs per session.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Request, Response, StandinServer, ValidationProblem


class DialogflowStandin(StandinServer):
    vendor = "dialogflow"

    def __init__(self, token: str) -> None:
        self.token = token
        self.events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        super().__init__()

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"/v3/(?P<session>projects/[^:]+/sessions/[^/:]+):detectIntent", self.detect)
        ]

    def check_auth(self, request: Request) -> Response | None:
        if request.header("Authorization") != f"Bearer {self.token}":
            return self.error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        return {
            "error": {
                "code": status,
                "message": message or str(status),
                "status": code or "INTERNAL",
            }
        }

    def detect(self, request: Request) -> Response:
        from google.cloud import dialogflowcx_v3 as cx
        from google.protobuf.json_format import ParseError

        try:
            parsed = cx.DetectIntentRequest.from_json(
                request.body.decode(), ignore_unknown_fields=False
            )
        except (ParseError, ValueError) as exc:
            self.validation_errors.append(
                ValidationProblem(request.method, request.path, [str(exc)])
            )
            return self.error(400, "INVALID_ARGUMENT", str(exc))
        event = parsed.query_input.event.event
        if not event or not parsed.query_input.language_code:
            problem = "queryInput.event.event and queryInput.languageCode are required"
            self.validation_errors.append(
                ValidationProblem(request.method, request.path, [problem])
            )
            return self.error(400, "INVALID_ARGUMENT", problem)
        parameters = json.loads(request.body).get("queryParams", {}).get("parameters", {})
        self.events.setdefault(request.params["session"], []).append((event, parameters))
        answer = cx.DetectIntentResponse(response_id=f"resp-{len(self.requests)}")
        return Response(200, json.loads(cx.DetectIntentResponse.to_json(answer)))
