"""Measure the handoff payload an agent reads: ``handoff evaluate --payload FILE``.

For each row of a labelled JSONL file (any kind: ``conversation`` is what counts) the real policy,
routing and payload builder run as for a bot that sends only its messages, and five checks look
at what comes out:

- **summary length**: words (the target is at most 80);
- **key facts kept**: the numbers (order numbers, amounts, dates) and capitalised names the
  customer wrote that appear in the summary, over all such facts;
- **draft language**: the draft is written in the conversation's language (the language of the
  customer's turns, passed to the builder as a channel would pass it); rows whose language cannot
  be told are left out;
- **no quoted abuse**: the draft repeats none of the customer's insults or swearing;
- **priority agreement**: the payload's priority equals the row's ``priority`` label, on rows
  that have one.

The checks are functions of text, so a payload from anywhere (the model's, a fixture) can be
measured the same way (``check_one``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from connector.signals.text import normalize

SUMMARY_MAX_WORDS = 80
# a few hundred of the commonest function words per language: enough to tell these seven apart
_STOPWORDS = {
    "en": "a the and you your to is are was for with have not this that it of my me i we what can "
    "please would will be on in at from an do does did how why when there their".split(),
    "es": "el la los las que de y en un una por para con no es mi me lo su al del se muy pero "
    "como quiero tengo esta está hola gracias porque cuando donde usted".split(),
    "fr": "le la les des et est un une pour pas que qui dans je vous mon ma mes sur avec ce "
    "cette bonjour merci mais ne suis avez votre comment".split(),
    "de": "der die das und ist nicht ich sie ein eine mit für auf mein meine zu den dem es "
    "bitte danke aber wie warum haben habe wurde kein".split(),
    "pt": "o a os as que de e em um uma para com não é meu minha por do da no na se mas "
    "obrigado olá você estou tenho quero como".split(),
    "it": "il lo la gli le che di e è un una per con non mio mia del della sono ho ciao "
    "grazie ma come perché voglio questo".split(),
    "nl": "de het een en is niet ik je u van voor met op mijn dat die zijn heb hebben maar "
    "hoe waarom graag bedankt hallo geen wil".split(),
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*)*")
# Words an agent must never repeat to a customer (insults, swearing, one-word verdicts); stems
ABUSE = (
    "useless", "stupid", "idiot", "dumb", "moron", "pathetic", "garbage", "rubbish", "crap",
    "shit", "fuck", "damn", "sucks", "ridiculous", "worthless", "incompetent", "scam", "liar",
    "clown", "trash", "inútil", "estúpid", "mierda", "basura", "merde", "débile", "connard",
    "scheiß", "scheiss", "blöd", "inutile", "merda", "schifo", "nutteloos", "klote", "waardeloos",
)  # fmt: skip
# words that start sentences or are capitalised by habit, never facts on their own
_NOT_NAMES = frozenset(
    "i i'm i've i'll i'd hi hello hey please thanks thank yes no ok okay the a an my this "
    "that it is what why how when where can could would will do does did hola bonjour hallo "
    "ciao olá dear".split()
)


def language_of(text: str) -> str | None:
    """The most likely of en, es, fr, de, pt, it, nl by stopwords; None when too little evidence."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return None
    scores = {lang: sum(w in set(stop) for w in words) for lang, stop in _STOPWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    return best if top >= 2 and top > second else None


def key_facts(texts: Sequence[str]) -> set[str]:
    """Numbers and capitalised names in the customer's turns (names not at a sentence start)."""
    facts: set[str] = set()
    for text in texts:
        facts.update(n for n in _NUMBER.findall(text))
        for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
            for m in _NAME.finditer(sentence):
                name = m.group(0)
                if m.start() == 0:  # a sentence's first word is capitalised anyway
                    name = name.split(maxsplit=1)[1] if " " in name else ""
                if name and name.split()[0].lower() not in _NOT_NAMES and len(name) > 1:
                    facts.add(name)
    return facts


def kept(facts: set[str], summary: str) -> int:
    lowered = summary.lower()
    return sum(1 for fact in facts if fact.lower() in lowered)


def abuse_in(text: str) -> list[str]:
    """The abusive words (``ABUSE`` stems) in ``text``."""
    said = normalize(text)
    return [w for w in ABUSE if re.search(rf"\b{re.escape(normalize(w))}", said)]


def quoted_abuse(draft: str, customer_texts: Sequence[str]) -> list[str]:
    """Abusive words of the customer's that the draft repeats."""
    written = set(abuse_in(draft))
    return [w for w in abuse_in(" ".join(customer_texts)) if w in written]


def check_one(
    customer_texts: Sequence[str],
    payload: Any,
    *,
    language: str | None,
    priority: str | None = None,
) -> dict[str, Any]:
    """The five checks of one built payload (anything with ``summary``, ``draft_reply`` and
    ``routing.priority``)."""
    facts = key_facts(customer_texts)
    draft = payload.draft_reply or ""
    return {
        "summary_words": len(payload.summary.split()),
        "facts": len(facts),
        "facts_kept": kept(facts, payload.summary),
        "language": language,
        "draft_language": language_of(draft),
        "abuse_quoted": quoted_abuse(draft, customer_texts),
        "customer_abusive": bool(abuse_in(" ".join(customer_texts))),
        "priority": payload.routing.priority,
        "gold_priority": priority,
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures over ``check_one`` results."""
    words = [r["summary_words"] for r in results]
    with_facts = [r for r in results if r["facts"]]
    told = [r for r in results if r["language"] is not None]
    graded = [r for r in results if r["gold_priority"]]
    abusive = [r for r in results if r["customer_abusive"]]
    return {
        "n": len(results),
        "summary_words": {
            "mean": statistics.fmean(words) if words else None,
            "max": max(words, default=None),
            "within_80": _ratio(sum(w <= SUMMARY_MAX_WORDS for w in words), len(words)),
        },
        "key_facts": {
            "rows_with_facts": len(with_facts),
            "kept": _ratio(sum(r["facts_kept"] for r in results), sum(r["facts"] for r in results)),
            "mean_per_row": statistics.fmean(r["facts_kept"] / r["facts"] for r in with_facts)
            if with_facts
            else None,
        },
        "draft_language": {
            "rows": len(told),
            "agrees": _ratio(sum(r["draft_language"] == r["language"] for r in told), len(told)),
            "by_language": _by_language(told),
        },
        "no_quoted_abuse": _ratio(sum(not r["abuse_quoted"] for r in results), len(results)),
        "abusive_rows": len(abusive),
        "no_quoted_abuse_when_abusive": _ratio(
            sum(not r["abuse_quoted"] for r in abusive), len(abusive)
        ),
        "priority": {
            "rows": len(graded),
            "agrees": _ratio(sum(r["priority"] == r["gold_priority"] for r in graded), len(graded)),
        },
    }


def _by_language(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r["language"], {"n": 0, "agrees": 0})
        entry["n"] += 1
        entry["agrees"] += r["draft_language"] == r["language"]
    return out


BuildFn = Callable[[Sequence[Any], str | None], Any]


def pipeline(settings: Any = None) -> BuildFn:
    """``build(messages, language) -> HandoffPayload`` through the real policy, routing and payload
    builder of ``settings`` (``None``: the shipped defaults), for a bot that sends only messages."""
    from connector.config import load_config
    from connector.payload import build_payload
    from connector.policy import DecisionInput, decide
    from connector.routing import guess_team, route
    from connector.schemas import BotContext, ConversationRef, Customer, Message

    settings = settings or load_config(None, env={})
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def build(messages: Sequence[Any], language: str | None) -> Any:
        roles = {"customer", "bot", "agent", "system"}
        msgs = [
            Message(id=str(i), role=m.role if m.role in roles else "system", text=m.text[:100_000])
            for i, m in enumerate(messages)
        ]
        conversation = ConversationRef(id="eval", language=language)
        inputs = DecisionInput(
            "conversation.updated", conversation, Customer(), BotContext(), msgs, msgs
        )
        decision = decide(inputs, settings.policy)
        guess = guess_team(decision, msgs, settings.routing, inputs.bot)
        routing, _ = route(
            decision, inputs.customer, language, settings.routing, now, messages=msgs,
            bot=inputs.bot, guess=guess,
        )  # fmt: skip
        decision.team = routing.team
        return build_payload(
            handoff_id="eval", inputs=inputs, decision=decision, routing=routing,
            prior_handoffs=0, now=now, transcript_url=None, policy=settings.policy,
            settings=settings.payload,
        )  # fmt: skip

    return build


def check_rows(rows: Sequence[dict[str, Any]], build: BuildFn) -> dict[str, Any]:
    """Build and check a payload for every row; ``{"payload": figures, "per_source": …}``."""
    from connector.evaluation import to_messages

    results: list[dict[str, Any]] = []
    sources: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        messages = to_messages(row["conversation"])
        said = [m.text for m in messages if m.role == "customer"]
        language = language_of(" ".join(said))
        result = check_one(
            said, build(messages, language), language=language, priority=row.get("priority")
        )
        results.append(result)
        sources.setdefault(str(row.get("source") or "?"), []).append(result)
    return {
        "payload": summarise(results),
        "per_source": {s: summarise(rs) for s, rs in sorted(sources.items())},
    }


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def report_text(result: dict[str, Any]) -> str:
    p = result["payload"]
    s, k, d, q = p["summary_words"], p["key_facts"], p["draft_language"], p["priority"]
    lines = [
        f"PAYLOAD  n={p['n']}",
        f"summary words      mean={_f(s['mean'])}  max={_f(s['max'])}  within 80={_f(s['within_80'])}",
        f"key facts kept     {_f(k['kept'])} of facts  (mean per row {_f(k['mean_per_row'])}, "
        f"{k['rows_with_facts']} rows with facts)",
        f"draft language     agrees={_f(d['agrees'])} on {d['rows']} rows whose language is told  "
        + "  ".join(
            f"{lang}:{v['agrees']}/{v['n']}" for lang, v in sorted(d["by_language"].items())
        ),
        f"no quoted abuse    {_f(p['no_quoted_abuse'])}  ({_f(p['no_quoted_abuse_when_abusive'])} "
        f"on the {p['abusive_rows']} rows where the customer was abusive)",
        f"priority agrees    {_f(q['agrees'])} on {q['rows']} rows with a priority label",
        "per source:",
    ]
    for source, f in result["per_source"].items():
        lines.append(
            f"  {source}: n={f['n']} words={_f(f['summary_words']['mean'])} "
            f"facts={_f(f['key_facts']['kept'])} language={_f(f['draft_language']['agrees'])} "
            f"no-abuse={_f(f['no_quoted_abuse'])}"
        )
    return "\n".join(lines) + "\n"
