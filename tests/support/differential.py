"""The machinery of the differential sequence test: steps, placeholders and answer shapes.

A step is one HTTP request or one ``bao`` command. Steps run in order against one
server; what a step saves (a token, an accessor, a lease id) later steps name as
``<<name>>``, so each server gets its own ids while the sequence stays the same.

Answers are compared by *shape*: the status code (or the CLI's exit code) and, for a
JSON body, its key sets and value types all the way down. Values themselves (ids,
tokens, accessors, timestamps, TTLs that tick) are not compared, so nothing needs
normalising beyond that; keys that name volatile things (a lease id as a map key)
are normalised by ``VOLATILE_KEY``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from support.processes import VENV_BIN, ServerProcess, http

PLACEHOLDER = re.compile(r"<<(\w+)>>")
# Map keys that are ids rather than names: UUIDs, hmac-sha256 hashes, accessors.
VOLATILE_KEY = re.compile(r"^(hmac-sha256:)?[0-9a-f]{8}-[0-9a-f]{4}-|^[0-9a-f]{40,}$|^[A-Za-z0-9]{24}$")


@dataclass
class Step:
    """One request (``method`` and ``path``) or, with ``cli``, one ``bao`` command."""

    method: str = ""
    path: str = ""
    body: Any = None
    token: str | None = ""  # "" = root, None = no token, "<<name>>" = a saved token
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cli: list[str] | None = None
    stdin: str | None = None
    save: dict[str, str] = field(default_factory=dict)  # name -> dotted path in the answer
    name: str = ""  # the key in the difference tables, where method and path are not enough
    # Compare the exit status only: the output depends on the reference server's timing
    # (`bao secrets move` prints a "Waiting for terminal status" line while OpenBao's
    # background move runs, and none once it is done).
    status_only: bool = False
    # After a sys/remount: wait until the migration it started has ended (OpenBao moves in
    # the background, so the next step could otherwise see the mount half-moved).
    await_migration: bool = False

    @property
    def key(self) -> str:
        """The step's name in the difference tables: method and path as written (placeholders
        unexpanded), or ``bao`` and its arguments; ``name`` when given."""
        if self.name:
            return self.name
        if self.cli is not None:
            return "bao " + " ".join(self.cli)
        return f"{self.method} {self.path}"


def H(method: str, path: str, body: Any = None, **options) -> Step:  # noqa: N802 - reads like a table
    return Step(method=method, path=path, body=body, **options)


def C(*args: str, **options) -> Step:  # noqa: N802
    return Step(cli=list(args), **options)


def expand(value: Any, saved: dict[str, Any]) -> Any:
    """``value`` with every ``<<name>>`` replaced by what an earlier step saved."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return saved.get(whole.group(1), f"<unsaved {whole.group(1)}>")
        return PLACEHOLDER.sub(lambda m: str(saved.get(m.group(1), f"<unsaved {m.group(1)}>")), value)
    if isinstance(value, list):
        return [expand(item, saved) for item in value]
    if isinstance(value, dict):
        return {expand(k, saved): expand(v, saved) for k, v in value.items()}
    return value


def dig(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        elif isinstance(document, dict):
            document = document.get(part)
        else:
            return None
    return document


def shape(value: Any, at: str = "") -> dict[str, str]:
    """Key sets and value types, flattened: ``{"data.keys[]": "str", ...}``. A list's
    elements share one path (``[]``), so lengths are not compared, only what is in them."""
    if isinstance(value, dict):
        found = {at or ".": "object"}
        for key, item in value.items():
            name = "<id>" if VOLATILE_KEY.search(key) else key
            found.update(shape(item, f"{at}.{name}" if at else name))
        return found
    if isinstance(value, list):
        found = {at or ".": "list"}
        for item in value:
            found.update(shape(item, f"{at}[]"))
        return found
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif value is None:
        kind = "null"
    else:
        kind = "string"
    return {at or ".": kind}


def differences(ours: Answer, theirs: Answer, ignored: Iterable[str] = ()) -> list[str]:
    """What differs between vaultlet's answer and OpenBao's, one line each; paths matching
    one of the ``ignored`` patterns (fnmatch) are left out."""
    found = []
    if ours.status != theirs.status:
        found.append(f"status: vaultlet {ours.status}, openbao {theirs.status}")
    for path in sorted(set(ours.shape) | set(theirs.shape)):
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in ignored):
            continue
        mine, reference = ours.shape.get(path), theirs.shape.get(path)
        if mine != reference:
            found.append(f"{path}: vaultlet {mine or 'absent'}, openbao {reference or 'absent'}")
    return found


@dataclass
class Answer:
    status: int
    shape: dict[str, str]
    text: str


def _await_migration(server: ServerProcess, migration_id: str | None) -> None:
    if not migration_id:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = http(server, "GET", f"sys/remount/status/{migration_id}")[1] or {}
        if dig(body, "data.migration_info.status") != "in-progress":
            return
        time.sleep(0.1)


def run_step(server: ServerProcess, step: Step, saved: dict[str, Any], home_env: dict[str, str]) -> Answer:
    token = expand(step.token, saved) if step.token else step.token
    if step.cli is not None:
        return _run_cli(server, step, saved, token, home_env)
    path = expand(step.path, saved)
    body = expand(step.body, saved)
    status, parsed, text = http(
        server, step.method, path, body, token=token, headers=step.headers, raw=step.raw
    )
    if step.await_migration and isinstance(parsed, dict):
        _await_migration(server, parsed.get("migration_id") or dig(parsed, "data.migration_id"))
    for name, dotted in step.save.items():
        saved[name] = dig(parsed, dotted)
    return Answer(status, shape(parsed) if parsed is not None else ({".": "text"} if text else {}), text)


def _run_cli(server: ServerProcess, step: Step, saved, token, home_env) -> Answer:
    env = server.client_env(token or None, **home_env)
    if token is None:
        env.pop("VAULT_TOKEN", None)
    args = [str(expand(arg, saved)) for arg in step.cli]
    result = subprocess.run(
        [str(VENV_BIN / "bao"), *args],
        env=env,
        input=expand(step.stdin, saved),
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        parsed = json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        parsed = None
    for name, dotted in step.save.items():
        saved[name] = dig(parsed, dotted)
    if step.status_only:
        answer_shape = {}
    elif parsed is not None:
        answer_shape = shape(parsed)
    else:
        # Table output: the first column (the keys) is what both must print.
        rows = result.stdout.splitlines()[2:]
        answer_shape = {f"row {line.split()[0]}": "row" for line in rows if line.strip()}
    return Answer(result.returncode, answer_shape, result.stdout + result.stderr)


def run_sequence(server: ServerProcess, steps: list[Step]) -> list[Answer]:
    saved: dict[str, Any] = {}
    home = server.workdir / "differential-home"
    home.mkdir(exist_ok=True)
    return [run_step(server, step, saved, {"HOME": str(home)}) for step in steps]
