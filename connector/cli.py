"""``handoff``: run the connector, check its configuration, inspect the outbox and the audit trail.

Errors reach the user as one readable line and exit status 1 (bad input or state) or 2 (usage).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime

import click

from connector.clock import iso
from connector.config import Settings, configure_logging, load_config
from connector.errors import ConfigError, HandoffError
from integrations.base import Finding

logger = logging.getLogger("connector.cli")

CONFIG_HELP = "YAML config file (default: $HANDOFF_CONFIG, else the built-in defaults)."


def _load(config: str | None) -> Settings:
    path = config or os.environ.get("HANDOFF_CONFIG") or None
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            click.echo(f"config error: {line}", err=True)
        raise SystemExit(1) from None


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def _warn_loudly(settings: Settings) -> None:
    for warning in settings.warnings():
        banner = "!" * 78
        click.echo(f"{banner}\nWARNING: {warning}\n{banner}", err=True)
        logger.warning(warning)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handoff-connector")
def main() -> None:
    """handoff-connector: warm bot-to-human handoffs."""


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--host", help="Listen address (overrides server.host).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Listen port (overrides server.port; env HANDOFF_PORT).",
)
@click.option("--no-worker", is_flag=True, help="Do not run the delivery worker in this process.")
def serve(config: str | None, host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the HTTP API on waitress, with the delivery worker in-process."""
    from connector import backup, serving
    from connector.api.events import request_turns
    from connector.app import create_app
    from connector.delivery import Worker
    from connector.runtime import build_runtime

    settings = _load(config)
    if host:
        settings.server.host = host
    if port:
        settings.server.port = port
    configure_logging(settings)
    _warn_loudly(settings)
    try:
        runtime = build_runtime(settings)
    except HandoffError as exc:
        _fail(str(exc))
    backup.hold(settings.store.path)  # `handoff restore` refuses while this process lives
    app = create_app(runtime=runtime)
    try:  # bind before the worker starts: a taken port leaves nothing running behind
        server = serving.create_server(
            app,
            host=settings.server.host,
            port=settings.server.port,
            threads=settings.server.threads,
            max_body_bytes=settings.server.max_body_bytes,
            connection_limit=settings.server.connection_limit,
            channel_timeout=settings.server.channel_timeout,
            request_timeout=settings.server.request_timeout,
            trusted_proxy=settings.server.trusted_proxy,
            turns=request_turns(runtime),
        )
    except (OSError, ValueError) as exc:  # taken or forbidden port; a host that does not resolve
        runtime.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        _fail(f"cannot listen on {settings.server.host}:{settings.server.port}: {reason}")
    if (
        problems := settings.serving_problems()
    ):  # checked once bound: a host that does not resolve says so first
        server.close()
        runtime.close()
        _fail("; ".join(f"{key}: {problem}" for key, problem in problems))
    worker = None
    if settings.worker.enabled and not no_worker:
        worker = Worker(runtime)
        worker.start()
    click.echo(
        f"handoff-connector listening on {settings.server.base_url()} "
        f"(store {settings.store.path or settings.store.backend}, destinations {', '.join(settings.destinations)}, "
        f"worker {'on' if worker else 'off'})",
        err=True,
    )
    try:
        serving.run_until_signalled(server)
    finally:
        if worker:
            worker.stop()
        runtime.close()


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve this worker's /metrics here (overrides worker.metrics_port).",
)
def worker(config: str | None, once: bool, metrics_port: int | None) -> None:
    """Run only the delivery worker (several may run against one store)."""
    from connector import backup, metrics
    from connector.delivery import Worker
    from connector.runtime import build_runtime

    settings = _load(config)
    configure_logging(settings)
    try:
        runtime = build_runtime(settings)
    except HandoffError as exc:
        _fail(str(exc))
    delivery = Worker(runtime)
    backup.hold(settings.store.path)  # `handoff restore` refuses while this process lives
    if once:
        count = 0
        while delivery.run_once() is not None:
            count += 1
        click.echo(f"processed {count} outbox row(s)")
        runtime.close()
        return
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    port = metrics_port or settings.worker.metrics_port
    exposed = None
    if port:
        try:
            exposed = metrics.serve(runtime, settings.server.host, port)
        except OSError as exc:
            runtime.close()
            _fail(f"cannot serve metrics on {settings.server.host}:{port}: {exc.strerror or exc}")
    delivery.start()
    where = f", metrics on http://{settings.server.host}:{port}/metrics" if exposed else ""
    click.echo(
        f"handoff worker {delivery.worker_id} running ({delivery.concurrency} threads{where})",
        err=True,
    )
    stopped.wait()
    delivery.stop()
    if exposed:
        exposed.shutdown()
    runtime.close()


@main.command("check-config")
@click.argument("file", required=False)
def check_config(file: str | None) -> None:
    """Validate a config file; print every problem with its key path."""
    path = file or os.environ.get("HANDOFF_CONFIG") or None
    try:
        settings = load_config(path)
    except ConfigError as exc:
        overridden = any("set by HANDOFF_" in hint for hint in exc.hints.values())
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(
            f"{len(exc.problems)} problem(s) in {path or 'the built-in defaults'}"
            + (" with HANDOFF_* overrides" if overridden else ""),
            err=True,
        )
        raise SystemExit(1) from None
    for warning in settings.warnings():
        click.echo(f"warning: {warning}", err=True)
    for (
        key,
        problem,
    ) in settings.serving_problems():  # errors for `serve` on this host, not for the file
        click.echo(f"warning: {key}: {problem}; `handoff serve` refuses to start", err=True)
    click.echo(
        f"{path or 'built-in defaults'}: OK "
        f"({len(settings.sources)} source(s), destinations: {', '.join(settings.destinations)}, "
        f"store: {settings.store.path or settings.store.backend})"
    )


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
def doctor(config: str | None) -> None:
    """Check each helpdesk's credentials and configured ids against the live helpdesk."""
    from connector.runtime import build_runtime

    settings = _load(config)
    try:
        runtime = build_runtime(settings)
    except HandoffError as exc:
        _fail(str(exc))
    problems = 0
    try:
        for name, destination in runtime.destinations.items():
            try:
                findings = destination.doctor()
            except HandoffError as exc:
                findings = [Finding(False, f"could not check: {exc}")]
            if not findings:
                click.echo(f"{name}: nothing to check")
            for finding in findings:
                mark = "ok " if finding.ok else "ERR"
                click.echo(
                    f"{name}: {mark} {finding.what}"
                    + (f"\n      fix: {finding.fix}" if finding.fix and not finding.ok else "")
                )
                problems += not finding.ok
    finally:
        runtime.close()
    if problems:
        _fail(f"{problems} problem(s) found")


# --- outbox -------------------------------------------------------------------------------------


@main.group()
def outbox() -> None:
    """Inspect and retry deliveries."""


def _runtime_store(config: str | None):  # type: ignore[no-untyped-def]
    from connector.store import open_store

    return open_store(_load(config))


def _missing_store(config: str | None) -> str | None:
    """The SQLite file the config names when it does not exist yet (a read-only command run in
    the wrong folder, or with the wrong config), else None."""
    settings = _load(config)
    path = settings.store.path
    if not path or path == ":memory:" or os.path.exists(path):
        return None
    return os.path.abspath(path)


def _existing_store(config: str | None):  # type: ignore[no-untyped-def]
    """The store for a read-only command: never creates one. A missing file is one error line, not
    an empty answer from a store made on the spot."""
    missing = _missing_store(config)
    if missing is not None:
        _fail(
            f"no store at {missing}; run `handoff serve` first, or pass --config "
            "(or set HANDOFF_CONFIG) to name the right one"
        )
    return _runtime_store(config)


@outbox.command("list")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--dead", is_flag=True, help="Only dead-lettered rows.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
def outbox_list(config: str | None, dead: bool, as_json: bool, limit: int) -> None:
    """List outbox rows (pending, delivering, done, dead)."""
    store = _existing_store(config)
    with store.reading() as tx:
        rows = tx.list_outbox(status="dead" if dead else None, limit=limit)
    store.close()
    if as_json:
        for row in rows:
            click.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "kind": row.kind,
                        "target": row.target,
                        "status": row.status,
                        "attempts": row.attempts,
                        "handoff_id": row.handoff_id,
                        "last_error": row.last_error,
                    }
                )
            )
        return
    if not rows:
        click.echo("no dead-lettered rows" if dead else "the outbox is empty")
        return
    click.echo(
        f"{'ID':>6}  {'KIND':<11} {'TARGET':<12} {'STATUS':<10} {'TRIES':>5}  {'NEXT':<20} LAST ERROR"
    )
    for row in rows:
        due = datetime.fromtimestamp(row.next_attempt_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"{row.id:>6}  {row.kind:<11} {row.target:<12} {row.status:<10} {row.attempts:>5}  "
            f"{due:<20} {(row.last_error or '')[:80]}"
        )


@outbox.command("retry")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.argument("row_id", type=int)
def outbox_retry(config: str | None, row_id: int) -> None:
    """Put a dead-lettered row back in line, due now."""
    store = _runtime_store(config)
    with store.atomic() as tx:
        row = tx.get_outbox(row_id)
        if row is None:
            _fail(f"no outbox row {row_id}")
        assert row is not None
        if row.status not in ("dead", "pending"):
            _fail(f"outbox row {row_id} is {row.status}; only dead or pending rows can be retried")
        tx.retry_outbox(row_id, time.time())
    waker = store.waker()
    store.close()
    waker.notify()
    waker.close()
    click.echo(f"outbox row {row_id} is due again")


# --- audit --------------------------------------------------------------------------------------


class _AuditGroup(click.Group):
    """``handoff audit CONVERSATION_ID`` keeps working: with no subcommand named, it means ``show``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (
            args
            and not any(arg in self.commands for arg in args)
            and not {"-h", "--help"} & set(args)
        ):
            args = ["show", *args]
        return super().parse_args(ctx, args)


def _since(text: str | None) -> datetime | None:
    from connector.kpis import parse_since

    if text is None:
        return None
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        _fail(str(exc))
    return None


@main.group(cls=_AuditGroup)
def audit() -> None:
    """The audit trail: a conversation's timeline, chain verification, export."""


@audit.command("verify")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--anchor", help="A head hash printed by an earlier verify; fail if it is gone (truncation)."
)
def audit_verify(config: str | None, anchor: str | None) -> None:
    """Recompute the hash chains and checkpoints; report every edited or deleted row (exit 1 if any)."""
    from connector.audit import verify_store

    missing = _missing_store(config)
    if missing is not None:  # an absent trail is trivially whole, but say so and create nothing
        click.echo(f"warning: no store at {missing}; nothing to verify (pass --config?)", err=True)
        click.echo("audit chain OK: 0 row(s), last id -, head -")
        return
    store = _runtime_store(config)
    result = verify_store(store, anchor=anchor)
    store.close()
    for problem in result.problems:
        click.echo(f"BROKEN: {problem}", err=True)
    if result.anchor_found is False:
        click.echo(
            f"BROKEN: anchor {anchor} is not in the chain (rows were deleted at the tail)", err=True
        )
    if not result.ok:
        _fail(
            f"audit chain broken: {len(result.problems) + (result.anchor_found is False)} problem(s) "
            f"in {result.rows} row(s)"
        )
    click.echo(
        f"audit chain OK: {result.rows} row(s), {result.checkpoints} checkpoint(s), "
        f"last id {result.last_id}, head {result.head or '-'}"
    )


@audit.command("seal")
@click.option("--config", "-c", help=CONFIG_HELP)
def audit_seal(config: str | None) -> None:
    """Seal a checkpoint of the chains changed since the last one now (workers do it every 5 min)."""
    from connector.audit import seal
    from connector.clock import iso, utcnow

    store = _runtime_store(config)
    try:
        checkpoint = seal(store, iso(utcnow()))
    finally:
        store.close()
    if checkpoint is None:
        click.echo("nothing to seal: no chain changed since the last checkpoint")
    else:
        click.echo(
            f"sealed checkpoint {checkpoint.id}: {len(checkpoint.heads)} chain(s), hash {checkpoint.hash}"
        )


@audit.command("export")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--since", help="Only rows from this long ago (7d, 12h, 30m) or this date (2024-05-01)."
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout)."
)
def audit_export(config: str | None, since: str | None, output: str | None) -> None:
    """Write the audit trail as JSON lines, hashes included."""
    from connector.audit import export_lines

    start = _since(since)
    store = _existing_store(config)
    lines = export_lines(store.iter_audit(), since=iso(start) if start else None)
    count = 0
    if output:
        with open(output, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
        click.echo(f"wrote {count} audit row(s) to {output}", err=True)
    else:
        for line in lines:
            click.echo(line)
    store.close()


@audit.command("show")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a timeline.")
@click.argument("conversation_id", metavar="CONVERSATION_OR_HANDOFF_ID")
def audit_show(config: str | None, as_json: bool, conversation_id: str) -> None:
    """Print the audit timeline of one conversation, or of a handoff's conversation (also: handoff
    audit ID)."""
    store = _existing_store(config)
    rows = list(store.iter_audit(conversation_id))
    if not rows:
        with store.reading() as tx:
            handoff = tx.get_handoff(conversation_id)
        if handoff is not None:
            click.echo(
                f"handoff {handoff.id} is in conversation {handoff.conversation_id}", err=True
            )
            rows = list(store.iter_audit(handoff.conversation_id))
    store.close()
    if not rows:
        _fail(f"no audit rows for conversation or handoff {conversation_id!r}")
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "at": row.at,
                        "action": row.action,
                        "actor": row.actor,
                        "handoff_id": row.handoff_id,
                        "reason": row.reason,
                        "data": row.data,
                    }
                )
            )
        else:
            click.echo(f"{row.at}  {row.action:<26} {row.actor:<28} {row.reason}")


# --- report -------------------------------------------------------------------------------------


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option(
    "--since", default="7d", show_default=True, help="Period start: 7d, 24h, 2w or a date."
)
@click.option("--team", help="Only handoffs routed to this team.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a self-contained HTML report here.",
)
def report(config: str | None, since: str, team: str | None, output: str | None) -> None:
    """Print the handoff KPIs; optionally write the HTML report with charts."""
    from connector.report import build_report, kpi_table, render_html

    settings = _load(config)
    start = _since(since)
    assert start is not None
    if team is not None and team not in settings.routing.teams:
        _fail(f"unknown team {team!r}; known: {', '.join(sorted(settings.routing.teams))}")
    store = _existing_store(config)
    try:
        data = build_report(
            store, start, datetime.now(UTC), team=team, targets=settings.report.model_dump()
        )
    finally:
        store.close()
    click.echo(kpi_table(data))
    if output:
        try:
            with open(output, "w", encoding="utf-8") as out:
                out.write(render_html(data))
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"wrote {output}", err=True)


# --- demo (the conversation it posts lives in connector/demo.py) ----------------------------


@main.command()
@click.option("--url", default=None, help="Connector base URL (default: from the config).")
@click.option("--config", "-c", help=CONFIG_HELP)
@click.option("--source", default="demo", show_default=True)
def demo(url: str | None, config: str | None, source: str) -> None:
    """Post a signed multi-turn conversation that escalates; print the decision and the inbox URL."""
    from connector import demo as demo_mod

    settings = _load(config)
    if source not in settings.sources:
        _fail(
            f"no bot source {source!r} in the config (known: {', '.join(settings.sources) or 'none'})"
        )
    base = (url or settings.server.base_url()).rstrip("/")
    try:
        conversation_id, answer = demo_mod.post_demo(base, source, settings.sources[source].secret)
    except demo_mod.DemoError as exc:
        _fail(str(exc))
    decision = answer["decision"]
    click.echo(
        f"conversation {conversation_id}: escalate={decision['escalate']} "
        f"team={decision.get('team')} priority={decision['priority']}"
    )
    for reason in decision["reasons"]:
        click.echo(f"  reason: {reason['trigger']} ({reason['rule']}): {reason['detail']}")
    click.echo(f"control: {answer['control']['owner']} (version {answer['control']['version']})")
    if answer.get("customer_message"):
        click.echo(f"tell the customer: {answer['customer_message']['text']}")
    if answer.get("handoff"):
        key = settings.security.api_keys[0]
        click.echo(f"inbox: {base}/inbox/{answer['handoff']['id']}?key={key}")


# --- decisions --------------------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option(
    "--config", "-c", help="Measure this config's policy (default: the shipped defaults)."
)
@click.option("--folds", type=click.IntRange(0, 20), default=None,
              help="k-fold cross-validation (default: when the model was trained on the file; 0: never).")  # fmt: skip
@click.option("--payload", "payload", is_flag=True,
              help="Check the handoff payload built for each row instead (docs/policy.md).")  # fmt: skip
def evaluate(
    files: tuple[str, ...], as_json: bool, config: str | None, folds: int | None, payload: bool
) -> None:
    """Score the policy on labelled conversations (JSONL: escalate, team or label rows)."""
    from connector.crossval import CrossValidationUnavailable, evaluate_honestly
    from connector.evaluation import load_rows, report_json, report_text

    settings = _load(config) if config else load_config(None, env={})
    if payload:
        _check_payloads(files, settings, as_json)
        return
    for path in files:
        try:
            result = evaluate_honestly(load_rows(path), settings, folds)
        except CrossValidationUnavailable as exc:
            _fail(f"{path}: {exc}")
        except (ValueError, KeyError) as exc:
            _fail(f"{path}: not a labelled JSONL file ({exc})")
        if as_json:
            click.echo(json.dumps(report_json(result), indent=2))
        else:
            click.echo(f"== {path}\n{report_text(result)}")


def _check_payloads(files: tuple[str, ...], settings: Settings, as_json: bool) -> None:
    from connector.evaluation import load_rows
    from connector.payload_check import check_rows, pipeline, report_text

    build = pipeline(settings)
    for path in files:
        try:
            result = check_rows(load_rows(path), build)
        except (ValueError, KeyError, TypeError) as exc:
            _fail(f"{path}: not a labelled JSONL file ({exc})")
        click.echo(json.dumps(result, indent=2) if as_json else f"== {path}\n{report_text(result)}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", required=True, help="Write the artefact (.npz) here.")
def train(files: tuple[str, ...], out: str) -> None:
    """Train the learned model's heads on labelled JSONL files (needs the [ml] extra)."""
    from connector.learned.embed import EmbedderUnavailable
    from connector.learned.train import train_to

    try:
        artefact = train_to(files, out)
    except EmbedderUnavailable as exc:
        _fail(f"cannot train: {exc}")
    except (ValueError, KeyError) as exc:
        _fail(f"cannot train: {exc}")
    heads = ", ".join(f"{n} ({len(h.classes)} classes)" for n, h in artefact.heads.items())
    click.echo(f"wrote {out}: model {artefact.version}, heads {heads}")
    click.echo(
        f"use it: policy.model.artefact: {out}  (measure: handoff evaluate FILE --config ...)"
    )


@main.command()
def schema() -> None:
    """Print the JSON Schema of the handoff payload (handoff/v1)."""
    from connector.schemas import HandoffPayload

    document = HandoffPayload.model_json_schema(by_alias=True)
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **document}
    click.echo(json.dumps(document, indent=2))


@main.group()
def widget() -> None:
    """The agent widget's helpdesk apps (docs/widget.md)."""


@widget.command("package")
@click.argument("helpdesk", type=click.Choice(["zendesk"]))
@click.option("--connector-url", help="The connector's public URL (default: server.public_url).")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Zip to write (default: dist/handoff-zendesk-app.zip).",
)
@click.option("--config", "-c", help=CONFIG_HELP)
def widget_package(
    helpdesk: str, connector_url: str | None, out: str | None, config: str | None
) -> None:
    """Build the uploadable app zip for HELPDESK (zendesk)."""
    from pathlib import Path

    from sidebar_widget.zendesk_package import build

    settings = _load(config)
    connector_url = connector_url or settings.server.public_url
    author = {"name": settings.widget.app_author_name, "email": settings.widget.app_author_email}
    try:
        path, notes = build(Path(out or "dist/handoff-zendesk-app.zip"), connector_url, author)
    except ValueError as exc:
        _fail(str(exc))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(str(path))


def run() -> None:  # pragma: no cover - console entry point wrapper
    try:
        main()
    except HandoffError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


# these register `handoff consume` (broker-fed channels) and `handoff backup` / `handoff restore`
from connector import cli_consume, cli_store  # noqa: E402,F401
