"""An unreliable network between vaultlet and AWS (moto): a small HTTP proxy that
injects faults into IAM and STS calls.

vaultlet's ``config/root`` points ``iam_endpoint`` and ``sts_endpoint`` at the proxy;
the proxy forwards to a real ``moto_server``. For each AWS call (a POST with an
``Action=``) it picks, with a seeded RNG and probability ``rate``, one fault:

* ``error``: answer 500 InternalFailure without forwarding (AWS failed, nothing done);
* ``throttle``: answer 400 Throttling without forwarding;
* ``lost``: forward (AWS acts), then answer 500 instead (the answer is lost after
  the side effect);
* ``dropped``: forward, then close the connection without any answer;
* ``delay``: wait 50-300 ms, then forward normally.

Error bodies are the AWS query-protocol XML that botocore parses, so botocore's
retry logic sees exactly what it would see from AWS.
"""

from __future__ import annotations

import http.client
import random
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from support.processes import free_port

FAULTS = ("error", "throttle", "lost", "dropped", "delay")
# Relative weights: throttles are rarer, because botocore waits ~1 s before retrying one.
WEIGHTS = (3, 1, 4, 2, 2)

ERROR_XML = (
    '<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/{version}/">'
    "<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
# Set by this proxy's own HTTP layer, not copied from moto's answer.
HOP_HEADERS = ("content-length", "connection", "transfer-encoding", "server", "date")
API_VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}


class FaultProxy:
    def __init__(self, upstream: str, *, rate: float = 0.2, seed: int = 0):
        self.upstream = urlsplit(upstream)
        self.rate = rate
        self.enabled = True
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()  # fault name -> count
        self.actions: Counter[str] = Counter()  # AWS action -> calls seen
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def choose(self, action: str) -> str:
        with self._lock:
            if action:
                self.actions[action] += 1
            if not action or not self.enabled or self._random.random() >= self.rate:
                return ""
            fault = self._random.choices(FAULTS, WEIGHTS)[0]
            self.injected[fault] += 1
            return fault

    def delay(self) -> float:
        with self._lock:
            return self._random.uniform(0.05, 0.3)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):  # quiet
                return

            def do_GET(self):
                self._relay(b"")

            def do_POST(self):
                self._relay(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _relay(self, body: bytes) -> None:
                action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
                fault = proxy.choose(action)
                service = _service(self.headers.get("Authorization", ""))
                if fault == "error":
                    return self._error(500, "Receiver", "InternalFailure", service)
                if fault == "throttle":
                    return self._error(400, "Sender", "Throttling", service, "Rate exceeded")
                if fault == "delay":
                    threading.Event().wait(proxy.delay())
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                status, response_headers, content = proxy.forward(self.command, self.path, headers, body)
                if fault == "lost":
                    return self._error(500, "Receiver", "InternalFailure", service)
                if fault == "dropped":
                    self.close_connection = True
                    self.connection.close()
                    return None
                self.send_response(status)
                for name, value in response_headers:
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                return None

            def _error(self, status: int, kind: str, code: str, service: str, message: str = "injected"):
                text = ERROR_XML.format(
                    service=service,
                    version=API_VERSIONS.get(service, API_VERSIONS["iam"]),
                    kind=kind,
                    code=code,
                    message=message,
                    request_id=uuid.uuid4(),
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        return Handler


def _service(authorization: str) -> str:
    """The signing scope's service (``Credential=AK/date/region/iam/aws4_request``)."""
    try:
        return authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        return "iam"
