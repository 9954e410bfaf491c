"""``vaultlet server``: run the API under granian (WSGI, the default) or gunicorn.

Both are pre-fork servers: a master process forks the workers, and each worker
builds its own Core after the fork (database connections and threads do not survive
a fork); all of them share the database, which is why leases, tokens and mounts live
there and not in memory. README "How it is built" says why granian is the default
(measured by tests/bench/serving_bench.py).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import mmap
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from vaultlet import logs, telemetry
from vaultlet.config import (
    DEFAULT_HTTP_SERVER,
    DEFAULT_THREADS,
    ConfigError,
    ListenerConfig,
    SealConfig,
    ServerConfig,
    load,
    log_settings,
)
from vaultlet.core.core import SEAL_MARK_KEY, Core, CoreConfig
from vaultlet.framework.request import UPDATE, Request
from vaultlet.storage.barrier import KEY_SIZE

log = logging.getLogger("vaultlet.server")


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vaultlet server", description="Run the vaultlet server.")
    parser.add_argument("-config", "--config", help="path to an HCL or JSON server config file")
    parser.add_argument("-dev", "--dev", action="store_true", help="in-memory-keyed throwaway dev server")
    parser.add_argument(
        "-dev-root-token-id", "--dev-root-token-id", default="", help="root token id in dev mode"
    )
    parser.add_argument("-dev-listen-address", "--dev-listen-address", default="127.0.0.1:8200")
    parser.add_argument(
        "-dev-aws",
        "--dev-aws",
        default="",
        choices=["", "moto"],
        help="dev mode: start an embedded moto server and configure aws/ against it",
    )
    parser.add_argument("-dev-workers", "--dev-workers", type=int, default=1)
    parser.add_argument("-log-level", "--log-level", default=None, help="trace, debug, info, warn or error")
    parser.add_argument("-log-format", "--log-format", default=None, help="standard or json")
    return parser.parse_args(argv)


def dev_config(args: argparse.Namespace) -> ServerConfig:
    workdir = tempfile.mkdtemp(prefix="vaultlet-dev-")
    _remove_at_exit(workdir)
    core = CoreConfig(storage_url=f"sqlite:///{workdir}/vaultlet.db", dev=True)
    return ServerConfig(
        core=core,
        listener=ListenerConfig(address=args.dev_listen_address, tls_disable=True),
        seal=SealConfig(in_memory_key=None),
        workers=args.dev_workers,
        threads=DEFAULT_THREADS,
        http_server=DEFAULT_HTTP_SERVER,
        dev_root_token=args.dev_root_token_id or None,
        dev_aws=args.dev_aws,
    )


def prepare_dev(config: ServerConfig) -> str:
    """Initialise the throwaway storage once, in the master, before workers fork."""
    core = Core(config.core)
    try:
        result = core.initialize(root_token_id=config.dev_root_token)
        config.seal.in_memory_key = result.root_key
        # As Vault's dev server: a KV version 2 engine at secret/.
        core.handle(
            Request(
                operation=UPDATE,
                path="sys/mounts/secret",
                data={"type": "kv", "options": {"version": "2"}, "description": "key/value secret storage"},
                client_token=result.root_token,
            )
        )
        if config.dev_aws == "moto":
            from vaultlet.devaws import configure_dev_aws

            configure_dev_aws(core, result.root_token)
        return result.root_token
    finally:
        core.close()


def lift_operator_seal(config: ServerConfig) -> None:
    """Under an auto-unseal seal nobody holds a key to give ``sys/unseal``, so, as with
    Vault's auto-unseal, a server sealed by an operator unseals when it is started again.
    Runs once in the master: a worker the master respawns leaves the seal as it is."""
    core = Core(config.core)
    try:
        core.storage.delete(SEAL_MARK_KEY)
    finally:
        core.close()


class SharedKeySlot:
    """The root key an operator gave one worker (``sys/init``, ``sys/unseal``), for the
    other workers of the same server: anonymous shared memory mapped by the master before
    it forks, so it exists only in this server's processes, never on disk, and a worker
    the master respawns still finds it. ``sys/seal`` wipes it."""

    def __init__(self):
        self._memory = mmap.mmap(-1, 1 + KEY_SIZE)

    def get(self) -> bytes | None:
        return bytes(self._memory[1:]) if self._memory[0] == 1 else None

    def put(self, key: bytes | None) -> None:
        self._memory[0] = 0
        self._memory[1:] = key if key is not None else bytes(KEY_SIZE)
        if key is not None:
            self._memory[0] = 1


def build_core(config: ServerConfig, key_slot: SharedKeySlot | None = None) -> Core:
    core = Core(config.core)
    core.seal_source = config.seal
    core.server_config = config
    if key_slot is not None:
        core.key_sharer = key_slot.put
        core.shared_key = key_slot.get
    core.try_auto_unseal()
    return core


def _worker_app(config: ServerConfig, key_slot: SharedKeySlot):
    """The WSGI app of one worker process, built after the fork (both servers)."""
    from vaultlet.http import create_app

    logs.configure(config.log_level, config.log_format)
    # The line tests and operators use to find worker processes (gunicorn's wording).
    log.info("Booting worker with pid: %d", os.getpid())
    core = build_core(config, key_slot)
    _WORKER_CORES.append(core)
    return create_app(core, max_request_size=config.listener.max_request_size)


_WORKER_CORES: list[Core] = []


def _close_worker_cores() -> None:
    while _WORKER_CORES:
        _WORKER_CORES.pop().close()


def _mark_worker_dead(pid: int) -> None:
    """A worker is gone: its live gauges stop counting (its counters stay in the sum)."""
    if telemetry.multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _server_log_level(level: str) -> str:
    return "debug" if level == "trace" else level


# --- granian (the default): a Rust HTTP server calling the Flask app (WSGI) -----------


BOOT_ERROR = 3  # a worker's exit status when it cannot boot (gunicorn's WORKER_BOOT_ERROR)


class _NoCrashLoopDetection(dict):
    """granian stops the whole server when a worker it respawned dies again within
    5.5 s. vaultlet's workers are replaceable at any time (claims, the shared key slot),
    and a worker that cannot boot stops the server itself (``_granian_loader``), so
    respawn times are not recorded and a killed worker is always replaced, as gunicorn
    does."""

    def __setitem__(self, key, value) -> None:
        pass


def _exit_reason(worker) -> str:
    """How a worker process ended, in gunicorn's terms ("killed by SIGKILL")."""
    code = worker.inner.exitcode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _granian_server_class():
    from granian.server.mp import MPServer

    class VaultletGranian(MPServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.respawned_wrks = _NoCrashLoopDetection()

        def shutdown(self, exit_code=0):
            workers = list(self.wrks)
            try:
                super().shutdown(exit_code)
            finally:
                if any(worker.inner.exitcode == BOOT_ERROR for worker in workers):
                    sys.exit(BOOT_ERROR)  # as gunicorn's master after a boot failure

        def _respawn_workers(self, workers, *args, **kwargs):
            gone = [self.wrks[idx]._id() for idx in workers]
            for idx, pid in zip(workers, gone, strict=True):
                reason = _exit_reason(self.wrks[idx])
                log.warning("worker %d exited (%s); starting a replacement", pid, reason)
            super()._respawn_workers(workers, *args, **kwargs)
            for pid in gone:
                _mark_worker_dead(pid)

    return VaultletGranian


def _granian_loader(config: ServerConfig, key_slot: SharedKeySlot):
    def load():
        from multiprocessing.util import Finalize

        try:
            app = _worker_app(config, key_slot)
        except Exception:
            # As gunicorn's "worker failed to boot": every replacement would fail the
            # same way, so the server stops instead of respawning workers in a loop.
            log.exception("worker %d failed to boot; stopping the server", os.getpid())
            os.kill(os.getppid(), signal.SIGTERM)
            os._exit(BOOT_ERROR)
        app = _without_process_environment(app)
        pid = os.getpid()
        # multiprocessing runs its finalizers when a worker's serve loop returns
        # (SIGTERM, after in-flight requests); atexit handlers would not run.
        Finalize(None, _close_worker_cores, exitpriority=10)
        Finalize(None, _mark_worker_dead, args=(pid,), exitpriority=5)
        return app

    return load


def _without_process_environment(app):
    """granian starts every request's environ from a copy of the process environment, so
    a variable such as HTTP_PROXY (or HTTP_X_VAULT_NAMESPACE) would read as a header of
    every request. Such keys are dropped unless the request itself sent another value."""
    inherited = {k: v for k, v in os.environ.items() if k.startswith(("HTTP_", "CONTENT_"))}
    if not inherited:
        return app

    def wsgi(environ, start_response):
        for key, value in inherited.items():
            if environ.get(key) == value:
                del environ[key]
        return app(environ, start_response)

    return wsgi


def serve_granian(config: ServerConfig, key_slot: SharedKeySlot) -> None:
    import multiprocessing

    from granian.constants import Interfaces, SSLProtocols
    from granian.log import LogLevels

    # The shared key slot and the metrics directory reach the workers by fork.
    multiprocessing.set_start_method("fork", force=True)
    host, _, port = config.listener.address.rpartition(":")
    options: dict = {}
    if not config.listener.tls_disable:
        options.update(
            ssl_cert=Path(config.listener.tls_cert_file),
            ssl_key=Path(config.listener.tls_key_file),
            ssl_protocol_min=SSLProtocols.tls12,  # Vault's default tls_min_version
        )
    server = _granian_server_class()(
        "vaultlet",  # no import target: the loader builds the app
        address=host.strip("[]") or "0.0.0.0",
        port=int(port),
        interface=Interfaces.WSGI,
        workers=config.workers,
        blocking_threads=config.threads,
        respawn_failed_workers=True,
        workers_kill_timeout=config.graceful_timeout,
        log_level=LogLevels(_server_log_level(config.log_level)),
        log_dictconfig=logs.server_logconfig(config.log_level, config.log_format),
        log_access=False,  # vaultlet writes its own request line (vaultlet.http.request)
        **options,
    )
    server.serve(target_loader=_granian_loader(config, key_slot), wrap_loader=False)


# --- gunicorn (http_server = "gunicorn"): sync workers (threads = 1) or gthread -------


def serve_gunicorn(config: ServerConfig, key_slot: SharedKeySlot) -> None:
    from gunicorn.app.base import BaseApplication

    class VaultletApplication(BaseApplication):
        def load_config(self) -> None:
            listener = config.listener
            options = {
                "bind": listener.address,
                "workers": config.workers,
                "threads": config.threads,
                "worker_class": "sync" if config.threads == 1 else "gthread",
                "graceful_timeout": config.graceful_timeout,
                "timeout": 120,
                "keepalive": 75,
                "loglevel": _server_log_level(config.log_level),
                "accesslog": None,  # vaultlet writes its own request line (vaultlet.http.request)
                "errorlog": "-",
                "logconfig_dict": logs.server_logconfig(config.log_level, config.log_format),
                "proc_name": "vaultlet",
                "control_socket_disable": True,
                "worker_exit": lambda _server, _worker: _close_worker_cores(),
                "child_exit": lambda _server, worker: _mark_worker_dead(worker.pid),
            }
            if not listener.tls_disable:
                options.update(certfile=listener.tls_cert_file, keyfile=listener.tls_key_file)
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return _worker_app(config, key_slot)

    from gunicorn.errors import HaltServer

    try:
        VaultletApplication().run()
    except HaltServer as halt:
        # When a second worker fails to boot while the arbiter is already halting for the
        # first, gunicorn's stop() raises HaltServer again out of its own halt(), and the
        # process would end with a traceback and status 1. The workers have been told to
        # stop by then; end with the status the halt meant (3: a worker failed to boot).
        log.error("%s", halt.reason)
        sys.exit(halt.exit_status)


SERVERS = {"granian": serve_granian, "gunicorn": serve_gunicorn}


def _remove_at_exit(directory: str) -> None:
    """Remove ``directory`` when the process that made it (the server's master) exits.
    Forked workers inherit atexit handlers and run them when they exit or restart;
    one of them must not delete what the master and the other workers still use."""
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(directory, True)

    atexit.register(remove)


def prepare_metrics_dir() -> str:
    """A private, empty directory for this server's multiprocess metric files.

    Set before the first metric exists (prometheus-client picks its storage then) and
    before workers fork, so every worker writes there and a scrape sums them. A
    directory inherited from the environment is not reused: stale files from another
    run would be added to this one's counters.
    """
    directory = tempfile.mkdtemp(prefix="vaultlet-metrics-")
    _remove_at_exit(directory)
    os.environ[telemetry.MULTIPROC_ENV] = directory
    return directory


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.dev:
            config = dev_config(args)
        elif args.config:
            config = load(args.config)
        else:
            print("Error: either -config or -dev is required", file=sys.stderr)
            return 1
        config.log_level, config.log_format = log_settings(
            args.log_level or config.log_level, args.log_format or config.log_format
        )
    except ConfigError as error:
        print(f"Error loading configuration: {error}", file=sys.stderr)
        return 1
    problem = listener_problem(config.listener.address)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    prepare_metrics_dir()
    logs.configure(config.log_level, config.log_format)
    if args.dev:
        root_token = prepare_dev(config)
        _print_dev_banner(config, root_token)
    elif config.seal.auto_unseal:
        lift_operator_seal(config)
    # The key slot is mapped before the workers fork: every worker maps the same page.
    SERVERS[config.http_server](config, SharedKeySlot())
    return 0


def listener_problem(address: str) -> str:
    """Vault's one-line error when the listen address cannot be bound, checked before
    anything starts (the HTTP servers would otherwise fail later, in their own words
    and with a traceback). A race with another process remains possible, and then the
    server's own error stands."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            probe.bind((host, int(port)))
    except (OSError, ValueError) as error:
        reason = error.strerror.lower() if isinstance(error, OSError) and error.strerror else str(error)
        return f"Error initializing listener of type tcp: listen tcp {address}: bind: {reason}"
    return ""


def _print_dev_banner(config: ServerConfig, root_token: str) -> None:
    # Dev mode exists to be used from a terminal; the root token of a throwaway
    # in-memory-keyed server is printed on purpose, as `vault server -dev` does.
    address = config.listener.address
    print(
        "==> vaultlet server started in DEV mode: storage is a throwaway file and the seal key\n"
        "    lives in memory. Never use dev mode in production.\n\n"
        f"    export VAULT_ADDR='http://{address}'\n"
        f"    Root Token: {root_token}\n",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
