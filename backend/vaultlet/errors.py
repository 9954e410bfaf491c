"""Errors that map onto Vault's HTTP answers.

Handlers raise these; the HTTP layer turns them into ``{"errors": [...]}`` with the
status code Vault uses. Anything else that escapes a handler is a real fault and
becomes a 500 whose text never includes the exception message (it may carry
secrets).
"""

from __future__ import annotations


class VaultError(Exception):
    status = 500

    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = [m for m in messages if m]


class UserError(VaultError):
    """Bad input: 400 with the message shown to the client."""

    status = 400


class PermissionDenied(VaultError):
    status = 403

    def __init__(self, message: str = "permission denied"):
        super().__init__(message)


class NotFound(VaultError):
    """Nothing stored at the path: 404 with an empty error list, as Vault does."""

    status = 404


class UnsupportedOperation(VaultError):
    status = 405

    def __init__(self, message: str = "unsupported operation"):
        super().__init__(message)


class PayloadTooLarge(VaultError):
    status = 413


class UpstreamError(VaultError):
    """An upstream service (AWS) throttled or failed transiently: 502."""

    status = 502


class InternalError(VaultError):
    """A fault we can describe without leaking anything: 500."""

    status = 500


class Sealed(VaultError):
    status = 503

    def __init__(self, message: str = "Vault is sealed"):
        super().__init__(message)


class UnsupportedMediaType(VaultError):
    status = 415
