"""sys/health, sys/seal-status, sys/leader, sys/init, sys/unseal, sys/seal."""

from __future__ import annotations

import time

from vaultlet import SERVER_VERSION
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.fields import BOOL, INT, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, Response
from vaultlet.storage.barrier import decode_root_key

# Query parameters that override sys/health's status codes, with Vault's defaults.
_HEALTH_CODES = {
    "activecode": 200,
    "standbycode": 429,
    "drsecondarycode": 472,
    "performancestandbycode": 473,
    "sealedcode": 503,
    "uninitcode": 501,
}


def health_read(backend, request, fields) -> Response:
    core = backend.core
    initialized = core.initialized()
    sealed = core.barrier.sealed
    body = {
        "initialized": initialized,
        "sealed": sealed,
        "standby": sealed,
        "performance_standby": False,
        "replication_performance_mode": "unknown" if sealed else "disabled",
        "replication_dr_mode": "unknown" if sealed else "disabled",
        "server_time_utc": int(time.time()),
        "version": SERVER_VERSION,
    }
    if not sealed:
        body["cluster_name"] = core.config.cluster_name
        body["cluster_id"] = core.cluster_id()
    elif "seal_error" in (seal_status := core.seal_status()):
        body["seal_error"] = seal_status["seal_error"]
    if not initialized:
        status = _status_code(fields, "uninitcode")
    elif sealed:
        status = _status_code(fields, "sealedcode")
    else:
        status = _status_code(fields, "activecode")
    return Response(raw=body, status=status)


def _status_code(fields, name: str) -> int:
    """The status code asked for. OpenBao drops the connection for one HTTP cannot carry
    (Go's net/http panics); vaultlet says so instead, and keeps to codes with a body."""
    code = fields[name]
    if not 200 <= code <= 599:
        raise UserError(f"{name} must be an HTTP status code between 200 and 599")
    return code


def seal_status_read(backend, request, fields) -> Response:
    return Response(raw=backend.core.seal_status())


def leader_read(backend, request, fields) -> Response:
    return Response(
        raw={
            "ha_enabled": False,
            "is_self": True,
            "active_time": "0001-01-01T00:00:00Z",
            "leader_address": "",
            "leader_cluster_address": "",
            "performance_standby": False,
            "performance_standby_last_remote_wal": 0,
        }
    )


def init_read(backend, request, fields) -> Response:
    return Response(raw={"initialized": backend.core.initialized()})


def init_write(backend, request, fields) -> Response:
    if backend.core.seal_source.auto_unseal:
        return _init_auto_unseal(backend, fields)
    shares, threshold = fields["secret_shares"], fields["secret_threshold"]
    if shares != 1 or threshold != 1:
        # vaultlet seals with one root key (kept in a file or the environment),
        # not Shamir shares; say so instead of pretending.
        raise UserError("vaultlet supports secret_shares=1 and secret_threshold=1 only")
    result = backend.core.initialize_via_api()
    return Response(
        raw={
            "keys": [result.root_key.hex()],
            "keys_base64": [result.root_key_b64],
            "root_token": result.root_token,
        }
    )


def _init_auto_unseal(backend, fields) -> Response:
    """Under an auto-unseal seal the root key never leaves the seal (Vault's answer has
    empty ``keys``). Vault would also make recovery keys; vaultlet has nothing they
    could be used for (no generate-root, no rekey), so asking for them is refused."""
    if fields["secret_shares"] not in (0, 1) or fields["secret_threshold"] not in (0, 1):
        raise UserError("secret_shares and secret_threshold do not apply to an auto-unseal seal")
    if fields["recovery_shares"] or fields["recovery_threshold"]:
        raise UserError(
            "vaultlet makes no recovery keys under an auto-unseal seal: "
            "initialise with -recovery-shares=0 -recovery-threshold=0"
        )
    result = backend.core.initialize_via_api()
    return Response(
        raw={
            "keys": [],
            "keys_base64": [],
            "recovery_keys": [],
            "recovery_keys_base64": [],
            "root_token": result.root_token,
        }
    )


def unseal_write(backend, request, fields) -> Response:
    core = backend.core
    if fields["reset"]:
        return Response(raw=core.seal_status())
    if core.seal_source.auto_unseal:
        raise UserError(
            f"the {core.seal_source.type} seal unseals the server itself; a sealed server unseals on restart"
        )
    key = _decode_key(fields["key"])
    if not core.unseal(key):
        raise UserError("Unseal failed, invalid key")
    return Response(raw=core.seal_status())


def seal_write(backend, request, fields) -> None:
    if request.token is None or not request.token.is_root:
        raise PermissionDenied()
    backend.core.seal()


def _decode_key(text: str) -> bytes:
    key = decode_root_key(text)
    if key is None:
        raise UserError("'key' must be a valid hex or base64 string")
    return key


PATHS = [
    Path(
        pattern="health",
        fields={
            **{
                name: Field(INT, f"Status code to return when {name[:-4]}", default=code)
                for name, code in _HEALTH_CODES.items()
            },
            "standbyok": Field(BOOL, "Answer 200 from a standby"),
            "perfstandbyok": Field(BOOL, "Answer 200 from a performance standby"),
        },
        operations={READ: health_read},
        unauthenticated=True,
        synopsis="Health of the server, for load balancers and agents.",
    ),
    Path(
        pattern="seal-status",
        operations={READ: seal_status_read},
        unauthenticated=True,
        synopsis="Seal status: initialized, sealed, key shares.",
    ),
    Path(
        pattern="leader",
        operations={READ: leader_read},
        unauthenticated=True,
        synopsis="High-availability leader information.",
    ),
    Path(
        pattern="init",
        fields={
            "secret_shares": Field(INT, "Number of key shares (vaultlet: 1)", default=1),
            "secret_threshold": Field(INT, "Shares needed to unseal (vaultlet: 1)", default=1),
            "recovery_shares": Field(INT, "Recovery key shares (auto-unseal; vaultlet: 0)", default=0),
            "recovery_threshold": Field(INT, "Recovery shares needed (vaultlet: 0)", default=0),
        },
        operations={READ: init_read, UPDATE: init_write},
        unauthenticated=True,
        synopsis="Initialize a new server: creates the root key and the root token.",
    ),
    Path(
        pattern="unseal",
        fields={
            "key": Field(STRING, "The root (seal) key, hex or base64"),
            "reset": Field(BOOL, "Reset progress"),
        },
        operations={UPDATE: unseal_write},
        unauthenticated=True,
        synopsis="Unseal the server with the root key.",
    ),
    Path(pattern="seal", operations={UPDATE: seal_write}, sudo=True, synopsis="Seal the server."),
]
