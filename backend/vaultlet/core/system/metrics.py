"""sys/metrics: Vault's telemetry endpoint, in Prometheus text or Vault's JSON shape."""

from __future__ import annotations

from vaultlet import telemetry
from vaultlet.errors import PermissionDenied, UserError
from vaultlet.framework.fields import STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, Response


def metrics_read(backend, request, fields) -> Response:
    core = backend.core
    if not core.config.telemetry.unauthenticated_metrics_access:
        _authorize(core, request)
    output = fields["format"] or _format_from_accept(request.headers)
    if output == "prometheus":
        if not core.config.telemetry.prometheus_enabled:
            raise UserError("prometheus is not enabled")  # prometheus_retention_time = 0
        return Response(text=telemetry.prometheus_text(core), content_type=telemetry.PROMETHEUS_CONTENT_TYPE)
    if output:
        raise UserError(f"metric format {output!r} is not supported (use prometheus, or none for JSON)")
    return Response(raw=telemetry.json_document(core))


def _format_from_accept(headers: dict[str, str]) -> str:
    """Vault's FormatFromRequest: an OpenMetrics Accept header asks for Prometheus text. The
    header reaches sys/ because its mount passes Accept through (passthrough_request_headers)."""
    accept = next((value for name, value in headers.items() if name.lower() == "accept"), "")
    return "prometheus" if accept.startswith("application/openmetrics-text") else ""


def _authorize(core, request) -> None:
    """Vault checks the token itself here, so that the listener's
    unauthenticated_metrics_access can waive it."""
    token = request.token
    if token is None or not core.authorizer.bound_address_ok(token, request.remote_addr):
        raise PermissionDenied()
    if not core.authorizer.check(token, "sys/metrics", READ).allowed:
        raise PermissionDenied()


PATHS = [
    Path(
        pattern="metrics",
        fields={"format": Field(STRING, "prometheus for the Prometheus text format; empty for JSON")},
        operations={READ: metrics_read},
        unauthenticated=True,  # the handler checks the token unless the listener waives it
        synopsis="Telemetry metrics (Prometheus text format or Vault's JSON).",
    ),
]
