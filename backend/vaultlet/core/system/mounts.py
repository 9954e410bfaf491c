"""sys/mounts and sys/auth: enable, read, tune and disable engines at any path."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from vaultlet.core.mounts import (
    AUTH_CLASS,
    LIST_SETTINGS,
    LISTING_VISIBILITIES,
    LISTING_VISIBILITY,
    PROTECTED_PREFIXES,
    SECRET_CLASS,
    MountEntry,
    new_accessor,
    normalize_mount_path,
)
from vaultlet.core.router import CUBBYHOLE_ENTRY
from vaultlet.durations import DurationError, parse_duration
from vaultlet.engines import registry
from vaultlet.engines.auth.tokenutil import DEFAULT_MOUNT_TOKEN_TYPE, MOUNT_TOKEN_TYPES
from vaultlet.engines.secrets.kv import KV_TYPES, kv_version
from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, MAP, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import DELETE, READ, UPDATE, Response

_TTL_KEYS = ("default_lease_ttl", "max_lease_ttl")

_MOUNT_FIELDS = {
    "path": Field(STRING, "Path to mount the backend at", in_path=True),
    "type": Field(STRING, "The type of the backend, e.g. aws"),
    "description": Field(STRING, "User-friendly description of this mount"),
    "config": Field(
        MAP,
        "Configuration: default_lease_ttl, max_lease_ttl, force_no_cache, listing_visibility, "
        "audit_non_hmac_request_keys, audit_non_hmac_response_keys, passthrough_request_headers, "
        "allowed_response_headers",
    ),
    "options": Field(MAP, "Engine-specific options"),
    "local": Field(BOOL, "Mark the mount as local (not replicated)"),
    "seal_wrap": Field(BOOL, "Seal-wrap the mount's storage"),
    "external_entropy_access": Field(BOOL, "Not supported; accepted for compatibility"),
    "plugin_name": Field(STRING, "Legacy alias of type"),
    "plugin_version": Field(STRING, "Ignored: engines are built in"),
}


def _tables(backend, mount_class: str):
    router = backend.core.router
    return router.auth_mounts if mount_class == AUTH_CLASS else router.secret_mounts


def _ttl_config(raw: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse TTLs in a mount config; an empty string keeps the current value (CLI tune)."""
    config = dict(current or {})
    for key in _TTL_KEYS:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if value == "system":
            config[key] = 0
            continue
        try:
            seconds = parse_duration(value)
        except DurationError as error:
            raise UserError(f"invalid {key}: {error}") from None
        if seconds < 0:
            raise UserError(f"invalid {key}: must not be negative")
        config[key] = seconds
    if "force_no_cache" in raw and raw["force_no_cache"] is not None:
        config["force_no_cache"] = bool(raw["force_no_cache"])
    default, maximum = config.get("default_lease_ttl") or 0, config.get("max_lease_ttl") or 0
    if default and maximum and default > maximum:
        raise UserError("default lease TTL cannot be greater than max lease TTL")
    return config


def _comma_list(name: str, value: Any) -> list[str]:
    """A list setting given as a list or as comma-separated text (Vault's
    expandStringValsWithCommas), trimmed, without empty items."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        raise UserError("unable to convert given mount config information")
    return [item.strip() for item in items if item.strip()]


def _checked_visibility(value: Any) -> str:
    text = "" if value is None else str(value)
    if text not in LISTING_VISIBILITIES:
        raise UserError(f"invalid listing_visibility {text}")
    return text


def _mount_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` of a mount being enabled: TTLs and the settings Vault keeps beside them."""
    if not isinstance(raw, dict):
        raise UserError("unable to convert given mount config information")
    config = _ttl_config(raw)
    visibility = _checked_visibility(raw.get(LISTING_VISIBILITY))
    if visibility:
        config[LISTING_VISIBILITY] = visibility
    for name in LIST_SETTINGS:
        values = _comma_list(name, raw.get(name))
        if values:
            config[name] = values
    return config


def _token_type_config(config: dict[str, Any], raw: dict[str, Any], mount_class: str, tuning: bool):
    """An auth mount's ``token_type`` (the type its logins issue; see tokenutil): checked and
    kept. A secrets mount ignores it when enabled and refuses it when tuned, as Vault does."""
    value = raw.get("token_type")
    if value is None:
        return config
    if mount_class != AUTH_CLASS:
        if tuning:
            raise UserError("'token_type' can only be modified on auth mounts")
        return config
    if value not in ("", *MOUNT_TOKEN_TYPES):
        raise UserError("invalid value for 'token_type'")
    return {**config, "token_type": value or DEFAULT_MOUNT_TOKEN_TYPE}


def _check_mountable(path: str, mount_class: str) -> None:
    if mount_class == SECRET_CLASS and path.startswith(PROTECTED_PREFIXES):
        raise UserError(f"cannot mount '{path}' as it is a reserved path")
    if mount_class == AUTH_CLASS and path == "token/":
        raise UserError("token credential backend cannot be instantiated")


def _enable(backend, fields, mount_class: str) -> None:
    path = normalize_mount_path(fields["path"])
    engine_type = fields["type"] or fields["plugin_name"]
    if not engine_type:
        raise UserError("backend type must be specified as a string")
    _check_mountable(path, mount_class)
    # Vault stores the options it was given, and `{}` when none were: only its own
    # built-in mounts (sys/, cubbyhole/, auth/token/) have none at all.
    options = {str(k): "" if v is None else str(v) for k, v in (fields["options"] or {}).items()}
    if mount_class == AUTH_CLASS:
        registry.auth_method(engine_type)
    else:
        engine_type, options = _kv_alias(engine_type, options)
        registry.secret_engine(engine_type, options)
    accessor_prefix = f"auth_{engine_type}" if mount_class == AUTH_CLASS else engine_type
    entry = MountEntry(
        path=path,
        type=engine_type,
        mount_class=mount_class,
        description=fields["description"],
        accessor=new_accessor(accessor_prefix),
        config=_token_type_config(_mount_config(fields["config"]), fields["config"], mount_class, False),
        options=options,
        local=fields["local"],
        seal_wrap=fields["seal_wrap"],
    )
    _tables(backend, mount_class).add(entry)


def _disable(backend, fields, mount_class: str) -> None:
    core = backend.core
    path = normalize_mount_path(fields["path"])
    if mount_class == AUTH_CLASS and path == "token/":
        raise UserError("token credential backend cannot be disabled")
    if mount_class == SECRET_CLASS and path.startswith(PROTECTED_PREFIXES):
        raise UserError(f'cannot unmount "{path}"')
    table = _tables(backend, mount_class)
    entry = table.find(path)
    if entry is None:
        return None  # Vault answers 204 for a mount that is not there
    revoke_leases(core, entry, "the mount stays enabled")
    mounted = core.router.backend(entry)
    table.remove(path)
    mounted.cleanup()
    mounted.storage.clear()
    core.router.forget_backend(entry.uuid)
    return None


def revoke_leases(core, entry: MountEntry, consequence: str) -> None:
    """Every lease of the mount, and (for an auth mount) every token it issued, revoked
    through its backend, as Vault does before an unmount or a remount."""
    prefix = entry.full_path if entry.mount_class == AUTH_CLASS else ""
    failed = core.expiration.revoke_for_mount(entry.uuid, prefix)
    if failed:
        raise UserError(
            f"failed to revoke {len(failed)} lease(s) under {entry.full_path}; {consequence} "
            "until they can be revoked (or use sys/leases/revoke-force)"
        )


def mounts_list(backend, request, fields) -> Response:
    entries = [e for e in backend.core.router.all_entries() if e.mount_class == SECRET_CLASS]
    return Response(data={e.path: e.describe() for e in entries}, data_at_top_level=True)


def auth_list(backend, request, fields) -> Response:
    entries = [e for e in backend.core.router.all_entries() if e.mount_class == AUTH_CLASS]
    return Response(data={e.path: e.describe() for e in entries}, data_at_top_level=True)


def mount_read(backend, request, fields) -> Response:
    path = normalize_mount_path(fields["path"])
    entry = next(
        (e for e in backend.core.router.all_entries() if e.mount_class == SECRET_CLASS and e.path == path),
        None,
    )
    if entry is None:
        raise UserError(f"No secret engine mount at {path}")
    return Response(data=entry.describe(), data_at_top_level=True)


def auth_read(backend, request, fields) -> Response:
    path = normalize_mount_path(fields["path"])
    entry = backend.core.router.auth_entry(path)
    if entry is None:
        raise UserError(f"No auth engine at {path}")
    return Response(data=entry.describe(), data_at_top_level=True)


def mount_enable(backend, request, fields) -> None:
    _enable(backend, fields, SECRET_CLASS)


def mount_disable(backend, request, fields) -> None:
    if normalize_mount_path(fields["path"]) == CUBBYHOLE_ENTRY.path:
        raise UserError(f'cannot unmount "{CUBBYHOLE_ENTRY.path}"')
    return _disable(backend, fields, SECRET_CLASS)


def auth_enable(backend, request, fields) -> None:
    _enable(backend, fields, AUTH_CLASS)


def auth_disable(backend, request, fields) -> None:
    return _disable(backend, fields, AUTH_CLASS)


def _tunable_entry(backend, request, raw_path: str) -> MountEntry:
    path = raw_path.strip("/") + "/"
    if request.relative_path.startswith("auth/"):
        path = "auth/" + path
    entry = next((e for e in backend.core.router.all_entries() if e.full_path == path), None)
    if entry is None:
        raise UserError(f"cannot fetch mount config for path {path}: no mount found")
    return entry


def tune_read(backend, request, fields) -> Response:
    entry = _tunable_entry(backend, request, fields["path"])
    config = backend.core.config
    data: dict[str, Any] = {
        "default_lease_ttl": entry.default_lease_ttl or config.default_lease_ttl,
        "description": entry.description,
        "force_no_cache": bool(entry.config.get("force_no_cache", False)),
        "max_lease_ttl": entry.max_lease_ttl or config.max_lease_ttl,
        **entry.extra_settings(),
    }
    if entry.options:
        data["options"] = entry.options  # Vault shows options only when there are some
    if entry.mount_class == AUTH_CLASS:
        data["token_type"] = entry.config.get("token_type") or DEFAULT_MOUNT_TOKEN_TYPE
    return Response(data=dict(sorted(data.items())), data_at_top_level=True)


# What Vault lets an operator tune on sys/ and cubbyhole/ (the parameter is named in the
# refusal); force_no_cache is accepted and ignored on every mount, as in Vault.
_BUILTIN_TUNABLE = {"audit_non_hmac_request_keys", "audit_non_hmac_response_keys", "force_no_cache"}


def _check_tunable(entry: MountEntry, supplied: set[str]) -> None:
    if entry.uuid in ("system", "cubbyhole"):
        refused = sorted(supplied - _BUILTIN_TUNABLE)
        if refused:
            raise UserError(f"cannot tune parameter {refused[0]} of {entry.full_path}")
    if entry.uuid == "token" and supplied & set(_TTL_KEYS):
        # vaultlet's token store takes its TTLs from the server configuration; accepting a
        # tune it would not honour would be a silent difference.
        raise UserError(
            "tuning the TTLs of auth/token/ is not supported by vaultlet: set default_lease_ttl "
            "and max_lease_ttl in the server configuration"
        )


def tune_write(backend, request, fields) -> None:
    # A copy: the router's entries are shared by every request of this process.
    entry = replace(_tunable_entry(backend, request, fields["path"]))
    supplied = {name for name, value in fields.supplied().items() if name != "path"}
    supplied -= {name for name in _TTL_KEYS if fields.raw.get(name) in (None, "")}
    if "token_type" in supplied and entry.type == "token":
        raise UserError("'token_type' cannot be set for 'token' or 'ns_token' auth mounts")
    _check_tunable(entry, supplied)
    entry.config = _ttl_config({key: fields.raw.get(key) for key in _TTL_KEYS}, entry.config)
    entry.config = _token_type_config(entry.config, fields.raw, entry.mount_class, True)
    if "description" in fields:
        entry.description = fields["description"]
    if LISTING_VISIBILITY in fields:
        visibility = _checked_visibility(fields[LISTING_VISIBILITY])
        entry.config = _with_setting(entry.config, LISTING_VISIBILITY, visibility)
    for name in LIST_SETTINGS:
        if name in fields:
            entry.config = _with_setting(entry.config, name, fields[name])
    if "options" in fields and fields["options"]:
        entry.options = _tuned_options(entry, fields["options"])
    if entry.is_builtin:
        backend.core.router.tune_builtin(entry)
    else:
        table = _tables(backend, entry.mount_class)
        table.replace(entry)


def _with_setting(config: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """An empty value unsets a setting (Vault then no longer shows it)."""
    updated = {k: v for k, v in config.items() if k != name}
    if value:
        updated[name] = value
    return updated


def _tuned_options(entry: MountEntry, wanted: dict[str, Any]) -> dict[str, str]:
    """Vault upserts options; an empty value removes its key (except ``version``)."""
    options = dict(entry.options or {})
    for key, value in wanted.items():
        text = "" if value is None else str(value)
        if text or key == "version":
            options[str(key)] = text
        else:
            options.pop(str(key), None)
    if entry.type in KV_TYPES:
        _check_kv_retune(entry.options, options)
    return options


def _kv_alias(engine_type: str, options: dict | None) -> tuple[str, dict | None]:
    """``kv-v2`` is Vault's name for a ``kv`` mount with ``options.version`` 2."""
    if engine_type == "kv-v2":
        return "kv", {**(options or {}), "version": "2"}
    if engine_type in KV_TYPES and options and "version" in options:
        return engine_type, {**options, "version": str(kv_version(options))}
    return engine_type, options


def _check_kv_retune(current: dict | None, wanted: dict) -> None:
    before, after = kv_version(current), kv_version(wanted)
    if after < before:
        raise UserError(f"cannot downgrade mount from version {before}")
    if after > before:
        # Vault upgrades a v1 mount's data in place; vaultlet does not (yet), and says so
        # rather than serving an empty v2 mount over the v1 data.
        raise UserError(
            "upgrading a KV version 1 mount to version 2 in place is not supported by vaultlet: "
            "enable a new kv-v2 mount and copy the secrets"
        )


_TUNE_FIELDS = {
    "path": Field(STRING, "The mount path", in_path=True),
    "default_lease_ttl": Field(STRING, "Default lease TTL (duration; empty keeps the current value)"),
    "max_lease_ttl": Field(STRING, "Maximum lease TTL (duration; empty keeps the current value)"),
    "description": Field(STRING, "User-friendly description of this mount"),
    "force_no_cache": Field(BOOL, "Accepted and ignored, as by Vault's tune"),
    "options": Field(MAP, "Engine-specific options; an empty value removes an option"),
    "listing_visibility": Field(
        STRING, 'Listing in sys/internal/ui/mounts: "unauth" lists it without a token, "hidden", or ""'
    ),
    "audit_non_hmac_request_keys": Field(
        COMMA_STRING_SLICE, "Request data keys the audit devices log in clear for this mount"
    ),
    "audit_non_hmac_response_keys": Field(
        COMMA_STRING_SLICE, "Response data keys the audit devices log in clear for this mount"
    ),
    "passthrough_request_headers": Field(
        COMMA_STRING_SLICE, "Request headers handed to the mount's backend (X-Vault-Token never is)"
    ),
    "allowed_response_headers": Field(
        COMMA_STRING_SLICE, "Response headers the mount's backend may set on its answers"
    ),
    "token_type": Field(STRING, "Auth mounts: the type of token logins issue (default-service, ...)"),
}

PATHS = [
    Path(pattern="mounts/?", operations={READ: mounts_list}, synopsis="List the mounted secrets engines."),
    Path(
        pattern=r"mounts/(?P<path>.+?)/tune/?",
        fields=_TUNE_FIELDS,
        operations={READ: tune_read, UPDATE: tune_write},
        synopsis="Tune a mount's TTLs and description.",
    ),
    Path(
        pattern=r"mounts/(?P<path>.+)",
        fields=_MOUNT_FIELDS,
        operations={READ: mount_read, UPDATE: mount_enable, DELETE: mount_disable},
        synopsis="Enable, read or disable a secrets engine at a path.",
        description="Disabling a mount revokes every lease issued under it first.",
    ),
    Path(pattern="auth/?", operations={READ: auth_list}, synopsis="List the enabled auth methods."),
    Path(
        pattern=r"auth/(?P<path>.+?)/tune/?",
        fields=_TUNE_FIELDS,
        operations={READ: tune_read, UPDATE: tune_write},
        sudo=True,  # Vault's root paths include sys/auth/*, tuning included
        synopsis="Tune an auth method's TTLs.",
    ),
    Path(
        pattern=r"auth/(?P<path>.+)",
        fields=_MOUNT_FIELDS,
        operations={READ: auth_read, UPDATE: auth_enable, DELETE: auth_disable},
        sudo=True,
        synopsis="Enable, read or disable an auth method at a path.",
    ),
]
