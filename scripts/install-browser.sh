#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the operator web page's browser tests
# (Debian's packages: /usr/bin/chromium, /usr/bin/chromedriver). Nothing is started here.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
