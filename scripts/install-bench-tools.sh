#!/usr/bin/env bash
# Load generators for `make bench` (Debian packages).
set -euo pipefail
if ! command -v hey >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq hey >/dev/null
fi
