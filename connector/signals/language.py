"""Which language does the customer write in? For bots that do not say (most send only messages).

A small function-word vote, no model and no download: each language has words that carry no topic
and appear in almost every sentence (articles, pronouns, auxiliaries, "please"/"thanks"). A word
shared by several languages ("la", "que", "de") counts for each of them in proportion; the language
with the most weight wins when it has at least ``min_weight`` and clearly beats the runner-up.
Otherwise the answer is None and the caller keeps its default: a wrong guess would send the customer
a message in a language they did not write.

Contract: pure; any strings in, a :class:`LanguageGuess` out; never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_LANGUAGE_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were my you your it to of for with not have has this that what can i "
        "me please thanks thank would could should there been from when why how do does did "
        "don't can't it's i'm i've order still".split()
    ),
    "es": frozenset(
        "el la los las es mi mis pero por para con una un que y del está esta estoy tengo quiero "
        "hola gracias cuando donde dónde porque muy ya hace dos veces me nos su sus usted hablar "
        "pedido todavía también cómo qué necesito puedo favor se lo le no sí".split()
    ),
    "fr": frozenset(
        "le la les des du est et je vous pas mon ma mes pour avec une un bonjour merci commande "
        "ai suis c'est j'ai n'est sur que qui ne toujours aussi votre nous il elle au aux "
        "svp s'il plaît parler voudrais".split()
    ),
    "de": frozenset(
        "der die das und ist ich nicht mein meine mit für ein eine bitte danke hallo bestellung "
        "sie wir habe auf zu den dem es noch immer warum wurde zweimal möchte kann mir mich "
        "sprechen keine kein auch aber".split()
    ),
    "pt": frozenset(
        "o os as é e meu minha não com para uma um obrigado obrigada olá oi pedido você está "
        "estou foi do da dos das isso mas muito quero que de em no na ainda também preciso "
        "falar pessoa por favor vezes".split()
    ),
    "it": frozenset(
        "il lo gli è e mio mia non con per una un grazie ciao ordine sono ho che della del "
        "questo questa voglio ancora perché anche di in al alla mi ti vorrei parlare persona "
        "favore volte".split()
    ),
    "nl": frozenset(
        "de het een en is ik niet mijn met voor van dank bedankt hallo bestelling wil heb je u "
        "dat op maar nog geen graag alstublieft waarom twee keer wel ook spreken iemand mijn".split()
    ),
}
DEFAULT_MIN_WEIGHT = 2.0
DEFAULT_MARGIN = 1.25  # the winner's weight over the runner-up's
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _owners(words: Mapping[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    owners: dict[str, list[str]] = {}
    for lang, vocabulary in words.items():
        for word in vocabulary:
            owners.setdefault(word, []).append(lang)
    return {word: tuple(langs) for word, langs in owners.items()}


_DEFAULT_OWNERS = _owners(DEFAULT_LANGUAGE_WORDS)


def base_language(code: str | None, default: str = "") -> str:
    """The language part of a tag, lower-cased: "pt-BR", "pt_br" and "PT" read "pt"; ``default``
    for none."""
    return (code or default).replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True)
class LanguageGuess:
    """``language`` is None when the text does not say clearly; ``weights`` is the evidence."""

    language: str | None
    weights: tuple[tuple[str, float], ...] = ()


def detect_language(
    texts: Iterable[str | None] | str | None,
    *,
    words: Mapping[str, frozenset[str]] = DEFAULT_LANGUAGE_WORDS,
    min_weight: float = DEFAULT_MIN_WEIGHT,
    margin: float = DEFAULT_MARGIN,
) -> LanguageGuess:
    """The language ``texts`` (one string or several turns) are written in, or None."""
    if texts is None:
        return LanguageGuess(None)
    joined = texts if isinstance(texts, str) else "\n".join(t for t in texts if t)
    tokens = _WORD.findall(joined[:4000].casefold().replace("’", "'"))
    owners = _DEFAULT_OWNERS if words is DEFAULT_LANGUAGE_WORDS else _owners(words)
    weights = dict.fromkeys(words, 0.0)
    for token in tokens:
        langs = owners.get(token, ())
        for lang in langs:
            weights[lang] += 1.0 / len(langs)
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    evidence = tuple((lang, round(w, 2)) for lang, w in ranked if w > 0)
    if not ranked or ranked[0][1] < min_weight:
        return LanguageGuess(None, evidence)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if ranked[0][1] < runner_up * margin:
        return LanguageGuess(None, evidence)
    return LanguageGuess(ranked[0][0], evidence)
