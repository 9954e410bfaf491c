"""The core: seal state, routing, authentication, the hooks, leases.

``Core.handle`` is the request pipeline every API call goes through, in Vault's
order: sealed check, routing, token validation (403), authorization (403),
audit of the request (fail closed), the backend, lease registration, response
wrapping, audit of the response.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from vaultlet import SERVER_VERSION, telemetry
from vaultlet.core.audit.devices import AUDIT_TABLE_KEY
from vaultlet.core.expiration import ExpirationManager, RevocationSettings
from vaultlet.core.hooks import AuditBroker, Authorizer
from vaultlet.core.mounts import (
    AUTH_CLASS,
    AUTH_KEY,
    BUILTIN_TUNING_KEY,
    DENIED_PASSTHROUGH_HEADERS,
    MOUNTS_KEY,
    MountEntry,
)
from vaultlet.core.policies import PolicyStore
from vaultlet.core.quotas import QUOTAS_KEY, QuotaManager
from vaultlet.core.router import SYSTEM_ENTRY, TOKEN_ENTRY, Router
from vaultlet.core.system.version_history import record_version
from vaultlet.core.tokens import ROOT_POLICY, TokenEntry, TokenRequest, TokenStore, rfc3339
from vaultlet.core.wrapping import WRAPPING_TOKEN_PATHS, ResponseWrapper
from vaultlet.engines import registry
from vaultlet.errors import InternalError, NotFound, PermissionDenied, Sealed, UserError, VaultError
from vaultlet.framework.backend import Backend, UnsupportedPathError
from vaultlet.framework.request import UPDATE, Request, Response
from vaultlet.storage.barrier import Barrier, SecureStore, generate_key
from vaultlet.storage.seals import Seal
from vaultlet.storage.sql import SQLStorage
from vaultlet.telemetry import TelemetrySettings

log = logging.getLogger("vaultlet.core")

SYSTEM_DEFAULT_TTL = 768 * 3600  # Vault's 32-day default and maximum lease TTL
CLUSTER_KEY = "core/cluster"
# Present while an operator has sealed the server (sys/seal); not encrypted.
SEAL_MARK_KEY = "core/seal-mark"

# The records every request validates its caches against: their versions are read
# once, in one query, when a request starts (SQLStorage.request_scope).
_REQUEST_SCOPED_KEYS = (SEAL_MARK_KEY, MOUNTS_KEY, AUTH_KEY, BUILTIN_TUNING_KEY, AUDIT_TABLE_KEY, QUOTAS_KEY)

# Paths that answer while sealed (and need no token).
SEALED_PATHS = ("sys/health", "sys/seal-status", "sys/leader", "sys/init", "sys/unseal")


@dataclass
class CoreConfig:
    storage_url: str
    default_lease_ttl: int = SYSTEM_DEFAULT_TTL
    max_lease_ttl: int = SYSTEM_DEFAULT_TTL
    revocation: RevocationSettings = field(default_factory=RevocationSettings)
    periodic_interval: float = 60.0
    # Age after which an unfinished write-ahead entry is rolled back (Vault: 5 min,
    # longer than IAM's eventual consistency in practice).
    rollback_min_age: float = 300.0
    cluster_name: str = "vaultlet-cluster"
    dev: bool = False
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)


@dataclass
class InitResult:
    root_key: bytes
    root_token: str

    @property
    def root_key_b64(self) -> str:
        return base64.b64encode(self.root_key).decode()


class SystemView:
    """What backends may ask of the core (Vault's logical.SystemView)."""

    def __init__(self, core: Core):
        self._core = core

    @property
    def default_lease_ttl(self) -> int:
        return self._core.config.default_lease_ttl

    @property
    def max_lease_ttl(self) -> int:
        return self._core.config.max_lease_ttl

    @property
    def rollback_min_age(self) -> float:
        return self._core.config.rollback_min_age

    def lease_exists(self, lease_id: str) -> bool:
        return self._core.expiration.get(lease_id) is not None

    def lease_ids(self, prefix: str) -> list[str]:
        return self._core.storage.lease_ids(prefix)

    def create_token(self, request: TokenRequest):
        return self._core.tokens.create(None, request)


class Core:
    def __init__(self, config: CoreConfig):
        self.config = config
        # The whole server configuration, when a server built this core (sys/config/state).
        self.server_config = None
        self.storage = SQLStorage(config.storage_url)
        self.barrier = Barrier(self.storage)
        self._seal_follow_lock = threading.Lock()
        self.store = SecureStore(self.barrier)
        self.system_view = SystemView(self)
        self.router = Router(self)
        self.policies = PolicyStore(self)
        self.tokens = TokenStore(self)
        self.wrapping = ResponseWrapper(self)
        self.expiration = ExpirationManager(self, config.revocation)
        self.authorizer = Authorizer(self)
        self.audit = AuditBroker(self)
        self.quotas = QuotaManager(self)
        self.started_at = time.time()
        # Where the root key comes from when sealed (file, environment, KMS), and where
        # a key made by sys/init is kept; set by the server. See storage/seals.
        self.seal_source: Seal = Seal()
        self._next_unseal_attempt = 0.0
        # Hands the key an operator gave (sys/init, sys/unseal) to this server's other
        # workers, or withdraws it (None) on sys/seal; and reads it back. Set by the server.
        self.key_sharer: Callable[[bytes | None], None] | None = None
        self.shared_key: Callable[[], bytes | None] | None = None
        self._cluster_id: str | None = None
        self._periodic_stop = threading.Event()
        self._periodic_thread: threading.Thread | None = None

    # -- seal lifecycle ----------------------------------------------------

    def initialized(self) -> bool:
        # Once unsealed the answer cannot change; skip the storage read (sys/health is polled).
        return not self.barrier.sealed or self.barrier.initialized()

    def initialize(self, root_token_id: str | None = None, *, through_seal: bool = False) -> InitResult:
        """Create the keyring under a fresh root (seal) key and mint the root token.
        ``through_seal``: the configured seal keeps the key (KMS-wrapped beside the
        keyring, in the same transaction; or in the key file once it is written)."""
        if self.initialized():
            raise UserError("Vault is already initialized")
        root_key = generate_key()
        beside = self.seal_source.wrap(root_key) if through_seal else None
        self.barrier.initialize(root_key, beside)
        if through_seal:
            self.seal_source.keep(self.storage, root_key, beside)
        self.barrier.unseal(root_key)
        self.store.put(CLUSTER_KEY, {"id": str(uuid.uuid4()), "install_time": rfc3339(time.time())})
        token_id, _entry, _ = self.tokens.create(
            None,
            TokenRequest(
                policies=[ROOT_POLICY], path="auth/token/root", token_id=root_token_id, display_prefix="root"
            ),
        )
        return InitResult(root_key, token_id)

    def initialize_via_api(self) -> InitResult:
        result = self.initialize(through_seal=True)
        self._share_key(result.root_key)
        self.start_background()
        return result

    def unseal(self, root_key: bytes) -> bool:
        """Unseal with the root key and lift an operator's server-wide seal: every
        other worker (and node on shared storage) then unseals from its own key
        source at its next request."""
        if not self.barrier.unseal(root_key):
            return False
        self._share_key(root_key)
        self.storage.delete(SEAL_MARK_KEY)
        self.start_background()
        return True

    def _share_key(self, root_key: bytes | None) -> None:
        if self.key_sharer is not None:
            self.key_sharer(root_key)

    def try_auto_unseal(self) -> bool:
        """Unseal from the configured key source (a file read while sealed is cheap,
        and lets every worker follow a sys/init answered by another) unless an
        operator sealed the server: that holds until an explicit ``sys/unseal``,
        across restarts too (gunicorn respawns workers on its own)."""
        if not self.barrier.sealed:
            return True
        if not self.initialized() or self._seal_marked():
            return False
        now = time.monotonic()
        if now < self._next_unseal_attempt:
            return False  # a KMS seal that just failed is not asked again on every request
        key = self.seal_source.load_key(self.storage) or (self.shared_key() if self.shared_key else None)
        if key is None:
            self._next_unseal_attempt = now + self.seal_source.retry_interval
            return False
        if not self.barrier.unseal(key):
            log.error("the configured seal key does not unseal this storage")
            return False
        self.start_background()
        return True

    def follow_seal_mark(self) -> bool:
        """Seal this process if an operator sealed the server through another worker
        or node; True when sealed. One primary-key read: it runs on every request."""
        if not self.barrier.sealed and self._seal_marked():
            with self._seal_follow_lock:  # a request thread and the sweeper can both see the mark
                if not self.barrier.sealed:
                    log.warning(
                        "the server was sealed by an operator (sys/seal); sealing worker %d", os.getpid()
                    )
                    self.barrier.seal()  # the background loops idle while sealed
        return self.barrier.sealed

    def _seal_marked(self) -> bool:
        return bool(self.storage.versions([SEAL_MARK_KEY]))

    def seal_status(self) -> dict:
        initialized = self.initialized()
        seal = self.seal_source
        status = {
            "type": seal.type,
            "initialized": initialized,
            "sealed": self.barrier.sealed,
            "t": 1 if initialized else 0,
            "n": 1 if initialized else 0,
            "progress": 0,
            "nonce": "",
            "version": SERVER_VERSION,
            "build_date": "",
            "migration": False,
            "recovery_seal": seal.auto_unseal,
            "storage_type": "sqlite" if self.storage.is_sqlite else "postgresql",
        }
        if not self.barrier.sealed:
            status["cluster_name"] = self.config.cluster_name
            status["cluster_id"] = self.cluster_id()
        elif seal.problem and not self._seal_marked():
            status["seal_error"] = seal.problem  # vaultlet's own key: why auto-unseal fails
        return status

    def cluster_id(self) -> str:
        if self._cluster_id is None:
            record = self.store.get(CLUSTER_KEY) or {}
            self._cluster_id = record.get("id", "")
        return self._cluster_id

    def install_time(self) -> str:
        """When this storage was initialised (sys/key-status). Storage initialised before
        vaultlet recorded it gets the first time it is asked for, kept from then on."""
        record = self.store.get(CLUSTER_KEY) or {}
        if not record.get("install_time"):
            record["install_time"] = rfc3339(time.time())
            self.store.put(CLUSTER_KEY, record)
        return record["install_time"]

    def seal(self) -> None:
        """Seal the whole server: this process at once, every other worker and node
        sharing the storage at its next request or sweep (they read the mark). The
        mark is plaintext (it holds no secret) so that sealed processes can read it;
        it also stops auto-unseal from the key file until ``sys/unseal``."""
        try:
            self._share_key(None)
            self.storage.put(SEAL_MARK_KEY, json.dumps({"sealed_at": time.time()}).encode())
        finally:
            self.stop_background()
            self.barrier.seal()

    # -- background work ---------------------------------------------------

    def start_background(self) -> None:
        record_version(self.store)
        self.expiration.start()
        if self._periodic_thread is None:
            self._periodic_stop.clear()
            self._periodic_thread = threading.Thread(target=self._periodic_loop, name="periodic", daemon=True)
            self._periodic_thread.start()

    def stop_background(self) -> None:
        self.expiration.stop()
        self._periodic_stop.set()
        if self._periodic_thread is not None:
            self._periodic_thread.join(timeout=10)
            self._periodic_thread = None

    def run_periodic(self) -> None:
        """Give every mounted backend its periodic turn (rollback, rotation, sweeps)."""
        for entry in self.router.all_entries():
            if entry.uuid in ("system", "token", "cubbyhole"):
                continue
            try:
                self.router.backend(entry).periodic()
            except Exception:  # noqa: BLE001 - one failing mount must not stop the others
                log.exception("periodic function failed for mount %s", entry.full_path)

    def _periodic_loop(self) -> None:
        while not self._periodic_stop.wait(self.config.periodic_interval):
            if not self.follow_seal_mark():
                self.run_periodic()

    def close(self) -> None:
        self.stop_background()
        self.storage.close()

    # -- backends ----------------------------------------------------------

    def backend_class(self, entry: MountEntry):
        if entry.uuid == "system":
            from vaultlet.core.system import SystemBackend

            return SystemBackend
        if entry.uuid == "token":
            from vaultlet.core.auth_token import TokenBackend

            return TokenBackend
        if entry.uuid == "cubbyhole":
            from vaultlet.core.cubbyhole import CubbyholeBackend

            return CubbyholeBackend
        if entry.mount_class == AUTH_CLASS:
            return registry.auth_method(entry.type)
        return registry.secret_engine(entry.type, entry.options)

    # -- the request pipeline ----------------------------------------------

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            with self.storage.request_scope(_REQUEST_SCOPED_KEYS):
                return self._handle(request)
        except PermissionDenied:
            # Refused by the ACL, an unknown token or a backend (a failed login); the
            # mount is "" when the path resolved to none.
            telemetry.request_denied(request.mount_path, request.operation)
            raise
        finally:
            telemetry.request_handled(
                request.operation,
                request.mount_path,
                request.path.startswith("auth/") and request.token is None,
                started,
            )

    def _handle(self, request: Request) -> Response:
        if self.follow_seal_mark() and not self.try_auto_unseal():
            if not request.path.startswith(SEALED_PATHS):
                raise Sealed()
            # The mount table is encrypted: while sealed only sys/ can answer.
            route = (SYSTEM_ENTRY, self.router.backend(SYSTEM_ENTRY), request.path[len("sys/") :])
        else:
            route = self.router.resolve(request.path)
            self._enforce_quotas(request, route)
        try:
            backend = self._admit(request, route)
        except VaultError as error:
            # Refusals are recorded too (best effort, as in Vault); sealed, nothing can be.
            if not self.barrier.sealed:
                self.audit.log_rejected(request, error)
            if request.token is not None:
                self.tokens.finish_use(request.token)  # a refused request still used up a use
            raise
        return self._execute(request, backend)

    def _enforce_quotas(self, request: Request, route) -> None:
        """Rate limits apply after routing (a rule may name a mount or a role) and
        before the token is even looked up, as in Vault: a flood costs no more."""
        if route is None:
            self.quotas.enforce(request, "", "", None)
            return
        entry, backend, _relative = route
        self.quotas.enforce(request, entry.full_path, entry.mount_class, backend)

    def _admit(self, request: Request, route) -> Backend:
        """Routing, token validation and authorization: the backend to run, or an error."""
        if route is None:
            self._authenticate_unrouted(request)
            raise UnsupportedPathError(request.path)
        entry, backend, relative = route
        request.mount_path = entry.full_path
        request.mount_type = entry.type
        request.mount_accessor = entry.accessor
        request.mount_class = entry.mount_class
        request.relative_path = relative
        _apply_mount_settings(request, entry)
        if entry.uuid == "system" and relative in WRAPPING_TOKEN_PATHS and not request.help:
            self.wrapping.validate(request)  # before the token is used, as in Vault
        mount_help = request.help and relative == ""  # `GET aws/?help=1`: the backend's own help
        if backend.match(relative) is None and not mount_help:
            self._authenticate_unrouted(request)
            if entry.uuid == "system":
                raise NotFound("unsupported path")
            raise UnsupportedPathError(request.path)
        if backend.is_unauthenticated(relative):
            self._attach_optional_token(request)
        else:
            self._authenticate(request)
            if request.operation == UPDATE:
                # For root too: the audit log records create vs update, as Vault's does.
                request.operation = backend.resolve_write_operation(request)
            self.authorizer.authorize(request, backend, backend.is_sudo(relative))
        return backend

    def _authenticate_unrouted(self, request: Request) -> None:
        """A path nothing serves: the ACL speaks first, as in Vault, so a token that may not
        touch the path learns nothing about what is (or is not) mounted there."""
        self._authenticate(request)
        if request.token is not None and not request.help:
            result = self.authorizer.check(request.token, request.path, request.operation)
            if not result.allowed:
                raise PermissionDenied()

    def _execute(self, request: Request, backend: Backend) -> Response:
        self.audit.log_request(request)
        issued: TokenEntry | None = None
        try:
            try:
                response = backend.handle(request)
                _pass_response_headers(request, response)
                issued = self._issue_token(request, response)
                if response.secret is not None:
                    self.expiration.register(request, response)
                response.mount_type = request.mount_type
                delivered = self._wrap(request, response, issued)
            except VaultError as error:
                self.audit.log_response(request, None, error)
                raise
            try:
                self.audit.log_response(request, delivered.audit_view or delivered, issued=issued)
            except Exception:  # noqa: BLE001 - whatever broke the audit write, fail closed
                self._withdraw(response, issued, delivered)
                raise InternalError("internal error") from None
        finally:
            if request.token is not None:
                self.tokens.finish_use(request.token)
        return delivered

    def _wrap(self, request: Request, response: Response, issued: TokenEntry | None) -> Response:
        try:
            return self.wrapping.wrap(request, response)
        except VaultError:
            self._withdraw(response, issued, None)  # nothing may outlive an answer never given
            raise

    def _issue_token(self, request: Request, response: Response) -> TokenEntry | None:
        """Mint the token a backend asked for with ``Response(auth=TokenRequest(...))``.

        The token store's own endpoints mint children of the caller. Any other auth
        method is a login: its tokens are orphans, leased under the login path, and
        named after the mount (``approle``), as Vault does.
        """
        token_request = response.auth
        if not isinstance(token_request, TokenRequest):
            return None
        parent = request.token
        if request.mount_type != TOKEN_ENTRY.type:
            parent = None
            token_request.orphan = True
            token_request.policies_vetted = True
            token_request.path = request.path.rstrip("/")
            token_request.display_prefix = request.mount_path[len("auth/") :].strip("/").replace("/", "-")
            if ROOT_POLICY in [p.strip().lower() for p in token_request.policies or []]:
                raise UserError("auth methods cannot create root tokens")
        token_id, entry, warnings = self.tokens.create(parent, token_request)
        telemetry.token_created(request.mount_type, request.mount_path, entry.ttl, entry.type)
        response.auth = self.tokens.auth_block(entry, token_id)
        response.warnings.extend(warnings)
        return entry

    def _withdraw(self, response: Response, issued: TokenEntry | None, delivered: Response | None) -> None:
        """Fail closed: a response nobody recorded is never delivered, so whatever it
        carried must not outlive it. Revocation is synchronous: the cloud credential
        is gone before the client hears 500 (if the engine fails, the lease stays
        queued and the sweeper keeps retrying)."""
        if response.lease_id:
            try:
                self.expiration.revoke(response.lease_id, sync=True)
            except VaultError:
                log.error("revocation of an unaudited lease failed; it stays queued: %s", response.lease_id)
        if issued is not None:
            self.tokens.revoke_tree(issued.hash)
        if delivered is not None:
            self.wrapping.discard(delivered)

    def _authenticate(self, request: Request) -> None:
        entry = self.tokens.lookup(request.client_token)
        if entry is None:
            raise PermissionDenied()
        request.remaining_uses = entry.num_uses
        request.token = self.tokens.use(entry)

    def _attach_optional_token(self, request: Request) -> None:
        if request.client_token and not self.barrier.sealed:
            request.token = self.tokens.lookup(request.client_token)


def filtered_headers(
    headers: dict[str, str], wanted: list[str], denied: tuple[str, ...] = ()
) -> dict[str, str]:
    """Vault's filteredHeaders: the headers named in ``wanted`` (case-insensitively, in the
    sender's spelling), never those in ``denied``."""
    names = {name.lower() for name in wanted} - set(denied)
    return {name: value for name, value in headers.items() if name.lower() in names}


def _apply_mount_settings(request: Request, entry: MountEntry) -> None:
    """What a mount's tuning changes about a request before its backend sees it: the
    audit keys logged in clear, and the headers the backend is handed (only those the
    mount's passthrough_request_headers name, as in Vault; none by default)."""
    request.audit_plain_request_keys = frozenset(entry.setting("audit_non_hmac_request_keys"))
    request.audit_plain_response_keys = frozenset(entry.setting("audit_non_hmac_response_keys"))
    request.allowed_response_headers = tuple(entry.setting("allowed_response_headers"))
    request.headers = filtered_headers(
        request.headers, entry.setting("passthrough_request_headers"), DENIED_PASSTHROUGH_HEADERS
    )


def _pass_response_headers(request: Request, response: Response) -> None:
    """A backend's own response headers reach the client only if the mount allows them."""
    if response.headers:
        allowed = list(request.allowed_response_headers)
        request.response_headers.update(filtered_headers(response.headers, allowed))
        response.headers = {}
