"""Server-level commands: ``status`` and the ``operator`` verbs (init, seal, unseal, key-status)."""

from __future__ import annotations

import os
from typing import Any

from vaultlet.cli import output
from vaultlet.cli.client import ApiError, ClientError
from vaultlet.cli.context import CommandError, Context, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.registry import command

# api.SealStatusResponse field order (OpenBao's), for -format=json; None marks omitempty fields.
SEAL_STATUS_FIELDS: dict[str, Any] = {
    "type": "",
    "initialized": False,
    "sealed": False,
    "t": 0,
    "n": 0,
    "progress": 0,
    "nonce": "",
    "version": "",
    "commit_date": "",
    "migration": False,
    "cluster_name": None,
    "cluster_id": None,
    "recovery_seal": False,
    "storage_type": None,
    "build_date": "",
}
# Fields the status command adds from sys/leader; all but ha_enabled are omitempty.
LEADER_FIELDS = (
    "is_self",
    "active_time",
    "leader_address",
    "leader_cluster_address",
    "raft_committed_index",
    "raft_applied_index",
)
# Go's zero time.Time, which sys/leader reports when there is no active node.
ZERO_TIME = "0001-01-01T00:00:00Z"


@command("status", synopsis="Print seal and HA status")
def status(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    try:
        seal_status = ctx.client.raw_json("GET", "sys/seal-status") or {}
    except ClientError as error:
        # 2 is reserved for "sealed", so failures exit with 1.
        raise CommandError(f"Error checking seal status: {error}", exit_code=1) from None
    leader = _leader_status(ctx)
    if ctx.output_format == "table":
        ctx.out(output.table(("Key", "Value"), status_rows(seal_status, leader)))
    else:
        ctx.output_data(status_document(seal_status, leader))
    return 2 if seal_status.get("sealed") else 0


def _leader_status(ctx: Context) -> dict[str, Any]:
    try:
        return ctx.client.raw_json("GET", "sys/leader") or {}
    except ApiError as error:
        # A sealed HA node cannot answer sys/leader; that in itself means HA is on.
        if any("Vault is sealed" in message for message in error.errors):
            return {"ha_enabled": True}
        raise CommandError(f"Error checking leader status: {error}", exit_code=1) from None
    except ClientError as error:
        raise CommandError(f"Error checking leader status: {error}", exit_code=1) from None


def status_rows(seal: dict[str, Any], leader: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows of ``vault status``'s table, in the CLI's order and with its conditions."""
    sealed = bool(seal.get("sealed"))
    rows = [
        ("Seal Type", seal.get("type", "")),
        ("Initialized", output.go_value(bool(seal.get("initialized")))),
        ("Sealed", output.go_value(sealed)),
        ("Total Shares", str(seal.get("n", 0))),
        ("Threshold", str(seal.get("t", 0))),
    ]
    if sealed:
        rows.append(("Unseal Progress", f"{seal.get('progress', 0)}/{seal.get('t', 0)}"))
        rows.append(("Unseal Nonce", seal.get("nonce", "")))
    if seal.get("migration"):
        rows.append(("Seal Migration in Progress", "true"))
    optional = (
        ("Version", "version"),
        ("Build Date", "build_date"),
        ("Commit Date", "commit_date"),
        ("Storage Type", "storage_type"),
    )
    rows.extend((title, seal[key]) for title, key in optional if seal.get(key))
    if seal.get("cluster_name") and seal.get("cluster_id"):
        rows.append(("Cluster Name", seal["cluster_name"]))
        rows.append(("Cluster ID", seal["cluster_id"]))
    rows.append(("HA Enabled", output.go_value(bool(leader.get("ha_enabled")))))
    if leader.get("ha_enabled") and not sealed:
        rows.extend(_ha_rows(leader))
    for title, key in (
        ("Raft Committed Index", "raft_committed_index"),
        ("Raft Applied Index", "raft_applied_index"),
    ):
        if leader.get(key):
            rows.append((title, str(leader[key])))
    return rows


def _ha_rows(leader: dict[str, Any]) -> list[tuple[str, str]]:
    is_self = bool(leader.get("is_self"))
    rows = [
        ("HA Cluster", leader.get("leader_cluster_address", "")),
        ("HA Mode", "active" if is_self else "standby"),
    ]
    active_time = leader.get("active_time")
    if is_self and active_time and active_time != ZERO_TIME:
        rows.append(("Active Since", active_time))
    if not is_self and leader.get("leader_address"):
        rows.append(("Active Node Address", leader["leader_address"]))
    return rows


def status_document(seal: dict[str, Any], leader: dict[str, Any]) -> dict[str, Any]:
    """``vault status -format=json``: the seal status plus the leader fields that are set."""
    document = {
        key: seal.get(key, zero)
        for key, zero in SEAL_STATUS_FIELDS.items()
        if zero is not None or seal.get(key)
    }
    if seal.get("warnings"):
        document["warnings"] = seal["warnings"]
    document["ha_enabled"] = bool(leader.get("ha_enabled"))
    for key in LEADER_FIELDS:
        if leader.get(key) and leader[key] != ZERO_TIME:
            document[key] = leader[key]
    return document


@command(
    "operator init",
    synopsis="Initialize a server",
    flags=[
        Flag("key-shares", FlagKind.INT, "Number of unseal key shares.", 1, ("n",)),
        Flag("key-threshold", FlagKind.INT, "Shares needed to unseal.", 1, ("t",)),
        Flag(
            "key-file",
            FlagKind.STRING,
            "Write the unseal keys to this file (mode 0600) instead of printing them.",
        ),
    ],
)
def operator_init(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    shares, threshold = ctx.flags["key-shares"], ctx.flags["key-threshold"]
    with reporting("Error initializing"):
        answer = ctx.client.raw_json(
            "PUT", "sys/init", {"secret_shares": shares, "secret_threshold": threshold}
        )
    answer = answer or {}
    key_file = ctx.flags["key-file"]
    if key_file:
        write_key_file(key_file, _unseal_keys(answer))
    if ctx.output_format != "table":
        return ctx.output_data(init_document(answer, shares, threshold, include_keys=not key_file))
    ctx.out(init_text(answer, shares, threshold, key_file))
    return 0


def _unseal_keys(answer: dict[str, Any]) -> list[str]:
    """The base64 form of each key share when the server sent it, else the hex form."""
    keys = answer.get("keys") or []
    encoded = answer.get("keys_base64") or []
    return encoded if len(encoded) == len(keys) else keys


def write_key_file(path: str, keys: list[str]) -> None:
    """One key per line, created readable by the owner only."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            # The file may have existed with looser permissions.
            os.fchmod(handle.fileno(), 0o600)
            handle.write("".join(f"{key}\n" for key in keys))
    except OSError as error:
        raise CommandError(f"Error writing unseal keys to {path}: {error}") from None


def init_text(answer: dict[str, Any], shares: int, threshold: int, key_file: str | None) -> str:
    """What ``vault operator init`` prints: keys, root token, then the safekeeping advice."""
    keys = _unseal_keys(answer)
    if key_file:
        lines = [f"Unseal Keys: written to {key_file}"]
    else:
        lines = [f"Unseal Key {number}: {key}" for number, key in enumerate(keys, start=1)]
    lines += ["", f"Initial Root Token: {answer.get('root_token', '')}", ""]
    if not keys:
        return "\n".join([*lines, "Success! Vault is initialized"])
    where = f"written to {key_file}" if key_file else "printed above"
    advice = (
        f"Vault initialized with {shares} key shares and a key threshold of {threshold}. Please "
        f"securely distribute the key shares {where}. When the Vault is re-sealed, restarted, or "
        f"stopped, you must supply at least {threshold} of these keys to unseal it before it can start "
        "servicing requests.",
        f"Vault does not store the generated root key. Without at least {threshold} keys to "
        "reconstruct the root key, Vault will remain permanently sealed!",
    )
    return "\n".join(lines) + "\n" + "\n\n".join(output.wrap_at_length(paragraph) for paragraph in advice)


def init_document(answer: dict[str, Any], shares: int, threshold: int, include_keys: bool) -> dict[str, Any]:
    """``vault operator init -format=json`` (the CLI's machineInit struct)."""
    return {
        "unseal_keys_b64": list(answer.get("keys_base64") or []) if include_keys else [],
        "unseal_keys_hex": list(answer.get("keys") or []) if include_keys else [],
        "unseal_shares": shares,
        "unseal_threshold": threshold,
        "recovery_keys_b64": list(answer.get("recovery_keys_base64") or []),
        "recovery_keys_hex": list(answer.get("recovery_keys") or []),
        "recovery_keys_shares": 0,
        "recovery_keys_threshold": 0,
        "root_token": answer.get("root_token", ""),
    }


@command("operator seal", synopsis="Seal the server (and every server sharing its database)")
def operator_seal(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    with reporting("Error sealing"):
        ctx.client.call("PUT", "sys/seal")
    ctx.out("Success! Vault is sealed.")
    return 0


@command(
    "operator unseal",
    synopsis="Unseal the server with its key",
    usage="[options] [KEY]",
    flags=[Flag("reset", FlagKind.BOOL, "Discard the unseal progress so far.")],
)
def operator_unseal(ctx: Context) -> int:
    arguments = ctx.require_arguments(0, 1)
    if ctx.flags["reset"]:
        body: dict[str, Any] = {"reset": True}
    else:
        key = arguments[0] if arguments else _prompt_for_key(ctx)
        body = {"key": key.strip()}
    with reporting("Error unsealing"):
        seal_status = ctx.client.raw_json("PUT", "sys/unseal", body) or {}
    # Like the Vault CLI, answer with the seal status (and HA status once unsealed).
    leader = {} if seal_status.get("sealed") else _leader_status(ctx)
    if ctx.output_format == "table":
        ctx.out(output.table(("Key", "Value"), status_rows(seal_status, leader)))
    else:
        ctx.output_data(status_document(seal_status, leader))
    return 0


@command("operator key-status", synopsis="Print the current term and install time of the data key")
def operator_key_status(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    with reporting("Error reading key status"):
        answer = ctx.client.raw_json("GET", "sys/key-status") or {}
    status = answer.get("data") or answer
    # api.KeyStatus's field order, for -format=json and yaml.
    document = {key: status.get(key) for key in ("term", "install_time", "encryptions")}
    if ctx.output_format != "table":
        return ctx.output_data(document)
    rows = [
        ("Key Term", str(document["term"])),
        ("Install Time", _rfc822(document["install_time"] or "")),
        ("Encryption Count", str(document["encryptions"])),
    ]
    ctx.out(output.columnize(rows))
    return 0


def _rfc822(timestamp: str) -> str:
    """Go's time.RFC822 (``02 Dec 26 03:19 UTC``), as the Vault CLI prints the install time."""
    from datetime import datetime

    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return moment.strftime("%d %b %y %H:%M ") + (moment.tzname() or "UTC")


def _prompt_for_key(ctx: Context) -> str:
    """The key from the terminal (not echoed), or the first line of stdin when piped."""
    if ctx.stdin.isatty():
        import getpass

        return getpass.getpass("Unseal Key (will be hidden): ")
    key = ctx.stdin.readline()
    if not key.strip():
        raise CommandError("Error unsealing: no unseal key given", exit_code=1)
    return key
