#!/usr/bin/env bash
# deploy.sh - fetch short-lived AWS credentials from vaultlet, deploy, revoke them.
#
# The walkthrough's CI script, adapted: any Vault-compatible CLI works (`vaultlet`,
# `bao`, `vault`), the lease is revoked on every exit path, and no secret is ever
# echoed, traced or passed on a command line.
#
#   VAULT_ADDR          vaultlet's address (required)
#   CI_VAULT_TOKEN      the pipeline's token (or VAULT_TOKEN)
#   DEPLOY_BUCKET       target bucket (required)
#   VAULT_CLI           vaultlet | bao | vault          (default: vaultlet)
#   VAULT_AWS_ROLE      role under aws/creds/            (default: deploy-role)
#   DIST_DIR            what to upload                   (default: ./dist)
#   CLOUDFRONT_DISTRIBUTION_ID  invalidate it afterwards (optional)
set -euo pipefail
set +x # never trace: the credentials live in variables below

: "${VAULT_ADDR:?set VAULT_ADDR}"
: "${DEPLOY_BUCKET:?set DEPLOY_BUCKET}"
export VAULT_TOKEN="${VAULT_TOKEN:-${CI_VAULT_TOKEN:?set CI_VAULT_TOKEN or VAULT_TOKEN}}"
VAULT_CLI="${VAULT_CLI:-vaultlet}"
VAULT_AWS_ROLE="${VAULT_AWS_ROLE:-deploy-role}"
DIST_DIR="${DIST_DIR:-./dist}"

echo "Fetching AWS credentials from ${VAULT_ADDR} (aws/creds/${VAULT_AWS_ROLE})..."
CREDS="$("$VAULT_CLI" read -format=json "aws/creds/${VAULT_AWS_ROLE}")"

# Set the trap before anything else can fail, so the lease never outlives the job.
LEASE_ID="$(jq -r '.lease_id // empty' <<<"$CREDS")"
cleanup() {
    if [ -n "$LEASE_ID" ]; then
        echo "Revoking AWS credentials (lease ${LEASE_ID})..."
        "$VAULT_CLI" lease revoke "$LEASE_ID" >/dev/null || echo "warning: could not revoke ${LEASE_ID}" >&2
    fi
}
trap cleanup EXIT

AWS_ACCESS_KEY_ID="$(jq -r '.data.access_key' <<<"$CREDS")"
AWS_SECRET_ACCESS_KEY="$(jq -r '.data.secret_key' <<<"$CREDS")"
AWS_SESSION_TOKEN="$(jq -r '.data.security_token // empty' <<<"$CREDS")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
if [ -n "$AWS_SESSION_TOKEN" ]; then export AWS_SESSION_TOKEN; else unset AWS_SESSION_TOKEN; fi
unset CREDS

echo "Deploying ${DIST_DIR} to s3://${DEPLOY_BUCKET}/ ..."
aws s3 sync --no-progress "$DIST_DIR" "s3://${DEPLOY_BUCKET}/"
if [ -n "${CLOUDFRONT_DISTRIBUTION_ID:-}" ]; then
    aws cloudfront create-invalidation --distribution-id "$CLOUDFRONT_DISTRIBUTION_ID" --paths "/*" >/dev/null
fi

echo "Deployment complete!"
