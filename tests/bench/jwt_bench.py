"""JWT logins/s (RS256 signature check against a cached JWKS, role and claims, token write),
vaultlet vs OpenBao, both verifying tokens of the same local OIDC issuer."""

from __future__ import annotations

from bench.core_bench import report
from bench.hey import run_hey
from support.oidc_issuer import OidcIssuer
from support.processes import ServerProcess, http

ROLE = {
    "role_type": "jwt",
    "user_claim": "sub",
    "bound_audiences": "vaultlet",
    "bound_claims": {"repository": "org/app"},
    "token_policies": "default",
    "token_ttl": "10m",
}


def _configure(server: ServerProcess, issuer: OidcIssuer) -> None:
    for method, path, body in (
        ("POST", "sys/auth/jwt-bench", {"type": "jwt"}),
        ("POST", "auth/jwt-bench/config", {"jwks_url": issuer.jwks_url}),
        ("POST", "auth/jwt-bench/role/bench", ROLE),
    ):
        status, _, text = http(server, method, path, body)
        assert status in (200, 204), f"{server.kind} {path}: {status} {text}"


def run(vaultlet: ServerProcess, openbao: ServerProcess, duration: str) -> None:
    print("\n## jwt: logins (RS256 JWT, JWKS cached, bound claim, token written)")
    with OidcIssuer(algorithms=("RS256",)) as issuer:
        body = f'{{"role": "bench", "jwt": "{issuer.token(repository="org/app")}"}}'
        results = []
        for server in (vaultlet, openbao):
            _configure(server, issuer)
            url = f"{server.address}/v1/auth/jwt-bench/login"
            name = f"{server.kind:<8} POST auth/jwt/login"
            results.append(run_hey(name, url, token="", method="POST", body=body, duration=duration))
        report(*results)
