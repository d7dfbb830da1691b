"""Shared machinery of the vendor stand-ins.

A stand-in is a real HTTP(S) server on ``127.0.0.1`` and an ephemeral port, run in a thread, that
keeps the vendor's objects in memory, checks credentials, validates every request against the
vendor's published OpenAPI document (see ``tests/standins/specs.py``), logs every request, and plays
faults on demand. Subclasses declare routes and the vendor's error bodies::

    StandinServer                      start / stop / context manager / base_url
    ├── requests, validation_errors    what arrived, and what the vendor spec refused
    ├── fail_next / delay_next / trickle_next / drop_next / clear_faults
    ├── cut_off                        trickled answers the client hung up on
    └── subclasses: ZendeskStandin, SalesforceStandin, IntercomStandin

Faults form one FIFO queue: each request takes the first fault whose ``route`` matches it.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from .faults import Fault, FaultQueue, http_date
from .specs import SpecValidator
from .tls import local_certificate

__all__ = [
    "Fault",
    "RecordedRequest",
    "Request",
    "Response",
    "StandinServer",
    "ValidationProblem",
    "http_date",
]


@dataclass
class RecordedRequest:
    """One request as the stand-in received it (``path`` is the raw path, without the query;
    ``headers`` is case-insensitive)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: MutableMapping[str, str]
    body: bytes
    json: Any = None


@dataclass
class ValidationProblem:
    """A request the vendor's OpenAPI document refused; ``errors`` are readable one-liners."""

    method: str
    path: str
    errors: list[str]


@dataclass
class Request:
    """What a route handler sees: ``path`` is normalised (see ``StandinServer.normalise_path``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default


@dataclass
class Response:
    """A handler's answer: ``body`` is JSON-encoded unless it is ``bytes`` or ``None``."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandinServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, add=False)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        outcome = self.server.standin._dispatch(self.command, self.path, dict(self.headers), body)
        if outcome is None:  # dropped: close without a response
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        response, fault = outcome
        delay = fault.seconds if fault is not None and fault.kind == "delay" else 0.0
        if delay and self.server.standin._stopping.wait(delay):
            self.close_connection = True
            return
        payload = (
            response.body
            if isinstance(response.body, bytes)
            else b""
            if response.body is None
            else json.dumps(response.body).encode()
        )
        headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        if response.body is None:
            headers.pop("Content-Type")
        headers["Content-Length"] = str(len(payload))
        if fault is not None and fault.kind == "trickle":
            self._trickle(response.status, headers, payload, fault)
            return
        try:
            self.send_response(response.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client gave up (timeout): nothing to answer

    def _trickle(self, status: int, headers: dict[str, str], payload: bytes, fault: Fault) -> None:
        """Send the answer a byte every ``fault.seconds`` until it is out or the client hangs up."""
        self.close_connection = True
        phrase = self.responses.get(status, ("",))[0]
        head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        answer = head.encode("latin-1") + b"\r\n" + payload
        standin = self.server.standin
        try:
            if fault.head_first:
                self.wfile.write(answer[: len(head) + 2])
                answer = answer[len(head) + 2 :]
            for i in range(len(answer)):
                if standin._stopping.wait(fault.seconds):
                    return
                self.wfile.write(answer[i : i + 1])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            with standin._lock:
                standin.cut_off.append(f"{self.command} {urlsplit(self.path).path}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class StandinServer(FaultQueue):
    """Base class of the vendor stand-ins: a threaded HTTP(S) server with state in memory.

    Subclasses set ``vendor`` and implement ``routes()``, ``check_auth()``, ``error_body()`` and
    ``validator()``. ``tls=True`` serves HTTPS with a certificate made for this process (its CA
    file is ``ca_file``), for SDKs that force ``https://``.
    """

    vendor: ClassVar[str] = ""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[ValidationProblem] = []
        self.internal_errors: list[str] = []
        self.cut_off: list[str] = []  # "METHOD /path" of trickled answers the client hung up on
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(f"^{pattern}$"), handler)
            for method, pattern, handler in self.routes()
        ]

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind ``127.0.0.1:0`` and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            return self
        self.validator()  # load the vendor document now, not inside the first request's timeout
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.standin = self
        if self.tls:
            cert, key, _ = local_certificate()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (keep-alive ones too)."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._httpd.server_address[1])

    @property
    def netloc(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (or ``https://`` with ``tls=True``), no trailing slash."""
        return f"{'https' if self.tls else 'http'}://{self.netloc}"

    @property
    def ca_file(self) -> str:
        """Path of the PEM file to trust for ``tls=True`` stand-ins (``session.verify = ...``)."""
        return local_certificate()[2]

    def client_env(self) -> dict[str, str]:
        """Environment variables that point an unmodified SDK (or the service) at this stand-in.

        For ``tls=True`` it is ``REQUESTS_CA_BUNDLE`` (requests then trusts the stand-in's
        certificate; every stand-in of the process shares it). Subclasses add their SDK's own.
        """
        return {"REQUESTS_CA_BUNDLE": self.ca_file} if self.tls else {}

    # -- to implement ------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Handler]]:
        """``(METHOD, path regex with named groups, handler)`` against the normalised path."""
        raise NotImplementedError

    def validator(self) -> SpecValidator | None:
        """The cached validator for this vendor's OpenAPI document."""
        return None

    def check_auth(self, request: Request) -> Response | None:
        """Return the vendor's 401 answer for bad credentials, ``None`` when they are good."""
        return None

    def error_body(self, status: int, code: str | None = None, message: str | None = None) -> Any:
        """The vendor's JSON error body for ``status``."""
        return {"error": code or str(status), "message": message}

    def error_headers(self, status: int) -> dict[str, str]:
        """Extra headers the vendor sends with an error of ``status``."""
        return {}

    def invalid_request(self, request: Request, errors: list[str]) -> Response:
        """The vendor's answer to a request its OpenAPI document refuses."""
        return Response(422, self.error_body(422, message="; ".join(errors)))

    def normalise_path(self, path: str) -> str:
        """The path used for routing and validation (zenpy's ``.json`` is stripped here)."""
        return path

    def prepare_for_validation(self, request: Request) -> Any:
        """The JSON body to validate; override to model a documented vendor tolerance."""
        return request.json

    # -- dispatch -----------------------------------------------------------------------------
    def error(self, status: int, code: str | None = None, message: str | None = None) -> Response:
        """A vendor-shaped error response."""
        return Response(status, self.error_body(status, code, message), self.error_headers(status))

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _dispatch(
        self, method: str, raw: str, headers: dict[str, str], body: bytes
    ) -> tuple[Response, Fault | None] | None:
        parts = urlsplit(raw)
        query = parse_qs(parts.query, keep_blank_values=True)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        try:
            payload = json.loads(body) if body and "json" in content_type else None
        except ValueError:
            payload = None
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method, parts.path, query, CaseInsensitiveDict(headers), body, payload
                )
            )
        path = self.normalise_path(parts.path)
        request = Request(method, path, query, headers, body, payload)
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "status":
            err = self.error(fault.status, fault.code)
            err.headers.update(fault.headers)
            if fault.body is not None:
                err.body = fault.body
            return err, None
        if fault is not None and fault.kind == "drop" and not fault.apply:
            return None
        response = self._handle(request)
        if fault is not None and fault.kind == "drop":
            return None
        return response, fault

    def _handle(self, request: Request) -> Response:
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        found = [
            (match, handler)
            for method, pattern, handler in self._routes
            if method == request.method and (match := pattern.match(request.path))
        ]
        if not found:
            return self.error(404, message=f"no route {request.method} {request.path}")
        match, handler = found[0]
        request.params = match.groupdict()
        validator = self.validator()
        if validator is not None:
            errors = validator.validate(
                request.method,
                request.path,
                request.query,
                request.headers,
                self.prepare_for_validation(request),
                request.body,
            )
            if errors:
                with self._lock:
                    self.validation_errors.append(
                        ValidationProblem(request.method, request.path, errors)
                    )
                return self.invalid_request(request, errors)
        with self._lock:
            try:
                return handler(request)
            except Exception as exc:  # a stand-in bug must not look like a network fault
                self.internal_errors.append(f"{request.method} {request.path}: {exc!r}")
                return self.error(500, message=f"stand-in error: {exc!r}")

    # -- helpers for tests --------------------------------------------------------------------
    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Logged requests whose method matches and whose raw path matches ``path_regex``."""
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]
