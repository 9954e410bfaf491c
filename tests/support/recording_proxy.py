"""A recording HTTP proxy between an AWS client and its endpoint (moto, the STS stub).

It keeps every request exactly as it arrived (method, path, headers, body) and
answers each one from a script: forward to the upstream (and keep the answer),
replay an answer kept earlier, answer with given bytes, or drop the connection.
The STS differential test sends the same calls through botocore's client and
through vaultlet's thin path and compares what this proxy saw and what each parsed.
"""

from __future__ import annotations

import http.client
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from support.processes import free_port

# Answers carry this Date, so botocore's retry "ttl" (derived from it) is the same in both runs.
FIXED_DATE = "Wed, 02 Dec 2026 01:00:00 GMT"
HOP_HEADERS = ("content-length", "connection", "transfer-encoding", "server", "date")


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/xml"),)


FORWARD = "forward"
DROP = "drop"


@dataclass
class RecordingProxy:
    upstream: str
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)
    kept: list[Answer] = field(default_factory=list)  # answers forwarded from the upstream

    def __post_init__(self):
        self._script: deque[str | Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="recording-proxy", daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *steps: str | Answer) -> None:
        """The next answers, one per request; once used up, requests are forwarded."""
        with self._lock:
            self.seen, self.kept = [], []
            self._script = deque(steps)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> str | Answer:
        with self._lock:
            return self._script.popleft() if self._script else FORWARD

    def _forward(self, seen: Seen) -> Answer:
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            headers = {k: v for k, v in seen.headers if k.lower() != "connection"}
            connection.request(seen.method, seen.path, body=seen.body, headers=headers)
            response = connection.getresponse()
            kept = tuple((k, v) for k, v in response.getheaders() if k.lower() not in HOP_HEADERS)
            answer = Answer(response.status, response.read(), kept)
        finally:
            connection.close()
        with self._lock:
            self.kept.append(answer)
        return answer

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                return

            def date_time_string(self, timestamp=None):
                return FIXED_DATE

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Seen(self.command, self.path, tuple(self.headers.items()), body)
                with proxy._lock:
                    proxy.seen.append(seen)
                step = proxy._next()
                if step == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                answer = proxy._forward(seen) if step == FORWARD else step
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST

        return Handler
