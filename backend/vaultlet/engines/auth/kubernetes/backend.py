"""The Kubernetes auth method, assembled from one module per path group."""

from __future__ import annotations

from vaultlet.engines.auth.kubernetes import config, login, role
from vaultlet.engines.auth.kubernetes.config import KubeConfig
from vaultlet.engines.auth.kubernetes.token_review import ApiTokenReviewer, TokenReviewer
from vaultlet.framework.backend import Backend

_MAX_REVIEWERS = 4  # configurations seen by this process; older ones are dropped


class KubernetesBackend(Backend):
    help = (
        "The Kubernetes Auth Backend allows authentication for Kubernetes service accounts: "
        "a login's JWT is checked against the role and reviewed by the API server's TokenReview."
    )
    paths = [*login.PATHS, *config.PATHS, *role.PATHS]

    def __init__(self, context):
        super().__init__(context)
        self._reviewers: dict[tuple[str, str, str], ApiTokenReviewer] = {}

    def token_reviewer(self, settings: KubeConfig) -> TokenReviewer:
        """The API client a login uses (unit tests of the login logic replace this).

        One per configuration, so its TLS context and connections are reused. The key is the
        configuration itself (several workers share the storage; a change anywhere shows here).
        """
        key = (settings.kubernetes_host, settings.ca_cert(), settings.reviewer_jwt())
        reviewer = self._reviewers.get(key)
        if reviewer is None:
            if len(self._reviewers) >= _MAX_REVIEWERS:
                self._reviewers.clear()
            reviewer = self._reviewers[key] = ApiTokenReviewer(*key)
        return reviewer
