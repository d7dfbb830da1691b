"""A stand-in for the webhook of Botpress's ``hitl-api`` integration (``/message-from-agent``,
``/agent-assigned``, ``/stop-hitl`` under ``https://webhook.botpress.cloud/<webhook id>``),
validating each call against the integration's generated OpenAPI document. It keeps, per remote
conversation, what Botpress would have done: messages shown, agent assigned, HITL stopped.
"""

from __future__ import annotations

from typing import Any

from .base import Request, Response, StandinServer
from .specs import SpecValidator

WEBHOOK_SPEC = "botpress/hitl-api/docs/output/openapi-botpress-webhook.json"
SERVICE_SPEC = "botpress/hitl-api/docs/output/openapi-external-service.json"
WEBHOOK_ID = "wh-0b6f3c2e"


class BotpressWebhookStandin(StandinServer):
    vendor = "botpress"

    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/{WEBHOOK_ID}"

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", r"/(?P<operation>message-from-agent|agent-assigned|stop-hitl)", self.call)]

    def normalise_path(self, path: str) -> str:
        # an unknown webhook id is a 404 at Botpress: leave the path unmatched
        return path.removeprefix(f"/{WEBHOOK_ID}")

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("botpress-webhook", WEBHOOK_SPEC, forbid_additional=True)

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        return {"message": message or code or str(status)}

    def call(self, request: Request) -> Response:
        body = request.json
        state = self.conversations.setdefault(
            body["remoteConversationId"], {"messages": [], "assigned": None, "stopped": False}
        )
        operation = request.params["operation"]
        if operation == "message-from-agent":
            state["messages"].append((body["remoteUserId"], body["messageType"], body["payload"]))
        elif operation == "agent-assigned":
            state["assigned"] = body["remoteUserId"]
        else:
            state["stopped"] = True
        return Response(200, {})


def external_service_validator() -> SpecValidator:
    """Validates what Botpress sends *to us* (and, in tests, what we answer)."""
    return SpecValidator.cached("botpress-service", SERVICE_SPEC)
