"""PyInstaller's entry script for the frozen terraform-provider-vaultlet executable."""

from vaultlet_provider.__main__ import main

main()
