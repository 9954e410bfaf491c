"""Secrets engines (Vault's ``builtin/logical``): mounted under ``sys/mounts``, they issue secrets."""
