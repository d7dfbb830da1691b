"""Bot-facing endpoints: events in (our format, or a platform's own through its channel), control
state, and the send gate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState

from connector import planning, security, service
from connector.api import (
    authenticate_bot,
    channel_of,
    inbound_request,
    json_response,
    parse_body,
    presented_api_key,
    runtime,
)
from connector.errors import BadRequest
from connector.runtime import Runtime
from connector.schemas import BotReply

logger = logging.getLogger(__name__)
bp = Blueprint("events", __name__)
EVENTS_PATH = "/v1/events"
CHANNELS_PATH = "/v1/channels/"


@bp.record_once
def _warm_up(state: BlueprintSetupState) -> None:
    """Compile the policy's patterns before the first event rather than during it."""
    rt = state.app.extensions["handoff"]
    try:
        planning.warm_up(rt.settings, rt.now())
    except Exception:  # noqa: BLE001 - a warm-up must never keep the server from starting
        logger.warning("warming up the decision failed; the first events will do it", exc_info=True)


def request_turns(rt: Runtime) -> Callable[[str, str], AbstractContextManager[object]]:
    """For ``handoff serve``: what to hold around a request (``serving.create_server``'s
    ``turns``): a bot event's turns (``service.event_turns``) for the routes below that take
    events, nothing for any other."""

    def turns(method: str, path: str) -> AbstractContextManager[object]:
        if method == "POST" and (path == EVENTS_PATH or path.startswith(CHANNELS_PATH)):
            return service.event_turns(rt)
        return nullcontext()

    return turns


def _ingest(source: str, path: str = "", *, verified: bool = False) -> Response:
    """Verify, parse, decide every event, and answer the way the source's channel expects."""
    rt = runtime()
    channel = channel_of(source)
    inbound = inbound_request(path)
    if not verified:
        channel.verify(inbound, now=rt.now().timestamp())
    events = channel.parse(inbound, now=rt.now())
    responses = [service.ingest_event(rt, source, event) for event in events]
    answer = channel.answer(inbound, responses)
    return Response(answer.body, status=answer.status, mimetype=answer.content_type)


@bp.post(EVENTS_PATH)
def post_event():
    source = request.headers.get(security.SOURCE_HEADER) or ""
    channel = channel_of(source) if source else None
    if channel is not None and channel.name != "native":
        raise BadRequest(
            f"source {source!r} speaks {channel.name!r}: post its events to /v1/channels/{source}",
            slug="wrong-channel",
        )
    return _ingest(authenticate_bot(), verified=True)


@bp.post(CHANNELS_PATH + "<source>")
@bp.post(CHANNELS_PATH + "<source>/<path:path>")
def post_channel(source: str, path: str = ""):
    return _ingest(source, path)


@bp.get("/v1/conversations/<conversation_id>/control")
def get_control(conversation_id: str):
    # bots sign the (empty) body and see only their own conversations (404 for another source's:
    # not even whether it exists); agents and tools may use an API key and see every one
    source = None
    if presented_api_key() is not None:
        security.check_api_key(presented_api_key(), runtime().settings.security.api_keys)
    else:
        source = authenticate_bot()
    return json_response(service.get_control(runtime(), conversation_id, source=source))


@bp.post("/v1/conversations/<conversation_id>/bot-replies")
def post_bot_reply(conversation_id: str):
    source = authenticate_bot()
    reply = parse_body(BotReply)
    return json_response(service.send_bot_reply(runtime(), source, conversation_id, reply))
