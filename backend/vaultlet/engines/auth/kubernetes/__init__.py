"""Kubernetes: pods log in with their service-account JWT (Vault's ``kubernetes`` auth method)."""
