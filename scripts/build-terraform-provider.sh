#!/usr/bin/env bash
# Builds the release artifact of the Terraform provider vaultlet/vaultlet (terraform/provider/):
#   dist/terraform-provider/terraform-provider-vaultlet_<version>_linux_amd64.zip
#   dist/terraform-provider/terraform-provider-vaultlet_<version>_SHA256SUMS
# The zip holds a self-contained executable frozen with PyInstaller (onedir: the
# executable plus its _internal/ directory), so a runner needs nothing but Terraform.
#
# The provider gets its own virtualenv (.venv/terraform/provider-venv): pyvider needs
# protobuf >= 7, the hashicorp/external stand-in's framework (tf 1.2.0) protobuf < 6.
# Rebuilds only when terraform/provider/ changes (a digest of its files is kept beside
# the zip); prints the zip's path on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
SOURCE="$ROOT/terraform/provider"
PROVIDER_VENV="$VENV/terraform/provider-venv"
BUILD="$VENV/terraform/provider-build"
DIST="${DIST:-$ROOT/dist/terraform-provider}"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SOURCE/pyproject.toml")"
PLATFORM="linux_amd64"
NAME="terraform-provider-vaultlet"
ZIP="$DIST/${NAME}_${VERSION}_${PLATFORM}.zip"
SUMS="$DIST/${NAME}_${VERSION}_SHA256SUMS"
DIGEST_FILE="$DIST/.source-digest"

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "build-terraform-provider: builds $PLATFORM only" >&2; exit 1; }

digest="$(cd "$SOURCE" && find . -type f \( -name '*.py' -o -name '*.toml' \) -not -path '*/__pycache__/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [ -f "$ZIP" ] && [ -f "$SUMS" ] && [ "$(cat "$DIGEST_FILE" 2>/dev/null)" = "$digest" ]; then
    echo "$ZIP"
    exit 0
fi

echo "build-terraform-provider: building $NAME $VERSION ($PLATFORM), about 1-2 minutes" >&2
if [ ! -x "$PROVIDER_VENV/bin/python" ]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "build-terraform-provider: needs python3 >= 3.11 to build" >&2; exit 1; }
    python3 -m venv "$PROVIDER_VENV"
fi
# Not editable: PyInstaller must find the package's files.
"$PROVIDER_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SOURCE[build]"

rm -rf "$BUILD"
mkdir -p "$BUILD" "$DIST"
# pyvider imports its protocol handlers and cty functions by name: collect them all.
"$PROVIDER_VENV/bin/pyinstaller" --noconfirm --log-level WARN --onedir \
    --name "${NAME}_v${VERSION}" \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" --specpath "$BUILD" \
    --collect-submodules pyvider --collect-submodules provide --collect-data pyvider \
    --collect-submodules vaultlet_provider \
    "$SOURCE/terraform_provider_vaultlet.py" >&2

"$PROVIDER_VENV/bin/python" - "$BUILD/dist/${NAME}_v${VERSION}" "$ZIP" <<'PY'
"""Zip the onedir build with its files' modes (Terraform keeps them when it unpacks)."""
import os
import sys
import zipfile

source, target = sys.argv[1], sys.argv[2]
partial = target + ".tmp"
with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, _, files in sorted(os.walk(source)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            archive.write(path, os.path.relpath(path, source))
os.replace(partial, target)
PY
(cd "$DIST" && sha256sum "$(basename "$ZIP")" >"$(basename "$SUMS")")
echo "$digest" >"$DIGEST_FILE"
echo "$ZIP"
