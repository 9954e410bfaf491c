"""CIDR lists as Vault's token and AppRole bindings use them.

Vault accepts a bare address as a one-host block and shows a one-host block
without its mask (``127.0.0.1/32`` reads back as ``127.0.0.1``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from vaultlet.errors import UserError

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidrs(values: Iterable[str], field: str) -> list[str]:
    """Validate and normalise a list of CIDR blocks (or bare addresses)."""
    cleaned = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise UserError(f'invalid CIDR block "{value}" in {field}') from None
        cleaned.append(_display(network))
    return cleaned


def validate_cidr_blocks(values: Iterable[str]) -> list[str]:
    """CIDR blocks kept as written (AppRole's ``secret_id_bound_cidrs`` and secret-ID lists, which
    Vault checks with ``net.ParseCIDR``): a bare address is refused, nothing is rewritten."""
    kept = []
    for value in values:
        text = value.strip()
        try:
            ipaddress.ip_network(text, strict=False)
            valid = "/" in text
        except ValueError:
            valid = False
        if not valid:
            raise UserError(f"failed to validate CIDR blocks: invalid CIDR address: {text}")
        kept.append(text)
    return kept


def _display(network: _Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def address_allowed(remote_address: str, cidrs: Iterable[str]) -> bool:
    """Whether the client address falls in any block; an unparsable address never does."""
    try:
        address = ipaddress.ip_address(remote_address)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def is_subset(inner: Iterable[str], outer: Iterable[str]) -> bool:
    """Every block of ``inner`` lies inside some block of ``outer``."""
    outer_networks = [ipaddress.ip_network(cidr, strict=False) for cidr in outer]
    for cidr in inner:
        network = ipaddress.ip_network(cidr, strict=False)
        if not any(network.version == o.version and network.subnet_of(o) for o in outer_networks):
            return False
    return True
