"""Customer sentiment in four classes: Interested, Neutral, Uninterested, Frustrated.

VADER's lexicon gives a polarity score; conversation cues decide what it means for a handoff:

- Frustrated needs an *anger cue*, not just negative words: rejecting the bot ("this is useless"),
  profanity, anger words, SHOUTING, escalating punctuation (!!!, ???), or repeating the question.
  A customer who says "I can't afford it" is negative but not frustrated.
- Uninterested: disengagement ("no thanks", "not interested", "whatever", a bare "ok") or a
  negative score without an anger cue.
- Interested: buying signals (price, plan, quote, upgrade, demo, donate), engagement ("how do I
  …", "I'd like …", "sure") or a clearly positive score. Asking for a person is not engagement:
  in the sentence that asks for one ("Can I talk to a real person please?", "I would like to speak
  to an agent") only product words count.

Contract: pure functions; any string in, a :class:`Sentiment` out; never raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.signals.failures import DEFAULT_SIMILARITY, similar
from connector.signals.human_request import detect_human_request
from connector.signals.text import clip, customer_texts, find_terms, normalize

DEFAULT_PROFANITY: tuple[str, ...] = (
    "fuck*", "shit*", "damn*", "crap*", "bullshit", "wtf", "ffs", "bloody", "hell", "sucks",
    "piss*", "bastard*", "idiot*", "stupid", "dumb", "moron*", "screw you", "fudge off",
)  # fmt: skip
DEFAULT_REJECTION_TERMS: tuple[str, ...] = (
    "useless", "pathetic", "not helping", "aren't helping", "arent helping", "not helpful",
    "no help", "waste ... time", "wasting ... time", "ridiculous", "unacceptable", "not working",
    "doesn't work", "dont understand me", "don't understand me", "can't understand you",
    "cant understand you", "you don't understand", "makes no sense", "disgusting", "joke",
    "incompetent", "rubbish", "garbage", "nonsense",
    r"re:\b(?:terrible|horrible|awful|worst|bad|poor|lousy)\s+(?:\w+\s+)?(?:service|experience|"
    r"support|bot|app|company|website|help)\b",
    r"re:\byou(?:'re| are| r)\s+(?:so\s+|really\s+|completely\s+)?(?:terrible|horrible|awful|useless|"
    r"hopeless|stupid|dumb|no help)\b",
    "already told you", "still not", "still waiting", "how many times",
)  # fmt: skip
DEFAULT_ANGER_TERMS: tuple[str, ...] = (
    "angry", "mad", "furious", "annoy*", "frustrat*", "fed up", "sick of", "tired of", "hate",
    "outrag*", "livid", "pissed", "upset", "disappoint*", "sue", "scam*", "cheat*",
)  # fmt: skip
# Frustration that does not shout: sarcasm (polite words, opposite meaning), rhetorical questions
# about whether anyone cares, and "again"-complaints. VADER reads "thanks a lot" as positive, so
# these count as anger whatever the score.
DEFAULT_SARCASM_TERMS: tuple[str, ...] = (
    r"re:\bthank(?:s|s a lot|s so much| you| you so much| you very much)?\s+(?:\w+\s+)?for nothing\b",
    "thanks a lot ... not", "oh great", "just great", "oh wonderful", "how wonderful", "oh perfect",
    "just perfect", "yeah right", "what a surprise", "big surprise", "as usual",
    "unbelievable", "are you kidding", "you must be kidding", "you have got to be kidding",
    "you've got to be kidding", "give me a break",
    r"re:\b(?:is|are|does|do)\s+(?:anyone|anybody|someone|you|any of you)\s+(?:\w+\s+)?(?:actually|even|"
    r"really|ever)\s+(?:reading|read|listening|listen|paying attention|care|working|work|there|doing)\b",
    r"re:\bwhy (?:do|did|should) i (?:even |ever )?(?:bother|try)\b", "what's the point",
    "whats the point", "what is the point", "never again", "how hard can it be", "how hard is it",
    r"re:\b(?:every single|every) time\b", "once again", "yet again", "still nothing", "still no",
    r"re:\bfor the (?:second|third|fourth|fifth|tenth|hundredth|nth|\d+(?:st|nd|rd|th)) time\b",
    r"re:\b(?:second|third|fourth|fifth|tenth|hundredth|nth|\d+(?:st|nd|rd|th)) time (?:that )?(?:i|we)"
    r"(?:'ve| have)? (?:\w+\s+)?(?:ask|explain|told|tell|call|contact|writ|wrote|tried|try|had to|"
    r"sent|report|complain)\w*",
    "ugh*", "smh", "jeez", "geez", "sick and tired", "had enough", "enough is enough",
    "how dare", "shame on", "absurd", "bs", "pointless", "hopeless",
)  # fmt: skip
DEFAULT_COMPLAINT_TURNS = 2  # negative customer turns among the last three that make frustration
DEFAULT_COMPLAINT_SCORE = -0.3  # a turn at or below this VADER score is a complaint

DEFAULT_BUYING_TERMS: tuple[str, ...] = (
    "price*", "pricing", "plan", "quote", "upgrade", "demo", "trial", "donat*", "contribut*",
    "buy", "purchas*", "place ... order", "to order", "subscrib*", "sign me up", "sign up", "how much",
    "cost", "interested in",
)  # fmt: skip
# Engagement without a product word: willingness, and asking how the process works ("what do I do
# now?", "will it come from my…"). Not counted in the sentence that asks for a person.
DEFAULT_ENGAGEMENT_TERMS: tuple[str, ...] = (
    "how do i", "how can i", "where do i", "i'd like", "i would like",
    "i will", "i'll", "i want to", "count me in", "let's do it", "sure", "yes", "definitely",
    "of course", "happy to", "glad to", "willing", "ready to",
    r"re:(?:^|[.!?]\s*)(?:how|what|when|where|which|will|would|does|do|can|could|is|are)\b"
    r"[^.!?]*\b(?:i|we|me|my|our|us)\b[^.!?]*\?",
)  # fmt: skip
DEFAULT_DISENGAGEMENT_TERMS: tuple[str, ...] = (
    "whatever", "no thanks", "no thank you", "not interested", "not now", "maybe later",
    "don't care", "dont care", "i'll pass", "pass on", "leave me alone", "not at this time",
    "not today", "can't afford", "cant afford", "not able to", "unable to", "won't", "wont",
    "will not", "don't want", "dont want", "do not want", "do not wish", "don't wish",
    "no money", "not willing", "not comfortable", "don't feel comfortable", "not sure",
    r"re:^\W*(?:no|nope|nah)\b", "not really", "too busy", "no time", "$0", "0 dollars",
    "zero", "don't have", "do not have", "rather not", "prefer not", "not for me", "would not",
    "wouldn't", "not going to", "don't think", "at this time", "in the future", "instead",
    "already", "i'd prefer", "hard to",
)  # fmt: skip
DEFAULT_SHORT_ACKS: tuple[str, ...] = ("ok", "okay", "k", "kk", "fine", "meh", "hmm", "right")
# Declining (a donation, an offer) twice is not a complaint: these cues keep it Uninterested.
DISENGAGED = frozenset(DEFAULT_DISENGAGEMENT_TERMS) | {"short_ack"}

# Courtesy is not mood: VADER scores "please" as positive, so "refund me, please" would read as a
# happier customer than "refund me". These words are taken out before VADER scores a turn.
DEFAULT_COURTESY_TERMS: tuple[str, ...] = (
    "please", "pls", "plz", "kindly", "por favor", "per favore", "s'il vous plait",
    "s'il vous plaît", "s'il te plait", "s'il te plaît", "bitte", "alstublieft", "alsjeblieft",
)  # fmt: skip
_COURTESY = re.compile(
    r"\b(?:" + "|".join(re.escape(t) for t in DEFAULT_COURTESY_TERMS) + r")\b", re.IGNORECASE
)

DEFAULT_POSITIVE_THRESHOLD = 0.45
DEFAULT_NEGATIVE_THRESHOLD = -0.3
DEFAULT_TREND_WINDOW = 6  # customer turns looked at; bounds the cost of a long conversation
DEFAULT_TREND_DELTA = 0.25

LABELS = ("Interested", "Neutral", "Uninterested", "Frustrated")
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
_LETTERS = re.compile(r"[A-Za-z]{3,}")
_PUNCT = re.compile(r"[!?]{3,}|!{2,}|\?{2,}|[?!]{2,}")


@dataclass(frozen=True)
class Sentiment:
    """One message's or one conversation's sentiment, with the evidence behind it.

    ``score`` is in [-1, 1] (VADER compound shifted by cues); ``thresholds`` are the values that
    separated the classes; ``cues`` lists matched words or cue names ("caps", "punctuation",
    "repeated") for the audit trail; ``trend`` is only meaningful for conversations.
    """

    label: str
    score: float
    compound: float
    cues: tuple[str, ...] = ()
    trend: str = "steady"
    thresholds: tuple[float, float] = (DEFAULT_POSITIVE_THRESHOLD, DEFAULT_NEGATIVE_THRESHOLD)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _outside_request(raw: str, norm: str) -> str:
    """``norm`` without the sentence that asks for a person, if one does."""
    request = detect_human_request(raw)
    if not request.requested:
        return norm
    at = norm.find(request.phrase or "")
    if at < 0:  # the phrase spans text the detector blanked out: drop nothing we cannot place
        return ""
    start = max(norm.rfind(c, 0, at) for c in ".!?\n") + 1
    ends = [i for i in (norm.find(c, at) for c in ".!?\n") if i >= 0]
    end = min(ends) + 1 if ends else len(norm)
    return norm[:start] + " " + norm[end:]


def _shouting(raw: str) -> bool:
    words = _LETTERS.findall(raw)
    loud = _SHOUT.findall(raw)
    return len(loud) >= 2 and len(loud) * 2 >= len(words)


def classify_message(
    text: str | None,
    *,
    repeated: bool = False,
    profanity: Sequence[str] = DEFAULT_PROFANITY,
    rejection: Sequence[str] = DEFAULT_REJECTION_TERMS,
    anger: Sequence[str] = DEFAULT_ANGER_TERMS,
    buying: Sequence[str] = DEFAULT_BUYING_TERMS,
    engagement: Sequence[str] = DEFAULT_ENGAGEMENT_TERMS,
    disengagement: Sequence[str] = DEFAULT_DISENGAGEMENT_TERMS,
    short_acks: Sequence[str] = DEFAULT_SHORT_ACKS,
    positive_threshold: float = DEFAULT_POSITIVE_THRESHOLD,
    negative_threshold: float = DEFAULT_NEGATIVE_THRESHOLD,
    sarcasm: Sequence[str] = DEFAULT_SARCASM_TERMS,
) -> Sentiment:
    """Classify one customer message. ``repeated`` says the customer is repeating themselves.

    Results are cached by text and options: each event re-reads the same recent turns, and VADER
    is the costliest step of a decision. Options given as lists (from config) are not cached.
    """
    args = (
        text,
        repeated,
        profanity,
        rejection,
        anger,
        buying,
        engagement,
        disengagement,
        short_acks,
        positive_threshold,
        negative_threshold,
        sarcasm,
    )
    try:
        return _classify_cached(*args)
    except TypeError:  # an unhashable option
        return _classify(*args)


def _classify(
    text: str | None,
    repeated: bool,
    profanity: Sequence[str],
    rejection: Sequence[str],
    anger: Sequence[str],
    buying: Sequence[str],
    engagement: Sequence[str],
    disengagement: Sequence[str],
    short_acks: Sequence[str],
    positive_threshold: float,
    negative_threshold: float,
    sarcasm: Sequence[str] = DEFAULT_SARCASM_TERMS,
) -> Sentiment:
    thresholds = (positive_threshold, negative_threshold)
    raw = clip(text)
    norm = normalize(raw)
    if not norm:
        return Sentiment("Neutral", 0.0, 0.0, (), thresholds=thresholds)
    compound = float(_analyzer().polarity_scores(_COURTESY.sub("", raw))["compound"])
    angry = find_terms(norm, profanity) + find_terms(norm, rejection) + find_terms(norm, anger)
    if _shouting(raw):
        angry.append("caps")
    if _PUNCT.search(raw):
        angry.append("punctuation")
    if repeated:
        angry.append("repeated")
    ironic = find_terms(norm, sarcasm)
    buys = find_terms(norm, buying) + find_terms(_outside_request(raw, norm), engagement)
    away = find_terms(norm, disengagement)
    if norm.strip(" .!") in short_acks:
        away.append("short_ack")
    score = compound + 0.2 * bool(buys) - 0.25 * bool(away) - 0.2 * len(angry) - 0.4 * bool(ironic)
    score = max(-1.0, min(1.0, score))
    cues = tuple(angry + ironic + buys + away)
    # Punctuation or caps alone can be excitement ("I'm in!!!"); anger needs a negative reading too.
    strong = [c for c in angry if c not in ("caps", "punctuation", "repeated")]
    if (
        # sarcasm reads as positive to VADER ("thanks a lot for nothing"): its score is not asked
        ironic
        or strong
        and (compound < 0.3 or len(strong) > 1)
        or (angry and compound <= -0.2)
        or (repeated and compound < positive_threshold)
    ):
        label = "Frustrated"
    elif away and not (buys and compound >= positive_threshold):
        label = "Uninterested"
    elif compound <= negative_threshold:
        label = "Uninterested"
    elif buys or compound >= positive_threshold:
        label = "Interested"
    else:
        label = "Neutral"
    return Sentiment(label, round(score, 4), compound, cues, thresholds=thresholds)


_classify_cached = lru_cache(maxsize=8192)(_classify)


def _trend(scores: Sequence[float], delta: float) -> str:
    """A trend must end where it points: a complaint followed by plain facts is not a customer
    who feels better, so "improving" needs a positive last turn and "worsening" a negative one."""
    if len(scores) < 2:
        return "steady"
    half = len(scores) // 2
    early = sum(scores[:half]) / half
    late = sum(scores[half:]) / (len(scores) - half)
    if late - early >= delta and scores[-1] > 0:
        return "improving"
    if early - late >= delta and scores[-1] < 0:
        return "worsening"
    return "steady"


def conversation_sentiment(
    messages: Sequence[Any],
    *,
    unit: str = "last_user_message",
    window: int = DEFAULT_TREND_WINDOW,
    trend_delta: float = DEFAULT_TREND_DELTA,
    similarity_threshold: float = DEFAULT_SIMILARITY,
    complaint_turns: int = DEFAULT_COMPLAINT_TURNS,
    complaint_score: float = DEFAULT_COMPLAINT_SCORE,
    **options: Any,
) -> Sentiment:
    """Sentiment of the customer in a conversation, with its trend over the last ``window`` turns.

    ``unit="last_user_message"`` labels the newest customer turn (in the context of the turn
    before, for repetition); any other unit (e.g. ``"customer"``) labels the customer's recent
    side as a whole: Frustrated if any recent turn was, else the class of the mean score.
    ``options`` are passed to :func:`classify_message`.
    """
    texts = customer_texts(messages, last=max(1, window))
    if not texts:
        return Sentiment("Neutral", 0.0, 0.0)
    results = [
        classify_message(
            t,
            # "ok" twice is not a repeated question; a rephrasing has some substance
            repeated=i > 0
            and len(t.split()) >= 3
            and similar(texts[i - 1], t, similarity_threshold),
            **options,
        )
        for i, t in enumerate(texts)
    ]
    trend = _trend([r.score for r in results], trend_delta)
    last = results[-1]
    recent = results[-3:]
    complaints = [r for r in recent if r.compound <= complaint_score and r.label != "Interested"]
    if (
        last.label != "Frustrated"
        and last in complaints
        and len(complaints) >= complaint_turns
        and not any(c in DISENGAGED for r in complaints for c in r.cues)
        # sad news told twice is not a complaint: one of the turns was angry, or all are bitter
        and (
            any(r.label == "Frustrated" for r in complaints)
            or all(r.compound <= 2 * complaint_score for r in complaints)
        )
    ):
        # Complaining turn after turn is frustration even when no single turn shouts.
        last = Sentiment(
            "Frustrated", last.score, last.compound, (*last.cues, "repeated complaints"),
            thresholds=last.thresholds,
        )  # fmt: skip
        results[-1] = last
    if unit == "last_user_message":
        return Sentiment(last.label, last.score, last.compound, last.cues, trend, last.thresholds)
    mean = sum(r.score for r in results) / len(results)
    cues = tuple(dict.fromkeys(c for r in results for c in r.cues))
    if any(r.label == "Frustrated" for r in results[-3:]):
        label = "Frustrated"
    else:
        counts = {lab: sum(r.label == lab for r in results) for lab in LABELS}
        label = max(LABELS, key=lambda lab: (counts[lab], lab == last.label))
    return Sentiment(label, round(mean, 4), last.compound, cues, trend, last.thresholds)


def sentiment_thresholds(result: Sentiment) -> dict[str, float]:
    """The thresholds behind a label, for the payload: VADER compound at or above ``positive``
    reads Interested, at or below ``negative`` Uninterested (Frustrated needs an anger cue);
    ``trend_delta`` separates a changing trend from a steady one; ``complaint`` is the score at or
    below which repeated turns count as complaints."""
    positive, negative = result.thresholds
    return {
        "positive": positive,
        "negative": negative,
        "trend_delta": DEFAULT_TREND_DELTA,
        "complaint": DEFAULT_COMPLAINT_SCORE,
    }
