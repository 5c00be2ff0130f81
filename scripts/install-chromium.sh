#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests, unless it is already there.
# Playwright drives this browser (executable_path=/usr/bin/chromium); it never downloads one.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version
