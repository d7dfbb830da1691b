"""Key facts in what a customer wrote: references, amounts, dates and product names, verbatim.

The summary keeps them as written ("order 5512", "2 x $480", "March 3", "Galaxy S21"), the draft
names the reference, and the next action says what to check. Patterns read the way people write
in the languages we support: a reference is a word such as order/invoice/pedido/commande followed
by an id, or an id that mixes letters and digits (INV-2291); an amount has a currency; a date has
a month name or numbers with separators.

Contract: pure; any strings in, a :class:`Facts` out (each list in order of first appearance, no
repeats); never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

_REF_WORDS = (
    r"order|invoice|ticket|booking|reservation|account|reference|ref|case|parcel|package|"
    r"shipment|tracking|subscription|contract|policy|claim|receipt|transaction|bill|"
    r"pedido|factura|reserva|cuenta|commande|facture|dossier|colis|bestellung|rechnung|"
    r"buchung|konto|sendung|fatura|encomenda|ordine|fattura|prenotazione|bestelling|"
    r"factuur|boeking|zending"
)


def _initials(words: str) -> str:
    """The first letters of ``words`` (``a|b|…``), for a character class."""
    return "".join(
        re.escape(letter) for letter in dict.fromkeys(word[0] for word in words.split("|"))
    )


def _by_initial(words: str) -> str:
    """``(?:a|b|…)`` of lower-case ``words`` written so the engine skips most places at once: a
    lookahead on their first letters, then the words grouped by first letter, in their order.

    It matches what ``(?:a|b|…)`` matches, the same way: a place that begins with none of the
    letters matched no word before either, and at any place only the words with its first letter
    can match, tried in the same order as before (no two of our first letters are the same letter
    when case is ignored).
    """
    groups: dict[str, list[str]] = {}
    for word in words.split("|"):
        groups.setdefault(word[0], []).append(word[1:])
    alternatives = "|".join(f"{re.escape(k)}(?:{'|'.join(rest)})" for k, rest in groups.items())
    return f"(?=[{_initials(words)}])(?:{alternatives})"


_REFERENCE = re.compile(
    rf"\b{_by_initial(_REF_WORDS)}(?:\s+(?:number|no\.?|nr\.?|n[°º]|#|id|nummer|numero|número))?"
    r"\s*[:#]?\s*#?[A-Za-z]{0,4}[-_]?\d[\w-]{2,}",
    re.IGNORECASE,
)
_CODE = re.compile(r"(?<![\w$€£-])(?:#\d{3,}|[A-Z]{2,5}[-_]?\d{3,}[A-Z\d-]*)\b")
_CURRENCY = r"(?:[$€£¥]|USD|EUR|GBP|CHF|BRL|dollars?|euros?|pounds?|reais|libras?)"
_AMOUNT = re.compile(
    # an amount begins with a digit or a currency sign: the lookahead only skips other places
    rf"(?=[\d$€£¥])(?:\b\d+\s*x\s*)?(?:[$€£¥]\s?\d[\d.,]*\d?|\b\d[\d.,]*\s?{_CURRENCY}(?![a-z]))",
    re.IGNORECASE,
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|"
    r"mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|janvier|février|mars|"
    r"avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|januar|februar|märz|"
    r"juni|juli|oktober|dezember|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|"
    r"novembro|dezembro|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|"
    r"dicembre|januari|februari|maart|mei|augustus"
)
_MONTH = _by_initial(_MONTHS)
_DATE = re.compile(
    # a date begins with a digit or a month name: the lookahead only skips other places
    rf"\b(?=[\d{_initials(_MONTHS)}])(?:\d{{1,2}}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?{_MONTH}\b(?:\s+\d{{4}})?|"
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|"
    r"\d{1,2}:\d{2}(?:\s?[ap]\.?m\b\.?)?|\d{1,2}\s?[ap]\.?m\b\.?)",
    re.IGNORECASE,
)
# A product name: a capitalised word followed by a model number or another capitalised word that
# is not the start of a sentence ("Galaxy S21", "Pro Max", "AirPods Pro").
_PRODUCT = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+(?:\s+[A-Z][\w+-]*\d[\w+-]*)+")
_SKIP = frozenset({"I", "Hi", "Hello", "Hola", "Bonjour", "Hallo", "Ciao", "Olá", "Dear"})


@dataclass(frozen=True)
class Facts:
    references: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.references, *self.amounts, *self.dates, *self.products)

    @property
    def reference(self) -> str | None:
        """The first reference, as written ("order 5512"), for the draft and the next action."""
        return self.references[0] if self.references else None


def _unique(found: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, str] = {}
    for item in found:
        item = " ".join(item.split()).strip(" .,;:")
        key = item.casefold()
        if item and not any(key in seen for seen in out):
            out[key] = item
    return tuple(out.values())


def key_facts(texts: Iterable[str | None] | str | None) -> Facts:
    """The key facts of ``texts`` (one string or several turns), verbatim."""
    if not texts:
        return Facts()
    joined = texts if isinstance(texts, str) else "\n".join(t for t in texts if t)
    return _key_facts(joined[:20_000])


_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=4096)
def _key_facts(joined: str) -> Facts:
    # Cached: the summary, the draft and the next action read the same turns. Every fact but a
    # product name has a digit in it, and most sentences have none.
    if not _DIGIT.search(joined):
        return Facts(products=_products(joined))
    references = [m.group(0) for m in _REFERENCE.finditer(joined)]
    codes = [
        m.group(0) for m in _CODE.finditer(joined) if not any(m.group(0) in r for r in references)
    ]
    amounts = [m.group(0) for m in _AMOUNT.finditer(joined)]
    dates = [m.group(0) for m in _DATE.finditer(joined)]
    return Facts(
        references=_unique([*references, *codes]),
        amounts=_unique(amounts),
        dates=_unique(dates),
        products=_products(joined, references),
    )


def _products(joined: str, references: Sequence[str] = ()) -> tuple[str, ...]:
    return _unique(
        m.group(0)
        for m in _PRODUCT.finditer(joined)
        if m.group(0).split()[0] not in _SKIP and not any(m.group(0) in r for r in references)
    )
