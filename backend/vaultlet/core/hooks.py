"""The two seams every request passes through: authorization and audit.

``core.py`` builds its pipeline on these names; the implementations live in
:mod:`vaultlet.core.authorization` (ACL policies, sudo, CIDR-bound tokens) and
:mod:`vaultlet.core.audit` (audit devices, failing closed).
"""

from __future__ import annotations

from vaultlet.core.audit import AuditBroker
from vaultlet.core.authorization import Authorizer

__all__ = ["AuditBroker", "Authorizer"]
