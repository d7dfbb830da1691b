"""``handoff evaluate --payload``: the payload checks, on small hand-written cases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.payload_check import (
    check_one,
    check_rows,
    key_facts,
    language_of,
    quoted_abuse,
    summarise,
)


@pytest.mark.parametrize(
    "text, language",
    [
        pytest.param("My order never arrived and I want my money back", "en", id="en"),
        pytest.param("Mi pedido no ha llegado y quiero que me devuelvan el dinero", "es", id="es"),
        pytest.param("Ma commande n'est pas arrivée et je veux être remboursé", "fr", id="fr"),
        pytest.param("Meine Bestellung ist nicht angekommen und ich habe kein Geld", "de", id="de"),
        pytest.param("O meu pedido não chegou e eu quero o meu dinheiro de volta", "pt", id="pt"),
        pytest.param("Il mio ordine non è arrivato e voglio un rimborso per questo", "it", id="it"),
        pytest.param("Mijn bestelling is niet aangekomen en ik wil mijn geld terug", "nl", id="nl"),
        pytest.param("Refund!", None, id="too-short"),
    ],
)
def test_language_of(text: str, language: str | None) -> None:
    assert language_of(text) == language


def test_key_facts_are_numbers_and_names_not_sentence_starts() -> None:
    facts = key_facts(
        ["Hi, my order 5512 from Acme Store arrived on 12/03. Please help, I paid $49.99."]
    )
    assert facts == {"5512", "Acme Store", "12/03", "49.99"}


@pytest.mark.parametrize(
    "draft, said, quoted",
    [
        pytest.param('Thanks: you wrote "Useless."', ["Useless."], ["useless"], id="quoted-back"),
        pytest.param("I'm sorry this has been frustrating.", ["Useless."], [], id="own-words"),
        pytest.param("Hello, thanks for waiting.", ["What the hell"], [], id="hello-is-not-hell"),
        pytest.param("Lo siento, es una mierda.", ["Esto es una mierda"], ["mierda"], id="es"),
    ],
)
def test_quoted_abuse(draft: str, said: list[str], quoted: list[str]) -> None:
    assert quoted_abuse(draft, said) == quoted


def _payload(summary: str, draft: str, priority: str = "normal") -> Any:
    return SimpleNamespace(
        summary=summary, draft_reply=draft, routing=SimpleNamespace(priority=priority)
    )


def test_the_figures_over_rows() -> None:
    results = [
        check_one(
            ["Order 5512 from Acme arrived broken. Useless."],
            _payload("Order 5512 arrived broken.", 'You wrote "Useless."', "high"),
            language="en",
            priority="high",
        ),
        check_one(
            ["Mi pedido 7788 no ha llegado y quiero el dinero"],
            _payload("Pedido 7788 no llegó.", "Hi there, I am looking into it for you now."),
            language="es",
            priority="high",
        ),
    ]
    figures = summarise(results)
    assert figures["n"] == 2
    assert figures["summary_words"] == {"mean": 4.0, "max": 4, "within_80": 1.0}
    # 5512 and 7788 kept, Acme lost
    assert figures["key_facts"]["kept"] == pytest.approx(2 / 3)
    assert figures["draft_language"]["agrees"] == 0.0  # first draft too short to tell; second en
    assert figures["no_quoted_abuse"] == 0.5 and figures["abusive_rows"] == 1
    assert figures["priority"] == {"rows": 2, "agrees": 0.5}


def test_check_rows_runs_any_builder_and_reports_per_source() -> None:
    rows = [
        {"source": "a", "conversation": [{"role": "user", "text": "Where is my order 42 please"}]},
        {
            "source": "b",
            "conversation": [{"role": "user", "text": "Donde esta mi pedido 43 por favor"}],
        },
    ]
    seen: list[str | None] = []

    def build(messages: Any, language: str | None) -> Any:
        seen.append(language)
        return _payload(
            "Wants order " + re.findall(r"\d+", messages[-1].text)[0],
            "Hola, lo estoy mirando ahora mismo para usted.",
        )

    result = check_rows(rows, build)
    assert seen == ["en", "es"]
    assert result["payload"]["key_facts"]["kept"] == 1.0
    assert result["payload"]["draft_language"]["by_language"] == {
        "en": {"n": 1, "agrees": 0},
        "es": {"n": 1, "agrees": 1},
    }
    assert set(result["per_source"]) == {"a", "b"}


def test_the_command_checks_payloads_through_the_real_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"source": "hand", "escalate": True, "reason": "human_request", "conversation": [
            {"role": "user", "text": "My order 5512 arrived broken, the screen is cracked."},
            {"role": "assistant", "text": "Sorry to hear that. Can you send a photo?"},
            {"role": "user", "text": "Useless. Let me talk to a person."},
        ]},
        {"source": "hand", "escalate": False, "reason": "none", "priority": "normal",
         "conversation": [{"role": "user", "text": "Quiero hablar con una persona sobre mi factura 889."}]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows))
    cli = CliRunner()
    text = cli.invoke(main, ["evaluate", "--payload", str(path)])
    assert text.exit_code == 0, text.output
    assert "PAYLOAD  n=2" in text.output and "priority agrees" in text.output
    as_json = cli.invoke(main, ["evaluate", "--payload", "--json", str(path)])
    figures = json.loads(as_json.output)["payload"]
    assert figures["n"] == 2 and figures["priority"]["rows"] == 1
    assert figures["key_facts"]["rows_with_facts"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"no": "conversation"}\n')
    failed = cli.invoke(main, ["evaluate", "--payload", str(bad)])
    assert failed.exit_code != 0 and "not a labelled JSONL file" in failed.output
