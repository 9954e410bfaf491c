"""AppRole: machine login with a role ID and a secret ID (Vault's ``approle`` auth method)."""
