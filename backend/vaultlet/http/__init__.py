from vaultlet.http.app import create_app

__all__ = ["create_app"]
