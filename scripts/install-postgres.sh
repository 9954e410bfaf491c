#!/usr/bin/env bash
# PostgreSQL server binaries for the multi-process storage tests (Debian's package).
# The tests start their own private cluster; nothing is started here.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq postgresql >/dev/null
fi
