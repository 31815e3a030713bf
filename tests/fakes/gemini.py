"""A local fake of Gemini's generateContent endpoint, for the real google-genai client.

Script it with a queue of replies; it counts and keeps the requests it got::

    with FakeGemini() as fake:
        fake.push(429, error_body(429))
        fake.push(200, bill_response({...}))
        settings = Settings(gemini_api_key="k", gemini_base_url=fake.url)

Requests arrive at ``/v1beta/models/{model}:generateContent``. Runs on a thread, so it
serves sync and async callers alike.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from shared.bill import NormalizedBill
from tests.fakes.local_server import LocalHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | str
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return self.path.split("/models/", 1)[-1].split(":", 1)[0]


def bill_response(fields: dict[str, Any] | str, *, finish_reason: str = "STOP") -> dict[str, Any]:
    """A generateContent answer whose text is ``fields`` (a dict as JSON, or raw text)."""
    text = fields if isinstance(fields, str) else json.dumps(fields)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 50,
            "totalTokenCount": 150,
        },
        "modelVersion": "fake-gemini",
    }


def error_body(status: int, message: str = "scripted failure") -> dict[str, Any]:
    names = {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        429: "RESOURCE_EXHAUSTED",
        499: "CANCELLED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    return {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN")}}


class FakeGemini:
    """The fake server. ``push`` replies; unscripted requests get ``default`` (a 500)."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(500, error_body(500, "no scripted reply left"))
        self.requests: list[Request] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = LocalHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-gemini",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def push(self, status: int, body: dict[str, Any] | str, *, delay: float = 0.0) -> None:
        with self._lock:
            self._replies.append(Reply(status, body, delay))

    def start(self) -> FakeGemini:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                if not self.path.endswith(":generateContent"):
                    self._send(Reply(404, error_body(404, f"unknown path {self.path}")))
                    return
                self._send(fake._next(Request(self.path, body)))

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def wire_from_bill(bill: NormalizedBill, *, is_utility_bill: bool = True) -> dict[str, Any]:
    """The wire JSON a perfect model would return for ``bill`` (see ``extraction.wire``)."""
    data = bill.model_dump(mode="json")
    text_fields = (
        "provider_name",
        "account_number",
        "customer_name",
        "service_address",
        "statement_date",
        "bill_period_start",
        "bill_period_end",
        "due_date",
        "currency",
        "total_amount",
        "previous_balance",
        "payments_received",
        "current_charges",
    )
    wire: dict[str, Any] = {"is_utility_bill": is_utility_bill}
    wire.update({name: data[name] for name in text_fields})
    wire["usage"] = [
        {
            "commodity": u["commodity"],
            "quantity": u["quantity"],
            "unit": u["unit"],
            "meter_number": u["meter_number"],
        }
        for u in data["usage"]
    ]
    wire["line_items"] = [
        {
            "description": i["description"],
            "category": i["category"],
            "amount": i["amount"],
            "commodity": i["commodity"],
        }
        for i in data["line_items"]
    ]
    return wire
