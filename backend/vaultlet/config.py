"""Server configuration, from a Vault-style HCL (or JSON) file or from ``-dev`` flags."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultlet import hcl
from vaultlet.core.core import SYSTEM_DEFAULT_TTL, CoreConfig
from vaultlet.core.expiration import RevocationSettings
from vaultlet.durations import DurationError, parse_go_duration
from vaultlet.storage.barrier import decode_root_key
from vaultlet.storage.seals import Seal
from vaultlet.storage.seals.awskms import AwsKmsSeal
from vaultlet.telemetry import TelemetrySettings

SEAL_KEY_ENV = "VAULTLET_SEAL_KEY"
LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
LOG_FORMATS = ("standard", "json")
# The serving model, chosen by tests/bench/serving_bench.py (README "How it is built").
HTTP_SERVERS = ("granian", "gunicorn")
DEFAULT_HTTP_SERVER = "granian"
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 32


class ConfigError(ValueError):
    pass


@dataclass
class ListenerConfig:
    address: str = "127.0.0.1:8200"
    tls_disable: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    max_request_size: int = 32 * 1024 * 1024


@dataclass
class SealConfig(Seal):
    """``seal "file"``: the root key comes from a file, the environment, or memory (dev)."""

    key_file: str = ""
    key_env: str = SEAL_KEY_ENV
    in_memory_key: bytes | None = None

    def load_key(self, storage=None) -> bytes | None:
        if self.in_memory_key is not None:
            return self.in_memory_key
        text = os.environ.get(self.key_env, "")
        if not text and self.key_file and os.path.exists(self.key_file):
            text = Path(self.key_file).read_text()
        return decode_key(text) if text.strip() else None

    def keep(self, storage, root_key: bytes, wrapped) -> None:
        self.store_key(root_key)

    def store_key(self, key: bytes) -> bool:
        """Write a newly generated key to the configured file (0600) if it has none yet."""
        if not self.key_file or os.path.exists(self.key_file):
            return False
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(base64.b64encode(key).decode() + "\n")
        return True


def decode_key(text: str) -> bytes:
    key = decode_root_key(text)
    if key is None:
        raise ConfigError("the seal key must be 32 bytes, base64 or hex encoded")
    return key


@dataclass
class ServerConfig:
    core: CoreConfig
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    seal: Seal = field(default_factory=SealConfig)
    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS
    http_server: str = DEFAULT_HTTP_SERVER
    log_level: str = "info"
    log_format: str = "standard"
    dev_root_token: str | None = None
    dev_aws: str = ""
    graceful_timeout: int = 30


def _seconds(value: Any, default: float) -> float:
    """A duration setting in (possibly fractional) seconds: ``"0.2s"`` stays 0.2."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text) if text.isdigit() else parse_go_duration(text)
    except DurationError as error:
        raise ConfigError(str(error)) from None


def _revocation(body: dict[str, Any]) -> RevocationSettings:
    defaults = RevocationSettings()
    settings = RevocationSettings(
        sweep_interval=_seconds(body.get("sweep_interval"), defaults.sweep_interval),
        batch_size=int(body.get("batch_size", defaults.batch_size)),
        revoke_parallelism=int(body.get("revoke_parallelism", defaults.revoke_parallelism)),
        claim_seconds=_seconds(body.get("claim_timeout"), defaults.claim_seconds),
        retry_base=_seconds(body.get("retry_base"), defaults.retry_base),
        retry_cap=_seconds(body.get("retry_cap"), defaults.retry_cap),
        max_attempts=int(body.get("max_attempts", defaults.max_attempts)),
        irrevocable_retry_interval=_seconds(
            body.get("irrevocable_retry_interval"), defaults.irrevocable_retry_interval
        ),
        heartbeat_interval=_seconds(body.get("heartbeat_interval"), defaults.heartbeat_interval),
        owner_timeout=_seconds(body.get("owner_timeout"), defaults.owner_timeout),
        sync_revoke_wait=_seconds(body.get("sync_revoke_wait"), defaults.sync_revoke_wait),
    )
    if settings.batch_size < 1 or settings.revoke_parallelism < 1:
        raise ConfigError("lease_revocation: batch_size and revoke_parallelism must be at least 1")
    if not 0 < 2 * settings.heartbeat_interval <= settings.owner_timeout:
        # A timeout shorter than two beats would declare live processes dead.
        raise ConfigError("lease_revocation: owner_timeout must be at least twice heartbeat_interval")
    return settings


def _storage_url(document: dict[str, Any], base_dir: Path) -> str:
    storages = hcl.blocks(document, "storage")
    if len(storages) != 1:
        raise ConfigError('exactly one storage block is required, e.g. storage "sqlite" { path = "..." }')
    kind, body = storages[0]
    if kind == "sqlite":
        path = body.get("path")
        if not path:
            raise ConfigError('storage "sqlite" needs a path')
        return "sqlite:///" + str((base_dir / path).resolve())
    if kind in ("postgresql", "postgres"):
        url = body.get("connection_url") or os.environ.get("VAULTLET_PG_CONNECTION_URL", "")
        if not url:
            raise ConfigError('storage "postgresql" needs connection_url')
        return url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
    raise ConfigError(f'unknown storage type "{kind}" (use "sqlite" or "postgresql")')


def _listener_body(document: dict[str, Any]) -> dict[str, Any]:
    listeners = hcl.blocks(document, "listener")
    return listeners[0][1] if listeners else {}


def _listener(document: dict[str, Any]) -> ListenerConfig:
    listeners = hcl.blocks(document, "listener")
    if not listeners:
        return ListenerConfig()
    _kind, body = listeners[0]
    return ListenerConfig(
        address=body.get("address", "127.0.0.1:8200"),
        tls_disable=bool(body.get("tls_disable", False)),
        tls_cert_file=body.get("tls_cert_file", ""),
        tls_key_file=body.get("tls_key_file", ""),
        max_request_size=int(body.get("max_request_size", 32 * 1024 * 1024)),
    )


_TELEMETRY_KEYS = {"prometheus_retention_time", "disable_hostname"}


def _telemetry(document: dict[str, Any], listener_body: dict[str, Any]) -> TelemetrySettings:
    """Vault's ``telemetry`` stanza, as far as vaultlet can honour it; the rest is refused."""
    body = _first_block_body(document, "telemetry")
    unknown = sorted(set(body) - _TELEMETRY_KEYS)
    if unknown:
        raise ConfigError(
            f"telemetry: unsupported setting(s) {', '.join(unknown)}: vaultlet serves metrics only at "
            "sys/metrics (prometheus_retention_time and disable_hostname are accepted)"
        )
    if body.get("disable_hostname") is False:
        raise ConfigError(
            "telemetry: vaultlet never prefixes metric names with the host name; "
            "set disable_hostname = true or leave it out"
        )
    retention = _seconds(body.get("prometheus_retention_time"), 1.0)
    listener_telemetry = _first_block_body(listener_body, "telemetry")
    unknown = sorted(set(listener_telemetry) - {"unauthenticated_metrics_access"})
    if unknown:
        raise ConfigError(f"listener telemetry: unsupported setting(s) {', '.join(unknown)}")
    return TelemetrySettings(
        prometheus_enabled=retention > 0,
        unauthenticated_metrics_access=bool(listener_telemetry.get("unauthenticated_metrics_access", False)),
    )


def log_settings(level: Any, log_format: Any) -> tuple[str, str]:
    """Vault's log levels and formats; anything else is refused."""
    level_text = str(level or "info").strip().lower()
    if level_text not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {level_text!r} (use {', '.join(LOG_LEVELS)})")
    format_text = str(log_format or "standard").strip().lower()
    if format_text not in LOG_FORMATS:
        raise ConfigError(f"unknown log format {format_text!r} (use json or standard)")
    return level_text, format_text


def _seal(document: dict[str, Any], base_dir: Path) -> Seal:
    seals = hcl.blocks(document, "seal")
    if len(seals) > 1:
        raise ConfigError("one seal block at most (vaultlet has no seal migration or multi-seal)")
    if not seals:
        # Vault's alternative to a seal block: VAULT_SEAL_TYPE=awskms plus its variables.
        if os.environ.get("VAULT_SEAL_TYPE", "") == "awskms":
            return _awskms({})
        return SealConfig()
    kind, body = seals[0]
    if kind == "awskms":
        return _awskms(body)
    if kind != "file":
        raise ConfigError(
            f'unknown seal type "{kind}" (use seal "file" {{ path = "..." }}, seal "awskms" {{ ... }} '
            f"or ${SEAL_KEY_ENV})"
        )
    path = body.get("path", "")
    return SealConfig(key_file=str((base_dir / path).resolve()) if path else "")


def _awskms(body: dict[str, Any]) -> AwsKmsSeal:
    try:
        return AwsKmsSeal.from_block(body)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def load(path: str) -> ServerConfig:
    config_path = Path(path)
    try:
        document = hcl.loads(config_path.read_text())
    except (OSError, hcl.HCLError) as error:
        raise ConfigError(f"cannot read config {path}: {error}") from None
    base_dir = config_path.parent
    listener = _listener(document)
    if not listener.tls_disable and not (listener.tls_cert_file and listener.tls_key_file):
        raise ConfigError("the listener needs tls_cert_file and tls_key_file, or tls_disable = true")
    core = CoreConfig(
        storage_url=_storage_url(document, base_dir),
        default_lease_ttl=int(_seconds(document.get("default_lease_ttl"), SYSTEM_DEFAULT_TTL)),
        max_lease_ttl=int(_seconds(document.get("max_lease_ttl"), SYSTEM_DEFAULT_TTL)),
        revocation=_revocation(_first_block_body(document, "lease_revocation")),
        periodic_interval=_seconds(document.get("periodic_interval"), 60.0),
        rollback_min_age=_seconds(document.get("rollback_min_age"), 300.0),
        cluster_name=document.get("cluster_name", "vaultlet-cluster"),
        telemetry=_telemetry(document, _listener_body(document)),
    )
    log_level, log_format = log_settings(document.get("log_level"), document.get("log_format"))
    return ServerConfig(
        core=core,
        listener=listener,
        seal=_seal(document, base_dir),
        workers=_positive(document, "workers", DEFAULT_WORKERS),
        threads=_positive(document, "threads", DEFAULT_THREADS),
        http_server=_http_server(document),
        log_level=log_level,
        log_format=log_format,
    )


def _positive(document: dict[str, Any], key: str, default: int) -> int:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ConfigError(f"{key} must be a positive integer")
    if int(value) < 1:
        raise ConfigError(f"{key} must be a positive integer")
    return int(value)


def _http_server(document: dict[str, Any]) -> str:
    name = str(document.get("http_server", DEFAULT_HTTP_SERVER)).strip().lower()
    if name not in HTTP_SERVERS:
        raise ConfigError(f"unknown http_server {name!r} (use {' or '.join(HTTP_SERVERS)})")
    return name


def _first_block_body(document: dict[str, Any], name: str) -> dict[str, Any]:
    """An unlabelled block (``name { ... }``) parses as a list holding one dict."""
    found = document.get(name)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return found[0]
    if isinstance(found, dict):
        return found
    return {}
