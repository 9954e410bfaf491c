"""``config``: where the mount's keys come from and what every token must carry.

Exactly one key source: ``jwt_validation_pubkeys``, ``jwks_url`` (+ ``jwks_ca_pem``) or
``oidc_discovery_url`` (+ ``oidc_discovery_ca_pem``). A remote source is contacted when
the config is written, as OpenBao does, so a typo fails there and not at the first login.
The settings of the browser (authorization code) flow are refused: vaultlet implements
JWT login only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vaultlet.engines.auth.jwt import keys
from vaultlet.engines.auth.jwt.claims import SUPPORTED_ALGORITHMS
from vaultlet.engines.auth.jwt.jwks_cache import FetchError, discover_jwks_url, fetch_json, tls_context
from vaultlet.errors import NotFound, UserError
from vaultlet.framework.fields import BOOL, COMMA_STRING_SLICE, LOWERCASE_STRING, MAP, STRING, Field
from vaultlet.framework.path import Path
from vaultlet.framework.request import READ, UPDATE, Response

CONFIG_KEY = "config"
_WELL_KNOWN = ".well-known/openid-configuration"
_BROWSER_FLOW = "vaultlet implements JWT login only, not the OIDC browser flow"


@dataclass
class JwtConfig:
    oidc_discovery_url: str = ""
    oidc_discovery_ca_pem: str = ""
    jwks_url: str = ""
    jwks_ca_pem: str = ""
    jwt_validation_pubkeys: list[str] = field(default_factory=list)
    jwt_supported_algs: list[str] = field(default_factory=list)
    bound_issuer: str = ""
    default_role: str = ""
    namespace_in_state: bool = True

    def describe(self) -> dict[str, Any]:
        """``GET config``, with OpenBao's keys (the browser-flow ones always empty)."""
        return {
            **asdict(self),
            "oidc_client_id": "",
            "oidc_response_mode": "",
            "oidc_response_types": [],
            "override_allowed_server_names": [],
            "provider_config": {},
        }


def load_config(storage) -> JwtConfig | None:
    record = storage.get(CONFIG_KEY)
    return JwtConfig(**record) if record else None


def config_read(backend, request, fields) -> Response:
    config = load_config(backend.storage)
    if config is None:
        raise NotFound()
    response = Response(data=dict(sorted(config.describe().items())))
    try:
        keys.key_set(config)
        if config.oidc_discovery_url:
            discover_jwks_url(config.oidc_discovery_url, config.oidc_discovery_ca_pem)
        response.data["status"] = "valid"
    except (ValueError, FetchError) as error:
        response.add_warning(f"failed to construct JWK validator: {error}")
        response.data["status"] = "invalid"
    return response


def config_write(backend, request, fields) -> Response | None:
    _refuse_browser_flow(fields)
    previous = load_config(backend.storage)
    config = JwtConfig(
        oidc_discovery_url=fields["oidc_discovery_url"],
        oidc_discovery_ca_pem=fields["oidc_discovery_ca_pem"],
        jwks_url=fields["jwks_url"],
        jwks_ca_pem=fields["jwks_ca_pem"],
        jwt_validation_pubkeys=fields["jwt_validation_pubkeys"],
        jwt_supported_algs=fields["jwt_supported_algs"],
        bound_issuer=fields["bound_issuer"],
        default_role=fields["default_role"],
    )
    if "namespace_in_state" in fields:
        config.namespace_in_state = fields["namespace_in_state"]
    elif previous is not None:
        config.namespace_in_state = previous.namespace_in_state
    response = Response()
    sources = [config.oidc_discovery_url, config.jwt_validation_pubkeys, config.jwks_url]
    if sum(1 for source in sources if source) != 1:
        raise UserError(
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', "
            "or 'provider_config' must be set"
        )
    if config.oidc_discovery_url:
        _check_discovery(config, response, fields["skip_jwks_validation"])
    elif config.jwks_url:
        _check_jwks(config, response, fields["skip_jwks_validation"])
    else:
        for pem in config.jwt_validation_pubkeys:
            try:
                keys.parse_public_key(pem)
            except ValueError as error:
                raise UserError(str(error)) from None
    for algorithm in config.jwt_supported_algs:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise UserError(f'invalid jwt_supported_algs: unsupported signing algorithm "{algorithm}"')
    backend.storage.put(CONFIG_KEY, asdict(config))
    return response if response.warnings else None


def _refuse_browser_flow(fields) -> None:
    for name in ("oidc_client_id", "oidc_client_secret", "oidc_response_mode"):
        if fields[name]:
            raise UserError(f"{name} is not supported: {_BROWSER_FLOW}")
    for name in ("oidc_response_types", "override_allowed_server_names"):
        if fields[name]:
            raise UserError(f"{name} is not supported by vaultlet")
    if fields["provider_config"]:
        raise UserError("provider_config is not supported by vaultlet")


def _check_discovery(config: JwtConfig, response: Response, skip: bool) -> None:
    trimmed = config.oidc_discovery_url.split(_WELL_KNOWN, 1)[0]
    if trimmed != config.oidc_discovery_url:
        config.oidc_discovery_url = trimmed
        response.add_warning(f'modifying provided `OIDCDiscoveryURL` to "{trimmed}"')
    try:
        discover_jwks_url(config.oidc_discovery_url, config.oidc_discovery_ca_pem)
    except FetchError as error:
        _failed_check("error checking oidc discovery URL", error, response, skip)


def _check_jwks(config: JwtConfig, response: Response, skip: bool) -> None:
    try:
        tls_context(config.jwks_ca_pem)
    except FetchError:
        raise UserError("error checking jwks_ca_pem") from None
    try:
        fetch_json(config.jwks_url, config.jwks_ca_pem)
    except FetchError as error:
        _failed_check("error checking jwks URL", error, response, skip)


def _failed_check(message: str, error: FetchError, response: Response, skip: bool) -> None:
    if not skip:
        raise UserError(message)
    response.add_warning(message)


PATHS = [
    Path(
        pattern="config",
        fields={
            "oidc_discovery_url": Field(STRING, "Base URL of the OIDC discovery document"),
            "oidc_discovery_ca_pem": Field(STRING, "CA certificates (PEM) for the discovery URL"),
            "jwks_url": Field(STRING, "URL of the JWKS that signs tokens"),
            "jwks_ca_pem": Field(STRING, "CA certificates (PEM) for the JWKS URL"),
            "jwt_validation_pubkeys": Field(COMMA_STRING_SLICE, "PEM public keys that sign tokens"),
            "jwt_supported_algs": Field(COMMA_STRING_SLICE, "Accepted signing algorithms (default: all)"),
            "bound_issuer": Field(STRING, "Value the iss claim must have"),
            "default_role": Field(LOWERCASE_STRING, "Role used when a login names none"),
            "namespace_in_state": Field(BOOL, "Accepted for compatibility (no namespaces)"),
            "skip_jwks_validation": Field(BOOL, "Store the config even if the keys cannot be fetched now"),
            "oidc_client_id": Field(STRING, "Refused: OIDC browser flow"),
            "oidc_client_secret": Field(STRING, "Refused: OIDC browser flow"),
            "oidc_response_mode": Field(STRING, "Refused: OIDC browser flow"),
            "oidc_response_types": Field(COMMA_STRING_SLICE, "Refused: OIDC browser flow"),
            "override_allowed_server_names": Field(COMMA_STRING_SLICE, "Refused"),
            "provider_config": Field(MAP, "Refused: provider-specific group fetching"),
        },
        operations={READ: config_read, UPDATE: config_write},
        synopsis="Configure the JWT authentication backend.",
    ),
]
