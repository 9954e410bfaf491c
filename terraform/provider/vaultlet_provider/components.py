"""Registers the provider and its components with pyvider's hub.

pyvider's decorators only mark classes (discovery then needs a `pyvider` entry point,
which a frozen executable has no metadata for), so everything is registered here, once,
explicitly.
"""

from __future__ import annotations

from pyvider.data_sources.decorators import register_data_source
from pyvider.ephemerals.decorators import register_ephemeral_resource
from pyvider.hub import hub
from pyvider.providers.decorators import register_provider

from vaultlet_provider import data_aws_credentials, ephemeral_aws_credentials, provider


def register() -> None:
    register_provider(provider.NAME)(provider.VaultletProvider)
    register_ephemeral_resource(ephemeral_aws_credentials.TYPE_NAME)(
        ephemeral_aws_credentials.EphemeralAwsCredentials
    )
    data_source = register_data_source(data_aws_credentials.TYPE_NAME)(
        data_aws_credentials.DataAwsCredentials
    )
    hub.register("data_source", data_aws_credentials.TYPE_NAME, data_source)
