"""The Salesforce sObjects document, completed by hand for what the org-generated subset lacks.

Salesforce generates its OpenAPI document per org; the shared subset has Case, CaseComment,
FeedItem, Group, Skill, SkillRequirement, User, Contact, MessagingSession. Added here, in memory
only, each fragment marked ``x-added-by-hand``: the project's custom fields, PendingServiceRouting
(Omni-Channel), upsert/get by external ID, ``/query``, ``/composite`` and the OAuth token endpoint.
"""

from __future__ import annotations

from typing import Any

from .specs import SpecValidator, mark

__all__ = ["API", "DEFAULT_CUSTOM_FIELDS", "SPEC", "salesforce_validator"]

SPEC = "salesforce/salesforce-sobjects-v59.case-subset.oas.json"
API = "/services/data/v59.0"

# The project's own Case fields; ``Handoff_Id__c`` is the external ID the connector upserts on.
DEFAULT_CUSTOM_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "Case": {
        "Handoff_Id__c": {"type": "string", "maxLength": 255},
        "Handoff_Summary__c": {"type": "string", "maxLength": 32768},
        "Handoff_Widget_URL__c": {"type": "string", "maxLength": 1000},
        "Handoff_Sentiment__c": {"type": "string", "maxLength": 255},
        "Handoff_Intent__c": {"type": "string", "maxLength": 255},
        "Handoff_Team__c": {"type": "string", "maxLength": 255},
    }
}

_WHY = "not in the org-generated subset; shape from the Salesforce REST API Developer Guide"
_PSR_FIELDS = {
    "Id": {"type": "string"},
    "WorkItemId": {"type": "string"},
    "ServiceChannelId": {"type": "string"},
    "RoutingType": {"type": "string", "enum": ["SkillsBased", "QueueBased", "ExternalRouting"]},
    "RoutingModel": {"type": "string", "enum": ["MostAvailable", "LeastActive", "ExternalRouting"]},
    "RoutingPriority": {"type": "integer"},
    "CapacityWeight": {"type": "number"},
    "CapacityPercentage": {"type": "number"},
    "IsReadyForRouting": {"type": "boolean"},
    "QueueId": {"type": "string"},
    "PreferredUserId": {"type": "string"},
    "IsPreferredUserRequired": {"type": "boolean"},
    "DropAdditionalSkillsTimeout": {"type": "integer"},
    "SecondaryRoutingPriority": {"type": "integer"},
    "PushTimeout": {"type": "integer"},
    "attributes": {"type": "object"},
}


def _errors(code: str = "400") -> dict[str, Any]:
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/ErrorInfo"}}
    return {code: {"description": "error", "content": {"application/json": {"schema": schema}}}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _adjust(document: dict[str, Any], custom_fields: dict[str, dict[str, dict[str, Any]]]) -> None:
    schemas, paths = document["components"]["schemas"], document["paths"]
    for sobject, fields in custom_fields.items():
        props = schemas[f"{sobject}SObject"]["properties"]
        for name, schema in fields.items():
            props[name] = mark(dict(schema), "the project's custom field")
    schemas["PendingServiceRoutingSObject"] = mark(
        {"type": "object", "properties": _PSR_FIELDS}, _WHY
    )
    psr = f"{API}/sobjects/PendingServiceRouting"
    create = {
        "parameters": [],
        "requestBody": _json_body({"$ref": "#/components/schemas/PendingServiceRoutingSObject"}),
        "responses": {"201": {"description": "created"}, **_errors()},
    }
    for path in (psr, psr + "/"):
        paths[path] = mark({"post": create}, _WHY)
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths[psr + "/{id}"] = mark(
        {
            "parameters": [id_param],
            "get": {"responses": {"200": {"description": "record"}, **_errors("404")}},
            "patch": {
                "requestBody": _json_body(
                    {"$ref": "#/components/schemas/PendingServiceRoutingSObject"}
                ),
                "responses": {"204": {"description": "updated"}, **_errors()},
            },
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
        _WHY,
    )
    for sobject in ("Case", "Contact"):
        ext = [
            {"name": "field", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "value", "in": "path", "required": True, "schema": {"type": "string"}},
        ]
        schema = {"$ref": f"#/components/schemas/{sobject}SObject"}
        paths[f"{API}/sobjects/{sobject}/{{field}}/{{value}}"] = mark(
            {
                "parameters": ext,
                "get": {"responses": {"200": {"description": "record"}, **_errors("404")}},
                "patch": {
                    "requestBody": _json_body(schema),
                    "responses": {
                        "200": {"description": "updated (API 46.0+)"},
                        "201": {"description": "created"},
                        "300": {"description": "several records match"},
                        **_errors(),
                    },
                },
            },
            "upsert / get by external ID: " + _WHY,
        )
    query = {
        "parameters": [
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "query result"}, **_errors()},
    }
    sub = {
        "type": "object",
        "required": ["method", "url", "referenceId"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"]},
            "url": {"type": "string"},
            "referenceId": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
            "body": {"type": "object", "additionalProperties": True},
            "httpHeaders": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    composite = {
        "requestBody": _json_body(
            {
                "type": "object",
                "required": ["compositeRequest"],
                "properties": {
                    "allOrNone": {"type": "boolean"},
                    "collateSubrequests": {"type": "boolean"},
                    "compositeRequest": {"type": "array", "maxItems": 25, "items": sub},
                },
            }
        ),
        "responses": {"200": {"description": "composite result"}, **_errors()},
    }
    for suffix in ("", "/"):
        paths[f"{API}/query{suffix}"] = mark({"get": query}, _WHY)
        paths[f"{API}/composite{suffix}"] = mark({"post": composite}, _WHY)
    form = {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            name: {"type": "string"}
            for name in ("client_id", "client_secret", "refresh_token", "username", "password")
        }
        | {
            "grant_type": {
                "type": "string",
                "enum": ["client_credentials", "refresh_token", "password"],
            }
        },
    }
    paths["/services/oauth2/token"] = mark(
        {
            "post": {
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": form}},
                },
                "responses": {"200": {"description": "token"}, "400": {"description": "error"}},
            }
        },
        "OAuth 2.0 client-credentials flow: " + _WHY,
    )


def salesforce_validator(custom_fields: dict[str, dict[str, dict[str, Any]]]) -> SpecValidator:
    """The cached, completed Salesforce validator; additional properties are forbidden."""
    key = "salesforce:" + repr(sorted((k, sorted(v)) for k, v in custom_fields.items()))
    return SpecValidator.cached(
        key, SPEC, lambda doc: _adjust(doc, custom_fields), forbid_additional=True
    )
