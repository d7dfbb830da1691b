"""``handoff widget package zendesk``: the uploadable Zendesk app zip, checked before it is written.

The app (``sidebar_widget/zendesk_app/``) is a ticket-sidebar page that asks the connector for a
widget link through Zendesk's secure proxy and frames it. ``check_manifest`` holds the fields
Zendesk's manifest reference documents, so a typo fails here rather than at upload.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

APP_DIR = Path(__file__).resolve().parent / "zendesk_app"

# https://developer.zendesk.com/documentation/apps/app-developer-guide/manifest/
MANIFEST_KEYS = {
    "name",
    "author",
    "defaultLocale",
    "private",
    "location",
    "version",
    "frameworkVersion",
    "domainWhitelist",
    "parameters",
    "singleInstall",
    "signedUrls",
    "noTemplate",
    "oauth",
    "requirementsOnly",
    "marketingOnly",
    "experiments",
}
REQUIRED_KEYS = {"author", "defaultLocale", "location", "frameworkVersion"}
AUTHOR_KEYS = {"name", "email", "url"}
PARAMETER_KEYS = {"name", "type", "required", "secure", "default"}
PARAMETER_TYPES = {"text", "password", "checkbox", "url", "number", "multiline", "hidden", "oauth"}
SUPPORT_LOCATIONS = {
    "ticket_sidebar",
    "new_ticket_sidebar",
    "ticket_editor",
    "user_sidebar",
    "organization_sidebar",
    "nav_bar",
    "top_bar",
    "background",
    "modal",
}
LOCATION_KEYS = {"url", "flexible", "autoLoad", "autoHide", "signed", "size"}


def check_manifest(manifest: dict[str, Any], app_dir: Path = APP_DIR) -> list[str]:
    """Every way ``manifest`` strays from Zendesk's documented structure (empty: fine)."""
    problems = [f"unknown key {k!r}" for k in sorted(set(manifest) - MANIFEST_KEYS)]
    problems += [f"missing required key {k!r}" for k in sorted(REQUIRED_KEYS - set(manifest))]
    author = manifest.get("author") or {}
    if (
        not isinstance(author, dict)
        or not {"name", "email"} <= set(author)
        or set(author) - AUTHOR_KEYS
    ):
        problems.append("author must be {name, email, url?}")
    if manifest.get("frameworkVersion") != "2.0":
        problems.append("frameworkVersion must be '2.0'")
    if not isinstance(manifest.get("domainWhitelist", []), list):
        problems.append("domainWhitelist must be a list of domains")
    problems += _location_problems(manifest, app_dir)
    translations = app_dir / "translations" / f"{manifest.get('defaultLocale', 'en')}.json"
    labels = json.loads(translations.read_text()).get("app", {}) if translations.is_file() else {}
    if not labels.get("name") or not labels.get("short_description"):
        problems.append(f"{translations.name} needs app.name and app.short_description")
    for i, param in enumerate(manifest.get("parameters", [])):
        problems += _parameter_problems(f"parameters[{i}]", param, labels, translations.name)
    return problems


def _location_problems(manifest: dict[str, Any], app_dir: Path) -> list[str]:
    locations = (manifest.get("location") or {}).get("support")
    if not isinstance(locations, dict) or not locations:
        return ["location.support must name at least one location"]
    problems: list[str] = []
    for name, spec in locations.items():
        if name not in SUPPORT_LOCATIONS:
            problems.append(f"location.support.{name}: not a Support location")
        url = spec if isinstance(spec, str) else (spec or {}).get("url")
        if isinstance(spec, dict) and set(spec) - LOCATION_KEYS:
            problems.append(
                f"location.support.{name}: unknown keys {sorted(set(spec) - LOCATION_KEYS)}"
            )
        if not url:
            problems.append(f"location.support.{name}: url is required")
        elif not url.startswith(("http://", "https://")) and not (app_dir / url).is_file():
            problems.append(f"location.support.{name}: {url} is not in the app")
    return problems


def _parameter_problems(
    where: str, param: dict[str, Any], labels: dict[str, Any], translations: str
) -> list[str]:
    problems: list[str] = []
    if set(param) - PARAMETER_KEYS:
        problems.append(f"{where}: unknown keys {sorted(set(param) - PARAMETER_KEYS)}")
    if param.get("type") not in PARAMETER_TYPES:
        problems.append(f"{where}: type must be one of {sorted(PARAMETER_TYPES)}")
    if param.get("secure") and "default" in param:
        problems.append(f"{where}: a secure parameter cannot have a default")
    if not labels.get("parameters", {}).get(param.get("name"), {}).get("label"):
        problems.append(f"{where}: no label in {translations}")
    return problems


def _png(size: int, rgb: tuple[int, int, int] = (29, 78, 137)) -> bytes:
    """A plain square PNG (the logos Zendesk asks for), so no binary lives in the repository."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * size
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * size, 9))
        + chunk(b"IEND", b"")
    )


def build(
    out: Path, connector_url: str | None = None, author: dict[str, str] | None = None
) -> tuple[Path, list[str]]:
    """Write the zip; return it and the notes worth telling the user. Raise ValueError on problems,
    and without a connector URL (the app could not reach the connector: an empty domain whitelist
    keeps Zendesk from sending the shared secret). ``author``: ``{name, email}`` for the manifest."""
    manifest = json.loads((APP_DIR / "manifest.json").read_text())
    notes: list[str] = []
    if author:
        manifest["author"] = {**manifest["author"], **author}
    if manifest["author"].get("email") == "support@example.com":
        notes.append(
            "the app's author e-mail is the placeholder support@example.com: set "
            "widget.app_author_email (and app_author_name) in the config"
        )
    if not connector_url:
        raise ValueError(
            "no connector URL: pass --connector-url https://… or set server.public_url; "
            "without it the app cannot reach the connector"
        )
    if connector_url:
        parts = urlsplit(connector_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--connector-url {connector_url!r} is not an http(s) URL")
        # Zendesk's proxy only adds secure settings to requests for whitelisted domains
        manifest["domainWhitelist"] = [parts.hostname]
        for param in manifest["parameters"]:
            if param["name"] == "connector_url":
                param["default"] = connector_url.rstrip("/")
        if parts.scheme != "https" or parts.hostname in ("127.0.0.1", "localhost"):
            notes.append(f"{connector_url} is not a public https URL: Zendesk cannot reach it")
    problems = check_manifest(manifest)
    if problems:
        raise ValueError("manifest.json: " + "; ".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        for path in sorted(APP_DIR.rglob("*")):
            rel = path.relative_to(APP_DIR).as_posix()
            if path.is_file() and rel != "manifest.json":
                zf.write(path, rel)
        zf.writestr("assets/logo.png", _png(320))
        zf.writestr("assets/logo-small.png", _png(128))
    return out, notes
