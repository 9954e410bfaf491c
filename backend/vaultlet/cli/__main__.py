"""``python -m vaultlet.cli``: the same as the ``vaultlet`` console script."""

from vaultlet.cli import main

raise SystemExit(main())
