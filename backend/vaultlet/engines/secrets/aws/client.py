"""AWS access for the engine: the only module that imports boto3/botocore.

The engine sees two small typed facades, :class:`IamApi` and :class:`StsApi`, in the
spirit of moto's models: plain method per AWS call, plain return values, and domain
exceptions instead of botocore's (:class:`AwsError` and its subclasses). Paginated
listings are followed to the end (Vault stops at 1000 items).

Clients are built from the mount's ``config/root`` and cached per mount; the cache is
keyed by the storage version of that record, so a config write or a root rotation
made by any worker process is picked up by every other one at its next request.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.config import Config
from botocore.endpoint import convert_to_response_dict
from botocore.hooks import first_non_none_response
from botocore.utils import lowercase_dict
from dateutil.tz import tzutc

from vaultlet import telemetry

DEFAULT_REGION = "us-east-1"
# Seconds; botocore's 60/60 would hold a request thread for minutes on a dead endpoint.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30

# botocore's list of throttling codes (botocore.retries.standard) minus IAM quota
# errors, which are permanent ("LimitExceeded" on IAM is a quota, not a rate).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)


# -- domain errors ------------------------------------------------------------------


class AwsError(Exception):
    """AWS refused or failed a call; ``str()`` is AWS's code and message (never secrets)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        operation: str = "",
        status: int = 0,
        request_id: str = "",
        retries: int = 0,
    ):
        self.code = code
        self.message = message
        self.operation = operation
        self.status = status
        self.request_id = request_id
        # How many times botocore retried before this answer: with any, an earlier
        # attempt may have taken effect and lost its answer (a timeout, a 500 after the fact).
        self.retries = retries
        super().__init__(str(self))

    def __str__(self) -> str:
        # The aws-sdk-go v1 layout that Vault's error texts carry.
        text = f"{self.code}: {self.message}"
        if self.status or self.request_id:
            text += f"\n\tstatus code: {self.status}, request id: {self.request_id}"
        return text


class AwsTransientError(AwsError):
    """Worth retrying later: the caller should answer 502, not blame the request."""


class AwsThrottled(AwsTransientError):
    """AWS rate-limited the call (after botocore's own retries)."""


class AwsUnreachable(AwsTransientError):
    """No answer from the endpoint (connection refused, DNS, timeout)."""


class AwsServerError(AwsTransientError):
    """AWS answered 5xx (InternalFailure, ServiceUnavailable) even after botocore's retries."""


class NoSuchEntity(AwsError):
    """The IAM entity (user, key, policy, group) does not exist (or is not visible yet)."""


class ConfigurationError(AwsError):
    """The engine's AWS configuration cannot produce a client (bad endpoint, no credentials)."""


def translate_error(error: Exception, operation: str = "") -> AwsError:
    """Map a botocore exception onto the domain errors above."""
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        metadata = error.response.get("ResponseMetadata", {})
        code = str(details.get("Code") or "Unknown")
        status = int(metadata.get("HTTPStatusCode") or 0)
        kind: type[AwsError] = AwsError
        if code in THROTTLING_CODES or status == 429:
            kind = AwsThrottled
        elif status >= 500:
            kind = AwsServerError
        elif code == "NoSuchEntity":
            kind = NoSuchEntity
        return kind(
            code,
            str(details.get("Message") or ""),
            operation=operation,
            status=status,
            request_id=str(metadata.get("RequestId") or ""),
            retries=int(metadata.get("RetryAttempts") or 0),
        )
    if isinstance(error, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return AwsUnreachable("RequestError", f"send request failed: {error}", operation=operation)
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return ConfigurationError("NoCredentialProviders", "no valid providers in chain", operation=operation)
    if isinstance(error, botocore.exceptions.ParamValidationError):
        return AwsError("InvalidParameter", str(error), operation=operation)
    return AwsError(type(error).__name__, str(error), operation=operation)


# -- settings and results ---------------------------------------------------------


@dataclass(frozen=True)
class ClientSettings:
    """What ``config/root`` says about reaching AWS (empty strings: SDK defaults)."""

    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    region: str = ""
    iam_endpoint: str = ""
    sts_endpoint: str = ""
    sts_region: str = ""
    sts_fallback_endpoints: tuple[str, ...] = ()
    sts_fallback_regions: tuple[str, ...] = ()
    max_retries: int = -1

    def resolved_region(self) -> str:
        """Vault's fallback: config, then AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1."""
        return (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )

    def sts_targets(self) -> list[tuple[str | None, str]]:
        """(endpoint, region) pairs to try for STS, in order."""
        region = self.sts_region or self.resolved_region()
        targets: list[tuple[str | None, str]] = [(self.sts_endpoint or None, region)]
        targets += list(zip(self.sts_fallback_endpoints, self.sts_fallback_regions, strict=True))
        return targets


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    # botocore retried the CreateAccessKey: an earlier attempt may have made a key too.
    retried: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class AccessKeyInfo:
    access_key_id: str
    create_date: datetime
    status: str = "Active"


@dataclass(frozen=True)
class IamUser:
    name: str
    user_id: str
    arn: str
    path: str = "/"
    create_date: datetime | None = None


@dataclass(frozen=True)
class StsCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime | None = None
    assumed_role_arn: str = ""


@dataclass(frozen=True)
class CallerIdentity:
    arn: str
    account: str
    user_id: str


# -- the facades ----------------------------------------------------------------------


class _Api:
    def __init__(self, client: Any, wire: StsWire | None = None):
        self._client = client
        self._wire = wire

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None}
        started = time.perf_counter()
        try:
            if self._wire is not None and operation in StsWire.OPERATIONS:
                result = self._wire.call(operation, params)
            else:
                result = getattr(self._client, _snake(operation))(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            translated = translate_error(error, operation)
            telemetry.aws_call(operation, time.perf_counter() - started, translated.code)
            raise translated from None
        telemetry.aws_call(operation, time.perf_counter() - started)
        return result

    def _paginate(self, operation: str, result_key: str, **params: Any) -> Iterator[Any]:
        """Every item of an IAM listing, following Marker/IsTruncated to the end."""
        marker = None
        while True:
            page = self._call(operation, Marker=marker, **params)
            yield from page.get(result_key, [])
            if not page.get("IsTruncated"):
                return
            marker = page["Marker"]


class IamApi(_Api):
    """The IAM calls the engine makes."""

    # users
    def get_user(self, username: str | None = None) -> IamUser:
        user = self._call("GetUser", UserName=username)["User"]
        return _iam_user(user)

    def create_user(
        self,
        username: str,
        *,
        path: str = "/",
        permissions_boundary: str = "",
        tags: dict[str, str] | None = None,
    ) -> IamUser:
        user = self._call(
            "CreateUser",
            UserName=username,
            Path=path,
            PermissionsBoundary=permissions_boundary or None,
            Tags=_tag_list(tags) or None,
        )["User"]
        return _iam_user(user)

    def delete_user(self, username: str) -> None:
        self._call("DeleteUser", UserName=username)

    def list_users(self, path_prefix: str = "/") -> Iterator[IamUser]:
        for user in self._paginate("ListUsers", "Users", PathPrefix=path_prefix):
            yield _iam_user(user)

    def list_user_tags(self, username: str) -> dict[str, str]:
        return {tag["Key"]: tag["Value"] for tag in self._paginate("ListUserTags", "Tags", UserName=username)}

    def tag_user(self, username: str, tags: dict[str, str]) -> None:
        self._call("TagUser", UserName=username, Tags=_tag_list(tags))

    # policies and groups
    def attach_user_policy(self, username: str, policy_arn: str) -> None:
        self._call("AttachUserPolicy", UserName=username, PolicyArn=policy_arn)

    def detach_user_policy(self, username: str, policy_arn: str) -> None:
        self._call("DetachUserPolicy", UserName=username, PolicyArn=policy_arn)

    def list_attached_user_policies(self, username: str) -> list[str]:
        return [
            p["PolicyArn"]
            for p in self._paginate("ListAttachedUserPolicies", "AttachedPolicies", UserName=username)
        ]

    def put_user_policy(self, username: str, policy_name: str, document: str) -> None:
        self._call("PutUserPolicy", UserName=username, PolicyName=policy_name, PolicyDocument=document)

    def delete_user_policy(self, username: str, policy_name: str) -> None:
        self._call("DeleteUserPolicy", UserName=username, PolicyName=policy_name)

    def list_user_policies(self, username: str) -> list[str]:
        return list(self._paginate("ListUserPolicies", "PolicyNames", UserName=username))

    def add_user_to_group(self, username: str, group: str) -> None:
        self._call("AddUserToGroup", UserName=username, GroupName=group)

    def remove_user_from_group(self, username: str, group: str) -> None:
        self._call("RemoveUserFromGroup", UserName=username, GroupName=group)

    def list_groups_for_user(self, username: str) -> list[str]:
        return [g["GroupName"] for g in self._paginate("ListGroupsForUser", "Groups", UserName=username)]

    def list_attached_group_policies(self, group: str) -> list[str]:
        return [
            p["PolicyArn"]
            for p in self._paginate("ListAttachedGroupPolicies", "AttachedPolicies", GroupName=group)
        ]

    def list_group_policies(self, group: str) -> list[str]:
        return list(self._paginate("ListGroupPolicies", "PolicyNames", GroupName=group))

    def get_group_policy(self, group: str, policy_name: str) -> Any:
        """The inline group policy document (botocore has already URL-decoded and parsed it)."""
        return self._call("GetGroupPolicy", GroupName=group, PolicyName=policy_name)["PolicyDocument"]

    # access keys
    def create_access_key(self, username: str | None = None) -> AccessKey:
        found = self._call("CreateAccessKey", UserName=username)
        key = found["AccessKey"]
        retries = found.get("ResponseMetadata", {}).get("RetryAttempts") or 0
        return AccessKey(key["AccessKeyId"], key["SecretAccessKey"], retried=retries > 0)

    def delete_access_key(self, access_key_id: str, username: str | None = None) -> None:
        self._call("DeleteAccessKey", AccessKeyId=access_key_id, UserName=username)

    def list_access_keys(self, username: str) -> list[AccessKeyInfo]:
        return [
            AccessKeyInfo(k["AccessKeyId"], k["CreateDate"], k.get("Status", "Active"))
            for k in self._paginate("ListAccessKeys", "AccessKeyMetadata", UserName=username)
        ]

    # what else can hold a user (DeleteUser answers DeleteConflict while any exists)
    def delete_login_profile(self, username: str) -> None:
        self._call("DeleteLoginProfile", UserName=username)

    def list_mfa_devices(self, username: str) -> list[str]:
        return [d["SerialNumber"] for d in self._paginate("ListMFADevices", "MFADevices", UserName=username)]

    def deactivate_mfa_device(self, username: str, serial_number: str) -> None:
        self._call("DeactivateMFADevice", UserName=username, SerialNumber=serial_number)

    def delete_virtual_mfa_device(self, serial_number: str) -> None:
        self._call("DeleteVirtualMFADevice", SerialNumber=serial_number)

    def list_signing_certificates(self, username: str) -> list[str]:
        certificates = self._paginate("ListSigningCertificates", "Certificates", UserName=username)
        return [c["CertificateId"] for c in certificates]

    def delete_signing_certificate(self, username: str, certificate_id: str) -> None:
        self._call("DeleteSigningCertificate", UserName=username, CertificateId=certificate_id)

    def list_ssh_public_keys(self, username: str) -> list[str]:
        return [
            k["SSHPublicKeyId"]
            for k in self._paginate("ListSSHPublicKeys", "SSHPublicKeys", UserName=username)
        ]

    def delete_ssh_public_key(self, username: str, key_id: str) -> None:
        self._call("DeleteSSHPublicKey", UserName=username, SSHPublicKeyId=key_id)

    def list_service_specific_credentials(self, username: str) -> list[str]:
        found = self._call("ListServiceSpecificCredentials", UserName=username)
        return [c["ServiceSpecificCredentialId"] for c in found.get("ServiceSpecificCredentials", [])]

    def delete_service_specific_credential(self, username: str, credential_id: str) -> None:
        self._call(
            "DeleteServiceSpecificCredential", UserName=username, ServiceSpecificCredentialId=credential_id
        )

    # roles (only the dev-mode bootstrap creates them)
    def create_role(self, role_name: str, trust_policy: str) -> str:
        return self._call("CreateRole", RoleName=role_name, AssumeRolePolicyDocument=trust_policy)["Role"][
            "Arn"
        ]

    def put_role_policy(self, role_name: str, policy_name: str, document: str) -> None:
        self._call("PutRolePolicy", RoleName=role_name, PolicyName=policy_name, PolicyDocument=document)


class StsApi:
    """The STS calls the engine makes, over the configured endpoint and its fallbacks.

    A fallback is tried only when an endpoint cannot be reached; an answer from AWS,
    even an error, is final.
    """

    def __init__(self, clients: list[Any], wires: list[StsWire] | None = None):
        wires = wires or [None] * len(clients)
        self._apis = [_Api(client, wire) for client, wire in zip(clients, wires, strict=True)]

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        *fallbacks, last = self._apis
        for api in fallbacks:
            try:
                return api._call(operation, **params)
            except AwsUnreachable:
                continue
        return last._call(operation, **params)

    def get_caller_identity(self) -> CallerIdentity:
        found = self._call("GetCallerIdentity")
        return CallerIdentity(found["Arn"], found["Account"], found["UserId"])

    def assume_role(
        self,
        role_arn: str,
        session_name: str,
        duration_seconds: int,
        *,
        policy: str = "",
        policy_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        external_id: str = "",
    ) -> StsCredentials:
        found = self._call(
            "AssumeRole",
            RoleArn=role_arn,
            RoleSessionName=session_name,
            DurationSeconds=duration_seconds,
            Policy=policy or None,
            PolicyArns=_policy_descriptors(policy_arns),
            Tags=_tag_list(tags) or None,
            ExternalId=external_id or None,
        )
        return _sts_credentials(found, found.get("AssumedRoleUser", {}).get("Arn", ""))

    def get_federation_token(
        self, name: str, duration_seconds: int, *, policy: str = "", policy_arns: list[str] | None = None
    ) -> StsCredentials:
        found = self._call(
            "GetFederationToken",
            Name=name,
            DurationSeconds=duration_seconds,
            Policy=policy or None,
            PolicyArns=_policy_descriptors(policy_arns),
        )
        return _sts_credentials(found, found.get("FederatedUser", {}).get("Arn", ""))

    def get_session_token(
        self, duration_seconds: int, *, serial_number: str = "", token_code: str = ""
    ) -> StsCredentials:
        found = self._call(
            "GetSessionToken",
            DurationSeconds=duration_seconds,
            SerialNumber=serial_number or None,
            TokenCode=token_code or None,
        )
        return _sts_credentials(found, "")


@dataclass(frozen=True)
class AwsClients:
    iam: IamApi
    sts: StsApi
    settings: ClientSettings

    def sts_with_keys(self, access_key_id: str, secret_access_key: str) -> StsApi:
        """STS as the holder of other keys (to check that freshly issued keys work)."""
        key_settings = dataclasses.replace(
            self.settings, access_key=access_key_id, secret_key=secret_access_key, max_retries=0
        )
        return StsApi(*_sts_clients(key_settings))


def build_clients(settings: ClientSettings) -> AwsClients:
    """IAM and STS clients for these settings (static keys, else boto3's default chain)."""
    if len(settings.sts_fallback_endpoints) != len(settings.sts_fallback_regions):
        raise ConfigurationError(
            "InvalidConfiguration", "fallback endpoints and fallback regions must be the same length"
        )
    session = _session(settings)
    try:
        iam = session.client(
            "iam",
            region_name=settings.resolved_region(),
            endpoint_url=settings.iam_endpoint or None,
            config=_botocore_config(settings),
        )
    except ValueError as error:  # botocore rejects malformed endpoint URLs here
        raise ConfigurationError("InvalidEndpoint", str(error)) from None
    return AwsClients(IamApi(iam), StsApi(*_sts_clients(settings, session)), settings)


class ClientCache:
    """One mount's clients in this process, rebuilt when ``config/root`` changes.

    ``version`` returns the config record's storage version (one cheap indexed read),
    ``load_settings`` reads and decrypts the record; it runs only when the version moved.
    """

    def __init__(self, version: Callable[[], int | None], load_settings: Callable[[], ClientSettings]):
        self._version = version
        self._load_settings = load_settings
        self._lock = threading.Lock()
        self._cached: tuple[int | None, AwsClients] | None = None

    def get(self, version: int | None | object = ...) -> AwsClients:
        """The clients for ``version`` of the config (read from storage when not given)."""
        if version is ...:
            version = self._version()
        cached = self._cached
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == version:
                return cached[1]
            clients = build_clients(self._load_settings())
            self._cached = (version, clients)
            return clients

    def clear(self) -> None:
        with self._lock:
            self._cached = None


# -- the thin STS path ------------------------------------------------------------------


@dataclass(frozen=True)
class _WireOperation:
    """What botocore would work out again on every call of one operation."""

    model: Any
    url: str
    headers: dict[str, str]
    context: dict[str, Any]
    signing_name: str
    signing_region: str
    events: dict[str, str]


class StsWire:
    """AssumeRole, GetFederationToken and GetSessionToken for about half a client call's CPU.

    A botocore client call spends most of its time in layers driven by the service
    model: a dozen events, endpoint rules, the generic XML parser and dateutil. For
    the three calls every STS issuance makes, this sends the same request through
    botocore's own pieces of that client: its serializer and parameter validation,
    its endpoint (resolved once per operation), SigV4Auth with its credentials, its
    HTTP session, its retry handler and retry quota (through the same events the
    client would emit) and its error parser. Only a well-formed success answer is
    read here; anything else goes to botocore's parser, so errors and malformed
    answers come out exactly as the full client gives them. The differential test
    (tests/integration/test_aws_sts_wire.py) holds both to the same requests and answers.
    Interceptors on the skipped events (a botocore Stubber hooks ``before-call``) do not
    see these calls; ``before-send`` (moto's in-process mock) still answers them.
    """

    OPERATIONS = frozenset({"AssumeRole", "GetFederationToken", "GetSessionToken"})

    def __init__(self, client: Any, credentials: Any):
        self._client = client
        self._credentials = credentials
        self._events = client.meta.events
        self._endpoint = client._endpoint
        self._operations: dict[str, _WireOperation | None] = {}
        self._lock = threading.Lock()

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The parsed answer, as ``client.<operation>(**params)`` returns it (raises the same)."""
        op = (
            self._operations[operation] if operation in self._operations else self._prepare(operation, params)
        )
        if op is None:  # not plain SigV4 here (a custom signer): the full client only
            return getattr(self._client, _snake(operation))(**params)
        context = dict(op.context)
        request_dict = self._client._serializer.serialize_to_request(params, op.model)  # validates too
        request_dict["headers"].update(op.headers)
        prepare_request_dict(
            request_dict,
            endpoint_url=op.url,
            user_agent=self._client._user_agent_creator.to_string(),
            context=context,
        )
        http, parsed = self._send_with_retries(op, request_dict, context)
        if http.status_code >= 300:  # the same modeled exception class the client raises
            code = context.get("error_code_override") or parsed.get("Error", {}).get("Code")
            raise self._client.exceptions.from_code(code)(parsed, operation)
        return parsed

    def _prepare(self, operation: str, params: dict[str, Any]) -> _WireOperation | None:
        """Resolve the endpoint and signing scope once (STS's rules depend on no call parameter)."""
        with self._lock:
            if operation in self._operations:
                return self._operations[operation]
            model = self._client.meta.service_model.operation_model(operation)
            context = {
                "client_region": self._client.meta.region_name,
                "client_config": self._client.meta.config,
                "has_streaming_input": model.has_streaming_input,
                "auth_type": model.resolved_auth_type,
                "unsigned_payload": model.unsigned_payload,
                "auth_options": self._client.meta.service_model.metadata.get("auth"),
            }
            url, headers, properties = self._client._resolve_endpoint_ruleset(model, params, context)
            if properties:
                context["endpoint_properties"] = properties
            signing = context.pop("signing", None) or {}
            plain_sigv4 = self._client._request_signer.signature_version == "v4"
            if context.get("auth_type") not in (None, "v4") or not plain_sigv4:
                self._operations[operation] = None
                return None
            service_id = self._client.meta.service_model.service_id.hyphenize()
            prepared = _WireOperation(
                model=model,
                url=url,
                headers=dict(headers),
                context=context,
                signing_name=signing.get("signing_name") or self._client.meta.service_model.signing_name,
                signing_region=signing.get("region") or self._client.meta.region_name,
                events={
                    name: f"{name}.{service_id}.{operation}"
                    for name in ("before-send", "needs-retry", "after-call", "after-call-error")
                },
            )
            self._operations[operation] = prepared
            return prepared

    def _send_with_retries(self, op: _WireOperation, request_dict: dict[str, Any], context: dict[str, Any]):
        """botocore's Endpoint._send_request loop, with the client's own retry handler."""
        attempts = 1
        self._endpoint._update_retries_context(context, attempts)
        try:
            answer, exception = self._attempt(op, request_dict, context)
            while self._needs_retry(op, attempts, request_dict, answer, exception):
                attempts += 1
                self._endpoint._update_retries_context(context, attempts, answer)
                answer, exception = self._attempt(op, request_dict, context)
            if exception is not None:
                raise exception
        except Exception as error:
            self._events.emit(op.events["after-call-error"], exception=error, context=context)
            raise
        http, parsed = answer
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = attempts - 1
        # The retry quota takes its refund here, as after every call of the full client.
        self._events.emit(
            op.events["after-call"], http_response=http, parsed=parsed, model=op.model, context=context
        )
        return http, parsed

    def _needs_retry(self, op, attempts, request_dict, answer, exception) -> bool:
        responses = self._events.emit(
            op.events["needs-retry"],
            response=answer,
            endpoint=self._endpoint,
            operation=op.model,
            attempts=attempts,
            caught_exception=exception,
            request_dict=request_dict,
        )
        delay = first_non_none_response(responses)
        if delay is None or delay is False:
            return False
        time.sleep(delay)
        return True

    def _attempt(self, op: _WireOperation, request_dict: dict[str, Any], context: dict[str, Any]):
        """One signed request: ((http response, parsed), None) or (None, the exception)."""
        request = self._signed_request(op, request_dict, context)
        try:
            # before-send is where interceptors (moto's in-process mock) answer instead.
            http = first_non_none_response(self._events.emit(op.events["before-send"], request=request))
            if http is None:
                http = self._endpoint.http_session.send(request)
        except Exception as error:  # noqa: BLE001 - botocore hands every send failure to the retry handler
            return None, error
        parsed = _parse_sts_success(op.model.name, http) if http.status_code == 200 else None
        if parsed is None:
            parsed = self._botocore_parse(op, http)
        return (http, parsed), None

    def _signed_request(self, op: _WireOperation, request_dict: dict[str, Any], context: dict[str, Any]):
        request = create_request_object(request_dict)
        # The form body, encoded once: the signature's payload hash and the send would
        # each url-encode the parameters again (the same bytes either way).
        request.data = request.body
        credentials = self._credentials.get_frozen_credentials() if self._credentials is not None else None
        SigV4Auth(credentials, op.signing_name, op.signing_region).add_auth(request)
        # What the client's later request-created handlers add (MaxAttemptsSeeder,
        # add_retry_headers): after the signature, so these two headers are not signed.
        retries = context["retries"]
        retries["max"] = self._max_attempts()
        request.headers["amz-sdk-invocation-id"] = retries["invocation-id"]
        request.headers["amz-sdk-request"] = "; ".join(
            f"{key}={retries[key]}" for key in ("ttl", "attempt", "max") if key in retries
        )
        for name, value in request.headers.items():
            if isinstance(value, str):
                request.headers[name] = value.encode("utf-8")
        return request.prepare()

    def _max_attempts(self) -> int:
        retries = self._client.meta.config.retries or {}
        return int(retries.get("total_max_attempts") or _STANDARD_MAX_ATTEMPTS)

    def _botocore_parse(self, op: _WireOperation, http: Any) -> dict[str, Any]:
        response_dict = convert_to_response_dict(http, op.model)
        parser = self._client._response_parser
        parsed = parser.parse(response_dict, op.model.output_shape)
        if http.status_code >= 300:
            self._endpoint._add_modeled_error_fields(response_dict, parsed, op.model, parser)
        return parsed


_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_STANDARD_MAX_ATTEMPTS = 3  # botocore.retries.standard.DEFAULT_MAX_ATTEMPTS
# The members of each answer this parser knows; any other member, a missing one or a
# value it cannot read sends the answer to botocore's parser instead.
_STS_RESULT_MEMBERS = {
    "AssumeRole": {"Credentials", "AssumedRoleUser", "PackedPolicySize", "SourceIdentity"},
    "GetFederationToken": {"Credentials", "FederatedUser", "PackedPolicySize"},
    "GetSessionToken": {"Credentials"},
}
_STS_STRUCTURES = {
    "Credentials": ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"),
    "AssumedRoleUser": ("AssumedRoleId", "Arn"),
    "FederatedUser": ("FederatedUserId", "Arn"),
}


def _parse_sts_success(operation: str, http: Any) -> dict[str, Any] | None:
    """A 200 answer of one of the three calls as botocore parses it, or None when unsure."""
    try:
        root = ElementTree.fromstring(http.content)
    except ElementTree.ParseError:
        return None
    children = {_local(child.tag): child for child in root}
    result = children.get(f"{operation}Result")
    if _local(root.tag) != f"{operation}Response" or result is None or len(children) != len(root):
        return None
    parsed: dict[str, Any] = {}
    for member in result:
        name = _local(member.tag)
        if name not in _STS_RESULT_MEMBERS[operation] or name in parsed:
            return None
        value = _sts_member(name, member)
        if value is None:
            return None
        parsed[name] = value
    if "Credentials" not in parsed:
        return None
    metadata: dict[str, Any] = {}
    if "ResponseMetadata" in children:
        request_id = children["ResponseMetadata"].find("*")
        if request_id is None or _local(request_id.tag) != "RequestId":
            return None
        if request_id.text is None:
            return None
        metadata["RequestId"] = request_id.text
    metadata["HTTPStatusCode"] = http.status_code
    metadata["HTTPHeaders"] = lowercase_dict(http.headers)
    parsed["ResponseMetadata"] = metadata
    return parsed


def _sts_member(name: str, element: Any) -> Any:
    if name == "PackedPolicySize":
        text = (element.text or "").strip()
        return int(text) if text.isdigit() else None
    if name == "SourceIdentity":
        return None if len(element) or element.text is None else element.text
    fields = {_local(child.tag): child for child in element}
    wanted = _STS_STRUCTURES[name]
    if set(fields) != set(wanted) or len(fields) != len(element) or any(len(f) for f in fields.values()):
        return None
    if any(f.text is None for f in fields.values()):
        return None
    value: dict[str, Any] = {key: fields[key].text for key in wanted}
    if "Expiration" in value:
        value["Expiration"] = _iso_timestamp(value["Expiration"])
        if value["Expiration"] is None:
            return None
    return value


def _iso_timestamp(text: str) -> datetime | None:
    """AWS's ISO 8601 UTC timestamps, as botocore reads them; anything else is left to botocore."""
    if not _ISO_UTC.fullmatch(text):
        return None
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=tzutc())


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# -- helpers ----------------------------------------------------------------------


def _session(settings: ClientSettings) -> boto3.session.Session:
    if settings.access_key and settings.secret_key:
        return boto3.session.Session(
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key
        )
    return boto3.session.Session()  # environment, shared files, container/instance roles


def _botocore_config(settings: ClientSettings) -> Config:
    retries: dict[str, Any] = {"mode": "standard"}
    if settings.max_retries >= 0:  # -1: the SDK's default
        retries["max_attempts"] = settings.max_retries
    return Config(retries=retries, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)


def _sts_clients(
    settings: ClientSettings, session: boto3.session.Session | None = None
) -> tuple[list[Any], list[StsWire]]:
    """One botocore STS client per target, and the thin path over each."""
    session = session or _session(settings)
    clients = []
    for endpoint, region in settings.sts_targets():
        try:
            clients.append(
                session.client(
                    "sts", region_name=region, endpoint_url=endpoint, config=_botocore_config(settings)
                )
            )
        except ValueError as error:
            raise ConfigurationError("InvalidEndpoint", str(error)) from None
    # The session's credentials object is the one its clients sign with (refreshable
    # ones renew themselves); sessions are not thread-safe, so it is fetched here, once.
    credentials = session.get_credentials()
    return clients, [StsWire(client, credentials) for client in clients]


def _snake(operation: str) -> str:
    return botocore.xform_name(operation)


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


def _policy_descriptors(arns: list[str] | None) -> list[dict[str, str]] | None:
    return [{"arn": arn} for arn in arns] if arns else None


def _iam_user(user: dict[str, Any]) -> IamUser:
    return IamUser(
        user["UserName"],
        user.get("UserId", ""),
        user.get("Arn", ""),
        user.get("Path", "/"),
        user.get("CreateDate"),
    )


def _sts_credentials(found: dict[str, Any], arn: str) -> StsCredentials:
    credentials = found["Credentials"]
    return StsCredentials(
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        credentials.get("Expiration"),
        arn,
    )
