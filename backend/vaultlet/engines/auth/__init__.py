"""Auth methods (Vault's ``builtin/credential``): mounted under ``sys/auth``, they mint tokens."""
