"""Entry point of terraform-provider-vaultlet (the executable Terraform starts).

Runs pyvider's plugin server until Terraform shuts the provider down, then revokes the
provider's own token: the child token created at configure, or the login token (and so
its child) when a login block was used. Leases still open then go with it.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    # pyvider logs at INFO to stderr, which Terraform copies into its own log: keep it to
    # warnings unless asked (no secret is logged either way: only config key names).
    os.environ.setdefault("PYVIDER_LOG_LEVEL", "WARNING")
    from pyvider.cli.__main__ import main as pyvider_main
    from pyvider.hub import hub

    from vaultlet_provider.components import register

    register()
    argv0 = sys.argv[0]
    sys.argv = [argv0 if "terraform-provider" in argv0 else "terraform-provider-vaultlet", "provide"]
    try:
        pyvider_main()
    finally:
        revoke_own_token(hub.get_component("singleton", "provider"))


def revoke_own_token(provider) -> None:
    """Best effort within go-plugin's grace period: Terraform kills the process ~2 s after Shutdown."""
    if provider is None:
        return
    try:
        provider.revoke_own_token()
    except Exception as error:  # noqa: BLE001 - the process is ending; say why on stderr, never a token
        print(f"vaultlet provider: could not revoke its token: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
