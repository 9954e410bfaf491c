#!/usr/bin/env bash
# systemd-analyze (Debian's systemd package) for the tests of examples/deploy/systemd.
# Installing the package starts nothing in a container without systemd as PID 1.
set -euo pipefail
if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq systemd >/dev/null
fi
