__version__ = "0.2.0"

# The Vault release whose HTTP API vaultlet follows. Servers report it as their version, with
# vaultlet's own as build metadata, so clients that gate features on the server version
# (Terraform's vault provider, SDKs) judge vaultlet by the API it speaks.
VAULT_API_VERSION = "1.21.0"
SERVER_VERSION = f"{VAULT_API_VERSION}+vaultlet.{__version__}"
