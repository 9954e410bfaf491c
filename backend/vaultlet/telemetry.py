"""Metrics: Vault's names where Vault has the metric, vaultlet's own beside them.

Built on prometheus-client. Under gunicorn every worker process counts in its own
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (set by ``vaultlet server``
before any worker forks) and a scrape sums them (prometheus-client's multiprocess
mode). prometheus-client picks its storage once, when the first metric is built,
so the metrics are built lazily on first use, after the server set that variable.

Recording is one increment or observation on a process-local value (no lock held
beyond that); gauges that describe shared state (the number of leases) are read
from the database at scrape time, so every worker answers the same.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaultlet.core.core import Core

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Vault's token.creation TTL buckets (helper/metricsutil.TTLBucket).
_TTL_BUCKETS = [
    (60, "1m"),
    (600, "10m"),
    (1200, "20m"),
    (3600, "1h"),
    (7200, "2h"),
    (86400, "1d"),
    (2 * 86400, "2d"),
    (7 * 86400, "7d"),
    (30 * 86400, "30d"),
]


@dataclass
class TelemetrySettings:
    """The server config's ``telemetry`` stanza and the listener's ``telemetry`` block."""

    # Vault serves the Prometheus format only with a retention time; vaultlet's
    # counters are cumulative and never expire, so any positive value enables it.
    prometheus_enabled: bool = True
    unauthenticated_metrics_access: bool = False


@dataclass
class _Metrics:
    handle_request: Any
    handle_login_request: Any
    route: dict[str, Any]
    token_creation: Any
    expire_revoke: Any
    audit_request_failure: Any
    audit_response_failure: Any
    quota_violation: Any
    requests_denied: Any
    credentials_issued: Any
    aws_call_seconds: Any
    aws_call_errors: Any
    revocation_failures: Any
    leases_marked_irrevocable: Any
    orphans_deleted: Any
    wal_rollbacks: Any


_BUILT: list[_Metrics] = []
_BUILD_LOCK = threading.Lock()


def _metrics() -> _Metrics:
    """The process's metrics, built once: two objects for one multiprocess value would
    each keep their own count and overwrite each other's in the shared file."""
    if not _BUILT:
        with _BUILD_LOCK:
            if not _BUILT:
                _BUILT.append(_build())
    return _BUILT[0]


def _build() -> _Metrics:
    from prometheus_client import CollectorRegistry, Counter, Histogram, Summary

    registry = _in_process_registry(CollectorRegistry)

    def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
        return Counter(name, doc, labels, registry=registry)

    def summary(name: str, doc: str) -> Any:
        return Summary(name, doc, registry=registry)

    return _Metrics(
        handle_request=summary("vault_core_handle_request", "Time to handle a non-login request (ms)"),
        handle_login_request=summary(
            "vault_core_handle_login_request", "Time to handle a login request (ms)"
        ),
        route={},
        token_creation=counter(
            "vault_token_creation",
            "Tokens created",
            ("auth_method", "mount_point", "creation_ttl", "token_type", "namespace"),
        ),
        expire_revoke=summary("vault_expire_revoke", "Time to revoke a lease (ms)"),
        audit_request_failure=counter("vault_audit_log_request_failure", "Requests no audit device recorded"),
        audit_response_failure=counter(
            "vault_audit_log_response_failure", "Responses no audit device recorded"
        ),
        quota_violation=counter(
            "vault_quota_rate_limit_violation", "Requests refused by a rate limit quota", ("name",)
        ),
        # Labels stay bounded: the mount the request resolved to (never the full path,
        # never a token) and one of the five operations.
        requests_denied=counter(
            "vaultlet_requests_denied",
            "Requests refused with 403 permission denied",
            ("mount_point", "operation"),
        ),
        credentials_issued=counter(
            "vaultlet_credentials_issued",
            "Cloud credentials issued",
            ("mount_point", "role", "credential_type"),
        ),
        aws_call_seconds=Histogram(
            "vaultlet_aws_call_duration_seconds",
            "Latency of AWS API calls, retries included",
            ("api",),
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        ),
        aws_call_errors=counter("vaultlet_aws_call_errors", "AWS API calls that failed", ("api", "code")),
        revocation_failures=counter(
            "vaultlet_lease_revocation_failures", "Failed lease revocation attempts", ("mount_point",)
        ),
        leases_marked_irrevocable=counter(
            "vaultlet_leases_marked_irrevocable",
            "Leases that ran out of revocation attempts",
            ("mount_point",),
        ),
        orphans_deleted=counter(
            "vaultlet_orphan_sweeper_deleted_users",
            "Orphaned IAM users the sweeper deleted",
            ("mount_point",),
        ),
        wal_rollbacks=counter(
            "vaultlet_wal_rollbacks", "Write-ahead log entries rolled back", ("mount_point", "kind")
        ),
    )


_REGISTRY: list[Any] = []  # the single-process registry (no PROMETHEUS_MULTIPROC_DIR)
_ROUTE_LOCK = threading.Lock()


def _in_process_registry(registry_class) -> Any:
    if multiprocess_dir():
        return None  # the metrics live in the shared files; a scrape reads those
    _REGISTRY.append(registry_class(auto_describe=True))
    return _REGISTRY[0]


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROC_ENV, "")


# -- recording -------------------------------------------------------------------


def request_handled(operation: str, mount_path: str, login: bool, started: float) -> None:
    """One request through the core: Vault's handle_request and route timers."""
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    metrics = _metrics()
    (metrics.handle_login_request if login else metrics.handle_request).observe(elapsed_ms)
    if mount_path:
        _route_summary(metrics, operation, mount_path).observe(elapsed_ms)


def _route_summary(metrics: _Metrics, operation: str, mount_path: str) -> Any:
    """Vault names route timers after the operation and the mount (``vault_route_read_aws_``)."""
    name = "vault_route_" + _sanitize(f"{operation}_{mount_path}")
    found = metrics.route.get(name)
    if found is None:
        with _ROUTE_LOCK:  # only while building a mount's first timer
            found = metrics.route.get(name)
            if found is None:
                from prometheus_client import Summary

                registry = None if multiprocess_dir() else _REGISTRY[0]
                found = Summary(
                    name, f"Time to route {operation} requests to {mount_path} (ms)", registry=registry
                )
                metrics.route[name] = found
    return found


def _sanitize(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


def token_created(auth_method: str, mount_point: str, ttl: int, token_type: str) -> None:
    _metrics().token_creation.labels(auth_method, mount_point, ttl_bucket(ttl), token_type, "root").inc()


def ttl_bucket(ttl: int) -> str:
    if ttl <= 0:
        return "+Inf"
    for limit, label in _TTL_BUCKETS:
        if ttl <= limit:
            return label
    return "+Inf"


def lease_revoked(started: float) -> None:
    _metrics().expire_revoke.observe((time.perf_counter() - started) * 1000.0)


def revocation_failed(mount_point: str, irrevocable: bool) -> None:
    metrics = _metrics()
    metrics.revocation_failures.labels(mount_point).inc()
    if irrevocable:
        metrics.leases_marked_irrevocable.labels(mount_point).inc()


def audit_failed(stage: str) -> None:
    metrics = _metrics()
    (metrics.audit_request_failure if stage == "request" else metrics.audit_response_failure).inc()


def quota_violated(name: str) -> None:
    _metrics().quota_violation.labels(name).inc()


def request_denied(mount_point: str, operation: str) -> None:
    _metrics().requests_denied.labels(mount_point, operation).inc()


def credentials_issued(mount_point: str, role: str, credential_type: str) -> None:
    _metrics().credentials_issued.labels(mount_point, role, credential_type).inc()


def aws_call(api: str, seconds: float, error_code: str = "") -> None:
    metrics = _metrics()
    metrics.aws_call_seconds.labels(api).observe(seconds)
    if error_code:
        metrics.aws_call_errors.labels(api, error_code).inc()


def orphan_deleted(mount_point: str) -> None:
    _metrics().orphans_deleted.labels(mount_point).inc()


def wal_rolled_back(mount_point: str, kind: str) -> None:
    _metrics().wal_rollbacks.labels(mount_point, kind).inc()


# -- scraping --------------------------------------------------------------------


def _normalized(families: Iterator[Any]) -> Iterator[Any]:
    """Counter families by their base name (multiprocess mode names them with the
    ``_total`` suffix, the in-process registry without), and no ``_created`` samples."""
    for family in families:
        if family.type == "counter":
            family.name = family.name.removesuffix("_total")
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
        yield family


class _Fixed:
    def __init__(self, families: list[Any]):
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


class _StateCollector:
    """Gauges read from shared state at scrape time (the same on every worker)."""

    def __init__(self, core: Core):
        self.core = core

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        unsealed = GaugeMetricFamily(
            "vault_core_unsealed", "Whether the server is unsealed", labels=["cluster"]
        )
        sealed = self.core.barrier.sealed
        unsealed.add_metric([self.core.config.cluster_name], 0 if sealed else 1)
        yield unsealed
        if sealed:
            return
        storage = self.core.storage
        yield GaugeMetricFamily(
            "vault_expire_num_leases", "Leases (tokens included)", value=storage.lease_count()
        )
        yield GaugeMetricFamily(
            "vault_expire_num_irrevocable_leases",
            "Leases whose revocation ran out of attempts",
            value=storage.lease_count(irrevocable=True),
        )
        by_mount = GaugeMetricFamily("vaultlet_leases", "Leases per mount", labels=["mount_point"])
        for mount_point, count in self._leases_by_mount():
            by_mount.add_metric([mount_point], count)
        yield by_mount

    def _leases_by_mount(self) -> list[tuple[str, int]]:
        router = self.core.router
        counts = self.core.storage.lease_counts_by_mount()
        names = {entry.uuid: entry.full_path for entry in router.all_entries()}
        names["token"] = "auth/token/"
        return sorted((names.get(mount_uuid, mount_uuid), count) for mount_uuid, count in counts.items())


class _Registry:
    """What a scrape collects: the processes' metrics plus the state gauges."""

    def __init__(self, core: Core):
        self.core = core

    def collect(self) -> Iterator[Any]:
        if multiprocess_dir():
            from prometheus_client import multiprocess

            process_metrics = multiprocess.MultiProcessCollector(None).collect()
        else:
            _metrics()
            process_metrics = _REGISTRY[0].collect()
        yield from _normalized(process_metrics)
        yield from _StateCollector(self.core).collect()


def prometheus_text(core: Core) -> str:
    """The text format. Vault's counters carry no ``_total`` suffix (go-metrics'
    Prometheus sink writes ``vault_token_creation``); prometheus-client's writer
    always adds one, so it is taken off Vault's names again. vaultlet's own
    counters keep the Prometheus convention."""
    from prometheus_client import generate_latest

    families = list(_Registry(core).collect())
    text = generate_latest(_Fixed(families)).decode()
    for family in families:
        if family.type == "counter" and family.name.startswith("vault_"):
            text = text.replace(f"{family.name}_total", family.name)
    return text


def json_document(core: Core) -> dict[str, Any]:
    """Vault's in-memory sink shape: Gauges, Counters and Samples, named with dots.

    vaultlet's values are cumulative since the server started (Vault's cover the
    last ten-second interval); Min/Max/Stddev are not kept, so they are absent.
    """
    gauges, counters, samples = [], [], []
    for family in _Registry(core).collect():
        name = dotted_name(family.name)
        if family.type == "gauge":
            for sample in family.samples:
                gauges.append({"Name": name, "Value": sample.value, "Labels": dict(sample.labels)})
        elif family.type == "counter":
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                counters.append(_aggregate(name, sample.value, sample.value, sample.labels))
        elif family.type in ("summary", "histogram"):
            samples.extend(_summaries(name, family.samples))
    return {
        "Timestamp": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime()),
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": samples,
    }


def dotted_name(name: str) -> str:
    """Vault's JSON names keep go-metrics' dotted keys: ``vault.core.handle_request``."""
    if name in _DOTTED:
        return _DOTTED[name]
    if name.startswith("vault_route_"):
        return "vault.route." + name[len("vault_route_") :]
    return name


_DOTTED = {
    "vault_core_handle_request": "vault.core.handle_request",
    "vault_core_handle_login_request": "vault.core.handle_login_request",
    "vault_core_unsealed": "vault.core.unsealed",
    "vault_token_creation": "vault.token.creation",
    "vault_expire_revoke": "vault.expire.revoke",
    "vault_expire_num_leases": "vault.expire.num_leases",
    "vault_expire_num_irrevocable_leases": "vault.expire.num_irrevocable_leases",
    "vault_audit_log_request_failure": "vault.audit.log_request_failure",
    "vault_audit_log_response_failure": "vault.audit.log_response_failure",
    "vault_quota_rate_limit_violation": "vault.quota.rate_limit.violation",
}


def _summaries(name: str, family_samples: list[Any]) -> list[dict[str, Any]]:
    by_labels: dict[tuple, dict[str, float]] = {}
    for sample in family_samples:
        labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        slot = by_labels.setdefault(labels, {})
        if sample.name.endswith("_count"):
            slot["count"] = sample.value
        elif sample.name.endswith("_sum"):
            slot["sum"] = sample.value
    return [
        _aggregate(name, slot.get("count", 0), slot.get("sum", 0.0), dict(labels))
        for labels, slot in by_labels.items()
    ]


def _aggregate(name: str, count: float, total: float, labels: Any) -> dict[str, Any]:
    mean = total / count if count else 0.0
    return {
        "Name": name,
        "Count": int(count) if not math.isnan(count) else 0,
        "Sum": total,
        "Mean": mean,
        "Labels": dict(labels),
    }
