"""The audit device table and one device's runtime (its hasher and sink).

The table is one encrypted record (``core/audit``), as Vault keeps it. Each
entry carries the device's random HMAC salt, so the salt is encrypted at rest,
shared by every worker process, stable across restarts, and new whenever a
device is enabled again. ``GET sys/audit`` never shows it.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.core.audit.entry import Hasher
from vaultlet.core.audit.sink import FileSink
from vaultlet.errors import UserError

AUDIT_TABLE_KEY = "core/audit"
DEVICE_TYPES = ("file",)
_TRUE = {"1", "t", "true"}
# One encoder for every line (json.dumps with options builds a new one per call).
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode
_FALSE = {"0", "f", "false"}


@dataclass
class DeviceEntry:
    path: str  # with trailing slash
    type: str
    options: dict[str, str]
    description: str = ""
    local: bool = False
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    salt: str = field(default_factory=lambda: secrets.token_hex(32))

    def describe(self) -> dict[str, Any]:
        """The per-device object of ``GET sys/audit`` (no salt, ever)."""
        return {
            "description": self.description,
            "local": self.local,
            "options": self.options,
            "path": self.path,
            "type": self.type,
        }

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def normalize_device_path(path: str) -> str:
    path = path.strip().strip("/")
    if not path:
        raise UserError("backend path must be specified")
    return path + "/"


def validate_options(device_type: str, options: dict[str, Any]) -> dict[str, str]:
    """Vault's file device options, checked up front so a bad device is never stored."""
    if device_type not in DEVICE_TYPES:
        raise UserError(f'unknown backend type: "{device_type}"')
    if any(not isinstance(value, str) for value in options.values()):
        raise UserError("options must be string valued")
    if not file_path_of(options):
        raise UserError("file_path is required")
    _parse_mode(options.get("mode", ""))
    for name in ("log_raw", "hmac_accessor", "elide_list_responses"):
        _parse_bool(options, name, False)
    if options.get("format", "json") not in ("json", ""):
        raise UserError(f'unsupported format "{options["format"]}": vaultlet writes "json"')
    return dict(options)


def file_path_of(options: dict[str, str]) -> str:
    """``file_path``, or ``path``: its old name, which Vault still reads and hvac still sends."""
    return (options.get("file_path") or options.get("path") or "").strip()


def _parse_mode(text: str) -> int:
    if not text:
        return 0o600
    try:
        return int(text, 8)
    except ValueError:
        raise UserError(f'unable to parse mode "{text}": expected an octal file mode such as 0600') from None


def _parse_bool(options: dict[str, str], name: str, default: bool) -> bool:
    text = options.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UserError(f'unable to parse "{name}": strconv.ParseBool: parsing "{options[name]}": invalid syntax')


class AuditDevice:
    """A device as this process runs it: where its lines go and how they are hashed."""

    def __init__(self, entry: DeviceEntry):
        self.entry = entry
        options = entry.options
        salt = bytes.fromhex(entry.salt)
        self.salted = Hasher(salt)  # sys/audit-hash always uses the salt, even with log_raw
        self.hasher = Hasher(
            None if _parse_bool(options, "log_raw", False) else salt,
            hmac_accessor=_parse_bool(options, "hmac_accessor", True),
        )
        self.elide_lists = _parse_bool(options, "elide_list_responses", False)
        self.prefix = options.get("prefix", "")
        self.sink = FileSink(file_path_of(options), _parse_mode(options.get("mode", "")))

    @property
    def path(self) -> str:
        return self.entry.path

    def record(self, entry: dict[str, Any]) -> None:
        line = self.prefix + _ENCODE(entry) + "\n"
        self.sink.write(line.encode())

    def close(self) -> None:
        self.sink.close()
