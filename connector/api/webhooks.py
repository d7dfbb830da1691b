"""``POST /v1/webhooks/<vendor>``: helpdesks tell us what agents did. Each verifies its own scheme."""

from __future__ import annotations

from flask import Blueprint, request

from connector.api import json_response, runtime
from connector.errors import NotFound
from connector.helpdesk import apply_events

bp = Blueprint("webhooks", __name__)


@bp.post("/v1/webhooks/<vendor>")
def webhook(vendor: str):
    rt = runtime()
    destination = rt.destinations.get(vendor)
    if destination is None or vendor == "local":
        raise NotFound(f"no helpdesk {vendor!r} is configured", slug="unknown-helpdesk")
    headers = {key: value for key, value in request.headers.items()}
    body = request.get_data(cache=True)
    destination.verify_webhook(headers, body)  # raises Unauthorized before anything is parsed
    events = destination.parse_webhook(headers, body)
    results = apply_events(rt, vendor, events)
    return json_response({"received": len(events), "results": results})
