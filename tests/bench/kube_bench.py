"""Kubernetes logins/s, vaultlet vs OpenBao, both against the same kube-apiserver STAND-IN.

Each login is a full round trip: the JWT's claims and the role's bindings, a TokenReview over
HTTPS to the stand-in (tests/support/kube_apiserver.py, in this process, which verifies the
JWT's RS256 signature), then the token write. The stand-in is shared, so its cost is in both
figures alike.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.core_bench import report
from bench.hey import run_hey
from support.kube_apiserver import KubeApiServerStandIn
from support.processes import ServerProcess, http

ROLE = {
    "bound_service_account_names": "my-app",
    "bound_service_account_namespaces": "default",
    "token_ttl": "10m",
}


def _configure(server: ServerProcess, kube: KubeApiServerStandIn) -> None:
    config = {"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem, "disable_local_ca_jwt": True}
    for method, path, body in (
        ("POST", "sys/auth/kubernetes", {"type": "kubernetes"}),
        ("POST", "auth/kubernetes/config", config),
        ("POST", "auth/kubernetes/role/my-app", ROLE),
    ):
        status, _, text = http(server, method, path, body)
        assert status in (200, 204), f"{server.kind} {path}: {status} {text}"


def run(vaultlet: ServerProcess, openbao: ServerProcess, workdir: Path, duration: str) -> None:
    print("\n## kubernetes auth: POST auth/kubernetes/login (TokenReview over HTTPS to a local stand-in)")
    kube = KubeApiServerStandIn(workdir / "kube-apiserver-standin")
    try:
        body = json.dumps(
            {"role": "my-app", "jwt": kube.issue_token(kube.service_account("default", "my-app"))}
        )
        results = []
        for server in (vaultlet, openbao):
            _configure(server, kube)
            status, _, text = http(server, "POST", "auth/kubernetes/login", json.loads(body), token=None)
            assert status == 200, f"{server.kind} login: {status} {text}"
            before = len(kube.reviews())
            result = run_hey(
                f"{server.kind:<8} kubernetes login",
                f"{server.address}/v1/auth/kubernetes/login",
                token="",
                method="POST",
                body=body,
                duration=duration,
            )
            reviews = len(kube.reviews()) - before
            print(f"  ({server.kind}: {reviews} TokenReviews answered by the stand-in)")
            results.append(result)
        report(*results)
    finally:
        kube.stop()
