"""The HTTP layer: Vault's wire protocol on top of the core. The only Flask code.

Translates an HTTP request into a logical :class:`Request` (operation, path,
data, token), hands it to ``Core.handle`` and renders the answer in Vault's
envelope or error format.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import time
import urllib.parse
from typing import Any

from flask import Flask, g
from flask import Response as FlaskResponse
from flask import request as http_request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vaultlet.durations import DurationError, parse_duration_second_strict
from vaultlet.errors import (
    NotFound,
    UnsupportedMediaType,
    UnsupportedOperation,
    UserError,
    VaultError,
)
from vaultlet.framework.request import DELETE, LIST, PATCH, READ, UPDATE, Request, Response
from vaultlet.http.webui import register_ui

log = logging.getLogger("vaultlet.http")
request_log = logging.getLogger("vaultlet.http.request")

DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024  # Vault's max_request_size
_METHODS = ["GET", "POST", "PUT", "DELETE", "LIST", "HEAD", "PATCH"]
_WRITE_METHODS = {"POST": UPDATE, "PUT": UPDATE, "DELETE": DELETE, "PATCH": PATCH, "LIST": LIST}
_NO_CACHE = {"Cache-Control": "no-store", "Content-Type": "application/json"}
_ROOT_NAMESPACES = {"", "root", "root/"}
_FORM_TYPE = "application/x-www-form-urlencoded"
# How far OpenBao looks into a form-typed body for the start of JSON (it then parses JSON).
_FORM_SNIFF_BYTES = 512
_JSON_WHITESPACE = b" \t\r\n"
# A "%" not followed by two hex digits: Go's url.ParseQuery refuses the whole form.
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
WRAP_TTL_HEADER = "X-Vault-Wrap-TTL"
WRAP_FORMAT_HEADER = "X-Vault-Wrap-Format"
# A JSON escape of a UTF-16 surrogate: the only way a decoded body can hold a string
# that is not valid Unicode (a lone \ud800 parses, then breaks every encode()).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def create_app(core, *, max_request_size: int = DEFAULT_MAX_REQUEST_SIZE) -> Flask:
    """App factory: ``core`` is a :class:`vaultlet.core.core.Core`."""
    app = Flask("vaultlet")
    app.config["MAX_CONTENT_LENGTH"] = max_request_size
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.extensions["vaultlet_core"] = core

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(answer: FlaskResponse) -> FlaskResponse:
        _log_request_line(answer.status_code)
        return answer

    @app.route("/v1/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/v1/<path:path>", methods=_METHODS)
    def dispatch(path: str):
        logical: Request | None = None
        try:
            logical = _logical_request()
            g.request_id = logical.id
            answer = _render(core.handle(logical), logical)
        except VaultError as error:
            answer = _error(error.status, error.messages)
        if logical is not None:
            answer.headers.update(logical.response_headers)
        return answer

    register_ui(app)
    app.wsgi_app = _sized_bodies(app.wsgi_app, max_request_size)

    @app.before_request
    def refuse_oversized_stream() -> None:
        if http_request.environ.get(_TOO_LARGE):
            raise RequestEntityTooLarge()

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exception):
        return _error(413, [f"request body is larger than the limit of {max_request_size} bytes"])

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _error(error.code or 400, [error.description or error.name])

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # The exception text may carry request data; log its type and a traceback
        # of where it happened, answer with Vault's generic message.
        log.error(
            "internal error handling %s %s: %s",
            http_request.method,
            http_request.path,
            type(error).__name__,
            exc_info=error,
        )
        return _error(500, ["internal error"])

    return app


_TOO_LARGE = "vaultlet.body_too_large"


def _sized_bodies(wsgi_app, limit: int):
    """A body sent without Content-Length (chunked) is read here, up to one byte past
    the limit: Werkzeug's own cap on such streams stops reading at the limit and hands
    the view a silently truncated body. Over the limit, the request is refused (413)."""

    def sized(environ, start_response):
        if environ.get("CONTENT_LENGTH", "") == "" and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", ""):
            body = _read_up_to(environ["wsgi.input"], limit + 1)
            if len(body) > limit:
                environ[_TOO_LARGE], body = True, b""
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return wsgi_app(environ, start_response)

    return sized


def _read_up_to(stream, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, 1 << 20))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _log_request_line(status: int) -> None:
    """One line per request. Never the query string, headers or body: they can carry
    tokens and secrets. The request id is the audit entry's ``request.id``."""
    started = getattr(g, "started", None)
    request_log.info(
        "request",
        extra={
            "fields": {
                "request_id": getattr(g, "request_id", ""),
                "method": http_request.method,
                "path": http_request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000.0, 3) if started else None,
                "remote_addr": http_request.remote_addr or "",
                "pid": os.getpid(),  # which gunicorn worker answered
            }
        },
    )


def _raw_path() -> str:
    """The path after /v1/, exactly as sent (Werkzeug would otherwise normalise it)."""
    path = http_request.path[len("/v1/") :] if http_request.path.startswith("/v1/") else ""
    segments = path.split("/")
    if ".." in segments or "." in segments or "//" in path.rstrip("/") or "\x00" in path:
        raise UserError(f'invalid request path "{path}"')
    return path


def _operation(method: str, query: dict[str, Any]) -> str:
    if method in ("GET", "HEAD"):
        return LIST if str(query.get("list", "")).lower() == "true" else READ
    op = _WRITE_METHODS.get(method)
    if op is None:
        raise UnsupportedOperation()
    return op


def _body() -> dict[str, Any]:
    raw = http_request.get_data(cache=False)
    merge_patch = http_request.mimetype == "application/merge-patch+json"
    if http_request.method == "PATCH" and raw.strip() and not merge_patch:
        raise UnsupportedMediaType(
            "PATCH requires Content-Type of application/merge-patch+json, provided "
            + (http_request.mimetype or "")
        )
    if http_request.method in ("POST", "PUT") and _is_form(raw):
        return _form_data(raw)
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")  # strict: invalid bytes and encoded surrogates are refused
        parsed = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise UserError(f"failed to parse JSON input: {error}") from None
    except RecursionError:
        raise UserError("failed to parse JSON input: nested too deeply") from None
    if parsed is None:
        return {}  # `bao write -f` sends the JSON `null`: Vault reads it as an empty request
    if _SURROGATE_ESCAPE.search(text):
        _require_unicode(parsed, "failed to parse JSON input")
    if not isinstance(parsed, dict):
        kind = _GO_JSON_KINDS.get(type(parsed), "value")
        raise UserError(
            f"failed to decode JSON input: json: cannot unmarshal {kind} into Go value of type "
            "map[string]interface {}"
        )
    return parsed


_GO_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}


def _is_form(raw: bytes) -> bool:
    """OpenBao's rule: a form only when the Content-Type says so and the body does not
    start like JSON (so clients that mislabel JSON keep working)."""
    if http_request.mimetype != _FORM_TYPE:
        return False
    head = raw[:_FORM_SNIFF_BYTES].lstrip(_JSON_WHITESPACE)
    return not head.startswith((b"{", b"["))


def _form_data(raw: bytes) -> dict[str, Any]:
    """A form body as request data; repeated keys are joined with commas, as in Vault."""
    if _BAD_ESCAPE.search(raw) or b";" in raw:
        raise UserError("error parsing form data")
    try:
        pairs = urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise UserError("error parsing form data") from None
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    return {key: ",".join(items) for key, items in values.items()}


def _wrap_ttl() -> float:
    """The requested wrapping TTL in seconds, parsed as OpenBao parses it (0: no wrapping)."""
    text = http_request.headers.get(WRAP_TTL_HEADER, "").strip()
    if not text:
        return 0.0
    try:
        ttl = parse_duration_second_strict(text)
    except DurationError as error:
        raise UserError(f"error parsing {WRAP_TTL_HEADER} header: {error}") from None
    if ttl < 0:
        raise UserError(f"error parsing {WRAP_TTL_HEADER} header: requested wrap ttl cannot be negative")
    if ttl and http_request.headers.get(WRAP_FORMAT_HEADER, "").strip() == "jwt":
        # OpenBao signs JWT-format wrapping tokens for its own replication and plugin set-up;
        # vaultlet has no signing key for them: refused rather than answered with another kind.
        raise UserError(f"{WRAP_FORMAT_HEADER} jwt is not supported; omit the header for a token")
    return ttl


def _finite_float(text: str) -> float:
    """A JSON number that fits a float64, as Go's decoder requires (1e400 is not one)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> float:
    # Python's decoder accepts NaN and Infinity; they are not JSON (RFC 8259), nor to Go.
    raise ValueError(f"invalid character {name[:1]!r} looking for beginning of value")


def _require_unicode(value: Any, context: str) -> None:
    """Refuse any string (key or value, at any depth) that cannot be encoded as UTF-8.

    Python's JSON decoder turns an escaped lone surrogate into a str that every later
    ``encode()`` (hashing, HMAC, the database driver) rejects; checking once here keeps
    handlers from meeting it. Iterative: a body may nest as deep as the parser allows.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(
                    f"{context}: a string holds a lone UTF-16 surrogate, which is not valid Unicode"
                ) from None


def _token() -> str | None:
    token = http_request.headers.get("X-Vault-Token")
    if token:
        return token
    authorization = http_request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip() or None
    return None


def _logical_request() -> Request:
    namespace = http_request.headers.get("X-Vault-Namespace", "")
    if namespace.strip() not in _ROOT_NAMESPACES:
        raise NotFound("namespace not found")
    query = {k: v for k, v in http_request.args.items()}
    method = http_request.method
    operation = _operation(method, query)
    path = _raw_path()
    # Werkzeug decodes the path and query with replacement characters (as Go does);
    # checked anyway so that no decoding path can hand a handler an unencodable str.
    _require_unicode([path, query], "invalid request path or query")
    if method == "HEAD" and path.rstrip("/") != "sys/health":
        raise UnsupportedOperation()  # Vault accepts HEAD on sys/health only
    help_requested = str(query.pop("help", "")).lower() in ("1", "true")
    query.pop("list", None)
    if method in ("GET", "HEAD"):
        data: dict[str, Any] = query  # Vault turns a GET's query string into request data
    else:
        data = _body()
    if operation == LIST and path and not path.endswith("/"):
        path += "/"
    return Request(
        operation=operation,
        path=path,
        data=data,
        wrap_ttl=_wrap_ttl(),
        client_token=_token(),
        remote_addr=http_request.remote_addr or "",
        remote_port=int(http_request.environ.get("REMOTE_PORT") or 0),
        headers={
            k: v
            for k, v in http_request.headers.items()
            if k.lower() not in ("x-vault-token", "authorization")
        },
        help=help_requested,
    )


def _envelope(response: Response, logical: Request) -> dict[str, Any]:
    body = response.envelope(logical.id)
    if response.data_at_top_level and response.data and response.wrap_info is None:
        body = {**response.data, **body}
    return body


def _render(response: Response, logical: Request) -> FlaskResponse:
    if response.text is not None:
        headers = {"Cache-Control": "no-store", "Content-Type": response.content_type or "text/plain"}
        return FlaskResponse(response.text, status=response.status or 200, headers=headers)
    if response.raw is not None:
        status = response.status or 200
        text = "" if http_request.method == "HEAD" else json.dumps(response.raw)
        return FlaskResponse(text, status=status, headers=_NO_CACHE)
    if response.is_empty:
        return FlaskResponse(status=response.status or 204, headers={"Cache-Control": "no-store"})
    text = json.dumps(_envelope(response, logical))
    return FlaskResponse(text, status=response.status or 200, headers=_NO_CACHE)


def _error(status: int, messages: list[str]) -> FlaskResponse:
    return FlaskResponse(json.dumps({"errors": messages}), status=status, headers=_NO_CACHE)
