"""The helpdesk apps around the widget: the Zendesk app package and the Intercom inbox app."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import zipfile
from functools import lru_cache

import pytest
from click.testing import CliRunner

from connector.cli import main
from sidebar_widget.zendesk_package import APP_DIR, check_manifest
from tests.helpers import API_KEY, dumps, event, signed_headers

AGENT = {"Authorization": f"Bearer {API_KEY}"}
CLIENT_SECRET = "intercom-client-secret"


# --- Zendesk --------------------------------------------------------------------------------------


def test_zendesk_manifest_has_zendesks_documented_structure():
    manifest = json.loads((APP_DIR / "manifest.json").read_text())
    assert check_manifest(manifest) == []
    assert manifest["location"]["support"]["ticket_sidebar"]["url"] == "assets/iframe.html"
    params = {p["name"]: p for p in manifest["parameters"]}
    assert params["connector_url"]["type"] == "url" and params["connector_url"]["required"] is True
    assert params["shared_secret"]["secure"] is True and "default" not in params["shared_secret"]
    # the checker itself catches what Zendesk would refuse
    broken = copy.deepcopy(manifest)
    broken["parameters"][1]["default"] = "leaked"
    broken["location"]["support"]["ticket_sidbar"] = broken["location"]["support"].pop(
        "ticket_sidebar"
    )
    broken["frameworkVersion"] = "1.0"
    broken["colour"] = "red"
    problems = check_manifest(broken)
    assert "unknown key 'colour'" in problems and "frameworkVersion must be '2.0'" in problems
    assert any("ticket_sidbar: not a Support location" in p for p in problems)
    assert any("secure parameter cannot have a default" in p for p in problems)


def test_zendesk_iframe_loads_only_the_zaf_sdk_and_inserts_with_append_text():
    html = (APP_DIR / "assets" / "iframe.html").read_text()
    external = re.findall(r'src="(https?://[^"]+)"', html)
    assert external == ["https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"]
    script = (APP_DIR / "assets" / "host.js").read_text()
    assert 'client.invoke("ticket.comment.appendText"' in script
    assert "{{setting.shared_secret}}" in script and "secure: true" in script
    assert "event.origin !== widgetOrigin" in script  # only the connector's messages are trusted


def test_widget_package_zendesk_builds_the_uploadable_zip(tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "app.zip"
    result = CliRunner().invoke(
        main,
        [
            "widget",
            "package",
            "zendesk",
            "--connector-url",
            "https://handoff.example.com/",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        logo = zf.read("assets/logo.png")
    assert {
        "manifest.json",
        "translations/en.json",
        "assets/iframe.html",
        "assets/host.js",
        "assets/logo.png",
        "assets/logo-small.png",
    } <= names
    assert manifest["domainWhitelist"] == ["handoff.example.com"]
    assert [p.get("default") for p in manifest["parameters"]] == [
        "https://handoff.example.com",
        None,
    ]
    assert logo.startswith(b"\x89PNG") and check_manifest(manifest) == []
    bad = CliRunner().invoke(
        main, ["widget", "package", "zendesk", "--connector-url", "ftp://x", "--out", str(out)]
    )
    assert bad.exit_code == 1 and "not an http(s) URL" in bad.output


# --- Intercom Canvas Kit --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def canvas_schemas() -> dict:
    from tests.standins.specs import SpecsMissing, load_document

    try:
        document = load_document("intercom/api.intercom.io.2.11.yaml")
    except SpecsMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} (CI=true)")
        pytest.skip(str(exc))
    return document


def validate(name: str, instance: dict) -> None:
    """Validate against ``#/components/schemas/<name>`` of the 2.11 spec, every $ref resolved."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    document = canvas_schemas()
    registry = Registry().with_resource("spec", Resource(contents=document, specification=DRAFT4))
    schema = {"$ref": f"spec#/components/schemas/{name}"}
    validator = jsonschema.Draft4Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors]


def intercom_request(conversation_id: str = "conv-1", **extra) -> dict:  # type: ignore[no-untyped-def]
    return {
        "workspace_id": "ws1",
        "workspace_region": "us",
        "admin": {"type": "admin", "id": "7", "name": "Mia"},
        "card_creation_options": {},
        "context": {"location": "conversation", "conversation_id": 1},
        "conversation": {"type": "conversation", "id": conversation_id},
        "contact": {},
        **extra,
    }


def signed(client, path: str, body: dict, secret: str = CLIENT_SECRET):  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        path, data=raw, headers={"Content-Type": "application/json", "X-Body-Signature": sig}
    )


@pytest.fixture
def intercom_app(runtime, client):  # type: ignore[no-untyped-def]
    runtime.settings.widget.intercom_client_secret = CLIENT_SECRET
    raw = dumps(
        event(
            bot={
                "summary": "Order *881* [late](javascript:x)",
                "draft_reply": "Hi Ada, on it.",
                "next_action": "Trace the parcel",
            }
        )
    )
    return client.post("/v1/events", data=raw, headers=signed_headers(raw)).json["handoff"]["id"]


def components(answer: dict) -> dict[str, dict]:
    return {
        c.get("id", f"{c['type']}-{i}"): c
        for i, c in enumerate(answer["canvas"]["content"]["components"])
    }


def test_canvas_initialize_answers_a_valid_canvas(client, intercom_app):  # type: ignore[no-untyped-def]
    answer = signed(client, "/v1/intercom/canvas/initialize", intercom_request())
    assert answer.status_code == 200, answer.json
    validate("initialize_response", answer.json)
    found = components(answer.json)
    assert found["draft"]["value"] == "Hi Ada, on it." and found["use_draft"]["action"] == {
        "type": "submit"
    }
    assert {"take_over", "hand_back", "handback_note", "open_widget"} <= set(found)
    texts = " ".join(c.get("text", "") for c in found.values())
    assert "Order \\*881\\* \\[late\\]\\(javascript:x\\)" in texts and "Trace the parcel" in texts
    assert answer.json["canvas"]["stored_data"] == {"handoff_id": intercom_app}
    assert "/widget/handoffs/" in found["open_widget"]["action"]["url"]
    unknown = signed(
        client, "/v1/intercom/canvas/initialize", intercom_request("conv-unknown")
    ).json
    validate("initialize_response", unknown)
    with pytest.raises(AssertionError):  # the schemas do bite
        validate(
            "initialize_response",
            {"canvas": {"content": {"components": [{"type": "button", "id": "x"}]}}},
        )


def test_canvas_submit_inserts_takes_over_and_hands_back(
    client, runtime, receiver, worker, intercom_app
):  # type: ignore[no-untyped-def]
    first = signed(client, "/v1/intercom/canvas/initialize", intercom_request()).json

    def submit(component_id: str, **values):  # type: ignore[no-untyped-def]
        body = intercom_request(
            component_id=component_id,
            input_values=values,
            user={},
            current_canvas={"current_canvas": first["canvas"]},
        )
        answer = signed(client, "/v1/intercom/canvas/submit", body)
        assert answer.status_code == 200, answer.json
        validate("submit_response", answer.json)
        return answer.json

    used = submit("use_draft", draft="Hi Ada, on it now.")
    assert used["card_creation_options"] == {
        "handoff_id": intercom_app,
        "draft": "Hi Ada, on it now.",
    }
    card = signed(
        client,
        "/v1/intercom/canvas/initialize",
        intercom_request(card_creation_options=used["card_creation_options"]),
    ).json
    validate("initialize_response", card)
    assert components(card)["text-0"]["text"] == "Hi Ada, on it now\\."
    with runtime.store.reading() as tx:
        assert [
            (e["action"], e["edit_distance"], e["actor"])
            for e in tx.list_draft_events(intercom_app)
        ] == [("inserted", 4, "intercom:Mia")]

    taken = submit("take_over")
    assert "take_over" not in components(taken) and "With intercom:Mia" in json.dumps(taken)
    missing = submit("hand_back", handback_note="  ")
    assert components(missing)["handback_note"]["error"] is True
    back = submit(
        "hand_back",
        handback_note="Parcel traced.",
        resolution="resolved",
        resume_hint="offer_survey",
    )
    assert "hand_back" not in components(back)
    conflict = submit("take_over")  # nothing to take over any more: said in the canvas
    assert any(c.get("style") == "error" for c in conflict["canvas"]["content"]["components"])
    from tests.helpers import drain

    drain(worker)
    handed = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed[0]["note"] == "Parcel traced." and handed[0]["actor"] == "intercom:Mia"


@pytest.mark.parametrize("secret,status", [("wrong-secret-123", 401), (None, 401)])
def test_canvas_requests_must_be_signed_by_intercom(client, runtime, intercom_app, secret, status):  # type: ignore[no-untyped-def]
    if secret is None:
        answer = client.post("/v1/intercom/canvas/initialize", json=intercom_request())
    else:
        answer = signed(client, "/v1/intercom/canvas/initialize", intercom_request(), secret=secret)
    assert answer.status_code == status and answer.json["type"].endswith("/bad-signature")
    runtime.settings.widget.intercom_client_secret = None
    off = signed(client, "/v1/intercom/canvas/initialize", intercom_request())
    assert off.status_code == 401 and off.json["type"].endswith("/canvas-not-configured")


def test_widget_package_refuses_without_a_connector_url_and_takes_the_author(tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "app.zip"
    refused = CliRunner().invoke(
        main,
        ["widget", "package", "zendesk", "--out", str(out)],
        env={"HANDOFF_CONFIG": "", "HANDOFF_PUBLIC_URL": ""},
    )
    assert refused.exit_code == 1 and "no connector URL: pass --connector-url" in refused.output
    assert not out.exists()
    env = {
        "HANDOFF_WIDGET__APP_AUTHOR_NAME": "Acme Support",
        "HANDOFF_WIDGET__APP_AUTHOR_EMAIL": "help@acme.test",
        "HANDOFF_PUBLIC_URL": "https://handoff.acme.test",
    }
    built = CliRunner().invoke(main, ["widget", "package", "zendesk", "--out", str(out)], env=env)
    assert built.exit_code == 0, built.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert (
        manifest["author"]["name"] == "Acme Support"
        and manifest["author"]["email"] == "help@acme.test"
    )
    assert (
        manifest["domainWhitelist"] == ["handoff.acme.test"] and "placeholder" not in built.output
    )
