"""JWT/OIDC: log in with a signed JSON Web Token (Vault's ``jwt`` auth method, vault-plugin-auth-jwt)."""
