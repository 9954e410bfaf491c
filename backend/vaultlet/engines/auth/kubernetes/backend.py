"""The Kubernetes auth method, assembled from one module per path group."""

from __future__ import annotations

from vaultlet.engines.auth.kubernetes import config, login, role
from vaultlet.engines.auth.kubernetes.config import KubeConfig
from vaultlet.engines.auth.kubernetes.token_review import ApiTokenReviewer, TokenReviewer
from vaultlet.framework.backend import Backend


class KubernetesBackend(Backend):
    help = (
        "The Kubernetes Auth Backend allows authentication for Kubernetes service accounts: "
        "a login's JWT is checked against the role and reviewed by the API server's TokenReview."
    )
    paths = [*login.PATHS, *config.PATHS, *role.PATHS]

    def token_reviewer(self, settings: KubeConfig) -> TokenReviewer:
        """The API client a login uses (unit tests of the login logic replace this)."""
        return ApiTokenReviewer(settings.kubernetes_host, settings.ca_cert(), settings.reviewer_jwt())
