"""Key facts: the reference, amount and date patterns find exactly what their plain form finds.

``connector/signals/facts.py`` writes its word lists behind a lookahead on their first letters and
grouped by first letter, so the engine skips most places at once. These tests build the plain
patterns (the word lists as one alternation, no lookahead) from the same lists and check both
find the same matches, on a table of sentences written for the test and on generated texts that
mix reference words, month names, digits, currency signs and letters that change under case
folding.
"""

from __future__ import annotations

import random
import re

import pytest

from connector.signals import facts

PLAIN = {
    "reference": re.compile(
        rf"\b(?:{facts._REF_WORDS})(?:\s+(?:number|no\.?|nr\.?|n[°º]|#|id|nummer|numero|número))?"
        r"\s*[:#]?\s*#?[A-Za-z]{0,4}[-_]?\d[\w-]{2,}",
        re.IGNORECASE,
    ),
    "amount": re.compile(
        rf"(?:\b\d+\s*x\s*)?(?:[$€£¥]\s?\d[\d.,]*\d?|\b\d[\d.,]*\s?{facts._CURRENCY}(?![a-z]))",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b(?:\d{{1,2}}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?:{facts._MONTHS})\b(?:\s+\d{{4}})?|"
        rf"(?:{facts._MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|"
        r"\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|"
        r"\d{1,2}:\d{2}(?:\s?[ap]\.?m\b\.?)?|\d{1,2}\s?[ap]\.?m\b\.?)",
        re.IGNORECASE,
    ),
}
FAST = {"reference": facts._REFERENCE, "amount": facts._AMOUNT, "date": facts._DATE}

SENTENCES = [
    "My order 5512 never came, I paid $48.20 on March 3",
    "Invoice INV-2291 shows 2 x €480 charged on 03/04/2026 at 9:30 pm",
    "La factura nº 7781 del 3 de marzo 2026 dice 120 euros",
    "Ma commande #99812 du 12 mars, colis n° AB-77812, 45,90 €",
    "Meine Bestellung Nr. 4471 vom 5. März, Rechnung 9981, 30 EUR",
    "O pedido 88123 de 2 de maio custou R$ 99 (99 reais)",
    "L'ordine 5512 del 4 maggio, fattura 1200 euro",
    "Mijn bestelling 7781 van 3 maart, factuur 661, 12 euro",
    "REFERENCE 12345 and ref 99-771, case ab1234, ticket #12",
    "sept 4th, Sept 14 2026, 14 septembre 2026, 1 janv. 2026",
    "ſeptember 3, Konto 12345 and KONTO 1234, the Kelvin sign K at 5 am",
    "booking BK-22811 for mayo 7; reservation: 7788a on 2026-12-24",
    "no facts here at all, only words like order and march",
    "",
]


def _found(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], str]]:
    return [(m.span(), m.group(0)) for m in pattern.finditer(text)]


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("text", SENTENCES, ids=range(len(SENTENCES)))
def test_same_matches_on_written_sentences(name: str, text: str) -> None:
    assert _found(FAST[name], text) == _found(PLAIN[name], text)


PIECES = (
    "order", "Order", "ORDER", "invoice", "ref", "reference", "#", "no.", "nr", "n°", "nº", "id",
    "número", " ", "  ", "\n", "12", "5512", "2026", "3", "03", "-", "_", ":", "/", ".", ",", "$",
    "€", "£", "¥", "USD", "eur", "dollars", "reais", "x", " x ", "am", "p.m.", "March", "mar",
    "MARZO", "mars", "märz", "août", "février", "de", "st", "th", "Sept", "sep", "may", "mayo",
    "mei", "maart", "juni", "junio", "ſ", "K", "İ", "ı", "ß", "é", "konto", "Konto", "zending",
    "claim", "bill", "booking", "INV-2291", "AB12345", "a", "z",
)  # fmt: skip


def test_same_matches_on_generated_texts() -> None:
    rnd = random.Random(20261205)
    for _ in range(4000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 20)))
        for name, fast in FAST.items():
            assert _found(fast, text) == _found(PLAIN[name], text), (name, text)
