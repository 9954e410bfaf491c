"""The `vaultlet` CLI's kv verbs, -detailed lists, `token capabilities`, `operator seal/unseal`
and -format=yaml, run as the real console script and compared with `bao` on the same server.

Each command is run by both CLIs against the same server (vaultlet's dev server, and a real
OpenBao too where the command does not change server-wide state); outputs are compared
after masking what differs between two runs by nature: timestamps, request ids, and the
secret's name (each CLI writes its own secret, so versions line up).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from support.access import unique
from support.processes import (
    VENV_BIN,
    ServerProcess,
    bao,
    free_port,
    http,
    production_config,
    start_vaultlet_config,
)

BACKEND_DIR = Path(__file__).parents[2] / "backend"


def vaultlet(server: ServerProcess, *args: str, stdin: str = "", token: str | None = None):
    """The installed `vaultlet` console script, importing this checkout's package."""
    env = server.client_env(token)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BACKEND_DIR), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [str(VENV_BIN / "vaultlet"), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def masked(result: subprocess.CompletedProcess, *names: str) -> str:
    text = f"{result.stdout}\n--stderr--\n{result.stderr}\nrc={result.returncode}"
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>", text)
    text = re.sub(r'("request_id": |request_id: )"?[^",\n]*"?', r"\1<id>", text)
    for name in filter(None, names):
        text = text.replace(name, "<name>")
    return text


def compare(server: ServerProcess, line: str, name: str = "") -> str:
    """Run ``line`` with both CLIs (``@`` stands for the secret's name, which each CLI gets its
    own of); assert equal output and return vaultlet's."""
    ours_name, theirs_name = (f"{name}-vl", f"{name}-bo") if name else ("", "")
    ours = vaultlet(server, *shlex.split(line.replace("@", ours_name)))
    theirs = bao(server, *shlex.split(line.replace("@", theirs_name)), check=False)
    assert masked(ours, ours_name, theirs_name) == masked(theirs, ours_name, theirs_name), line
    return ours.stdout


@pytest.fixture(params=["server", "openbao"])
def target(request) -> ServerProcess:
    return request.getfixturevalue(request.param)


def test_kv_verbs_on_a_version_1_mount_print_what_bao_prints(target):
    mount = unique("kv1")
    assert http(target, "POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})[0] == 204
    name = unique("s")
    for line in [
        f"kv put {mount}/@ x=1 y=two",
        f"kv get {mount}/@",
        f"kv get -format=json {mount}/@",
        f"kv get -format=yaml {mount}/@",
        f"kv get -field=y {mount}/@",
        f"kv get -field=nope {mount}/@",
        f"kv get -mount={mount} @",
        f"kv list {mount}/",
        f"kv list -format=json {mount}/",
        f"kv patch {mount}/@ y=2",
        f"kv undelete -versions=1 {mount}/@",
        f"kv destroy -versions=1 {mount}/@",
        f"kv metadata get {mount}/@",
        f"kv put {mount}/@",
        f"kv get {mount}/missing",
        f"kv delete {mount}/@",
        f"kv get {mount}/@",
    ]:
        compare(target, line, name)
    assert "Data" in compare(target, f"kv put {mount}/@ k=v", name) + compare(
        target, f"kv get {mount}/@", name
    )


def test_kv_verbs_on_a_version_2_mount_print_what_bao_prints(target):
    mount = unique("kv2")
    assert http(target, "POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})[0] == 204
    name = unique("s")
    for line in [
        f"kv put {mount}/@ user=svc n=1",
        f"kv put -cas=1 {mount}/@ user=svc2",
        f"kv put -cas=1 {mount}/@ user=svc3",
        f"kv put -format=json {mount}/@ user=svc4",
        f"kv get {mount}/@",
        f"kv get -format=json {mount}/@",
        f"kv get -format=yaml -version=1 {mount}/@",
        f"kv get -field=user {mount}/@",
        f"kv get -mount={mount} @",
        f"kv patch {mount}/@ extra=y",
        f"kv patch -method=rw {mount}/@ more=z",
        f"kv patch -method=rw {mount}/ghost-@ a=1",
        f"kv metadata put -max-versions=4 -custom-metadata=owner=me {mount}/@",
        f"kv metadata get {mount}/@",
        f"kv metadata get -format=json {mount}/@",
        f"kv metadata patch -custom-metadata=team=x {mount}/@",
        f"kv list {mount}/",
        f"kv delete -versions=1 {mount}/@",
        f"kv undelete -versions=1 {mount}/@",
        f"kv undelete {mount}/@",
        f"kv destroy -versions=1 {mount}/@",
        f"kv get -version=1 {mount}/@",
        f"kv delete {mount}/@",
        f"kv get {mount}/@",
        f"kv metadata delete {mount}/@",
        f"kv get {mount}/@",
        f"kv list {mount}/nothing",
    ]:
        compare(target, line, name)
    # What the comparison saw is what a v2 client expects, not two identical failures.
    assert "= Secret Path =" in compare(target, f"kv put {mount}/@ k=v", name)
    shown = json.loads(vaultlet(target, "kv", "get", "-format=json", f"{mount}/{name}-vl").stdout)
    assert shown["data"]["data"] == {"k": "v"} and shown["data"]["metadata"]["version"] == 1


def test_list_commands_take_detailed(target):
    for line in ["secrets list -detailed", "auth list -detailed", "secrets list", "auth list"]:
        compare(target, line)
    table = vaultlet(target, "secrets", "list", "-detailed").stdout
    assert table.split("\n")[0].split()[:6] == ["Path", "Plugin", "Accessor", "Default", "TTL", "Max"]
    assert "Deprecation Status" in table and "map[version:2]" in table


def test_token_capabilities(target):
    token = http(target, "POST", "auth/token/create", {"policies": ["default"]})[1]["auth"]["client_token"]
    for line in [
        "token capabilities sys/mounts",
        "token capabilities -format=json sys/mounts",
        f"token capabilities {token} cubbyhole/x",
        f"token capabilities -format=yaml {token} auth/token/lookup-self",
        f"token capabilities {token} sys/mounts",
    ]:
        compare(target, line)
    assert vaultlet(target, "token", "capabilities", token, "cubbyhole/x").stdout.strip() == (
        "create, delete, list, read, update"
    )
    assert vaultlet(target, "token", "capabilities").returncode == 1  # a path is needed


def test_operator_key_status(target):
    for output_format in ("table", "json", "yaml"):
        compare(target, f"operator key-status -format={output_format}")
    table = vaultlet(target, "operator", "key-status").stdout
    assert re.match(r"Key Term +1\nInstall Time +\d\d [A-Z][a-z]{2} \d\d \d\d:\d\d UTC\n", table), table


def test_format_yaml_prints_what_bao_prints(target):
    # go-yaml orders "yaml-9/" before "yaml-10/" (digit runs compare as numbers), plain
    # string order the other way round.
    base = unique("yaml")
    for suffix in ("9", "10"):
        assert http(target, "POST", f"sys/mounts/{base}-{suffix}", {"type": "kv"})[0] == 204
    listing = compare(target, "secrets list -format=yaml")
    assert listing.index(f"{base}-9/") < listing.index(f"{base}-10/")
    for line in [
        "read -format=yaml sys/mounts/cubbyhole",
        "auth list -format=yaml",
        "policy list -format=yaml",
        "write -format=yaml sys/tools/hash input=aGVsbG8=",
        "list -format=yaml auth/token/accessors",
    ]:
        compare(target, line)
    token = http(target, "POST", "auth/token/create", {"policies": ["default"], "meta": {"n": "y"}})[1]
    line = f"token lookup -format=yaml {token['auth']['client_token']}"
    # ttl ticks between the two runs; the rest must be byte for byte the same.
    ours, theirs = (re.sub(r"\n\s*ttl: \d+", "", masked(run)) for run in (
        vaultlet(target, *shlex.split(line)),
        bao(target, *shlex.split(line), check=False),
    ))  # fmt: skip
    assert ours == theirs and '"n": "y"' in ours  # go-yaml quotes y/n, which it reads as booleans
    assert vaultlet(target, "read", "-format=xml", "sys/mounts").returncode == 1


def test_operator_seal_and_unseal(tmp_path):
    port = free_port()
    server = start_vaultlet_config(tmp_path, production_config(tmp_path, port), "", port)
    try:
        init = json.loads(vaultlet(server, "operator", "init", "-format=json").stdout)
        server.root_token, key = init["root_token"], init["unseal_keys_b64"][0]

        def seal_with(cli) -> None:
            result = cli(server, "operator", "seal")
            assert result.returncode == 0 and "is sealed." in result.stdout, result
            assert http(server, "GET", "sys/seal-status", token=None)[1]["sealed"] is True

        seal_with(vaultlet)
        assert vaultlet(server, "status").returncode == 2
        assert vaultlet(server, "operator", "unseal", "A" * 43 + "=").returncode == 2
        ours = vaultlet(server, "operator", "unseal", key)
        assert (
            ours.returncode == 0 and http(server, "GET", "sys/seal-status", token=None)[1]["sealed"] is False
        )

        seal_with(lambda s, *args: bao(s, *args, check=False))
        theirs = bao(server, "operator", "unseal", key)
        assert ours.stdout == theirs.stdout and re.search(r"\nSealed +false\n", ours.stdout)

        seal_with(vaultlet)
        piped = vaultlet(server, "operator", "unseal", "-format=json", stdin=key + "\n")
        assert piped.returncode == 0 and json.loads(piped.stdout)["sealed"] is False
        assert vaultlet(server, "operator", "unseal", stdin="").returncode == 1
        reset = vaultlet(server, "operator", "unseal", "-reset", "-format=json")
        assert reset.returncode == 0 and json.loads(reset.stdout)["sealed"] is False
    finally:
        server.stop()
