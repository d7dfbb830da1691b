"""The generator's pure parts: masking, the request body, reading the answer, the settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.config import load_config
from connector.errors import ConfigError
from connector.generator import (
    InvalidOutput,
    apply,
    build_request,
    masked_values,
    read_completion,
)
from connector.generator_config import GeneratorSettings
from connector.masking import Masker, iban_ok, luhn_ok
from connector.policy_config import default_guardrails
from connector.schemas import HandoffPayload
from tests.standins.openai import good_answer

# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, masked",
    [
        pytest.param("write to ada.l@example.co.uk now", "write to [EMAIL_1] now", id="email"),
        pytest.param("call +44 20 7946 0958.", "call [PHONE_1].", id="phone-international"),
        pytest.param("ring (555) 123-4567 today", "ring [PHONE_1] today", id="phone-local"),
        pytest.param("card 4111 1111 1111 1111", "card [CARD_1]", id="card-luhn"),
        pytest.param("card 4111-1111-1111-1111", "card [CARD_1]", id="card-dashes"),
        pytest.param("IBAN GB82 WEST 1234 5698 7654 32", "IBAN [IBAN_1]", id="iban-spaced"),
        pytest.param("to DE89370400440532013000", "to [IBAN_1]", id="iban"),
        pytest.param("account number 445566", "account number [ACCOUNT_1]", id="account-word"),
        pytest.param("mi cuenta: 12-3456", "mi cuenta: [ACCOUNT_1]", id="account-spanish"),
        pytest.param("ref 123456789012", "ref [ACCOUNT_1]", id="long-digits"),
        pytest.param("order 5512 for $49.99", "order 5512 for $49.99", id="order-and-amount-kept"),
        pytest.param("on 2024-03-05 at 10:30", "on 2024-03-05 at 10:30", id="date-kept"),
        pytest.param("on 05/03/2024", "on 05/03/2024", id="slash-date-kept"),
    ],
)
def test_masking(text: str, masked: str) -> None:
    masker = Masker()
    assert masker.mask(text) == masked
    assert masker.unmask(masked) == text


def test_a_card_number_that_fails_luhn_is_still_masked_as_an_account() -> None:
    assert not luhn_ok("4111111111111112")
    assert Masker().mask("4111111111111112") == "[ACCOUNT_1]"


def test_check_digits() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_configured_values_keep_one_placeholder_each_and_come_back() -> None:
    customer = {"name": "Ana María", "email": "ana@example.es", "attributes": {"vat": "ES-X123"}}
    known = masked_values(customer, ["name", "email", "phone", "attributes.vat"])
    masker = Masker(known)
    text = masker.mask("ANA MARÍA, ana@example.es, again Ana María; VAT ES-X123")
    assert text == "[CUSTOMER_1], [EMAIL_1], again [CUSTOMER_1]; VAT [FIELD_1]"
    assert masker.unmask("Hi [CUSTOMER_1]") == "Hi ANA MARÍA"
    assert masker.strays("Hi [CUSTOMER_2] and [CUSTOMER_1]") == ["[CUSTOMER_2]"]


# --- the request and the answer -----------------------------------------------------------------


def _payload(**customer: Any) -> HandoffPayload:
    return HandoffPayload.model_validate(
        {
            "handoff_id": "ho_1",
            "conversation_id": "c1",
            "created_at": "2026-01-01T00:00:00Z",
            "summary": "Wants a replacement for order 5512.",
            "transcript": {
                "turns": [
                    {
                        "id": "1",
                        "role": "customer",
                        "text": "Mi pedido 5512 llegó roto, escriba a x@y.es",
                    }
                ]
            },
            "customer": {"name": "Sam Ortega", "language": "es", **customer},
            "intent": {"name": "refund", "source": "connector"},
            "escalation": {"reasons": [], "rules": [], "policy_version": "v"},
            "routing": {"team": "billing"},
        }
    )


def _settings(**extra: Any) -> GeneratorSettings:
    return GeneratorSettings(base_url="http://127.0.0.1:9/v1", model="m", **extra)


def test_the_request_asks_for_json_in_the_conversations_language_masked() -> None:
    masker = Masker(masked_values({"name": "Sam Ortega"}, ["name"]))
    body = build_request(
        _payload(),
        _settings(max_tokens=300),
        masker,
        tone="formal",
        guardrails=default_guardrails(),
    )
    system, user = body["messages"]
    assert body["max_tokens"] == 300 and body["response_format"] == {"type": "json_object"}
    assert "written in Spanish, in a formal tone" in " ".join(system["content"].split())
    assert "re:" not in system["content"]  # guardrail regexes are not prompt text
    assert "Sam Ortega" not in user["content"] and "x@y.es" not in user["content"]
    assert "[CUSTOMER_1]" in user["content"] and "5512" in user["content"]
    assert "response_format" not in build_request(
        _payload(), _settings(json_mode=False), Masker(), tone="friendly", guardrails=[]
    )


def _completion(content: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(json.dumps(good_answer()), id="plain"),
        pytest.param("```json\n" + json.dumps(good_answer()) + "\n```", id="fenced"),
        pytest.param("Here you are: " + json.dumps(good_answer()), id="with-preamble"),
    ],
)
def test_a_valid_answer_is_read_and_unmasked(content: str) -> None:
    masker = Masker([("CUSTOMER", "Sam"), ("EMAIL", "s@x.io")])
    masker.mask("Sam s@x.io")
    generated = read_completion(_completion(content), masker, guardrails=default_guardrails())
    assert generated.draft_reply.startswith("Hi Sam, I'm sorry")
    assert "s@x.io" in generated.draft_reply


@pytest.mark.parametrize(
    "body, reason",
    [
        pytest.param({"choices": []}, "no-content", id="no-choices"),
        pytest.param(_completion("   "), "no-content", id="empty"),
        pytest.param(_completion("no json here"), "not-json", id="prose"),
        pytest.param(_completion("{'summary': 1}"), "not-json", id="python-not-json"),
        pytest.param(_completion(json.dumps(["a"])), "not-json", id="a-list"),
        pytest.param(_completion(json.dumps({"summary": "a"})), "schema", id="missing-keys"),
        pytest.param(
            _completion(json.dumps(good_answer(summary="w " * 81))), "schema", id="too-long"
        ),
        pytest.param(
            _completion(json.dumps(good_answer(next_action=""))), "schema", id="empty-field"
        ),
        pytest.param(
            _completion(json.dumps(good_answer(draft_reply="Hi [CUSTOMER_9]"))),
            "invented-placeholder",
            id="invented-placeholder",
        ),
        pytest.param(
            _completion(json.dumps(good_answer(draft_reply="We will refund you today."))),
            "guardrail",
            id="guardrail",
        ),
    ],
)
def test_an_invalid_answer_raises_with_its_reason(body: Any, reason: str) -> None:
    masker = Masker([("CUSTOMER", "Sam"), ("EMAIL", "s@x.io")])
    masker.mask("Sam s@x.io")
    with pytest.raises(InvalidOutput) as caught:
        read_completion(body, masker, guardrails=default_guardrails())
    assert caught.value.reason == reason


def test_apply_replaces_only_the_three_fields() -> None:
    stored = _payload().model_dump(mode="json", by_alias=True)
    masker = Masker([("CUSTOMER", "Sam"), ("EMAIL", "s@x.io")])
    masker.mask("Sam s@x.io")
    generated = read_completion(
        _completion(json.dumps(good_answer())), masker, guardrails=default_guardrails()
    )
    after = apply(stored, generated, model="m", at="2026-01-01T00:00:05Z")
    changed = {k for k in after if after.get(k) != stored.get(k)}
    assert changed == {"summary", "draft_reply", "next_action", "generator"}
    assert HandoffPayload.model_validate(after).generator is not None


# --- settings -----------------------------------------------------------------------------------


def _load(tmp_path: Path, generator: Any, env: dict[str, str] | None = None) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"payload": {"generator": generator}}))
    return load_config(path, env=env or {})


def test_off_by_default(tmp_path: Path) -> None:
    assert load_config(None, env={}).payload.generator is None


def test_the_api_key_comes_from_the_environment(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        {"base_url": "http://127.0.0.1:11434/v1/", "model": "llama3.1", "api_key": "${LLM_KEY}"},
        env={"LLM_KEY": "sk-from-env"},
    )
    assert settings.payload.generator.api_key == "sk-from-env"
    assert settings.payload.generator.base_url == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(
    "generator, path",
    [
        pytest.param({"model": "m"}, "payload.generator.base_url", id="no-url"),
        pytest.param({"base_url": "ftp://x", "model": "m"}, "payload.generator.base_url", id="url"),
        pytest.param({"base_url": "http://x/v1"}, "payload.generator.model", id="no-model"),
        pytest.param(
            {"base_url": "http://x/v1", "model": "m", "kind": "anthropic"},
            "payload.generator.kind",
            id="kind",
        ),
        pytest.param(
            {"base_url": "http://x/v1", "model": "m", "timeout_seconds": 0},
            "payload.generator.timeout_seconds",
            id="timeout",
        ),
        pytest.param(
            {"base_url": "http://x/v1", "model": "m", "mask_fields": ["address"]},
            "payload.generator.mask_fields",
            id="mask-field",
        ),
        pytest.param(
            {"base_url": "http://x/v1", "model": "m", "temprature": 1},
            "payload.generator.temprature",
            id="unknown-key",
        ),
    ],
)
def test_bad_settings_name_their_key_path(tmp_path: Path, generator: Any, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, generator)
    assert any(p == path or p.startswith(path + ".") for p, _ in caught.value.problems), (
        caught.value.problems
    )


def test_the_examples_commented_block_loads_when_uncommented(tmp_path: Path) -> None:
    import re

    example = (Path(__file__).resolve().parents[1] / "config.example.yaml").read_text()
    start = example.index("  #  generator:")
    end = example.index("\nworker:", start)
    # uncomment as a reader would: the "#" and the two spaces after it go (tests/test_config_
    # example_blocks.py checks every block of the file the same way)
    block = re.sub(r"(?m)^  #  ", "  ", example[start:end])
    path = tmp_path / "config.yaml"
    path.write_text(example[:start] + block + example[end:])
    generator = load_config(path, env={}).payload.generator
    assert generator is not None and generator.base_url == "http://127.0.0.1:11434/v1"
    assert not generator.api_key and generator.mask_fields == ["name", "email", "phone"]


def test_a_draft_in_another_language_than_the_conversations_is_refused() -> None:
    masker = Masker([("CUSTOMER", "Sam"), ("EMAIL", "s@x.io")])
    masker.mask("Sam s@x.io")
    english = _completion(json.dumps(good_answer()))
    with pytest.raises(InvalidOutput) as caught:
        read_completion(english, masker, guardrails=default_guardrails(), language="es")
    assert caught.value.reason == "language"
    spanish = _completion(
        json.dumps(
            good_answer(
                draft_reply="Hola [CUSTOMER_1], siento mucho que su pedido 5512 llegara dañado. "
                "Ya estoy revisando la entrega y le escribo hoy a [EMAIL_1]."
            )
        )
    )
    kept = read_completion(spanish, masker, guardrails=default_guardrails(), language="es-MX")
    assert kept.draft_reply.startswith("Hola Sam")
    # a language we cannot tell apart is left to the prompt
    assert read_completion(english, masker, guardrails=default_guardrails(), language="ja")
