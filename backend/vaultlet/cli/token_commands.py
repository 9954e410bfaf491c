"""``login`` and the ``token`` commands (create, lookup, renew, revoke)."""

from __future__ import annotations

import getpass
from typing import Any

from vaultlet.cli import output
from vaultlet.cli.client import ClientError, Secret, environment_value, store_token
from vaultlet.cli.commands import sanitize_path
from vaultlet.cli.context import CommandError, Context, UsageError, reporting
from vaultlet.cli.flags import Flag, FlagKind
from vaultlet.cli.kvdata import KeyValueError, parse_strings
from vaultlet.cli.registry import command
from vaultlet.durations import format_go_duration

LOGIN_BANNER = (
    "Success! You are now authenticated. The token information displayed below is already stored in "
    'the token helper. You do NOT need to run "vaultlet login" again. Future requests will '
    "automatically use this token."
)


@command(
    "token create",
    synopsis="Create a new token",
    flags=[
        Flag("id", FlagKind.STRING, "Value for the token (requires sudo)."),
        Flag("display-name", FlagKind.STRING, "Name to associate with this token."),
        Flag("ttl", FlagKind.DURATION, "Initial TTL of the token, e.g. 30m.", default=0),
        Flag("explicit-max-ttl", FlagKind.DURATION, "Hard limit on the token's lifetime.", default=0),
        Flag("period", FlagKind.DURATION, "Make a periodic token renewed to this period.", default=0),
        Flag("renewable", FlagKind.BOOL, "Allow the token to be renewed (default true).", default=True),
        Flag("orphan", FlagKind.BOOL, "Create the token with no parent (requires sudo)."),
        Flag("no-default-policy", FlagKind.BOOL, 'Do not attach the "default" policy.'),
        Flag("use-limit", FlagKind.INT, "Number of uses before the token is revoked.", 0, ("num-uses",)),
        Flag("role", FlagKind.STRING, "Create the token against this token role."),
        Flag("type", FlagKind.STRING, 'Token type, "service" or "batch".', default="service"),
        Flag("metadata", FlagKind.MAP, "key=value metadata; repeatable."),
        Flag("policy", FlagKind.STRINGS, "Policy to attach; repeatable."),
        Flag("entity-alias", FlagKind.STRING, "Entity alias to associate (with -role)."),
    ],
)
def token_create(ctx: Context) -> int:
    ctx.require_arguments(0, 0)
    path = f"auth/token/create/{ctx.flags['role']}" if ctx.flags["role"] else "auth/token/create"
    with reporting("Error creating token"):
        secret = ctx.client.call("POST", path, token_create_request(ctx.flags))
    return ctx.output_secret(secret)


def token_create_request(flags: dict[str, Any]) -> dict[str, Any]:
    """The body api.TokenCreateRequest produces; durations travel as Go duration strings."""
    batch = flags["type"] == "batch"
    body: dict[str, Any] = {}
    optional = {
        "id": flags["id"],
        "policies": flags["policy"],
        "meta": flags["metadata"],
    }
    body.update({key: value for key, value in optional.items() if value})
    body["ttl"] = format_go_duration(flags["ttl"])
    body["explicit_max_ttl"] = format_go_duration(flags["explicit-max-ttl"])
    body["period"] = format_go_duration(flags["period"])
    if flags["orphan"]:
        body["no_parent"] = True
    if flags["no-default-policy"]:
        body["no_default_policy"] = True
    body["display_name"] = flags["display-name"] or ""
    body["num_uses"] = flags["use-limit"]
    # Batch tokens cannot be renewed, whatever -renewable says.
    body["renewable"] = flags["renewable"] and not batch
    body["type"] = flags["type"]
    body["entity_alias"] = flags["entity-alias"] or ""
    return body


@command(
    "token lookup",
    synopsis="Display information about a token",
    usage="[options] [TOKEN | ACCESSOR]",
    flags=[Flag("accessor", FlagKind.BOOL, "Treat the argument as an accessor instead of a token.")],
)
def token_lookup(ctx: Context) -> int:
    target = _token_argument(ctx, accessor_needs_argument=True)
    with reporting("Error looking up token"):
        if target is None:
            secret = ctx.client.call("GET", "auth/token/lookup-self")
        elif ctx.flags["accessor"]:
            secret = ctx.client.call("POST", "auth/token/lookup-accessor", {"accessor": target})
        else:
            secret = ctx.client.call("POST", "auth/token/lookup", {"token": target})
    return ctx.output_secret(secret)


@command(
    "token renew",
    synopsis="Renew a token lease",
    usage="[options] [TOKEN]",
    flags=[
        Flag("increment", FlagKind.DURATION, "Requested lease increment, e.g. 30m.", 0, ("i",)),
        Flag("accessor", FlagKind.BOOL, "Treat the argument as an accessor instead of a token."),
    ],
)
def token_renew(ctx: Context) -> int:
    target = _token_argument(ctx)
    increment = ctx.flags["increment"]
    with reporting("Error renewing token"):
        if target is None:
            secret = ctx.client.call("PUT", "auth/token/renew-self", {"increment": increment})
        elif ctx.flags["accessor"]:
            body = {"accessor": target, "increment": increment}
            secret = ctx.client.call("POST", "auth/token/renew-accessor", body)
        else:
            secret = ctx.client.call("PUT", "auth/token/renew", {"token": target, "increment": increment})
    return ctx.output_secret(secret)


@command(
    "token revoke",
    synopsis="Revoke a token and its children",
    usage="[options] [TOKEN | ACCESSOR]",
    flags=[
        Flag("accessor", FlagKind.BOOL, "Treat the argument as an accessor instead of a token."),
        Flag("self", FlagKind.BOOL, "Revoke the token the command authenticates with."),
        Flag("mode", FlagKind.STRING, 'Empty (token and children), "orphan" (token only) or "path".'),
    ],
)
def token_revoke(ctx: Context) -> int:
    method, path, body = _revocation_request(ctx)
    with reporting("Error revoking token"):
        ctx.client.call(method, path, body)
    ctx.out("Success! Revoked token (if it existed)")
    return 0


def _revocation_request(ctx: Context) -> tuple[str, str, dict[str, str] | None]:
    """Pick the endpoint for the flag combination, rejecting the ones Vault rejects."""
    accessor, self_revoke, mode = ctx.flags["accessor"], ctx.flags["self"], ctx.flags["mode"] or ""
    count = len(ctx.args)
    if mode not in ("", "orphan", "path"):
        raise UsageError(f"Invalid mode: {mode}")
    if self_revoke and count:
        raise UsageError(f"Too many arguments with -self (expected 0, got {count})")
    if not self_revoke and count != 1:
        problem = "Too many" if count > 1 else "Not enough"
        raise UsageError(f"{problem} arguments (expected 1 or -self, got {count})")
    if self_revoke and (accessor or mode):
        raise UsageError("Cannot use -self with -accessor!" if accessor else "Cannot use -self with -mode!")
    if accessor and mode:
        raise UsageError(f"Cannot use -accessor with -mode={mode}!")
    if self_revoke:
        return "PUT", "auth/token/revoke-self", None
    target = ctx.args[0].strip()
    if accessor:
        return "POST", "auth/token/revoke-accessor", {"accessor": target}
    if mode == "orphan":
        return "PUT", "auth/token/revoke-orphan", {"token": target}
    if mode == "path":
        return "PUT", f"sys/leases/revoke-prefix/{target}", None
    return "PUT", "auth/token/revoke", {"token": target}


def _token_argument(ctx: Context, accessor_needs_argument: bool = False) -> str | None:
    """The optional TOKEN/ACCESSOR argument; None means "the token I am using"."""
    count = len(ctx.args)
    if count > 1:
        raise UsageError(f"Too many arguments (expected 0-1, got {count})")
    if accessor_needs_argument and ctx.flags["accessor"] and count == 0:
        raise UsageError("Not enough arguments with -accessor (expected 1, got 0)")
    return ctx.args[0].strip() if count else None


@command(
    "login",
    synopsis="Authenticate locally with a token",
    usage="[options] [TOKEN | -]",
    flags=[
        Flag(
            "method",
            FlagKind.STRING,
            'Auth method: "token", or "jwt", "approle", "kubernetes" (which take K=V pairs).',
            default="token",
        ),
        Flag("path", FlagKind.STRING, "Mount path of the auth method (default: the method's name)."),
        Flag("no-store", FlagKind.BOOL, "Do not save the token to ~/.vault-token."),
        Flag("no-print", FlagKind.BOOL, "Do not display the token."),
        Flag("token-only", FlagKind.BOOL, "Print only the token; implies -field=token -no-store."),
    ],
)
def login(ctx: Context) -> int:
    method = sanitize_path(ctx.flags["method"] or "token")
    if method != "token" and method not in LOGIN_METHODS:
        raise UsageError(
            f"Unknown auth method: {method}. Supported: token, {', '.join(sorted(LOGIN_METHODS))}."
        )
    if ctx.flags["token-only"]:
        ctx.flags.update({"no-store": True, "field": "token"})
    if ctx.flags["no-store"] and ctx.flags["no-print"]:
        raise UsageError("-no-store and -no-print cannot be used together")
    if method == "token":
        secret = _authenticate_with_token(ctx, _login_settings(ctx))
    else:
        secret = _authenticate_with_method(ctx, method, _method_settings(ctx))
    _store_login_token(ctx, secret["auth"]["client_token"])
    if ctx.flags["no-print"]:
        return 0
    if not ctx.field and ctx.output_format == "table":
        ctx.out(output.wrap_at_length(LOGIN_BANNER) + "\n")
    return ctx.output_secret(secret)


# The login methods that take K=V pairs and POST them to auth/<path>/login (the keys they need).
LOGIN_METHODS = {
    "jwt": ("jwt",),  # role may be left to the mount's default_role
    "oidc": ("jwt",),
    "approle": ("role_id",),  # secret_id may be unbound on the role
    "kubernetes": ("role", "jwt"),
}


def _method_settings(ctx: Context) -> dict[str, str]:
    """K=V pairs (``jwt=@file`` and ``jwt=-`` read a file or stdin, keeping the JWT out of ``ps``)."""
    try:
        return parse_strings(list(ctx.args), ctx.stdin)
    except KeyValueError as error:
        raise UsageError(f"Error parsing configuration: {error}") from None


def _authenticate_with_method(ctx: Context, method: str, settings: dict[str, str]) -> Secret:
    missing = [key for key in LOGIN_METHODS[method] if not settings.get(key)]
    if missing:
        raise UsageError(f"Error authenticating: missing {', '.join(f'{key}=...' for key in missing)}")
    path = sanitize_path(ctx.flags["path"] or method)
    with reporting("Error authenticating"):
        secret = ctx.client.with_token(None).call("PUT", f"auth/{path}/login", settings)
    if not secret or not (secret.get("auth") or {}).get("client_token"):
        raise CommandError("Error authenticating: the answer carries no token")
    return secret


def _login_settings(ctx: Context) -> dict[str, str]:
    arguments = list(ctx.args)
    # A bare first argument is the token itself ("-" still means stdin).
    if arguments and "=" not in arguments[0]:
        arguments[0] = f"token={arguments[0]}"
    try:
        return parse_strings(arguments, ctx.stdin)
    except KeyValueError as error:
        raise UsageError(f"Error parsing configuration: {error}") from None


def _authenticate_with_token(ctx: Context, settings: dict[str, str]) -> Secret:
    """Check the token with lookup-self and describe it as an auth response, as Vault's token handler does."""
    token = (settings["token"] if "token" in settings else _prompt_for_token(ctx)).strip()
    if not token:
        raise CommandError(
            "Error authenticating: a token must be passed to auth, please view the help for more information"
        )
    if settings.get("lookup", "true").lower() in ("false", "0", "f"):
        return {"auth": {"client_token": token}}
    try:
        looked_up = ctx.client.with_token(token).call("GET", "auth/token/lookup-self") or {}
    except ClientError as error:
        raise CommandError(f"Error authenticating: error looking up token: {error}") from None
    return {"request_id": "", "auth": _auth_from_lookup(looked_up.get("data") or {})}


def _auth_from_lookup(data: dict[str, Any]) -> dict[str, Any]:
    token_policies = data.get("policies")
    identity_policies = data.get("identity_policies")
    return {
        "client_token": data.get("id", ""),
        "accessor": data.get("accessor", ""),
        "policies": [*(token_policies or ()), *(identity_policies or ())] or None,
        "token_policies": token_policies,
        "identity_policies": identity_policies,
        "lease_duration": data.get("ttl") or 0,
        "renewable": bool(data.get("renewable")),
    }


def _prompt_for_token(ctx: Context) -> str:
    """Ask on the terminal without echo; when piped, read the token from stdin."""
    if ctx.stdin.isatty():
        return getpass.getpass("Token (will be hidden): ", stream=ctx.stderr)
    return ctx.stdin.read()


def _store_login_token(ctx: Context, token: str) -> None:
    if ctx.flags["no-store"]:
        if not ctx.flags["token-only"]:
            ctx.err(
                output.wrap_at_length(
                    "The token was not stored in token helper. Set the VAULT_TOKEN environment variable or "
                    "pass the token below with each request to Vault."
                )
                + "\n"
            )
        return
    try:
        store_token(ctx.env, token)
    except OSError as error:
        raise CommandError(f"Error storing token: {error}") from None
    if environment_value(ctx.env, "TOKEN"):
        ctx.err(
            output.wrap_at_length(
                "WARNING! The VAULT_TOKEN environment variable is set! The value of this variable will "
                "take precedence; if this is unwanted please unset VAULT_TOKEN or update its value "
                "accordingly."
            )
            + "\n"
        )


@command(
    "token capabilities",
    synopsis="Print a token's capabilities on a path",
    usage="[options] [TOKEN] PATH",
)
def token_capabilities(ctx: Context) -> int:
    arguments = ctx.require_arguments(1, 2)
    *token, path = arguments
    path = sanitize_path(path)
    # With a TOKEN, sys/capabilities (and its permission); without, the caller's own.
    if token:
        api_path, body = "sys/capabilities", {"token": token[0], "paths": [path]}
    else:
        api_path, body = "sys/capabilities-self", {"paths": [path]}
    with reporting("Error listing capabilities"):
        secret = ctx.client.call("POST", api_path, body) or {}
    data = secret.get("data") or {}
    capabilities = sorted(data.get(path) or data.get("capabilities") or [])
    if ctx.output_format == "table":
        ctx.out(", ".join(capabilities))
        return 0
    return ctx.output_data(capabilities)
