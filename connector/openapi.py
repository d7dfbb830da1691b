"""``/openapi.json``, built from the same pydantic models that validate requests and answers."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from connector import schemas

REF = "#/components/schemas/{model}"


def _body(name: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}},
    }


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}},
    }


def _problems(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad input",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        503: "Store busy (another process kept the write lock) or unavailable (disk full, I/O error): "
        "nothing was stored; retry after Retry-After",
    }
    return {
        str(code): {
            "description": text[code],
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
        for code in codes
    }


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


def _form(fields: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": fields, "required": required or []}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def _page_paths(hid: dict[str, Any]) -> dict[str, Any]:
    """The HTML surfaces and the Intercom canvas: agents' pages, not the JSON API, but routes all the same."""
    key = {
        "name": "key",
        "in": "query",
        "schema": {"type": "string"},
        "description": "the API key, for links opened in a browser",
    }
    token = {
        "name": "token",
        "in": "query",
        "schema": {"type": "string"},
        "description": "a widget token",
    }
    text = {"type": "string"}
    canvas = {
        "post": {
            "summary": "Intercom inbox app (Canvas Kit), signed with X-Body-Signature (docs/widget.md)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {"200": {"description": "A canvas"}, **_problems(400, 401)},
        }
    }
    return {
        "/inbox": {
            "get": {
                "summary": "The built-in inbox (HTML)",
                "security": AGENT_AUTH,
                "parameters": [
                    key,
                    {"name": "status", "in": "query", "schema": text},
                    {"name": "team", "in": "query", "schema": text},
                ],
                "responses": {"200": _html("The inbox"), **_problems(400, 401)},
            }
        },
        "/inbox/{handoff_id}": {
            "get": {
                "summary": "One handoff in the inbox (HTML)",
                "parameters": [hid, key],
                "security": AGENT_AUTH,
                "responses": {
                    "200": _html("The inbox with the handoff open"),
                    **_problems(401, 404),
                },
            }
        },
        "/inbox/{handoff_id}/claim": {
            "post": {
                "summary": "Take over from the inbox (a form post; 303 back to the page)",
                "parameters": [hid, key],
                "security": AGENT_AUTH,
                "requestBody": _form({"actor": text}),
                "responses": {
                    "303": {"description": "Back to the handoff"},
                    **_problems(400, 401, 404, 409),
                },
            }
        },
        "/inbox/{handoff_id}/reply": {
            "post": {
                "summary": "Write to the customer from the inbox (a form post; 303 back to the page)",
                "parameters": [hid, key],
                "security": AGENT_AUTH,
                "requestBody": _form({"text": text, "actor": text}, ["text"]),
                "responses": {
                    "303": {"description": "Back to the handoff"},
                    **_problems(400, 401, 404, 409),
                },
            }
        },
        "/inbox/{handoff_id}/handback": {
            "post": {
                "summary": "Hand back from the inbox (a form post; 303 back to the page)",
                "parameters": [hid, key],
                "security": AGENT_AUTH,
                "requestBody": _form(
                    {"note": text, "actor": text, "resolution": text, "resume_hint": text}, ["note"]
                ),
                "responses": {
                    "303": {"description": "Back to the handoff"},
                    **_problems(400, 401, 404, 409),
                },
            }
        },
        "/widget/handoffs/{handoff_id}": {
            "get": {
                "summary": "The agent widget (HTML), opened with a widget token",
                "parameters": [hid, token, {"name": "host_origin", "in": "query", "schema": text}],
                "security": [{"widgetToken": []}],
                "responses": {"200": _html("The widget"), **_problems(400, 401, 404)},
            }
        },
        "/widget/handoffs/{handoff_id}/token": {
            "post": {
                "summary": "Renew the open widget's token (X-Widget-Token and X-CSRF-Token); 401 "
                "revoked-widget-token after handback, widget-session-over past "
                "widget.session_max_seconds",
                "parameters": [hid],
                "security": [{"widgetToken": []}],
                "responses": {
                    "200": {"description": "token, expires_at"},
                    **_problems(401, 403, 404),
                },
            }
        },
        "/transcripts/{handoff_id}": {
            "get": {
                "summary": "A handoff's full transcript (HTML, read-only), opened with the signed, "
                "expiring transcript link of helpdesk notes and the widget (no API key); a bad or "
                "expired link gets 401 or 403: a short HTML page for a browser (Accept: text/html)",
                "parameters": [
                    hid,
                    {"name": "t", "in": "query", "required": True, "schema": text},
                ],
                "responses": {"200": _html("The transcript"), **_problems(401, 403, 404)},
            }
        },
        "/widget/static/{filename}": {
            "get": {
                "summary": "The widget's script and style sheet",
                "parameters": [
                    {"name": "filename", "in": "path", "required": True, "schema": text}
                ],
                "responses": {"200": {"description": "A file"}, **_problems(404)},
            }
        },
        "/dashboard": {
            "get": {
                "summary": "The handoff report (HTML; docs/operations.md)",
                "security": AGENT_AUTH,
                "parameters": [
                    key,
                    {"name": "since", "in": "query", "schema": text},
                    {"name": "team", "in": "query", "schema": text},
                    {"name": "source", "in": "query", "schema": text},
                ],
                "responses": {"200": _html("The report"), **_problems(400, 401)},
            }
        },
        "/": {
            "get": {
                "summary": "Landing page: version, store readiness, links",
                "responses": {"200": _html("The page")},
            }
        },
        "/docs": {
            "get": {
                "summary": "This document, rendered (Swagger UI from the installed package)",
                "responses": {"200": _html("The page")},
            }
        },
        "/docs/api.md": {
            "get": {
                "summary": "docs/api.md: the inbound event in words and how to sign a request, "
                "with a worked example (Markdown, from the source tree; 404 when not installed)",
                "responses": {"200": {"description": "Markdown"}, **_problems(404)},
            }
        },
        "/docs/init.js": {
            "get": {
                "summary": "The script that starts Swagger UI on /docs",
                "responses": {"200": {"description": "JavaScript"}},
            }
        },
        "/docs/static/{name}": {
            "get": {
                "summary": "Swagger UI's files",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": text}],
                "responses": {"200": {"description": "A file"}, **_problems(404)},
            }
        },
        "/v1/intercom/canvas/initialize": canvas,
        "/v1/intercom/canvas/submit": canvas,
    }


BOT_AUTH: list[dict[str, list[str]]] = [{"handoffSignature": [], "handoffSource": []}]
AGENT_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]


def _widget_paths(hid: dict[str, Any]) -> dict[str, Any]:
    """The widget's endpoints (docs/widget.md); their bodies are the models that validate them."""
    from connector.drafts import DraftEvent
    from sidebar_widget.widget_api import WidgetSession

    def inline(model: Any) -> dict[str, Any]:
        return {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }

    widget_auth = AGENT_AUTH + [{"widgetToken": []}]
    return {
        "/v1/handoffs/{handoff_id}/draft-events": {
            "post": {
                "summary": "Record how the agent used the draft reply (edit distance when final_text is sent)",
                "parameters": [hid],
                "security": widget_auth,
                "requestBody": inline(DraftEvent),
                "responses": {"201": {"description": "Recorded"}, **_problems(400, 401, 404, 503)},
            }
        },
        "/v1/widget/sessions": {
            "post": {
                "summary": "Exchange an API key for a widget link to one handoff (helpdesk back-ends)",
                "security": AGENT_AUTH,
                "requestBody": inline(WidgetSession),
                "responses": {
                    "200": {"description": "widget_url, token, expires_at"},
                    **_problems(400, 401, 404),
                },
            }
        },
    }


@lru_cache(maxsize=1)
def _channel_operation(*, sub_path: bool = False) -> dict[str, Any]:
    parameters = [{"name": "source", "in": "path", "required": True, "schema": {"type": "string"}}]
    if sub_path:
        parameters.append(
            {
                "name": "path",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "the platform's endpoint, where it calls several",
            }
        )
    return {
        "post": {
            "summary": "A bot platform posts in its own format; the source's channel verifies, parses "
            "and answers it (channels/)",
            "parameters": parameters,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {"description": "the channel's answer, in the platform's format"},
                **_problems(400, 401, 409, 413, 503),
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        schemas.Event,
        schemas.EventResponse,
        schemas.Control,
        schemas.BotReply,
        schemas.BotReplyResponse,
        schemas.Claim,
        schemas.Handback,
        schemas.HandoffView,
        schemas.HandoffList,
        schemas.HandoffPayload,
        schemas.Problem,
        schemas.AgentMessageIn,
        schemas.AgentMessageOut,
    ]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    components = top.get("$defs", {})
    conv = {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}}
    hid = {"name": "handoff_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/v1/events": {
            "post": {
                "summary": "Post a bot event; the policy decides whether a human takes over",
                "security": BOT_AUTH,
                "requestBody": _body("Event"),
                "responses": {"200": _ok("EventResponse"), **_problems(400, 401, 409, 413, 503)},
            }
        },
        "/v1/channels/{source}": _channel_operation(),
        "/v1/channels/{source}/{path}": _channel_operation(sub_path=True),
        "/v1/conversations/{conversation_id}/control": {
            "get": {
                "summary": "Who owns the conversation now (a bot: only its own source's, else 404)",
                "parameters": [conv],
                "security": BOT_AUTH + AGENT_AUTH,
                "responses": {"200": _ok("Control"), **_problems(401, 404)},
            }
        },
        "/v1/conversations/{conversation_id}/bot-replies": {
            "post": {
                "summary": "The send gate: 200 when the bot may reply, 409 when an agent owns it",
                "parameters": [conv],
                "security": BOT_AUTH,
                "requestBody": _body("BotReply"),
                "responses": {"200": _ok("BotReplyResponse"), **_problems(400, 401, 404, 409, 503)},
            }
        },
        "/v1/handoffs": {
            "get": {
                "summary": "List handoffs",
                "security": AGENT_AUTH,
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["open", "with_agent", "handed_back", "closed"],
                        },
                    },
                    {"name": "team", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {"200": _ok("HandoffList"), **_problems(400, 401)},
            }
        },
        "/v1/handoffs/{handoff_id}": {
            "get": {
                "summary": "One handoff with its handoff/v1 payload",
                "parameters": [hid],
                "security": AGENT_AUTH,
                "responses": {"200": _ok("HandoffView"), **_problems(401, 404)},
            }
        },
        "/v1/handoffs/{handoff_id}/claim": {
            "post": {
                "summary": "An agent takes over",
                "parameters": [hid],
                "security": AGENT_AUTH,
                "requestBody": _body("Claim"),
                "responses": {"200": _ok("Control"), **_problems(400, 401, 404, 409, 503)},
            }
        },
        "/v1/handoffs/{handoff_id}/messages": {
            "post": {
                "summary": "The owning agent writes to the customer (relayed by the bot as agent.message)",
                "parameters": [
                    hid,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                    },
                ],
                "security": AGENT_AUTH,
                "requestBody": _body("AgentMessageIn"),
                "responses": {
                    "201": _ok("AgentMessageOut"),
                    "200": _ok("AgentMessageOut"),
                    **_problems(400, 401, 404, 409, 503),
                },
            }
        },
        "/v1/handoffs/{handoff_id}/stream": {
            "get": {
                "summary": "The live view: Server-Sent Events turn, control, reminder (token or key in the query)",
                "parameters": [
                    hid,
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                    {"name": "key", "in": "query", "schema": {"type": "string"}},
                ],
                "security": AGENT_AUTH,
                "responses": {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {}},
                    },
                    **_problems(401, 404),
                },
            }
        },
        "/v1/handoffs/{handoff_id}/handback": {
            "post": {
                "summary": "Hand the conversation back to the bot with a note",
                "parameters": [hid],
                "security": AGENT_AUTH,
                "requestBody": _body("Handback"),
                "responses": {"200": _ok("Control"), **_problems(400, 401, 404, 409, 503)},
            }
        },
        "/v1/webhooks/{vendor}": {
            "post": {
                "summary": "A helpdesk reports what an agent did (each vendor's own signature scheme)",
                "parameters": [
                    {
                        "name": "vendor",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["zendesk", "salesforce", "intercom"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {"200": {"description": "Applied"}, **_problems(401, 404, 503)},
            }
        },
        **_widget_paths(hid),
        **_page_paths(hid),
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}},
        "/readyz": {
            "get": {
                "summary": "Readiness (the store answers and takes a write)",
                "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (docs/operations.md)",
                "responses": {
                    "200": {"description": "Prometheus text format", "content": {"text/plain": {}}}
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "handoff-connector",
            "version": "1",
            "description": "Bot-to-human handoff API. Errors are RFC 9457 problem details. "
            "The inbound event's fields and how to sign a request (a body-less GET included), "
            "with a worked example: [docs/api.md](/docs/api.md).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "handoffSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Handoff-Signature",
                    "description": "t=<unix seconds>,v2=HMAC-SHA256(secret, '<t>.<METHOD>.<path>."
                    "<raw body>') (path percent-decoded, no query); the "
                    "deprecated v1=HMAC-SHA256(secret, '<t>.<raw body>') is "
                    "accepted unless sources.<name>.accept_v1_signatures "
                    "is false",
                },
                "handoffSource": {"type": "apiKey", "in": "header", "name": "X-Handoff-Source"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "widgetToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Widget-Token",
                    "description": "a widget token bound to one handoff; writes also need "
                    "X-CSRF-Token and a same-origin Origin",
                },
            },
        },
    }
