"""``vaultlet server``: run the API under gunicorn (threads), or a dev server.

Each gunicorn worker builds its own Core after the fork (database connections
and threads do not survive a fork); all of them share the database, which is
why leases, tokens and mounts live there and not in memory.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import mmap
import os
import shutil
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from vaultlet import logs, telemetry
from vaultlet.config import ConfigError, ListenerConfig, SealConfig, ServerConfig, load, log_settings
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
        threads=16,
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
    Runs once in the master: a worker gunicorn respawns leaves the seal as it is."""
    core = Core(config.core)
    try:
        core.storage.delete(SEAL_MARK_KEY)
    finally:
        core.close()


class SharedKeySlot:
    """The root key an operator gave one worker (``sys/init``, ``sys/unseal``), for the
    other workers of the same server: anonymous shared memory mapped by the master before
    it forks, so it exists only in this server's processes, never on disk, and a worker
    gunicorn respawns still finds it. ``sys/seal`` wipes it."""

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


class VaultletApplication(BaseApplication):
    def __init__(self, config: ServerConfig):
        self.config_ = config
        self.key_slot = SharedKeySlot()  # before the fork: every worker maps the same page
        super().__init__()

    def load_config(self) -> None:
        listener = self.config_.listener
        options = {
            "bind": listener.address,
            "workers": self.config_.workers,
            "threads": self.config_.threads,
            "worker_class": "gthread",
            "graceful_timeout": self.config_.graceful_timeout,
            "timeout": 120,
            "keepalive": 75,
            "loglevel": "debug" if self.config_.log_level == "trace" else self.config_.log_level,
            "accesslog": None,  # vaultlet writes its own request line (vaultlet.http.request)
            "errorlog": "-",
            "logconfig_dict": logs.gunicorn_logconfig(self.config_.log_level, self.config_.log_format),
            "proc_name": "vaultlet",
            "control_socket_disable": True,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
        }
        if not listener.tls_disable:
            options.update(certfile=listener.tls_cert_file, keyfile=listener.tls_key_file)
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from vaultlet.http import create_app

        logs.configure(self.config_.log_level, self.config_.log_format)
        core = build_core(self.config_, self.key_slot)
        app = create_app(core, max_request_size=self.config_.listener.max_request_size)
        _WORKER_CORES.append(core)
        return app


_WORKER_CORES: list[Core] = []


def _worker_exit(_server, _worker) -> None:
    for core in _WORKER_CORES:
        core.close()


def _child_exit(_server, worker) -> None:
    """A worker is gone: its live gauges stop counting (its counters stay in the sum)."""
    if telemetry.multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _remove_at_exit(directory: str) -> None:
    """Remove ``directory`` when the process that made it (gunicorn's master) exits.
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
    prepare_metrics_dir()
    logs.configure(config.log_level, config.log_format)
    if args.dev:
        root_token = prepare_dev(config)
        _print_dev_banner(config, root_token)
    elif config.seal.auto_unseal:
        lift_operator_seal(config)
    VaultletApplication(config).run()
    return 0


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
