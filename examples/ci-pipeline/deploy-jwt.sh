#!/usr/bin/env bash
# deploy-jwt.sh - the walkthrough's deploy script, logging in with the CI job's OIDC token.
#
# No long-lived secret in the pipeline: the CI system signs a JWT for this job (GitHub
# Actions, GitLab CI, Buildkite, CircleCI all do), vaultlet's `jwt` auth method checks it
# against the issuer's keys and the role's bound claims, and hands back a short-lived
# token. deploy.sh then reads aws/creds/..., deploys and revokes the lease; the Vault
# token is revoked at the end too.
#
#   VAULT_ADDR            vaultlet's address (required)
#   VAULT_AUTH_ROLE       the jwt role to log in with (required)
#   VAULT_AUTH_PATH       mount of the jwt auth method         (default: jwt)
#   VAULT_JWT_FILE        a file holding the job's JWT, e.g. GitLab's `id_tokens:` written out
#   VAULT_JWT             or the JWT itself
#   (in GitHub Actions, with `permissions: id-token: write`, neither is needed: the JWT is
#    requested from ACTIONS_ID_TOKEN_REQUEST_URL with audience VAULT_JWT_AUDIENCE)
#   VAULT_CLI             vaultlet | bao | vault               (default: vaultlet)
#   and everything deploy.sh reads (DEPLOY_BUCKET, VAULT_AWS_ROLE, ...)
set -euo pipefail
set +x # never trace: the JWT and the token live in variables below

: "${VAULT_ADDR:?set VAULT_ADDR}"
: "${VAULT_AUTH_ROLE:?set VAULT_AUTH_ROLE}"
VAULT_CLI="${VAULT_CLI:-vaultlet}"
VAULT_AUTH_PATH="${VAULT_AUTH_PATH:-jwt}"
HERE="$(cd "$(dirname "$0")" && pwd)"

ci_jwt() {
    if [ -n "${VAULT_JWT:-}" ]; then
        printf '%s' "$VAULT_JWT"
    elif [ -n "${VAULT_JWT_FILE:-}" ]; then
        cat "$VAULT_JWT_FILE"
    elif [ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ]; then
        curl -fsS -H "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN:?}" \
            "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${VAULT_JWT_AUDIENCE:-vaultlet}" | jq -r '.value'
    else
        echo "no JWT: set VAULT_JWT_FILE or VAULT_JWT, or run in GitHub Actions with id-token: write" >&2
        return 1
    fi
}

echo "Logging in to ${VAULT_ADDR} with the job's JWT (auth/${VAULT_AUTH_PATH}, role ${VAULT_AUTH_ROLE})..."
# jwt=- reads the JWT from stdin: it never appears on a command line (ps, /proc).
VAULT_TOKEN="$(ci_jwt | "$VAULT_CLI" write -field=token "auth/${VAULT_AUTH_PATH}/login" \
    role="$VAULT_AUTH_ROLE" jwt=-)"
export VAULT_TOKEN
unset CI_VAULT_TOKEN VAULT_JWT

revoke_token() {
    "$VAULT_CLI" token revoke -self >/dev/null 2>&1 || echo "warning: could not revoke the Vault token" >&2
}
trap revoke_token EXIT

"$HERE/deploy.sh"
