"""Agent alerts, the sending side: a Slack incoming webhook, e-mail over SMTP, a signed webhook.

The domain decides which alerts exist (``connector/alerts.py`` writes one ``outbox.Alert`` per
channel that listens); the delivery worker calls ``send_alert`` and the shared retry/dead-letter path
decides what a failure means. Each notifier builds its request without I/O (``build``), then sends.

Errors, as everywhere: ``TransientDeliveryError`` (timeouts, refused connections, 408/429/5xx, SMTP
4xx) or ``PermanentDeliveryError`` (other 4xx, SMTP 5xx, bad credentials).
"""

from __future__ import annotations

import html
import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, ClassVar

import requests

from connector import security
from connector.config import (
    EmailChannelSettings,
    Settings,
    SlackChannelSettings,
    WebhookChannelSettings,
)
from connector.deadline import post_within
from connector.outbox import Alert
from integrations.base import PermanentDeliveryError, TransientDeliveryError, error_for_status

# --- notifiers ------------------------------------------------------------------------------------


class Notifier:
    name: ClassVar[str] = ""

    def send(self, alert: dict[str, Any], delivery_id: str) -> dict[str, Any]:
        raise NotImplementedError


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, what: str
) -> requests.Response:
    try:
        # ``timeout`` is the whole call's: a receiver that trickles its answer is cut off too
        response = post_within(url, data=body, headers=headers, deadline=timeout)
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"{what} timed out: {exc}") from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise error_for_status(
            response.status_code,
            f"{what} answered {response.status_code}",
            response=response.text[:2000],
            retry_after=response.headers.get("Retry-After"),
        )
    return response


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier(Notifier):
    """A Slack incoming webhook: Block Kit blocks with the summary, reason, team and a link."""

    name = "slack"

    def __init__(self, settings: SlackChannelSettings):
        self.settings = settings

    @staticmethod
    def build(alert: dict[str, Any]) -> dict[str, Any]:
        fields = [
            {"type": "mrkdwn", "text": f"*Reason*\n{_mrkdwn(alert.get('reason') or '-')}"},
            {"type": "mrkdwn", "text": f"*Team*\n{_mrkdwn(alert.get('team') or '-')}"},
            {"type": "mrkdwn", "text": f"*Priority*\n{_mrkdwn(alert.get('priority') or '-')}"},
        ]
        if alert.get("waited_minutes") is not None:
            fields.append({"type": "mrkdwn", "text": f"*Waiting*\n{alert['waited_minutes']} min"})
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": alert["title"][:150]}},
        ]
        if alert.get("summary"):
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _mrkdwn(alert["summary"])[:2900]},
                }
            )
        blocks.append({"type": "section", "fields": fields})
        if alert.get("link"):
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open handoff"},
                            "url": alert["link"],
                            "action_id": "open_handoff",
                        }
                    ],
                }
            )
        text = f"{alert['title']}: {alert.get('reason') or ''} (team {alert.get('team') or '-'})"
        return {"text": text, "blocks": blocks}

    def send(self, alert: dict[str, Any], delivery_id: str) -> dict[str, Any]:
        body = json.dumps(self.build(alert), ensure_ascii=False).encode()
        response = _post(
            self.settings.webhook_url,
            body,
            {"Content-Type": "application/json"},
            self.settings.timeout_seconds,
            "slack webhook",
        )
        return {"status": response.status_code}


class WebhookNotifier(Notifier):
    """A generic JSON webhook, signed like our bot callbacks (``X-Handoff-Signature``)."""

    name = "webhook"

    def __init__(self, settings: WebhookChannelSettings):
        self.settings = settings

    @staticmethod
    def build(alert: dict[str, Any], delivery_id: str) -> dict[str, Any]:
        return {"id": delivery_id, "type": f"alert.{alert['event']}", **alert}

    def send(self, alert: dict[str, Any], delivery_id: str) -> dict[str, Any]:
        body = json.dumps(
            self.build(alert, delivery_id), separators=(",", ":"), ensure_ascii=False
        ).encode()
        headers = {
            "Content-Type": "application/json",
            security.SIGNATURE_HEADER: security.sign(
                self.settings.secret, body, method="POST", path=security.url_path(self.settings.url)
            ),
            "X-Handoff-Delivery": delivery_id,
            "X-Handoff-Event": f"alert.{alert['event']}",
            "User-Agent": "handoff-connector",
        }
        response = _post(
            self.settings.url, body, headers, self.settings.timeout_seconds, "alert webhook"
        )
        return {"status": response.status_code}


class EmailNotifier(Notifier):
    """Plain SMTP (optionally STARTTLS or implicit TLS), a text part and an HTML part."""

    name = "email"

    def __init__(self, settings: EmailChannelSettings):
        self.settings = settings

    def build(self, alert: dict[str, Any], delivery_id: str) -> EmailMessage:
        message = EmailMessage()
        team = alert.get("team") or "-"
        message["Subject"] = f"[handoff] {alert['title']} ({team})"
        message["From"] = self.settings.from_address
        message["To"] = ", ".join(self.settings.to)
        message["X-Handoff-Delivery"] = delivery_id
        lines = [
            alert["title"],
            "",
            alert.get("summary") or "",
            "",
            f"Reason:   {alert.get('reason') or '-'}",
            f"Team:     {team}",
            f"Priority: {alert.get('priority') or '-'}",
        ]
        if alert.get("waited_minutes") is not None:
            lines.append(f"Waiting:  {alert['waited_minutes']} min")
        if alert.get("link"):
            lines += ["", f"Open the handoff: {alert['link']}"]
        message.set_content("\n".join(lines) + "\n")
        e = html.escape
        rows = "".join(
            f"<tr><th align='left'>{e(k)}</th><td>{e(str(v))}</td></tr>"
            for k, v in (
                ("Reason", alert.get("reason") or "-"),
                ("Team", team),
                ("Priority", alert.get("priority") or "-"),
            )
        )
        link = (
            f"<p><a href='{e(alert['link'])}'>Open the handoff</a></p>" if alert.get("link") else ""
        )
        message.add_alternative(
            f"<html><body><h2>{e(alert['title'])}</h2><p>{e(alert.get('summary') or '')}</p>"
            f"<table>{rows}</table>{link}</body></html>",
            subtype="html",
        )
        return message

    def send(self, alert: dict[str, Any], delivery_id: str) -> dict[str, Any]:
        cfg = self.settings
        message = self.build(alert, delivery_id)
        try:
            smtp: smtplib.SMTP
            if cfg.ssl:
                smtp = smtplib.SMTP_SSL(
                    cfg.host,
                    cfg.port,
                    timeout=cfg.timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            with smtp:
                if cfg.starttls and not cfg.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(f"SMTP login refused: {exc.smtp_code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _smtp_error(
                min(codes) if codes else 550, f"SMTP refused every recipient: {codes}"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, other replies
            raise _smtp_error(
                exc.smtp_code, f"SMTP answered {exc.smtp_code}: {_text(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # timeouts are OSErrors
            raise TransientDeliveryError(f"SMTP failed: {type(exc).__name__}: {exc}") from exc
        return {"accepted": len(cfg.to) - len(refused), "refused": sorted(refused)}


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _smtp_error(code: int, message: str) -> TransientDeliveryError | PermanentDeliveryError:
    """SMTP 4xx is "try again later"; 5xx is final."""
    if 400 <= code < 500:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)


NOTIFIERS: dict[str, type[Any]] = {
    "slack": SlackNotifier,
    "email": EmailNotifier,
    "webhook": WebhookNotifier,
}


def notifier_for(settings: Settings, channel: str) -> Notifier:
    config = settings.alerts.channels.get(channel)
    if config is None:
        raise PermanentDeliveryError(f"alert channel {channel!r} is not configured any more")
    return NOTIFIERS[config.type](config)  # type: ignore[no-any-return]


def send_alert(settings: Settings, message: Alert, delivery_id: str) -> dict[str, Any]:
    """Deliver one alert from the outbox (called by the delivery worker)."""
    return notifier_for(settings, message.channel).send(message.alert, delivery_id)
