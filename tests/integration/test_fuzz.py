"""Fuzzing the served API: no input makes a real gunicorn server answer 5xx.

Two fuzzers, both driven by the OpenAPI document the server itself serves
(``sys/internal/specs/openapi``), so every declared path and field is covered and new
endpoints join automatically:

- schemathesis (its Python API) generates valid and, for operations with a body, invalid
  requests: EXAMPLES_PER_OPERATION per operation and mode, seeded, no shrinking (about
  60 s here), each checked with its ``not_a_server_error`` check;
- a corpus of bad bytes (lone surrogates, invalid UTF-8, NUL, huge numbers, deep nesting,
  huge strings within the size limit, wrong types) is sent over every declared body field,
  every path parameter, the query fields of every GET and a few headers, with
  ``http.client`` so that the bytes on the wire are exactly these; each answer must be
  below 500 and, if an error, Vault's ``{"errors": [...]}`` envelope.

Operations that would stop the server from serving the rest of the run (seal, audit
devices that fail closed on a bad file, revoking the fuzzer's own token) are left out.
"""

from __future__ import annotations

import http.client as httpclient
import json
import re
import time
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from support.processes import free_port, http, start_vaultlet_dev

# (path regex, methods) the fuzzers leave alone, and why.
EXCLUDED = [
    (r"^/sys/seal$", {"POST", "PUT"}),  # seals the server: every later answer is 503
    (r"^/sys/audit/", {"POST", "PUT", "DELETE"}),  # a device on a random file fails closed: 500s
    (r"^/auth/token/revoke-self$", {"POST", "PUT"}),  # revokes the fuzzer's own root token
]
EXAMPLES_PER_OPERATION = 5


def _excluded(path: str, method: str) -> bool:
    return any(re.search(pattern, path) and method.upper() in methods for pattern, methods in EXCLUDED)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """A dedicated dev server (AWS against embedded moto) with AppRole and KV mounted too."""
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    server = start_vaultlet_dev(workdir / "server", extra_args=["-dev-aws=moto"], port=free_port())
    for path, body in (("sys/auth/approle", {"type": "approle"}), ("sys/mounts/kv", {"type": "kv"})):
        status, _, text = http(server, "POST", path, body)
        assert status == 204, text
    yield server
    server.stop()
    assert "internal error handling" not in server.log_text()


@pytest.fixture(scope="module")
def openapi_document(fuzz_server) -> dict:
    status, document, text = http(fuzz_server, "GET", "sys/internal/specs/openapi")
    assert status == 200, text
    assert len(document["paths"]) > 60  # every mount's declarations, not an empty shell
    return document


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server, openapi_document):
    schema = schemathesis.openapi.from_dict(openapi_document)
    schema.config.update(
        base_url=f"{fuzz_server.address}/v1",
        headers={"X-Vault-Token": fuzz_server.root_token},
        request_timeout=30,
    )
    return schema.exclude(
        func=lambda ctx: _excluded(ctx.operation.path, ctx.operation.method),
    )


def test_schemathesis_finds_no_server_error(fuzz_schema):
    """Positive and negative cases for every operation, a few each (seeded: a failure
    reproduces). Every failure is collected before the test fails, so one run lists them all."""
    failures: list[str] = []
    operations = 0
    started = time.monotonic()
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # A string path parameter has no invalid value: negative cases need a body to break.
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if operation.body else [])
        for mode in modes:
            try:
                _fuzz(operation.as_strategy(generation_mode=mode))
            except hypothesis.errors.Unsatisfiable:
                continue  # no negative case exists for an operation without inputs
            except Exception as error:  # noqa: BLE001 - collect every failure, then report
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}")
    elapsed = time.monotonic() - started
    print(f"schemathesis: {operations} operations in {elapsed:.1f}s")
    assert operations > 100
    assert not failures, "\n\n".join(failures)


def _fuzz(strategy) -> None:
    @hypothesis.given(strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        database=None,
    )
    def run(case):
        case.call_and_validate(checks=[not_a_server_error])

    run()


# -- the bad-bytes corpus ---------------------------------------------------------------

DEEP = 900  # parses (the limit is about 1000), then meets every layer that walks values
# Raw JSON values: each is spliced into a body as the value of one declared field.
BAD_VALUES: dict[str, bytes] = {
    "lone-high-surrogate": b'"\\ud800"',
    "lone-low-surrogate": b'"a\\udc00b"',
    "utf8-encoded-surrogate": b'"\xed\xa0\x80"',
    "invalid-utf8": b'"\xff\xfe\xfd"',
    "overlong-utf8": b'"\xc0\xaf"',
    "escaped-nul": b'"a\\u0000b"',
    "raw-nul": b'"a\x00b"',
    "control-chars": b'"\\u0001\\u001f\\u007f"',
    "huge-float": b"1e400",
    "huge-negative-float": b"-1e400",
    "huge-int": b"9" * 40,
    "huge-negative-int": b"-" + b"9" * 40,
    "int64-overflow": b"9223372036854775808",
    "tiny-float": b"5e-324",
    "negative": b"-1",
    "fraction": b"0.5",
    "deep-array": b"[" * DEEP + b"]" * DEEP,
    "deep-object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "too-deep": b"[" * 100_000 + b"]" * 100_000,
    "huge-string": b'"' + b"x" * (2 * 1024 * 1024) + b'"',
    "long-string-with-slashes": b'"' + b"a/" * 20_000 + b'"',
    "empty-string": b'""',
    "whitespace": b'" \\t\\n "',
    "true": b"true",
    "zero": b"0",
    "empty-object": b"{}",
    "object": b'{"a": {"b": [1, "x", null]}}',
    "empty-array": b"[]",
    "array-of-objects": b'[{"a": 1}, [], null]',
    "traversal": b'"../../../etc/passwd"',
    "glob": b'"*+?[]{}"',
    "format-string": b'"%s%n%x{0}{{"',
    "hcl-injection": b'"\\" } path \\"*\\" { capabilities = [\\"sudo\\"] } #"',
    "emoji": b'"\\ud83d\\ude00\xf0\x9f\x98\x80"',
}
# Path parameters, as they appear in the URL (percent-encoding is the client's job).
BAD_PATH_SEGMENTS: dict[str, str] = {
    "encoded-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "nul": "a%00b",
    "dot-dot": "..",
    "encoded-dot-dot": "%2e%2e",
    "encoded-slash": "a%2Fb",
    "long": "x" * 4000,
    "space-and-quotes": "a%20%22b%27",
    "unicode": "%E2%98%83",
    "percent": "%25%25",
}
BAD_HEADERS: dict[str, tuple[str, bytes]] = {
    "token-invalid-utf8": ("X-Vault-Token", b"\xff\xfe"),
    "token-encoded-surrogate": ("X-Vault-Token", b"\xed\xa0\x80"),
    "token-huge": ("X-Vault-Token", b"s." + b"A" * 8000),  # under gunicorn's 8190-byte field limit too
    "namespace-invalid-utf8": ("X-Vault-Namespace", b"\xff"),
    "wrap-ttl-garbage": ("X-Vault-Wrap-TTL", b"\xff1e400"),
    "bearer-garbage": ("Authorization", b"Bearer \xed\xa0\x80"),
}


class _Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, address: str, token: str):
        self.host = address.removeprefix("http://")
        self.token = token
        self.connection = httpclient.HTTPConnection(self.host, timeout=60)

    def send(self, method: str, url: str, body: bytes | None = None, headers=None) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.connection.putrequest(method, url, skip_accept_encoding=True)
                self.connection.putheader("X-Vault-Token", self.token)
                for name, value in (headers or {}).items():
                    self.connection.putheader(name, value)
                if body is not None:
                    self.connection.putheader("Content-Type", "application/json")
                    self.connection.putheader("Content-Length", str(len(body)))
                self.connection.endheaders(body)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (httpclient.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = httpclient.HTTPConnection(self.host, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _is_kv_v2_wrong_path(parsed: dict) -> bool:
    """Vault's (and vaultlet's) answer to a KV v2 mount's non-API path: a full envelope,
    404, data null and a warning pointing at `vault kv`, with no errors list."""
    warnings = parsed.get("warnings") or []
    return parsed.get("data") is None and any("versioned K/V secrets engine" in w for w in warnings)


def _is_error_in_data(parsed: dict) -> bool:
    """Vault's logical.ErrorResponse answered with a status of its own (AppRole's lookup of
    an unknown secret-ID accessor: 404, ``data.error``): a full envelope, no errors list,
    as OpenBao answers (tests/integration/test_differential_sequence.py compares it)."""
    data = parsed.get("data")
    return isinstance(data, dict) and set(data) == {"error"} and isinstance(data["error"], str)


def _problem(status: int, body: bytes) -> str | None:
    """Why an answer breaks the contract, or None: below 500, errors in Vault's envelope."""
    if status >= 500:
        return f"{status} {body[:300]!r}"
    if status < 400:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"{status} is not JSON: {body[:200]!r}"
    vault_404 = isinstance(parsed, dict) and (_is_kv_v2_wrong_path(parsed) or _is_error_in_data(parsed))
    if status == 404 and vault_404:
        return None
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        return f"{status} without an errors list: {body[:200]!r}"
    if status != 404 and not errors:
        return f"{status} with an empty errors list"
    return None


def _operations(document: dict):
    """(method, URL template, path parameter names, declared body field names) of every
    operation in the document, the same exclusions as schemathesis."""
    schemas = document.get("components", {}).get("schemas", {})
    for template, item in document["paths"].items():
        params = re.findall(r"{(\w+)}", template)
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch") or _excluded(template, method):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = next(iter(content.values()), {}).get("schema", {})
            if "$ref" in schema:  # request bodies are components, as in Vault's document
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            fields = sorted(schema.get("properties", {}))
            lists = [p for p in operation.get("parameters", []) if p.get("name") == "list"]
            if not lists or not lists[0].get("required"):
                yield method.upper(), template, params, fields
            if lists:  # a path that lists (and perhaps reads too): the list form as well
                yield method.upper(), template + "?list=true", params, fields


def _url(template: str, params: list[str], bad: dict[str, str] | None = None) -> str:
    url = "/v1" + template
    for name in params:
        url = url.replace("{" + name + "}", (bad or {}).get(name, f"fuzz-{name}"))
    return url


def test_bad_bytes_over_every_declared_field_never_get_a_5xx(fuzz_server, openapi_document):
    client = _Client(fuzz_server.address, fuzz_server.root_token)
    problems: list[str] = []
    sent = 0
    names = sorted(BAD_VALUES)

    def check(method: str, url: str, body: bytes | None, what: str, headers=None) -> None:
        nonlocal sent
        status, answer = client.send(method, url, body, headers)
        sent += 1
        problem = _problem(status, answer)
        if problem:
            problems.append(f"{method} {url[:120]} {what}: {problem}")

    started = time.monotonic()
    operations = list(_operations(openapi_document))
    query_fields = {template: fields for _method, template, _params, fields in operations if fields}
    for method, template, params, fields in operations:
        url = _url(template, params)
        for position, field in enumerate(fields):
            # Every field meets a third of the corpus (rotating), every value many fields.
            for name in names[position % 3 :: 3]:
                body = b'{"' + field.encode() + b'": ' + BAD_VALUES[name] + b"}"
                check(method, url, body, f"{field}={name}")
        if method in ("POST", "PUT", "PATCH"):
            # The whole object replaced by each bad value (wrong top-level types too).
            for name in names:
                if name != "huge-string":
                    check(method, url, BAD_VALUES[name], f"body={name}")
        for param in params:
            for name, segment in BAD_PATH_SEGMENTS.items():
                check(method, _url(template, params, {param: segment}), b"{}" if fields else None, name)
        if method == "GET":
            # A GET's query string is its request data: the same declared fields, as query.
            for position, field in enumerate(query_fields.get(template.split("?")[0], [])):
                for name in list(BAD_PATH_SEGMENTS)[position % 2 :: 2]:
                    joiner = "&" if "?" in url else "?"
                    check(method, f"{url}{joiner}{field}={BAD_PATH_SEGMENTS[name]}", None, f"?{field}={name}")
    for name, (header, value) in BAD_HEADERS.items():
        for method, url in (("GET", "/v1/auth/token/lookup-self"), ("GET", "/v1/sys/mounts")):
            check(method, url, None, name, {header: value})
    # Over the header limit (about 1 MB, as Go's net/http in OpenBao) the HTTP server answers
    # before the API does (431, no envelope): never a 5xx. Headers below it reach the API.
    # (The corpus may have written a rate-limit quota by now: 403 or 429, an envelope either way.)
    status, answer = client.send("GET", "/v1/sys/mounts", None, {"X-Vault-Token": b"A" * 400_000})
    assert status in (403, 429) and json.loads(answer)["errors"], (status, answer[:200])
    status, _answer = client.send("GET", "/v1/sys/mounts", None, {"X-Vault-Token": b"A" * 1_100_000})
    assert status == 431
    elapsed = time.monotonic() - started
    print(f"bad-bytes corpus: {sent} requests over {len(operations)} operations in {elapsed:.1f}s")
    assert len(operations) > 100 and sent > 2000
    assert not problems, f"{len(problems)} of {sent} answers broke the contract:\n" + "\n".join(problems[:60])
