"""The send step of the optional model: one chat-completions call to an OpenAI-compatible server.

Plain ``requests`` (no SDK): ``POST <base_url>/chat/completions`` with the body
``connector.generator.build_request`` built, a Bearer key when one is configured, and a total
deadline (``connector.deadline``), so a server that trickles its answer cannot hold a delivery
thread past ``timeout_seconds``. One error edge, the same table as every destination::

    GeneratorTimeout (a TransientDeliveryError)   no complete answer within the deadline
    status 408, 425, 429, 5xx                      TransientDeliveryError (retry_after from Retry-After)
    other 4xx                                      PermanentDeliveryError (the server's message kept)
    connection refused or reset                    TransientDeliveryError
    an answer that is not JSON                     connector.generator.InvalidOutput

Works with OpenAI, and with local servers that speak its API: vLLM, llama.cpp's ``llama-server``
and Ollama (``http://127.0.0.1:11434/v1``); docs/generator.md.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from connector.deadline import request_within
from connector.generator import InvalidOutput
from connector.generator_config import GeneratorSettings
from integrations.base import DeliveryError, TransientDeliveryError, error_for_status


class GeneratorTimeout(TransientDeliveryError):
    """The model did not answer completely within ``timeout_seconds``."""


class ChatCompletionsClient:
    name = "openai-compatible"

    def __init__(self, settings: GeneratorSettings):
        self.settings = settings
        self.url = f"{settings.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    def complete(self, body: dict[str, Any]) -> Any:
        """Send ``body``; the answer's parsed JSON. Raises a ``DeliveryError`` or ``InvalidOutput``."""
        deadline = self.settings.timeout_seconds
        try:
            response = request_within(
                "POST",
                self.url,
                deadline=deadline,
                data=json.dumps(body).encode(),
                headers=self.headers(),
            )
        except requests.Timeout as exc:
            raise GeneratorTimeout(f"model: no complete answer within {deadline:g}s") from exc
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"model: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            return response.json()
        except ValueError:
            raise InvalidOutput("not-json", "the HTTP answer is not JSON") from None


def _status_error(response: requests.Response) -> DeliveryError:
    detail = ""
    try:
        error = response.json().get("error")
        detail = str(error.get("message") if isinstance(error, dict) else error or "")
    except (ValueError, AttributeError):
        pass
    return error_for_status(
        response.status_code,
        f"model: HTTP {response.status_code} {detail[:200]}".strip(),
        response=response.text[:1000],
        retry_after=response.headers.get("Retry-After"),
    )
