"""Honest vendor fields: what may be sent to a helpdesk, shared by every destination's build step.

Two rules (issue 22, item 2; issue 13, item 5):

- ``clean`` strips control characters (NUL and the other C0/C1 codes, except tab and newline)
  and Unicode bidirectional overrides and isolates from any text, so customer text can neither
  break a vendor's field nor reorder what an agent reads. ``clean_deep`` does it to a whole JSON
  value; the worker applies it to every payload before a destination builds from it.
- ``contact`` checks the customer's name, e-mail and phone against one vendor's limits. A value
  that does not fit is left out (an e-mail or phone is never clipped: a clipped address is a wrong
  address) and a sentence for the internal note says what was left out and why. Names may be
  shortened: a shortened name still names the person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# U+202A..U+202E (embeddings and overrides), U+2066..U+2069 (isolates), U+200E/F and U+061C (marks)
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
KEEP = frozenset("\t\n")

# one address: a dot-atom local part, a domain of dot-separated labels with a TLD of letters.
# Deliberately narrower than RFC 5322 (no quoted local parts): what every vendor's validator takes.
EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
EMAIL_MAX = 254  # RFC 5321's path limit, less the brackets
PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline stay) and bidi controls."""
    return "".join(
        ch
        for ch in text
        if ch in KEEP or (ch not in BIDI_CONTROLS and unicodedata.category(ch) != "Cc")
    )


def clean_deep(value: Any) -> Any:
    """``clean`` applied to every string in a JSON value (keys too)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_deep(v) for v in value]
    return value


def valid_email(value: str) -> str | None:
    """The address, trimmed, when it is one a vendor accepts (``format: email``); else None."""
    value = value.strip()
    if len(value) > EMAIL_MAX or not EMAIL.match(value):
        return None
    local, _, domain = value.rpartition("@")
    return None if len(local) > 64 else f"{local}@{domain.lower()}"


def valid_phone(value: str, max_length: int) -> str | None:
    """The number when it looks like one (7 to 15 digits, E.164's range, and the usual separators)
    and fits in ``max_length`` characters (without its spaces if need be); else None."""
    value = " ".join(value.split())
    digits = sum(ch.isdigit() for ch in value)
    if not PHONE_CHARS.match(value) or not 7 <= digits <= 15:
        return None
    if len(value) > max_length:
        value = value.replace(" ", "")
    return value if len(value) <= max_length else None


@dataclass(frozen=True)
class Contact:
    """The customer's contact fields as one vendor may receive them, and what was left out."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    left_out: list[str] = field(default_factory=list)

    def note(self) -> str:
        """One paragraph for the internal note ('' when nothing was left out)."""
        return " ".join(self.left_out)


def contact(
    name: str | None,
    email: str | None,
    phone: str | None,
    *,
    name_max: int,
    phone_max: int,
    email_max: int = EMAIL_MAX,
    vendor: str,
) -> Contact:
    """Check the customer's contact fields against ``vendor``'s limits (see the module docstring).

    The sentences name the field and the reason, and quote the value (they go into the helpdesk's
    internal note, where the agent needs it; never into a log line).
    """
    left_out: list[str] = []
    name = clean(name).strip() if name else None
    if name and len(name) > name_max:
        name = name[: name_max - 1].rstrip() + "…"
        left_out.append(f"The customer's name was shortened to {name_max} characters for {vendor}.")
    checked_email = None
    if email and email.strip():
        checked_email = valid_email(clean(email))
        if checked_email is None or len(checked_email) > email_max:
            left_out.append(
                f"The customer's e-mail {clean(email).strip()!r} is not a valid address "
                f"and was not sent to {vendor}."
            )
            checked_email = None
    checked_phone = None
    if phone and phone.strip():
        checked_phone = valid_phone(clean(phone), phone_max)
        if checked_phone is None:
            left_out.append(
                f"The customer's phone {clean(phone).strip()!r} is not a phone number "
                f"of at most {phone_max} characters and was not sent to {vendor}."
            )
    return Contact(name or None, checked_email, checked_phone, left_out)


def contact_problems(email: str | None, phone: str | None) -> list[str]:
    """Warnings for the intake's answer: the contact fields no vendor could take (never a refusal)."""
    problems = []
    if email and email.strip() and valid_email(clean(email)) is None:
        problems.append(
            "customer.email is not a valid e-mail address: it will not be sent to a helpdesk"
        )
    if phone and phone.strip() and valid_phone(clean(phone), 40) is None:
        problems.append("customer.phone is not a phone number: it will not be sent to a helpdesk")
    return problems
