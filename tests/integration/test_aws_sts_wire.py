"""The thin STS path (client.StsWire) against botocore's full client, call by call.

Each case sends one call through a full botocore STS client and through the thin
path over an identically built client, both via a recording proxy in front of a
real upstream: a moto_server of this module (IAM authorization on, so signatures
are checked and AccessDenied is real) or the bench's STS stub, each a separate
process. Time and uuids are frozen so both requests can be compared byte for byte;
the wire run is answered with the bytes the full run got (moto mints new keys on
every call), so both parses can be compared too. Scripted answers cover what a
healthy upstream never sends: throttling, 5xx, dropped connections, expired
tokens, malformed or unexpected bodies. Retry sleeps are recorded, not slept.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import uuid
from pathlib import Path

import botocore.auth
import botocore.endpoint
import pytest

from support.aws_engine import create_admin_user, moto_client
from support.processes import free_port, start_moto, wait_for_http
from support.recording_proxy import DROP, FORWARD, Answer, RecordingProxy
from vaultlet.engines.secrets.aws import client as client_module
from vaultlet.engines.secrets.aws.client import ClientSettings, StsApi, _sts_clients

FROZEN = datetime.datetime(2026, 12, 2, 1, 0, 0)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
ERROR = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>{kind}</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-{code}</RequestId></ErrorResponse>"
)


def error(status: int, code: str, message: str, kind: str = "Sender") -> Answer:
    return Answer(status, ERROR.format(kind=kind, code=code, message=message).encode())


THROTTLED = error(400, "Throttling", "Rate exceeded")
INTERNAL = error(500, "InternalFailure", "We encountered an internal error.", "Receiver")
EXPIRED = error(400, "ExpiredToken", "The security token included in the request is expired")
SUCCESS_XML = (
    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
    "<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>"
    "<SessionToken>tok</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
    "<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/x</Arn>"
    "</AssumedRoleUser>{extra}</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId>"
    "</ResponseMetadata></AssumeRoleResponse>"
)


def success(expiration: str = "2026-12-02T02:00:00Z", extra: str = "") -> Answer:
    return Answer(200, SUCCESS_XML.format(expiration=expiration, extra=extra).encode())


# -- the environment ------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """A moto of this module's own: its IAM authorization is switched on."""
    running = start_moto(tmp_path_factory.mktemp("moto-sts-wire"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def world(moto):
    iam = moto_client(moto, "iam")
    role_arn = iam.create_role(RoleName="wire-target", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    admin = create_admin_user(moto, "wire-admin")
    iam.create_user(UserName="wire-nobody")  # no policy: AccessDenied for anything
    nobody = iam.create_access_key(UserName="wire-nobody")["AccessKey"]
    moto.set_iam_authorization(True)
    yield {"role_arn": role_arn, "admin": admin, "nobody": nobody}
    moto.set_iam_authorization(False)


@pytest.fixture(scope="module")
def moto_proxy(moto):
    proxy = RecordingProxy(moto.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def stub_proxy():
    port = free_port()
    tests_dir = Path(__file__).resolve().parents[1]
    stub = subprocess.Popen([sys.executable, "-m", "bench.sts_stub", str(port)], cwd=tests_dir)
    try:
        wait_for_http(f"http://127.0.0.1:{port}", process=stub)
        proxy = RecordingProxy(f"http://127.0.0.1:{port}")
        yield proxy
        proxy.stop()
    finally:
        stub.terminate()
        stub.wait(timeout=10)


class Frozen:
    """Fixed signing time and invocation ids; retry sleeps recorded instead of slept."""

    def __init__(self, monkeypatch):
        self.sleeps: list[float] = []
        self._count = 0
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FROZEN)
        monkeypatch.setattr(botocore.endpoint, "get_current_datetime", lambda *a, **k: FROZEN)
        monkeypatch.setattr(uuid, "uuid4", self._uuid)
        monkeypatch.setattr(client_module.time, "sleep", self.sleeps.append)

    def _uuid(self):
        self._count += 1
        return uuid.UUID(int=self._count)

    def reset(self) -> None:
        self._count = 0
        self.sleeps.clear()


@pytest.fixture
def frozen(monkeypatch):
    return Frozen(monkeypatch)


# -- running one call both ways ---------------------------------------------------------


def settings_for(proxy: RecordingProxy, key: dict | None = None, **extra) -> ClientSettings:
    key = key or {"AccessKeyId": "AKIASTUB", "SecretAccessKey": "stub"}
    return ClientSettings(
        access_key=key["AccessKeyId"],
        secret_key=key["SecretAccessKey"],
        region="us-east-1",
        sts_endpoint=extra.pop("sts_endpoint", proxy.endpoint),
        **extra,
    )


def outcome(action):
    try:
        return ("ok", action())
    except Exception as caught:  # noqa: BLE001 - the comparison is the point
        # By name: each client has its own (equal) modeled exception classes.
        kind = f"{type(caught).__module__}.{type(caught).__qualname__}"
        return ("error", kind, str(caught), getattr(caught, "response", None))


def normalized_headers(headers) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name.lower() == "user-agent":  # botocore lists its feature ids from a set: any order
            value = " ".join(
                "m/" + ",".join(sorted(part[2:].split(","))) if part.startswith("m/") else part
                for part in value.split(" ")
            )
        found[name.lower()] = value
    return found


def both_ways(proxy, frozen, operation: str, params: dict, script=(), **settings):
    """(full, wire) outcomes, requests and sleeps, after checking they are the same."""
    full_clients, _ = _sts_clients(settings_for(proxy, **settings))
    wire_clients, wires = _sts_clients(settings_for(proxy, **settings))
    method = botocore.xform_name(operation)

    proxy.script(*script)
    frozen.reset()
    full = outcome(lambda: getattr(full_clients[0], method)(**params))
    full_seen, kept, full_sleeps = proxy.seen, iter(proxy.kept), list(frozen.sleeps)
    steps = [script[i] if i < len(script) else FORWARD for i in range(len(full_seen))]
    proxy.script(*[next(kept) if step == FORWARD else step for step in steps])
    frozen.reset()
    wire = outcome(lambda: wires[0].call(operation, dict(params)))
    wire_seen, wire_sleeps = proxy.seen, list(frozen.sleeps)
    assert wire_clients[0] is not full_clients[0]

    assert len(wire_seen) == len(full_seen)
    for theirs, ours in zip(full_seen, wire_seen, strict=True):
        assert (ours.method, ours.path, ours.body) == (theirs.method, theirs.path, theirs.body)
        assert normalized_headers(ours.headers) == normalized_headers(theirs.headers)
    assert wire == full
    assert len(wire_sleeps) == len(full_sleeps)
    return full, full_seen, full_sleeps


def header(seen, name: str) -> str:
    return normalized_headers(seen.headers)[name.lower()]


# -- against moto ---------------------------------------------------------------------


def test_assume_role_minimal(moto_proxy, frozen, world):
    result, seen, _ = both_ways(
        moto_proxy,
        frozen,
        "AssumeRole",
        {"RoleArn": world["role_arn"], "RoleSessionName": "vault-wire"},
        key=world["admin"],
    )
    assert result[0] == "ok", result
    assert result[1]["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert result[1]["AssumedRoleUser"]["Arn"].endswith("/wire-target/vault-wire")
    assert result[1]["ResponseMetadata"]["RetryAttempts"] == 0
    assert "SignedHeaders=content-type;host;x-amz-date" in header(seen[0], "Authorization")
    assert header(seen[0], "amz-sdk-request") == "attempt=1; max=3"


def test_assume_role_with_every_parameter(moto_proxy, frozen, world):
    params = {
        "RoleArn": world["role_arn"],
        "RoleSessionName": "vault-all-params",
        "DurationSeconds": 1800,
        "Policy": POLICY,
        "PolicyArns": [{"arn": S3_READ}, {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "Tags": [{"Key": "team", "Value": "a b&c"}, {"Key": "env", "Value": "prod"}],
        "ExternalId": "ext-123",
    }
    result, seen, _ = both_ways(moto_proxy, frozen, "AssumeRole", params, key=world["admin"])
    assert result[0] == "ok", result
    assert b"PolicyArns.member.2.arn=" in seen[0].body and b"Tags.member.1.Value=a+b%26c" in seen[0].body


def test_federation_token(moto_proxy, frozen, world):
    params = {
        "Name": "vault-fed",
        "DurationSeconds": 3600,
        "Policy": POLICY,
        "PolicyArns": [{"arn": S3_READ}],
    }
    result, _, _ = both_ways(moto_proxy, frozen, "GetFederationToken", params, key=world["admin"])
    assert result[0] == "ok", result
    assert result[1]["FederatedUser"]["Arn"].endswith(":federated-user/vault-fed")


def test_session_token_with_mfa(moto_proxy, frozen, world):
    params = {
        "DurationSeconds": 900,
        "SerialNumber": "arn:aws:iam::123456789012:mfa/u",
        "TokenCode": "123456",
    }
    result, _, _ = both_ways(moto_proxy, frozen, "GetSessionToken", params, key=world["admin"])
    assert result[0] == "ok", result
    assert set(result[1]["Credentials"]) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}


def test_access_denied(moto_proxy, frozen, world):
    params = {"RoleArn": world["role_arn"], "RoleSessionName": "denied"}
    result, seen, sleeps = both_ways(moto_proxy, frozen, "AssumeRole", params, key=world["nobody"])
    assert result[0] == "error" and result[3]["Error"]["Code"] == "AccessDenied", result
    assert len(seen) == 1 and not sleeps  # a refusal is final


def test_unknown_keys_are_refused_by_moto_for_both(moto_proxy, frozen, world):
    bogus = {"AccessKeyId": "AKIAUNKNOWNUNKNOWN00", "SecretAccessKey": "nope"}
    params = {"RoleArn": world["role_arn"], "RoleSessionName": "bogus"}
    result, _, _ = both_ways(moto_proxy, frozen, "AssumeRole", params, key=bogus)
    assert result[0] == "error" and result[3]["Error"]["Code"] == "InvalidClientTokenId", result


def test_the_wire_is_accepted_by_moto_when_sent_for_real(moto_proxy, world):
    """Not replayed: moto checks the thin path's own signature (IAM authorization is on)."""
    _, wires = _sts_clients(settings_for(moto_proxy, key=world["admin"]))
    moto_proxy.script()
    found = wires[0].call("AssumeRole", {"RoleArn": world["role_arn"], "RoleSessionName": "live"})
    assert found["Credentials"]["SessionToken"]


def test_session_credentials_from_the_default_chain_sign_the_token(moto_proxy, frozen, world, monkeypatch):
    sts = moto_client(moto_proxy, "sts", world["admin"]["AccessKeyId"], world["admin"]["SecretAccessKey"])
    session = sts.assume_role(RoleArn=world["role_arn"], RoleSessionName="first-hop")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", session["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", session["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", session["SessionToken"])
    params = {"RoleArn": world["role_arn"], "RoleSessionName": "chained"}
    no_keys = {"AccessKeyId": "", "SecretAccessKey": ""}
    result, seen, _ = both_ways(moto_proxy, frozen, "AssumeRole", params, key=no_keys)
    # The role has no permissions of its own: moto refuses the second hop, for both alike.
    assert result[0] == "error" and result[3]["Error"]["Code"] == "AccessDenied", result
    assert header(seen[0], "X-Amz-Security-Token") == session["SessionToken"]
    assert "x-amz-security-token" in header(seen[0], "Authorization")


# -- scripted answers (throttling, failures, malformed bodies) ------------------------


ROLE = {"RoleArn": "arn:aws:iam::123456789012:role/stub-role", "RoleSessionName": "scripted"}


def test_throttling_is_retried_then_succeeds(stub_proxy, frozen):
    result, seen, sleeps = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[THROTTLED, THROTTLED])
    assert result[0] == "ok" and result[1]["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(seen) == 3 and len(sleeps) == 2
    assert header(seen[1], "amz-sdk-request").endswith("attempt=2; max=3")
    assert header(seen[1], "amz-sdk-request").startswith("ttl=")


def test_throttling_past_the_retries_is_an_error_with_the_attempts(stub_proxy, frozen):
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[THROTTLED] * 3)
    assert result[0] == "error" and result[3]["Error"]["Code"] == "Throttling"
    assert result[3]["ResponseMetadata"]["RetryAttempts"] == 2 and len(seen) == 3


def test_max_retries_setting_is_honoured(stub_proxy, frozen):
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[INTERNAL] * 6, max_retries=5)
    assert result[0] == "error" and result[3]["Error"]["Code"] == "InternalFailure"
    assert len(seen) == 6 and header(seen[0], "amz-sdk-request") == "attempt=1; max=6"


def test_no_retries(stub_proxy, frozen):
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[INTERNAL], max_retries=0)
    assert result[0] == "error" and len(seen) == 1


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (EXPIRED, "ClientError"),  # what AWS answers when the signing token has expired
        (error(400, "ExpiredTokenException", "Token expired"), "ExpiredTokenException"),  # modeled
    ],
)
def test_expired_token(stub_proxy, frozen, answer, kind):
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[answer])
    assert result[0] == "error" and result[1].rpartition(".")[2] == kind and len(seen) == 1


def test_dropped_connection_is_retried(stub_proxy, frozen):
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[DROP])
    assert result[0] == "ok" and result[1]["ResponseMetadata"]["RetryAttempts"] == 1 and len(seen) == 2


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, b"not xml at all"),
        Answer(200, b"<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>"),
        Answer(200, b""),
        Answer(400, b"<html><body>Bad Gateway</body></html>", (("Content-Type", "text/html"),)),
        Answer(503, b"", ()),
        success("2026-12-02T02:00:00.123456Z"),
        success("2026-12-02T02:00:00+00:00"),
        success("1796263200"),
        success(extra="<PackedPolicySize>6</PackedPolicySize><SourceIdentity>me</SourceIdentity>"),
        success(extra="<SomethingNew>x</SomethingNew>"),
        Answer(
            200, SUCCESS_XML.format(expiration="2026-12-02T02:00:00Z", extra="").encode().replace(b"r-1", b"")
        ),
    ],
    ids=[
        "garbage",
        "no-credentials",
        "empty",
        "html-400",
        "empty-503",
        "fractional",
        "offset",
        "epoch",
        "optional-members",
        "unknown-member",
        "empty-request-id",
    ],
)
def test_unusual_answers_parse_the_same(stub_proxy, frozen, answer):
    result, _, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, script=[answer] * 3)
    assert result[0] in ("ok", "error")


def test_the_stub_answer(stub_proxy, frozen):
    result, _, _ = both_ways(stub_proxy, frozen, "AssumeRole", ROLE)
    assert result[0] == "ok" and result[1]["Credentials"]["AccessKeyId"] == "ASIASTUBSTUBSTUBSTUB"


def test_unreachable_endpoint(stub_proxy, frozen):
    closed = f"http://127.0.0.1:{free_port()}"
    result, _, sleeps = both_ways(stub_proxy, frozen, "AssumeRole", ROLE, sts_endpoint=closed)
    assert result[0] == "error" and "Could not connect" in result[2] and len(sleeps) == 2


def test_invalid_parameters_are_refused_before_sending(stub_proxy, frozen):
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/stub-role",
        "RoleSessionName": "a",
        "DurationSeconds": "x",
    }
    result, seen, _ = both_ways(stub_proxy, frozen, "AssumeRole", params)
    assert result[0] == "error" and result[1].rpartition(".")[2] == "ParamValidationError" and not seen


def test_no_credentials(stub_proxy, frozen, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result, seen, _ = both_ways(
        stub_proxy, frozen, "AssumeRole", ROLE, key={"AccessKeyId": "", "SecretAccessKey": ""}
    )
    assert result[0] == "error" and result[1].rpartition(".")[2] == "NoCredentialsError" and not seen


def test_the_facade_uses_the_wire_for_the_three_calls_only(stub_proxy):
    clients, wires = _sts_clients(settings_for(stub_proxy, None))
    api = StsApi(clients, wires)
    calls = []
    original = wires[0].call
    wires[0].call = lambda operation, params: calls.append(operation) or original(operation, params)
    stub_proxy.script()
    credentials = api.assume_role("arn:aws:iam::123456789012:role/stub-role", "facade", 900)
    assert credentials.assumed_role_arn.endswith("/stub-role/session") and calls == ["AssumeRole"]
    api.get_caller_identity  # noqa: B018 - GetCallerIdentity stays on the full client
    assert "GetCallerIdentity" not in client_module.StsWire.OPERATIONS
