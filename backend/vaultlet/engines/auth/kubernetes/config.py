"""``config``: where the Kubernetes API server is and how to trust and call it.

As in Vault, ``token_reviewer_jwt`` is write-only: a read says only whether one is set
(``token_reviewer_jwt_set``). vaultlet never runs inside the cluster's pod network by
assumption, so without ``disable_local_ca_jwt`` it reads the pod's CA file exactly as Vault
does, and fails the same way when there is none.
"""

from __future__ import annotations

import ssl
from dataclasses import asdict, dataclass, field
from pathlib import Path as FilePath

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, Response

CONFIG_KEY = "config"
# Where a pod finds its cluster's CA and its own service-account token (Vault's defaults).
LOCAL_CA_CERT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
LOCAL_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass
class KubeConfig:
    kubernetes_host: str
    kubernetes_ca_cert: str = ""
    token_reviewer_jwt: str = ""
    pem_keys: list[str] = field(default_factory=list)
    issuer: str = ""
    disable_iss_validation: bool = True
    disable_local_ca_jwt: bool = False

    def describe(self) -> dict:
        """``GET config``: everything but the reviewer JWT, in OpenBao's keys."""
        return {
            "disable_iss_validation": self.disable_iss_validation,
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "issuer": self.issuer,
            "kubernetes_ca_cert": self.kubernetes_ca_cert,
            "kubernetes_host": self.kubernetes_host,
            "pem_keys": list(self.pem_keys),
            "token_reviewer_jwt_set": bool(self.token_reviewer_jwt),
        }

    def reviewer_jwt(self) -> str:
        """The configured reviewer JWT, else the pod's own token when Vault would use it."""
        if self.token_reviewer_jwt or self.disable_local_ca_jwt:
            return self.token_reviewer_jwt
        local = FilePath(LOCAL_JWT_PATH)
        return local.read_text().strip() if local.is_file() else ""

    def ca_cert(self) -> str:
        if self.kubernetes_ca_cert or self.disable_local_ca_jwt:
            return self.kubernetes_ca_cert
        return _read_local_ca()


def load_config(storage) -> KubeConfig | None:
    record = storage.get(CONFIG_KEY)
    return KubeConfig(**record) if record else None


def config_read(backend, request, fields) -> Response:
    config = load_config(backend.storage)
    if config is None:
        raise NotFound()
    return Response(data=config.describe())


def config_write(backend, request, fields) -> None:
    host = fields["kubernetes_host"]
    if not host:
        raise UserError("no host provided")
    config = KubeConfig(
        kubernetes_host=host,
        kubernetes_ca_cert=fields["kubernetes_ca_cert"],
        token_reviewer_jwt=fields["token_reviewer_jwt"],
        pem_keys=fields["pem_keys"],
        issuer=fields["issuer"],
        disable_iss_validation=fields["disable_iss_validation"],
        disable_local_ca_jwt=fields["disable_local_ca_jwt"],
    )
    if config.disable_local_ca_jwt and not config.kubernetes_ca_cert:
        raise UserError("kubernetes_ca_cert must be given when disable_local_ca_jwt is true")
    check_ca_cert(config.ca_cert())
    for pem in config.pem_keys:
        public_key_from_pem(pem)
    backend.storage.put(CONFIG_KEY, asdict(config))


def check_ca_cert(pem: str) -> None:
    """Fail closed where OpenBao stores any text: a CA bundle that holds no certificate
    would only surface later, as every login failing its TLS handshake."""
    if not pem:
        return
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise UserError("kubernetes_ca_cert does not contain a valid PEM certificate") from None


def public_key_from_pem(pem: str):
    """An RSA or ECDSA public key, from a PEM public key or certificate (as Vault accepts)."""
    data = pem.encode()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = x509.load_pem_x509_certificate(data).public_key()
        except ValueError:
            raise UserError("data does not contain any valid public keys") from None
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise UserError("data does not contain any valid public keys")
    return key


def _read_local_ca() -> str:
    try:
        return FilePath(LOCAL_CA_CERT_PATH).read_text()
    except OSError:
        # Vault's (Go's) own wording, so operators recognise it.
        raise UserError(f"open {LOCAL_CA_CERT_PATH}: no such file or directory") from None


PATHS = [
    Path(
        pattern="config",
        fields={
            "kubernetes_host": Field(STRING, "URL (or host:port) of the Kubernetes API server"),
            "kubernetes_ca_cert": Field(STRING, "PEM CA certificate the API server's TLS chains to"),
            "token_reviewer_jwt": Field(
                STRING, "Service-account JWT that calls TokenReview (default: the login's own JWT)"
            ),
            "pem_keys": Field(
                COMMA_STRING_SLICE, "PEM public keys or certificates that verify service-account JWTs"
            ),
            "issuer": Field(STRING, "Expected iss claim (deprecated in Vault)"),
            "disable_iss_validation": Field(BOOL, "Skip the iss check (deprecated in Vault)", default=True),
            "disable_local_ca_jwt": Field(BOOL, "Do not fall back to the pod's CA file and token"),
        },
        operations={READ: config_read, UPDATE: config_write},
        synopsis="Configures the JWT Public Key and Kubernetes API information.",
    ),
]
