"""sys/tools/random and sys/tools/hash against a real OpenBao: same status codes, same errors,
same digests; random bytes of the asked length and encoding."""

from __future__ import annotations

import base64
import binascii

import pytest

from support.access import token_with, unique, write_policy
from support.processes import http

HELLO = base64.b64encode(b"hello").decode()

RANDOM = [
    ("sys/tools/random", None, 32, "base64"),
    ("sys/tools/random/8", None, 8, "base64"),
    ("sys/tools/random/8", {"format": "hex"}, 8, "hex"),
    ("sys/tools/random/platform/8", None, 8, "base64"),
    ("sys/tools/random/all/16", {"format": "hex"}, 16, "hex"),
    ("sys/tools/random/seal/8", None, 8, "base64"),
    ("sys/tools/random", {"bytes": 12}, 12, "base64"),
    ("sys/tools/random/hex/8", None, None, None),
    ("sys/tools/random/99999999", None, None, None),
    ("sys/tools/random/abc", None, None, None),
    ("sys/tools/random", {"format": "bogus"}, None, None),
]

HASHES = [
    ("sys/tools/hash", {"input": HELLO}),
    ("sys/tools/hash/sha2-512", {"input": HELLO, "format": "base64"}),
    ("sys/tools/hash/sha3-256", {"input": HELLO}),
    ("sys/tools/hash", {"input": HELLO, "algorithm": "sha2-384"}),
    ("sys/tools/hash", {"input": HELLO, "algorithm": "sha2-224", "format": "hex"}),
    ("sys/tools/hash", {}),
    ("sys/tools/hash/md5", {"input": HELLO}),
    ("sys/tools/hash", {"input": HELLO, "format": "bogus"}),
]


def _decoded(value: str, encoding: str) -> bytes:
    return bytes.fromhex(value) if encoding == "hex" else base64.b64decode(value, validate=True)


@pytest.mark.parametrize(("path", "body", "length", "encoding"), RANDOM)
def test_random_answers_as_openbao(server, openbao, path, body, length, encoding):
    answers = [http(target, "POST", path, body) for target in (server, openbao)]
    assert answers[0][0] == answers[1][0], answers
    status, parsed, _ = answers[0]
    if length is None:
        assert status == 400 and parsed["errors"] == answers[1][1]["errors"]
        return
    for _, reply, _ in answers:
        assert len(_decoded(reply["data"]["random_bytes"], encoding)) == length
        assert reply["warnings"] == answers[1][1]["warnings"]
    assert answers[0][1]["data"] != answers[1][1]["data"]


@pytest.mark.parametrize(("path", "body"), HASHES)
def test_hash_answers_as_openbao(server, openbao, path, body):
    ours, theirs = (http(target, "POST", path, body) for target in (server, openbao))
    assert ours[0] == theirs[0]
    assert (ours[1].get("data"), ours[1].get("errors")) == (theirs[1].get("data"), theirs[1].get("errors"))


def test_bad_base64_is_a_400_and_tools_need_a_policy(server):
    status, body, _ = http(server, "POST", "sys/tools/hash", {"input": "notb64!"})
    assert status == 400 and body["errors"][0].startswith("unable to decode input as base64")
    low = token_with(server, "default")
    assert http(server, "POST", "sys/tools/random", None, token=low)[0] == 403
    allowed = unique("tools")
    write_policy(server, allowed, 'path "sys/tools/*" { capabilities = ["update"] }')
    token = token_with(server, allowed)
    assert http(server, "POST", "sys/tools/random/4", None, token=token)[0] == 200
    with pytest.raises(binascii.Error):
        base64.b64decode("notb64!", validate=True)
