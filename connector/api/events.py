"""Bot-facing endpoints: events in, control state, and the send gate."""

from __future__ import annotations

from flask import Blueprint

from connector import security, service
from connector.api import authenticate_bot, json_response, parse_body, presented_api_key, runtime
from connector.schemas import BotReply, Event

bp = Blueprint("events", __name__)


@bp.post("/v1/events")
def post_event():
    source = authenticate_bot()
    event = parse_body(Event)
    return json_response(service.ingest_event(runtime(), source, event))


@bp.get("/v1/conversations/<conversation_id>/control")
def get_control(conversation_id: str):
    # bots sign the (empty) body; agents and tools may use an API key instead
    if presented_api_key() is not None:
        security.check_api_key(presented_api_key(), runtime().settings.security.api_keys)
    else:
        authenticate_bot()
    return json_response(service.get_control(runtime(), conversation_id))


@bp.post("/v1/conversations/<conversation_id>/bot-replies")
def post_bot_reply(conversation_id: str):
    source = authenticate_bot()
    reply = parse_body(BotReply)
    return json_response(service.send_bot_reply(runtime(), source, conversation_id, reply))
