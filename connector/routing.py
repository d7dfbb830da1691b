"""Routing: which team and queue get a handoff, and what the customer is told about waiting.

Pure: settings and the decision in, routing and an honest customer message out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.config import RoutingSettings
from connector.schemas import Customer, CustomerMessage, Decision, Routing


def route(decision: Decision, customer: Customer, language: str | None, settings: RoutingSettings,
          now: datetime) -> tuple[Routing, CustomerMessage]:
    team = decision.team if decision.team in settings.teams else settings.default_team
    team_settings = settings.teams[team]
    wait = team_settings.wait_minutes
    routing = Routing(
        team=team, queue=team_settings.queue, priority=decision.priority, language=language,
        tier=customer.tier, respond_by=now + timedelta(minutes=wait),
    )
    if wait <= 1:
        text = "I'm passing this conversation to a person on our team; someone should reply within a minute."
    else:
        text = (f"I'm passing this conversation to a person on our team. The wait is about {wait} "
                "minutes; they will see everything we have discussed, so you won't need to repeat it.")
    return routing, CustomerMessage(text=text, wait_minutes=wait, callback_offered=False)
