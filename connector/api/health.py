"""Liveness, readiness and the OpenAPI document (generated from the models that validate)."""

from __future__ import annotations

from flask import Blueprint

from connector.api import json_response, problem_response, runtime
from connector.openapi import openapi_document

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        runtime().store.ping()
    except Exception as exc:  # any store failure means "not ready", with the reason
        return problem_response(
            503, "Not ready", f"store unavailable: {type(exc).__name__}: {exc}", "not-ready"
        )
    return json_response(
        {
            "status": "ready",
            "store": runtime().store.name,
            "destinations": sorted(runtime().destinations),
        }
    )


@bp.get("/openapi.json")
def openapi():
    return json_response(openapi_document())
