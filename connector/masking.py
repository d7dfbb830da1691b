"""Personal data out of text before it leaves for a model, and back into what the model wrote.

``Masker`` replaces e-mail addresses, phone numbers, card numbers (those that pass the Luhn
check), IBANs (those that pass the mod-97 check), account numbers (a long run of digits, or digits
after the word "account" in the languages we support) and configured customer values (the name,
an attribute) with placeholders such as ``[EMAIL_1]``. The same value always gets the same
placeholder, so the model can refer to it; ``unmask`` puts the values back, and ``strays`` names
placeholders the model made up (its output is then discarded). Pure: no I/O.

Masking leans towards too much: a masked order number costs the model a little context and is
restored in its answer; an address that leaves unmasked cannot be called back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|ACCOUNT|CUSTOMER|FIELD)_\d+\]")

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")
_ACCOUNT_WORD = re.compile(
    r"(?i)\b(?:account|acct|konto|cuenta|compte|conta|conto|rekening)\b"
    r"(?:\s*(?:number|no\.?|nr\.?|num(?:ber|[eé]ro)|n[uú]mero|nummer|#))?\s*[:#]?\s*"
    r"(?P<value>[A-Z0-9](?:[A-Z0-9-]*[A-Z0-9])?)"
)
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().\-/]{5,}\d(?![\w])")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_LONG_DIGITS = re.compile(r"(?<![\w])\d{8,}(?![\w])")


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a card number (digits only)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces allowed)."""
    iban = text.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class Masker:
    """Masks texts with one placeholder table; ``known`` are configured customer values as
    ``(kind, value)``: ``CUSTOMER`` for the name, ``EMAIL``, ``PHONE``, ``FIELD`` for the rest."""

    def __init__(self, known: Iterable[tuple[str, str]] = ()):
        self.values: dict[str, str] = {}  # placeholder -> original text
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        # longest first, so "Ana María" is masked before "Ana"
        values = {(kind, value.strip()) for kind, value in known if len(value.strip()) >= 2}
        self._known = sorted(values, key=lambda kv: len(kv[1]), reverse=True)

    def _placeholder(self, kind: str, value: str) -> str:
        found = self._by_value.get((kind, value.casefold()))
        if found is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            found = f"[{kind}_{self._counts[kind]}]"
            self._by_value[(kind, value.casefold())] = found
            self.values[found] = value
        return found

    def mask(self, text: str) -> str:
        """``text`` with every personal value replaced by its placeholder."""
        for kind, value in self._known:
            text = re.sub(
                rf"(?<!\w){re.escape(value)}(?!\w)",
                lambda m, kind=kind: self._placeholder(kind, m.group(0)),  # type: ignore[misc]
                text,
                flags=re.IGNORECASE,
            )
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0)), text)
        text = _IBAN.sub(self._iban, text)
        text = _CARD.sub(self._card, text)
        text = _ACCOUNT_WORD.sub(self._account, text)
        text = _PHONE.sub(self._phone, text)
        return _LONG_DIGITS.sub(lambda m: self._placeholder("ACCOUNT", m.group(0)), text)

    def _iban(self, m: re.Match[str]) -> str:
        return self._placeholder("IBAN", m.group(0)) if iban_ok(m.group(0)) else m.group(0)

    def _card(self, m: re.Match[str]) -> str:
        return self._placeholder("CARD", m.group(0)) if luhn_ok(_digits(m.group(0))) else m.group(0)

    def _account(self, m: re.Match[str]) -> str:
        value = m.group("value")
        if sum(ch.isdigit() for ch in value) < 4 or PLACEHOLDER.fullmatch(f"[{value}]"):
            return m.group(0)
        start = m.start("value") - m.start(0)
        return m.group(0)[:start] + self._placeholder("ACCOUNT", value)

    def _phone(self, m: re.Match[str]) -> str:
        """A number written as a phone number: a leading + or separators (a bare run of digits is
        an account number below)."""
        text = m.group(0).rstrip(" .-/(")
        rest = m.group(0)[len(text) :]
        if text.isdigit() or _DATE.fullmatch(text) or not 7 <= len(_digits(text)) <= 15:
            return m.group(0)
        return self._placeholder("PHONE", text) + rest

    def unmask(self, text: str) -> str:
        """``text`` with every known placeholder replaced by its original value."""
        return PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), text)

    def strays(self, text: str) -> list[str]:
        """Placeholders in ``text`` this masker never handed out (the model made them up)."""
        return [p for p in PLACEHOLDER.findall(text) if p not in self.values]
