"""sys/leases: lookup, list, renew, revoke (one, by prefix, forced), count, tidy."""

from __future__ import annotations

from vaultlet.errors import UserError
from vaultlet.framework.fields import BOOL, DURATION, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import LIST, READ, UPDATE, Response, list_response

_LEASE_ID = Field(STRING, "The lease identifier")


def _lease_id(fields) -> str:
    return (fields["url_lease_id"] or fields["lease_id"]).strip()


def lookup(backend, request, fields) -> Response:
    return Response(data=backend.core.expiration.lookup(fields["lease_id"].strip()))


def lookup_list(backend, request, fields) -> Response:
    return list_response(backend.core.expiration.list(fields["prefix"]))


def renew(backend, request, fields) -> Response:
    return backend.core.expiration.renew(_lease_id(fields), fields["increment"])


def revoke(backend, request, fields) -> Response | None:
    sync = fields["sync"]
    backend.core.expiration.revoke(_lease_id(fields), sync=sync)
    return None if sync else Response(status=202)


def revoke_prefix(backend, request, fields) -> Response | None:
    sync = fields["sync"]
    backend.core.expiration.revoke_prefix(fields["prefix"], sync=sync)
    return None if sync else Response(status=202)


def revoke_force(backend, request, fields) -> None:
    """Always synchronous, as in Vault: each engine is called, its errors are ignored."""
    backend.core.expiration.revoke_prefix(fields["prefix"], force=True)


def _counted_type(fields) -> bool | None:
    kind = fields["type"]
    if kind not in ("", "irrevocable", "all"):
        raise UserError('type must be "irrevocable" or "all"')
    return True if kind == "irrevocable" else None


def count(backend, request, fields) -> Response:
    """Vault's answer (``counts`` per mount accessor and ``lease_count``). Vault counts
    only ``type=irrevocable``; vaultlet also counts every lease (no type, or ``all``),
    adding ``queued``: the leases due for revocation now, so a big revoke's progress shows."""
    expiration = backend.core.expiration
    irrevocable = _counted_type(fields)
    data = expiration.counts(irrevocable=irrevocable)
    if not irrevocable:
        data["queued"] = expiration.queued()
    return Response(data=data)


def irrevocable_list(backend, request, fields) -> Response:
    if fields["type"] != "irrevocable":
        raise UserError('type must be "irrevocable"')
    limit = None if fields["limit"] == "none" else int(fields["limit"] or 10000)
    leases = backend.core.expiration.irrevocable(limit)
    return Response(data={"lease_count": len(leases), "leases": leases})


def tidy(backend, request, fields) -> Response:
    backend.core.expiration.tidy()
    return Response(
        status=202,
        warnings=[
            "Tidy operation successfully started. Any information from the operation "
            "will be printed to the server logs."
        ],
    )


_SYNC = Field(BOOL, "Wait for the revocation to finish (false: queue it and answer 202)", default=True)

PATHS = [
    Path(
        pattern="leases/lookup",
        fields={"lease_id": _LEASE_ID},
        operations={UPDATE: lookup},
        synopsis="Look up a lease: issue and expire time, TTL, renewable.",
    ),
    Path(
        pattern="leases/lookup/(?P<prefix>.*)",
        fields={"prefix": Field(STRING, "The path to list leases under", in_path=True)},
        operations={LIST: lookup_list},
        sudo=True,
        synopsis="List lease ids one level under a prefix.",
    ),
    Path(
        pattern="leases/renew(?:/(?P<url_lease_id>.+))?",
        fields={
            "url_lease_id": Field(STRING, "The lease identifier (in the URL)", in_path=True),
            "lease_id": _LEASE_ID,
            "increment": Field(DURATION, "Requested TTL from now; 0 uses the engine's default"),
        },
        operations={UPDATE: renew},
        synopsis="Renew a lease, extending its TTL up to its maximum.",
    ),
    Path(
        pattern="leases/revoke(?:/(?P<url_lease_id>.+))?",
        fields={
            "url_lease_id": Field(STRING, "The lease identifier (in the URL)", in_path=True),
            "lease_id": _LEASE_ID,
            "sync": _SYNC,
        },
        operations={UPDATE: revoke},
        synopsis="Revoke a lease now.",
    ),
    Path(
        pattern="leases/revoke-prefix/(?P<prefix>.+)",
        fields={"prefix": Field(STRING, "Lease id prefix", in_path=True), "sync": _SYNC},
        operations={UPDATE: revoke_prefix},
        sudo=True,
        synopsis="Revoke every lease under a prefix.",
    ),
    Path(
        pattern="leases/revoke-force/(?P<prefix>.+)",
        fields={"prefix": Field(STRING, "Lease id prefix", in_path=True)},
        operations={UPDATE: revoke_force},
        sudo=True,
        synopsis="Revoke every lease under a prefix; drop each one even if its engine fails to.",
    ),
    Path(
        pattern="leases/count",
        fields={
            "type": Field(STRING, 'Which leases: "irrevocable" or "all"'),
            "include_child_namespaces": Field(BOOL),
        },
        operations={READ: count},
        synopsis="Count leases.",
    ),
    Path(
        pattern="leases",
        fields={
            "type": Field(STRING, 'Must be "irrevocable"'),
            "limit": Field(STRING, 'Maximum entries, or "none"'),
            "include_child_namespaces": Field(BOOL),
        },
        operations={READ: irrevocable_list},
        sudo=True,
        synopsis="List the leases whose revocation keeps failing.",
    ),
    Path(pattern="leases/tidy", operations={UPDATE: tidy}, synopsis="Queue leases whose token is gone."),
]
