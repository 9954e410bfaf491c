"""Response wrapping: an answer kept in the cubbyhole of a single-use token.

When a request carries ``X-Vault-Wrap-TTL`` (or a backend asks for it, as
``sys/wrapping/wrap`` and ``rewrap`` do), the core mints a *wrapping token*: an
orphan with the built-in ``response-wrapping`` policy, one use and the requested
TTL (explicit max TTL too), and stores the answer's JSON envelope in that token's
cubbyhole, encrypted by the barrier like every other record. The client gets
only ``wrap_info``. ``sys/wrapping/unwrap`` reads the envelope back once; using
the token (or revoking it, or letting it expire) destroys the cubbyhole, so a
second unwrap fails, which is how a recipient detects interception.

The rules follow OpenBao's ``vault/wrapping.go`` and ``vault/request_handling.go``
(checked against OpenBao 2.7: ``tests/integration/test_wrapping.py``):

* The wrap TTL is the shorter of the request's and the backend's; 0 means no wrapping.
  Answers without a body (204) and raw answers (``sys/health``) are never wrapped.
* Whatever the answer created stays real and tracked: a lease is registered under the
  caller's token and stays revocable, a token from a login or ``auth/token/create`` exists;
  ``wrapped_accessor`` names that token's accessor (or an AppRole secret ID's).
* ``sys/wrapping/{lookup,unwrap,rewrap}`` check the wrapping token before anything else,
  with OpenBao's messages: no token at all is a 403, a token that is not a live wrapping
  token is a 400 "wrapping token is not valid or does not exist".
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vaultlet.core.tokens import TokenEntry, TokenRequest, cubbyhole_prefix
from vaultlet.errors import InternalError, PermissionDenied, UserError
from vaultlet.framework.request import Request, Response, WrapInfo

if TYPE_CHECKING:
    from vaultlet.core.core import Core

# The sys/ paths (relative to the mount) that take a wrapping token.
WRAPPING_TOKEN_PATHS = frozenset({"wrapping/lookup", "wrapping/unwrap", "wrapping/rewrap"})
REWRAP_PATH = "sys/wrapping/rewrap"
INVALID_WRAPPING_TOKEN = "wrapping token is not valid or does not exist"
RESPONSE_KEY = "response"
WRAPINFO_KEY = "wrapinfo"
_VALIDATING = "error validating wrapping token: "
NO_INFORMATION = "no information found; wrapping token may be from a previous Vault version"


def rfc3339_nano(timestamp: float) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    text = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _json_number(seconds: float) -> int | float:
    return int(seconds) if seconds == int(seconds) else seconds


class ResponseWrapper:
    def __init__(self, core: Core):
        self.core = core
        self.tokens = core.tokens
        self.store = core.store

    # -- wrapping an answer --------------------------------------------------

    @staticmethod
    def wrap_ttl(request: Request, response: Response) -> float:
        """Vault's rule: the shorter of the backend's and the request's wrap TTL."""
        from_backend = response.wrap_info.ttl if response.wrap_info else 0
        asked = [ttl for ttl in (from_backend, request.wrap_ttl) if ttl]
        return min(asked) if asked else 0.0

    def wrap(self, request: Request, response: Response) -> Response:
        """The answer to deliver: ``response`` itself, or its wrapped stand-in."""
        ttl = _json_number(self.wrap_ttl(request, response))  # whole seconds stay ints in lookups
        if not ttl or response.raw is not None or response.is_empty:
            response.wrap_info = None
            return response
        rewrap = request.path == REWRAP_PATH
        creation_path = response.wrap_info.creation_path if rewrap and response.wrap_info else request.path
        if rewrap:
            stored = response.data["response"]  # the original envelope, not wrapped twice
        else:
            stored = json.dumps(response.envelope(request.id), separators=(",", ":"))
        now = time.time()
        token_id, entry, _ = self.tokens.create(
            None,
            TokenRequest(
                wrapping=True,
                policies_vetted=True,
                no_default_policy=True,
                ttl=ttl,
                explicit_max_ttl=ttl,
                num_uses=1,
                renewable=False,
                orphan=True,
                path=request.path,
            ),
        )
        creation_time = rfc3339_nano(now)
        try:
            prefix = cubbyhole_prefix(entry.hash)
            self.store.put_many(
                {
                    prefix + RESPONSE_KEY: {"response": stored},
                    prefix + WRAPINFO_KEY: {
                        "creation_ttl": ttl,
                        "creation_time": creation_time,
                        "creation_path": creation_path,
                    },
                }
            )
        except Exception:  # noqa: BLE001 - a token without its cubbyhole must not survive
            self.tokens.revoke_tree(entry.hash)
            raise InternalError("internal error") from None
        wrap_info = WrapInfo(
            ttl=ttl,
            creation_path=creation_path,
            token=token_id,
            accessor=entry.accessor,
            creation_time=creation_time,
            wrapped_accessor=self._wrapped_accessor(request, response),
        )
        return Response(wrap_info=wrap_info, warnings=list(response.warnings), mount_type=response.mount_type)

    @staticmethod
    def _wrapped_accessor(request: Request, response: Response) -> str:
        if isinstance(response.auth, dict):
            return response.auth.get("accessor") or ""
        if request.mount_type == "approle" and isinstance(response.data, dict):
            return str(response.data.get("secret_id_accessor") or "")
        return ""

    def discard(self, wrapped: Response) -> None:
        """Revoke the wrapping token of an answer that is not delivered after all."""
        if wrapped.wrap_info is not None and wrapped.wrap_info.token:
            self.tokens.revoke_tree(self.tokens.hash(wrapped.wrap_info.token))

    # -- the wrapping token ---------------------------------------------------

    def validate(self, request: Request) -> None:
        """OpenBao's validateWrappingToken, run before authentication on lookup/unwrap/rewrap."""
        token = self._named_token(request)
        entry = self.tokens.lookup(token)
        if entry is None or not entry.is_wrapping or entry.num_uses == -1:
            raise UserError(INVALID_WRAPPING_TOKEN)

    @staticmethod
    def _named_token(request: Request) -> str:
        """The token in the body (a third party unwrapping) or else the caller's own."""
        named = request.data.get("token")
        if named is not None:
            if not isinstance(named, str):
                raise PermissionDenied(f"{_VALIDATING}could not decode token in request body")
            if named == "":
                raise PermissionDenied(f"{_VALIDATING}empty token in request body")
            return named
        if not request.client_token:
            raise PermissionDenied(f"{_VALIDATING}token is empty")
        return request.client_token

    def _claim(self, token_id: str, third_party: bool) -> TokenEntry:
        """The wrapping token's entry. A third party's request did not use the token, so its
        one use is taken here (only one of two racing unwraps gets it)."""
        entry = self.tokens.lookup(token_id)
        if entry is None or not entry.is_wrapping:
            raise UserError(INVALID_WRAPPING_TOKEN)
        if third_party:
            try:
                entry = self.tokens.use(entry)
            except PermissionDenied:
                raise UserError(INVALID_WRAPPING_TOKEN) from None
        return entry

    def _record(self, entry: TokenEntry, key: str) -> dict[str, Any]:
        record = self.store.get(cubbyhole_prefix(entry.hash) + key)
        if record is None:
            raise InternalError(NO_INFORMATION)
        return record

    # -- sys/wrapping endpoints ---------------------------------------------------

    def unwrap(self, token_id: str, third_party: bool) -> Response:
        """The wrapped envelope, exactly as stored, as a raw JSON answer."""
        entry = self._claim(token_id, third_party)
        try:
            envelope = json.loads(self._record(entry, RESPONSE_KEY)["response"])
        finally:
            if third_party:
                self.tokens.revoke_tree(entry.hash)  # the caller's own token is revoked by its use
        return Response(raw=envelope, status=200, audit_view=_logical(envelope))

    def lookup(self, token_id: str) -> dict[str, Any]:
        entry = self.tokens.lookup(token_id)
        if entry is None or not entry.is_wrapping:
            raise UserError(INVALID_WRAPPING_TOKEN)
        info = self._record(entry, WRAPINFO_KEY)
        return {
            "creation_path": info["creation_path"],
            "creation_time": info["creation_time"],
            "creation_ttl": _json_number(info["creation_ttl"]),
        }

    def rewrap(self, token_id: str, third_party: bool) -> Response:
        """The stored envelope again, to be wrapped in a fresh token with the original TTL."""
        entry = self._claim(token_id, third_party)
        try:
            info = self._record(entry, WRAPINFO_KEY)
            stored = self._record(entry, RESPONSE_KEY)["response"]
        finally:
            if third_party:
                self.tokens.revoke_tree(entry.hash)
        return Response(
            data={"response": stored},
            wrap_info=WrapInfo(ttl=info["creation_ttl"], creation_path=info["creation_path"]),
        )


def _logical(envelope: dict[str, Any]) -> Response:
    """An unwrapped envelope as a logical response, for the audit devices to hash."""
    return Response(
        data=envelope.get("data"),
        auth=envelope.get("auth"),
        warnings=list(envelope.get("warnings") or []),
        lease_id=envelope.get("lease_id") or "",
        lease_duration=envelope.get("lease_duration") or 0,
        renewable=bool(envelope.get("renewable")),
    )
