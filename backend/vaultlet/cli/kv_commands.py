"""The ``kv`` commands, as ``vault kv`` / ``bao kv`` behave (command/kv_*.go).

Each command first asks ``sys/internal/ui/mounts/<path>`` which mount holds the path and
whether it is KV version 1 or 2, then speaks that version's API: ``<mount>/<key>`` for
version 1, ``<mount>/data|metadata|delete|undelete|destroy/<key>`` for version 2.
"""

from __future__ import annotations

import posixpath
from typing import Any

from vaultlet.cli import output
from vaultlet.cli.client import ApiError, Secret
from vaultlet.cli.commands import key_value_arguments, listed_keys, sanitize_path
from vaultlet.cli.context import CommandError, Context, UsageError, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.registry import command

MOUNT_FLAG = Flag("mount", FlagKind.STRING, "The KV mount; the path is then relative to it.")
VERSIONS_FLAG = Flag("versions", FlagKind.STRINGS, "Versions to act on, comma-separated or repeated.")
CAS_FLAG = Flag("cas", FlagKind.INT, "Check-and-set: the version expected now (0: only if new).", default=-1)


# -- where a KV path lives --------------------------------------------------------------------


def kv_mount(ctx: Context, path: str) -> tuple[str, int]:
    """(mount path, KV version) of the mount holding ``path``; a 404 means version 1."""
    try:
        secret = ctx.client.call("GET", f"sys/internal/ui/mounts/{path}")
    except ApiError as error:
        if error.status == 404:
            return "", 1
        raise CommandError(str(error)) from None
    data = (secret or {}).get("data") or {}
    version = str((data.get("options") or {}).get("version") or "1")
    return data.get("path", ""), 2 if version == "2" else 1


def with_prefix(path: str, mount: str, prefix: str) -> str:
    """``mount/prefix/rest`` for a version-2 path given as ``mount/rest`` (addPrefixToKVPath)."""
    if path in (mount, mount.rstrip("/")):
        return posixpath.join(mount, prefix)
    rest = path.removeprefix(mount) if path.startswith(mount) else path
    return posixpath.join(mount, prefix, rest)


def resolve(ctx: Context, path: str, prefix: str) -> tuple[str, int, str]:
    """(API path, KV version, mount) for the command's path and -mount flag."""
    path = sanitize_path(path)
    given_mount = ctx.flags.get("mount") or ""
    with reporting("Error determining the KV version"):
        mount, version = kv_mount(ctx, sanitize_path(given_mount) if given_mount else path)
    if given_mount:
        mount = mount or sanitize_path(given_mount) + "/"
        if version == 2:
            return posixpath.join(mount, prefix, path), version, mount
        return posixpath.join(mount, path), version, mount
    if version == 2:
        return with_prefix(path, mount, prefix), version, mount
    return path, version, mount


def versions_of(ctx: Context, verb: str) -> list[str]:
    versions = [v.strip() for given in ctx.flags["versions"] for v in given.split(",") if v.strip()]
    if not versions:
        raise UsageError(f'No versions provided, use the "-versions" flag to specify the version to {verb}.')
    return versions


def require_v2(version: int, message: str, exit_code: int = 1) -> None:
    if version != 2:
        raise CommandError(message, exit_code)


# -- output ------------------------------------------------------------------------------------


def pad_equal_signs(header: str, total: int) -> str:
    """``==== Data ====``: the header centred in a run of equal signs ``total`` wide."""
    signs = total - (len(header) + 2)
    signs = 4 if signs <= 0 else signs + signs % 2
    return f"{'=' * (signs // 2)} {header} {'=' * (signs // 2)}"


def header_for(header: str, data: dict[str, Any]) -> str:
    # The widest key, 4 spaces of column glue and len("Value").
    return pad_equal_signs(header, max((len(key) for key in data), default=0) + 4 + 5)


def data_table(data: dict[str, Any]) -> str:
    return output.key_value_table((key, data[key]) for key in sorted(data))


def print_path(ctx: Context, path: str, title: str) -> None:
    ctx.out(pad_equal_signs(title, len(path)))
    ctx.out(path)
    ctx.out()


def print_written(ctx: Context, secret: Secret | None, path: str, version: int) -> int:
    """What ``kv put`` / ``kv patch`` print: the new version's metadata (v2) or a banner."""
    if secret is None:
        if ctx.output_format == "table":
            ctx.out(f"Success! Data written to: {path}")
        return 0
    if ctx.field:
        return ctx.print_field(secret)
    if ctx.output_format != "table" or version != 2:
        return ctx.output_secret(secret)
    print_path(ctx, path, "Secret Path")
    metadata = secret.get("data") or {}
    ctx.out(header_for("Metadata", metadata))
    ctx.out(data_table(metadata))
    return 0


def print_banner(ctx: Context, text: str) -> int:
    if ctx.output_format == "table":
        ctx.out(text)
    return 0


# -- commands ----------------------------------------------------------------------------------


@command(
    "kv get",
    synopsis="Retrieve data from the KV store",
    usage="[options] KEY",
    flags=[MOUNT_FLAG, Flag("version", FlagKind.INT, "The version to read (v2; 0: latest).", default=0)],
)
def kv_get(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path, version, _ = resolve(ctx, path, "data")
    query = {"version": [str(ctx.flags["version"])]} if version == 2 and ctx.flags["version"] > 0 else None
    with reporting(f"Error reading {full_path}"):
        secret = ctx.client.read(full_path, query)
    if secret is None:
        ctx.err(f"No value found at {full_path}")
        return 2
    data = secret.get("data")
    payload = data.get("data") if version == 2 and isinstance(data, dict) else data
    if ctx.field:
        value = (payload or {}).get(ctx.field)
        if value is None:
            raise UsageError(f'Field "{ctx.field}" not present in secret')
        return ctx.print_raw(output.field_text(value, ctx.output_format))
    if secret.get("wrap_info") is not None or ctx.output_format != "table":
        return ctx.output_secret(secret)
    ctx.print_warnings(secret)
    if version == 2:
        print_path(ctx, full_path, "Secret Path")
        metadata = (data or {}).get("metadata")
        if isinstance(metadata, dict):
            ctx.out(header_for("Metadata", metadata))
            ctx.out(data_table(metadata))
            ctx.out()
    if isinstance(payload, dict):
        ctx.out(header_for("Data", payload))
        ctx.out(data_table(payload))
    return 0


@command(
    "kv put",
    synopsis="Set or update data in the KV store",
    usage="[options] KEY [DATA K=V...]",
    flags=[MOUNT_FLAG, CAS_FLAG],
)
def kv_put(ctx: Context) -> int:
    path, *arguments = ctx.require_arguments(1)
    if not arguments:
        raise UsageError("Must supply data")
    data = key_value_arguments(ctx, arguments)
    full_path, version, _ = resolve(ctx, path, "data")
    body: dict[str, Any] = data
    if version == 2:
        body = {"data": data, "options": {}}
        if ctx.flags["cas"] > -1:
            body["options"]["cas"] = ctx.flags["cas"]
    with reporting(f"Error writing data to {full_path}"):
        secret = ctx.client.write(full_path, body)
    return print_written(ctx, secret, full_path, version)


@command(
    "kv patch",
    synopsis="Update part of a version-2 secret",
    usage="[options] KEY [DATA K=V...]",
    flags=[
        MOUNT_FLAG,
        CAS_FLAG,
        Flag("method", FlagKind.STRING, 'How to patch: "patch" (HTTP PATCH) or "rw" (read, then write).'),
        Flag("remove-data", FlagKind.STRINGS, "Keys to remove; repeatable."),
    ],
)
def kv_patch(ctx: Context) -> int:
    path, *arguments = ctx.require_arguments(1)
    removed = ctx.flags["remove-data"]
    if not arguments and not removed:
        raise UsageError("Must supply data")
    data: dict[str, Any] = key_value_arguments(ctx, arguments) if arguments else {}
    data.update({key: None for key in removed})
    full_path, version, _ = resolve(ctx, path, "data")
    require_v2(version, "K/V engine mount must be version 2 for patch support", exit_code=2)
    method = ctx.flags["method"] or "patch"
    if method not in ("patch", "rw"):
        raise UsageError(f"Unsupported method provided to patch command: {method}")
    if method == "rw":
        secret = _read_then_write(ctx, full_path, data)
    else:
        body: dict[str, Any] = {"data": data, "options": {}}
        if ctx.flags["cas"] > -1:
            body["options"]["cas"] = ctx.flags["cas"]
        with reporting(f"Error writing data to {full_path}"):
            secret = ctx.client.call("PATCH", full_path, body)
    return print_written(ctx, secret, full_path, version)


def _read_then_write(ctx: Context, full_path: str, changes: dict[str, Any]) -> Secret | None:
    """``-method=rw``: read the latest version, merge, write it back with check-and-set."""
    with reporting(f"Error doing pre-read at {full_path}"):
        current = ctx.client.read(full_path, None)
    data = (current or {}).get("data") or {}
    if not isinstance(data.get("data"), dict):
        raise CommandError(f"No value found at {full_path}")
    merged = {key: value for key, value in {**data["data"], **changes}.items() if value is not None}
    cas = ctx.flags["cas"] if ctx.flags["cas"] > -1 else (data.get("metadata") or {}).get("version", 0)
    with reporting(f"Error writing data to {full_path}"):
        return ctx.client.write(full_path, {"data": merged, "options": {"cas": cas}})


@command("kv list", synopsis="List data or secrets", usage="[options] PATH", flags=[MOUNT_FLAG])
def kv_list(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path, _version, _ = resolve(ctx, path, "metadata")
    with reporting(f"Error listing {full_path}"):
        secret = ctx.client.list(full_path)
    keys = listed_keys(secret)
    if keys is None:
        if ctx.output_format != "table":
            ctx.output_data({})
        else:
            ctx.err(f"No value found at {full_path}")
        return 2
    if ctx.output_format != "table":
        return ctx.output_data(keys)
    ctx.print_warnings(secret)
    ctx.out(output.list_table(keys))
    return 0


@command(
    "kv delete",
    synopsis="Delete versions of a secret (v2) or the secret (v1)",
    usage="[options] KEY",
    flags=[MOUNT_FLAG, VERSIONS_FLAG],
)
def kv_delete(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path, version, mount = resolve(ctx, path, "data")
    with reporting(f"Error deleting {full_path}"):
        if version == 2 and ctx.flags["versions"]:
            target = _sibling(full_path, mount, "data", "delete")
            ctx.client.write(target, {"versions": versions_of(ctx, "delete")})
        else:
            ctx.client.delete(full_path)
    return print_banner(ctx, f"Success! Data deleted (if it existed) at: {full_path}")


def _versions_command(ctx: Context, verb: str) -> int:
    (path,) = ctx.require_arguments(1, 1)
    versions = versions_of(ctx, verb)
    full_path, version, _ = resolve(ctx, path, verb)
    require_v2(version, f"{verb.capitalize()} not supported on KV Version 1")
    with reporting(f"Error writing data to {full_path}"):
        secret = ctx.client.write(full_path, {"versions": versions})
    if secret is not None:
        return ctx.output_secret(secret)
    return print_banner(ctx, f"Success! Data written to: {full_path}")


@command(
    "kv undelete",
    synopsis="Undelete versions of a secret",
    usage="[options] KEY",
    flags=[MOUNT_FLAG, VERSIONS_FLAG],
)
def kv_undelete(ctx: Context) -> int:
    return _versions_command(ctx, "undelete")


@command(
    "kv destroy",
    synopsis="Permanently destroy versions of a secret",
    usage="[options] KEY",
    flags=[MOUNT_FLAG, VERSIONS_FLAG],
)
def kv_destroy(ctx: Context) -> int:
    return _versions_command(ctx, "destroy")


def _sibling(full_path: str, mount: str, prefix: str, other: str) -> str:
    """``mount/other/key`` for ``mount/prefix/key``."""
    rest = full_path.removeprefix(posixpath.join(mount, prefix)).lstrip("/")
    return posixpath.join(mount, other, rest)


@command(
    "kv enable-versioning",
    synopsis="Turn a KV version 1 mount into version 2",
    usage="[options] PATH",
)
def kv_enable_versioning(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    mount = sanitize_path(path) + "/"
    with reporting(f"Error tuning secrets engine {mount}"):
        ctx.client.call("POST", f"sys/mounts/{sanitize_path(path)}/tune", {"options": {"version": "2"}})
    ctx.out(f"Success! Tuned the secrets engine at: {mount}")
    return 0


# -- metadata ----------------------------------------------------------------------------------

METADATA_FLAGS = [
    MOUNT_FLAG,
    Flag("max-versions", FlagKind.INT, "Versions to keep (0: the mount's setting).", default=-1),
    Flag("cas-required", FlagKind.BOOL, "Require check-and-set on every write."),
    Flag("delete-version-after", FlagKind.STRING, "Delete versions this long after they are written."),
    Flag("custom-metadata", FlagKind.MAP, "key=value custom metadata; repeatable."),
]


def _metadata_body(ctx: Context) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if ctx.flags["max-versions"] >= 0:
        body["max_versions"] = ctx.flags["max-versions"]
    if "cas-required" in ctx.given:
        body["cas_required"] = ctx.flags["cas-required"]
    if ctx.flags["delete-version-after"]:
        body["delete_version_after"] = ctx.flags["delete-version-after"]
    if ctx.flags["custom-metadata"]:
        body["custom_metadata"] = dict(ctx.flags["custom-metadata"])
    return body


def _metadata_path(ctx: Context, path: str) -> str:
    full_path, version, _ = resolve(ctx, path, "metadata")
    require_v2(version, "Metadata not supported on KV Version 1")
    return full_path


@command(
    "kv metadata get",
    synopsis="Read a secret's metadata and versions",
    usage="[options] KEY",
    flags=[MOUNT_FLAG],
)
def kv_metadata_get(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path = _metadata_path(ctx, path)
    with reporting(f"Error reading {full_path}"):
        secret = ctx.client.read(full_path, None)
    if secret is None:
        ctx.err(f"No value found at {full_path}")
        return 2
    if ctx.field or ctx.output_format != "table":
        return ctx.output_secret(secret)
    data = dict(secret.get("data") or {})
    versions = data.pop("versions", None) or {}
    print_path(ctx, full_path, "Metadata Path")
    ctx.out(header_for("Metadata", data))
    ctx.out(data_table(data))
    for number in sorted(versions, key=int):
        ctx.out()
        ctx.out(header_for(f"Version {number}", versions[number]))
        ctx.out(data_table(versions[number]))
    return 0


@command("kv metadata put", synopsis="Set a secret's metadata", usage="[options] KEY", flags=METADATA_FLAGS)
def kv_metadata_put(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path = _metadata_path(ctx, path)
    with reporting(f"Error writing data to {full_path}"):
        secret = ctx.client.write(full_path, _metadata_body(ctx))
    return print_written(ctx, secret, full_path, 1)


@command(
    "kv metadata patch",
    synopsis="Update part of a secret's metadata",
    usage="[options] KEY",
    flags=METADATA_FLAGS,
)
def kv_metadata_patch(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path = _metadata_path(ctx, path)
    with reporting(f"Error patching metadata at {full_path}"):
        secret = ctx.client.call("PATCH", full_path, _metadata_body(ctx))
    return print_written(ctx, secret, full_path, 1)


@command(
    "kv metadata delete",
    synopsis="Delete a secret with all its versions and metadata",
    usage="[options] KEY",
    flags=[MOUNT_FLAG],
)
def kv_metadata_delete(ctx: Context) -> int:
    (path,) = ctx.require_arguments(1, 1)
    full_path = _metadata_path(ctx, path)
    with reporting(f"Error deleting {full_path}"):
        ctx.client.delete(full_path)
    return print_banner(ctx, f"Success! Data deleted (if it existed) at: {full_path}")
