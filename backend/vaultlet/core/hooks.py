"""The two seams every request passes through: authorization and audit.

Both are deliberately small here. The access-control work replaces
``Authorizer.authorize`` with ACL policy evaluation and ``AuditBroker`` with
real audit devices, without touching the request pipeline in ``core.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaultlet.errors import PermissionDenied

if TYPE_CHECKING:
    from vaultlet.core.core import Core
    from vaultlet.framework.backend import Backend
    from vaultlet.framework.request import Request, Response


class Authorizer:
    """Decides whether ``request.token`` may perform ``request.operation`` on the path.

    Policies are recorded on tokens but not yet evaluated: every valid token is
    allowed, except that sudo-protected paths require a root token.
    """

    def __init__(self, core: Core):
        self.core = core

    def authorize(self, request: Request, backend: Backend, sudo_required: bool) -> None:
        token = request.token
        if token is None:
            raise PermissionDenied()
        if sudo_required and not token.is_root:
            raise PermissionDenied()


class AuditBroker:
    """Records each request before it runs and each response before it is sent.

    With no audit device enabled there is nothing to record; the fail-closed
    contract (no record, no execution) is enforced by the caller in core.py.
    """

    def __init__(self, core: Core):
        self.core = core

    def log_request(self, request: Request, error: Exception | None = None) -> None:
        return None

    def log_response(
        self, request: Request, response: Response | None, error: Exception | None = None
    ) -> None:
        return None
