"""A local OpenAI-compatible chat-completions server (``integrations/openai_compatible.py``).

Every request is validated against OpenAI's published document (the chat-completions subset cut
from ``openai/openapi.yaml``, see ``PROVENANCE.md``), loaded from ``../shared/specs`` at test time;
the API key is a Bearer token. ``/v1`` is the version prefix a configured ``base_url`` ends with,
as on OpenAI, vLLM, llama.cpp and Ollama. Answers come from a queue (``answer_next``): a JSON object
becomes the message content as JSON text, a string is sent as the content verbatim (a model that
writes prose), and ``bytes`` as the whole HTTP body (a server that does not answer JSON).
Timeouts, 429 with ``Retry-After`` and 5xx come from the shared fault queue
(``delay_next``, ``fail_next``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from .base import Request, Response, StandinServer
from .specs import SpecValidator, mark

__all__ = ["OpenAIStandin", "good_answer"]

SPEC = "openai/openai-chat-completions.subset.json"


def _discriminator_mappings(document: dict[str, Any]) -> None:
    """OpenAI's discriminators (``role``, ``type``) name no ``mapping``, so OpenAPI's implicit rule
    reads the value as a schema name (``json_object`` → ``#/components/schemas/json_object``), which
    does not exist. Write out the mapping each member's own ``enum`` states, nothing else."""
    schemas = document["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        found = node.get("discriminator")
        if isinstance(found, dict) and "mapping" not in found and "oneOf" in node:
            name, mapping = found["propertyName"], {}
            for member in node["oneOf"]:
                ref = member.get("$ref", "")
                target = schemas.get(ref.rsplit("/", 1)[-1], {})
                for value in (target.get("properties", {}).get(name) or {}).get("enum", []):
                    mapping[value] = ref
            if mapping:
                found["mapping"] = mapping
                mark(node, "discriminator mapping written out from each member's enum")
        for value in node.values():
            walk(value)

    walk(document)


def good_answer(**overrides: str) -> dict[str, str]:
    """A reply that passes our schema; ``overrides`` change single keys."""
    return {
        "summary": "Customer reports order 5512 arrived with a cracked screen and wants a "
        "replacement; the bot could not arrange one, so a person must decide.",
        "draft_reply": "Hi [CUSTOMER_1], I'm sorry order 5512 arrived damaged. I'm checking "
        "the delivery now and will come back to you at [EMAIL_1] today.",
        "next_action": "Check order 5512's delivery photo and approve or decline the replacement.",
        "reasoning": "The customer reports damage on delivery and asks for a replacement.",
        **overrides,
    }


class OpenAIStandin(StandinServer):
    """A chat-completions server on ``127.0.0.1``; ``api_key`` ``None`` accepts any request (a
    local server). ``bodies`` holds every request body it accepted."""

    vendor = "openai"

    def __init__(self, *, api_key: str | None = "sk-local-test") -> None:
        super().__init__()
        self.api_key = api_key
        self.answers: list[Any] = []
        self.bodies: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def answer_next(self, *answers: Any) -> None:
        """Queue answers (see the module docstring); with none queued, ``good_answer()``."""
        with self._lock:
            self.answers.extend(answers)

    # -- StandinServer -------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", r"/chat/completions", self._complete)]

    def normalise_path(self, path: str) -> str:
        return path[len("/v1") :] if path.startswith("/v1/") else path

    def validator(self) -> SpecValidator:
        return SpecValidator.cached("openai", SPEC, _discriminator_mappings)

    def check_auth(self, request: Request) -> Response | None:
        if self.api_key is None or request.header("Authorization") == f"Bearer {self.api_key}":
            return None
        return self.error(401, "invalid_api_key", "Incorrect API key provided.")

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(
            status, "server_error"
        )
        return {"error": {"message": message or f"HTTP {status}", "type": kind, "param": None,
                          "code": code}}  # fmt: skip

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        return self.error(400, "invalid_request", "; ".join(errors))

    # -- behaviour ---------------------------------------------------------------------------
    def _complete(self, request: Request) -> Response:
        self.bodies.append(request.json)
        answer = self.answers.pop(0) if self.answers else good_answer()
        if isinstance(answer, bytes):
            return Response(200, answer, {"Content-Type": "text/html"})
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return Response(
            200,
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": request.json.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
        )
