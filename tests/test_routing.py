"""Routing as tables: team, hours in each team's time zone, on call, honest waits, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.config import load_config
from connector.routing import (
    business_deadline,
    covered_deadline,
    estimate_wait,
    guess_team,
    is_open,
    next_opening,
    route,
)
from connector.routing_config import (
    RoutingSettings,
    TeamSettings,
    parse_hours,
)
from connector.routing_messages import local_time
from connector.schemas import BotContext, Customer, Decision, Message

ROUTING = load_config(None, env={}).routing

# 2025-03-05 is a Wednesday; London is on GMT (UTC+0), New York on EST (UTC-5) that day.
WED_NOON = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
WED_2230 = datetime(2025, 3, 5, 22, 30, tzinfo=UTC)
SAT_NOON = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
FRI_2330 = datetime(2025, 3, 7, 23, 30, tzinfo=UTC)


def say(text: str) -> list[Message]:
    return [Message(id="1", role="customer", text=text)]


TEAMS = [
    (
        "rule-team-wins",
        Decision(escalate=True, team="sales"),
        say("my card was stolen"),
        None,
        "sales",
        "rule",
    ),
    (
        "bot-intent-prefix",
        Decision(escalate=True),
        say("hello"),
        BotContext.model_validate({"intent": {"name": "fraud.card_stolen"}}),
        "fraud",
        "bot",
    ),
    (
        "classifier-billing",
        Decision(escalate=True),
        say("Why was I charged a fee twice?"),
        None,
        "billing",
        "keywords",
    ),
    (
        "classifier-retention",
        Decision(escalate=True),
        say("please close my account"),
        None,
        "retention",
        "keywords",
    ),
    ("nothing-known", Decision(escalate=True), say("hmm"), None, "general", "default"),
    (
        "unknown-rule-team-falls-back",
        Decision(escalate=True, team="nope"),
        say("hmm"),
        None,
        "general",
        "default",
    ),
]


@pytest.mark.parametrize(
    "decision,messages,bot,team,source", [t[1:] for t in TEAMS], ids=[t[0] for t in TEAMS]
)
def test_team(decision, messages, bot, team, source):  # type: ignore[no-untyped-def]
    guess = guess_team(decision, messages, ROUTING, bot)
    assert (guess.team, guess.source) == (team, source)


HOURS = [
    ("billing-open-midday", "billing", WED_NOON, True),
    ("billing-closed-late", "billing", WED_2230, False),
    ("billing-closed-saturday", "billing", SAT_NOON, False),
    ("general-always", "general", SAT_NOON, True),
    (
        "sales-new-york-morning",
        "sales",
        datetime(2025, 3, 5, 14, 30, tzinfo=UTC),
        True,
    ),  # 09:30 EST
    (
        "sales-new-york-too-early",
        "sales",
        datetime(2025, 3, 5, 13, 30, tzinfo=UTC),
        False,
    ),  # 08:30 EST
    ("retention-saturday", "retention", SAT_NOON, True),
]


@pytest.mark.parametrize("team,now,open_", [h[1:] for h in HOURS], ids=[h[0] for h in HOURS])
def test_business_hours_in_the_team_zone(team, now, open_):  # type: ignore[no-untyped-def]
    assert is_open(ROUTING.teams[team], now) is open_


def test_next_opening_skips_the_weekend():
    opening = next_opening(ROUTING.teams["billing"], FRI_2330)
    assert opening is not None and opening.isoformat() == "2025-03-10T08:00:00+00:00"


@pytest.mark.parametrize(
    "spec,days,start,end",
    [
        ("mon-fri 09:00-17:00", [0, 1, 2, 3, 4], 540, 1020),
        ("sat 10:00-14:30", [5], 600, 870),
        ("fri-mon 00:00-24:00", [4, 5, 6, 0], 0, 1440),
    ],
    ids=["weekdays", "one-day", "wraps-the-week"],
)
def test_parse_hours(spec, days, start, end):  # type: ignore[no-untyped-def]
    assert parse_hours(spec) == (days, start, end)


@pytest.mark.parametrize(
    "spec,error",
    [
        ("weekdays 9-5", "write it as"),
        ("mon-fry 09:00-17:00", "unknown day 'fry'"),
        ("mon 18:00-09:00", "split overnight spans"),
        ("mon 09:00-25:00", "00:00 to 24:00"),
    ],
    ids=["free-text", "bad-day", "overnight", "past-midnight"],
)
def test_bad_hours(spec, error):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=error):
        parse_hours(spec)


WAITS = [
    ("no-history", None, 10, "configured"),
    ("too-little-history", [1.0, 2.0], 10, "configured"),
    ("percentile-of-history", [1, 2, 3, 4, 5, 6, 7, 8], 6, "p75 of 8"),
    ("rounds-up", [0.2, 0.3, 0.4], 1, "p75 of 3"),
    ("only-recent-count", [100.0] * 10 + [2.0] * 20, 2, "p75 of 20"),
]


@pytest.mark.parametrize("history,minutes,basis", [w[1:] for w in WAITS], ids=[w[0] for w in WAITS])
def test_wait_estimate(history, minutes, basis):  # type: ignore[no-untyped-def]
    wait, why = estimate_wait(history, ROUTING.teams["billing"], ROUTING)
    assert wait == minutes and basis in why


MESSAGES = [
    ("open-english", "billing", WED_NOON, "en", "about 10 minutes", False),
    ("open-spanish", "billing", WED_NOON, "es-MX", "unos 10 minutos", False),
    ("open-french", "billing", WED_NOON, "fr", "environ 10 minutes", False),
    ("open-german", "billing", WED_NOON, "de", "etwa 10 Minuten", False),
    ("open-portuguese", "billing", WED_NOON, "pt-BR", "cerca de 10 minutos", False),
    ("unknown-language-falls-back", "billing", WED_NOON, "ja", "about 10 minutes", False),
    (
        "on-call-outside-hours",
        "technical",
        datetime(2025, 3, 5, 23, 30, tzinfo=UTC),
        "en",
        "someone on call",
        False,
    ),
    (
        "nobody-offers-follow-up",
        "billing",
        WED_2230,
        "en",
        "Your conversation is waiting for them and someone will answer from",
        True,
    ),
    ("nobody-in-german", "billing", WED_2230, "de", "antwortet Ihnen eine Person", True),
    ("nobody-in-french", "billing", WED_2230, "fr", "une personne vous répondra à partir", True),
    ("nobody-in-spanish", "billing", WED_2230, "es", "le responderá a partir de", True),
]


@pytest.mark.parametrize(
    "team,now,language,expected,callback", [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES]
)
def test_customer_message(team, now, language, expected, callback):  # type: ignore[no-untyped-def]
    routing, message = route(Decision(escalate=True, team=team), Customer(), language, ROUTING, now)
    assert expected in message.text
    assert "connecting you now" not in message.text.lower()
    assert message.callback_offered is callback and routing.available is not callback
    if callback:
        assert message.wait_minutes is None and message.callback_at is not None
        assert message.callback_at.strftime("%Y-%m-%d %H:%M") in message.text
        assert routing.respond_by == message.callback_at
    else:
        assert message.wait_minutes is not None and "{" not in message.text


def test_routing_metadata():
    customer = Customer(tier="gold", tags=["vip"])
    decision = Decision(
        escalate=True, team="billing", priority="normal", queue="billing-vip", tags=["x"]
    )
    routing, _ = route(
        decision,
        customer,
        "fr",
        ROUTING,
        WED_NOON,
        first_responses={"billing": [3.0, 4.0, 5.0, 6.0]},
    )
    assert routing.team == "billing" and routing.queue == "billing-vip"
    assert routing.priority == "high"  # one step up for a VIP
    assert routing.skills == ["billing", "refunds", "language:fr"]
    assert routing.tier == "gold" and routing.tags == ["x"]
    assert routing.wait_minutes == 5 and routing.wait_basis.startswith("p75")
    assert (routing.respond_by - WED_NOON).total_seconds() == 300


def test_a_team_without_hours_is_always_staffed():
    settings = RoutingSettings(teams={"general": TeamSettings(wait_minutes=7)})
    routing, message = route(Decision(escalate=True), Customer(), None, settings, SAT_NOON)
    assert routing.available and message.wait_minutes == 7 and routing.team == "general"


@pytest.mark.parametrize(
    "yaml_text,expected",
    [
        (
            "routing:\n  teams:\n    general: {timezone: Mars/Olympus}\n",
            "routing.teams.general.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "routing:\n  teams:\n    general: {hours: ['mon-fri 9-5']}\n",
            "routing.teams.general.hours: item 0:",
        ),
        (
            "routing:\n  messages:\n    en: {wait: 'about {minutes}', on_call: x, unavailable: y}\n",
            "routing.messages.en: wait: unknown placeholder(s) ['minutes']",
        ),
        ("routing:\n  default_language: xx\n", "default_language 'xx' has no messages"),
        (
            "routing:\n  wait_percentile: 101\n",
            "routing.wait_percentile: Input should be less than or equal to 100",
        ),
    ],
    ids=["time-zone", "hours", "placeholder", "language", "percentile"],
)
def test_check_config_explains_routing(tmp_path, yaml_text, expected):  # type: ignore[no-untyped-def]
    from connector.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert any(expected in line for line in info.value.lines()), info.value.lines()


# --- business minutes (issue 19: groundwork for reminders that respect team hours) -----------------

_OFFICE = TeamSettings(timezone="Europe/Berlin", hours=["mon-fri 08:00-17:00"])


@pytest.mark.parametrize(
    "team,start,minutes,due",
    [
        (
            None,
            datetime(2026, 12, 1, 21, 17, tzinfo=UTC),
            10,
            datetime(2026, 12, 1, 21, 27, tzinfo=UTC),
        ),
        (
            TeamSettings(),
            datetime(2026, 12, 1, 21, 17, tzinfo=UTC),
            10,
            datetime(2026, 12, 1, 21, 27, tzinfo=UTC),
        ),
        # Tuesday 11:00 Berlin (10:00 UTC), open: plain minutes
        (
            _OFFICE,
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            10,
            datetime(2026, 12, 1, 10, 10, tzinfo=UTC),
        ),
        # Tuesday 21:17 Berlin: counts from Wednesday 08:00 Berlin (07:00 UTC)
        (
            _OFFICE,
            datetime(2026, 12, 1, 20, 17, tzinfo=UTC),
            10,
            datetime(2026, 12, 2, 7, 10, tzinfo=UTC),
        ),
        # 16:55 Berlin: 5 minutes today, 5 tomorrow
        (
            _OFFICE,
            datetime(2026, 12, 1, 15, 55, tzinfo=UTC),
            10,
            datetime(2026, 12, 2, 7, 5, tzinfo=UTC),
        ),
        # Friday 16:55 Berlin: the rest on Monday
        (
            _OFFICE,
            datetime(2026, 12, 4, 15, 55, tzinfo=UTC),
            10,
            datetime(2026, 12, 7, 7, 5, tzinfo=UTC),
        ),
        # overlapping spans count once
        (
            TeamSettings(hours=["mon-fri 08:00-12:00", "mon-fri 10:00-13:00"]),
            datetime(2026, 12, 1, 12, 50, tzinfo=UTC),
            20,
            datetime(2026, 12, 2, 8, 10, tzinfo=UTC),
        ),
    ],
    ids=["no-team", "no-hours", "open", "at-night", "across-closing", "weekend", "overlap"],
)
def test_business_deadline_counts_open_minutes(team, start, minutes, due):  # type: ignore[no-untyped-def]
    assert business_deadline(team, start, minutes) == due


# --- holidays, daylight saving, and what a closed team's customer is told ----------------------

_HOLIDAY_OFFICE = TeamSettings(
    timezone="Europe/Berlin", hours=["mon-fri 08:00-17:00"], holidays=["2026-12-24", "2026-12-25"]
)
_PARIS_DAYS = TeamSettings(timezone="Europe/Paris", hours=["mon-sun 08:00-20:00"])


@pytest.mark.parametrize(
    "team,start,minutes,due",
    [
        # Wednesday 23 Dec 16:55 Berlin: 5 minutes, then Thu 24 and Fri 25 are holidays, the
        # weekend is closed: the rest on Monday 28th 08:00 Berlin (07:00 UTC)
        (
            _HOLIDAY_OFFICE,
            datetime(2026, 12, 23, 15, 55, tzinfo=UTC),
            10,
            datetime(2026, 12, 28, 7, 5, tzinfo=UTC),
        ),
        # a holiday with no hours: always staffed except that day
        (
            TeamSettings(holidays=["2026-12-25"]),
            datetime(2026, 12, 24, 23, 55, tzinfo=UTC),
            10,
            datetime(2026, 12, 26, 0, 5, tzinfo=UTC),
        ),
        # Saturday 24 Oct 19:55 Paris (CEST): 5 minutes, the rest from Sunday 08:00, now CET
        (
            _PARIS_DAYS,
            datetime(2026, 10, 24, 17, 55, tzinfo=UTC),
            10,
            datetime(2026, 10, 25, 7, 5, tzinfo=UTC),
        ),
        # a span across the change counts real minutes: Sun 01:00 CEST to 04:00 CET is 4 hours
        (
            TeamSettings(timezone="Europe/Paris", hours=["sun 01:00-04:00"]),
            datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
            200,
            datetime(2026, 10, 25, 2, 20, tzinfo=UTC),
        ),
    ],
    ids=["holidays-and-weekend", "holiday-without-hours", "dst-overnight", "dst-inside-a-span"],
)
def test_business_deadline_skips_holidays_and_counts_real_minutes(team, start, minutes, due):  # type: ignore[no-untyped-def]
    assert business_deadline(team, start, minutes) == due


def test_a_holiday_is_closed_whatever_the_hours_say():
    christmas_noon = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)  # a Friday, 12:00 Berlin
    assert is_open(_OFFICE, christmas_noon) is True
    assert is_open(_HOLIDAY_OFFICE, christmas_noon) is False
    opening = next_opening(_HOLIDAY_OFFICE, datetime(2026, 12, 23, 17, 0, tzinfo=UTC))
    assert opening is not None and opening.isoformat() == "2026-12-28T08:00:00+01:00"
    assert is_open(TeamSettings(holidays=["2026-12-25"]), christmas_noon) is False


def test_covered_deadline_on_call_counts_plain_minutes():
    night = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # Tuesday 23:00 Berlin
    on_call = _OFFICE.model_copy(update={"on_call": "night-desk"})
    assert covered_deadline(on_call, night, 30) == datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert covered_deadline(_OFFICE, night, 30) == datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    assert covered_deadline(None, night, 30) == datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def test_respond_by_counts_open_minutes_near_closing():
    """Open at 16:55 Berlin with a 10-minute wait: respond by 08:05 the next morning, which is
    when a 10-minute response window (connector/timers.py) ends too."""
    office = _OFFICE.model_copy(update={"wait_minutes": 10})
    settings = ROUTING.model_copy(update={"teams": {**ROUTING.teams, "general": office}})
    now = datetime(2026, 12, 1, 15, 55, tzinfo=UTC)
    decision = Decision(escalate=True, team="general")
    routing, message = route(decision, Customer(), "en", settings, now)
    assert routing.available is True and message.wait_minutes == 10
    assert routing.respond_by == datetime(2026, 12, 2, 7, 5, tzinfo=UTC)
    # the customer is not told "about 10 minutes" when the team closes in 5: the respond-by time
    assert "closes soon" in message.text and "Wed 2026-12-02 08:05 CET" in message.text
    assert "about 10 minutes" not in message.text
    _, spanish = route(decision, Customer(), "es", settings, now)
    assert "cierra pronto" in spanish.text and "mié. 2026-12-02 08:05 CET" in spanish.text
    # ten minutes earlier the wait ends before closing: the usual notice
    _, before = route(decision, Customer(), "en", settings, now - timedelta(minutes=10))
    assert "about 10 minutes" in before.text and "closes" not in before.text


def test_after_hours_lines_by_language_with_fallbacks():
    settings = RoutingSettings()
    assert "someone will answer from {callback_time}" in settings.message("en", "after_hours")[1]
    assert "by e-mail as soon as they are back" in settings.message("en", "after_hours_email")[1]
    assert "par e-mail dès son retour" in settings.message("fr", "after_hours_email")[1]
    assert settings.message("it", "after_hours")[0] == "it"
    assert settings.message("ja", "after_hours")[0] == "en"  # a language we do not write
    own = {"wait": "w {wait}", "on_call": "o {wait}", "unavailable": "u {callback_time}"}
    mine = RoutingSettings.model_validate(
        {"messages": {"en": {**own, "after_hours": "back at {callback_time}"}, "fr": own}}
    )
    assert mine.message("en", "after_hours")[1] == "back at {callback_time}"
    assert "dès son retour" in mine.message("fr", "after_hours_email")[1]  # the built-in French


def test_local_times_read_in_the_customers_language():
    when = datetime(2026, 12, 9, 7, 0, tzinfo=UTC)
    assert local_time(when, "Europe/Paris", "en") == "Wed 2026-12-09 08:00 CET"
    assert local_time(when, "Europe/Paris", "fr") == "mer. 2026-12-09 08:00 CET"
    assert local_time(when, "Europe/Berlin", "de-AT") == "Mi. 2026-12-09 08:00 CET"
    assert local_time(when, "UTC", "ja") == "Wed 2026-12-09 07:00 UTC"


@pytest.mark.parametrize(
    "holidays,expected",
    [
        (
            "['25/12/2026']",
            "routing.teams.billing.holidays: item 0: '25/12/2026' is not",
        ),
        (
            "['2026-02-30']",
            "routing.teams.billing.holidays: item 0: '2026-02-30' is not",
        ),
        ("[2026-02-30]", "day is out of range for month (a date written as YYYY-MM-DD must exist)"),
        ("christmas", "routing.teams.billing.holidays"),
    ],
    ids=["not-iso", "no-such-day", "no-such-yaml-date", "not-a-list"],
)
def test_check_config_explains_holidays(tmp_path, holidays, expected):  # type: ignore[no-untyped-def]
    from connector.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text(
        f"routing:\n  teams:\n    general: {{}}\n    billing:\n      holidays: {holidays}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert any(expected in line for line in info.value.lines()), info.value.lines()


def test_holidays_load_from_yaml_dates():
    import yaml

    team = TeamSettings.model_validate(yaml.safe_load("holidays: [2026-12-25, '2027-01-01']"))
    assert [d.isoformat() for d in team.holidays] == ["2026-12-25", "2027-01-01"]


def test_each_settings_object_keeps_its_own_lines_and_hours():
    """The message lines and parsed hours are remembered per settings object (and hours by their
    text): settings loaded later, with other lines and hours, are read as they are."""
    own = {"on_call": "o {wait}", "unavailable": "u {callback_time}"}
    first = RoutingSettings.model_validate({"messages": {"en": {**own, "wait": "first {wait}"}}})
    second = RoutingSettings.model_validate({"messages": {"en": {**own, "wait": "second {wait}"}}})
    for _ in range(2):
        assert first.message("en", "wait")[1] == "first {wait}"
        assert second.message("en", "wait")[1] == "second {wait}"
    assert RoutingSettings().message("en", "wait")[1].startswith("I'm passing this conversation")
    early = TeamSettings(timezone="Europe/London", hours=["mon-fri 08:00-12:00"])
    late = TeamSettings(timezone="Europe/London", hours=["mon-fri 13:00-17:00"])
    for _ in range(2):
        assert is_open(early, WED_NOON - timedelta(hours=1))
        assert not is_open(late, WED_NOON - timedelta(hours=1))
        assert next_opening(late, WED_NOON).hour == 13
