"""``payload.generator``: the settings of the optional model (``connector.generator``).

Its own module so ``connector.policy_config`` (``PayloadSettings``) can hold it without importing
the generator, which reads the policy's guardrails.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CUSTOMER_FIELDS = ("id", "name", "email", "phone")


class GeneratorSettings(BaseModel):
    """``payload.generator``: absent (the default) means no model is ever called."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["openai-compatible"] = "openai-compatible"
    base_url: str  # up to and including the version: http://127.0.0.1:8000/v1
    model: str = Field(min_length=1)
    api_key: str | None = None  # sent as a Bearer token; local servers usually need none
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)  # the total deadline of one call
    max_tokens: int = Field(default=700, ge=64, le=16_384)
    # the request key that carries it: max_tokens (what local servers read) or
    # max_completion_tokens (OpenAI's newer name, the only one its reasoning models accept)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    temperature: float = Field(default=0.2, ge=0, le=2)
    json_mode: bool = True  # ask for response_format json_object (every server named above has it)
    max_attempts: int = Field(default=3, ge=1, le=10)  # timeouts, 429 and 5xx are tried again
    give_up_after_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # customer fields whose values are masked wherever they appear: id, name, email, phone or
    # attributes.<key> (e-mails, phones, card and account numbers are masked in any case)
    mask_fields: list[str] = Field(default_factory=lambda: ["name", "email", "phone"])

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError(
                "must be an http:// or https:// URL (such as http://127.0.0.1:8000/v1)"
            )
        return url.rstrip("/")

    @field_validator("mask_fields")
    @classmethod
    def _known_fields(cls, fields: list[str]) -> list[str]:
        for name in fields:
            if name not in CUSTOMER_FIELDS and not re.fullmatch(r"attributes\.[\w.-]+", name):
                raise ValueError(
                    f"unknown customer field {name!r}; use one of {', '.join(CUSTOMER_FIELDS)} "
                    "or attributes.<key>"
                )
        return fields
