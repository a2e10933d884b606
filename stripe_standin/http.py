"""HTTP plumbing of the Stripe stand-in: the threaded server, its request handler and the
response the routes return. What a request means is the business of `StripeStandin.handle()`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import urlsplit

from stripe_standin.common import API_VERSION, _random_id

logger = logging.getLogger(__name__)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)

    @classmethod
    def json_body(cls, status: int, data, **headers) -> _Response:
        body = json.dumps(data, indent=2).encode()
        return cls(status, body, "application/json", headers)

    @classmethod
    def page(cls, status: int, text: str) -> _Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> _Response:
        return cls(303, headers={"Location": location})


class _Routes(Protocol):
    """What the server needs of the stand-in (`StripeStandin`): a response for each request."""

    def handle(self, method: str, path: str, query: str, headers, body: str) -> _Response: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep the process (or a test run) alive

    def __init__(self, address, handler, standin: _Routes):
        self.standin = standin
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "StripeStandin/1.0"
    # HTTP/1.0: one request per connection, so stop() leaves no idle keep-alive sockets behind.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        try:
            response = self.server.standin.handle(
                method, parts.path, parts.query, self.headers, body
            )
        except Exception:
            logger.exception("Stripe stand-in failed on %s %s", method, self.path)
            # Stripe-Should-Retry: false, or the client would retry a bug in the stand-in.
            response = _Response.json_body(
                500,
                {"error": {"type": "api_error", "message": "The Stripe stand-in crashed."}},
                **{"Stripe-Should-Retry": "false"},
            )
        self._send(response)

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Request-Id", _random_id("req_test_", 14))
        self.send_header("Stripe-Version", API_VERSION)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        logger.info("%s %s", self.address_string(), format % args)
