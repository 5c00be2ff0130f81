#!/usr/bin/env bash
# Installs Debian's redis-server for the multi-replica gateway tests, unless it is already there.
# The tests start their own server on a free loopback port and stop it; the Debian service is
# not enabled.
set -euo pipefail

if [[ -x /usr/bin/redis-server ]]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server
# Debian starts the packaged service on install; the tests run their own servers.
(service redis-server stop || true) >/dev/null 2>&1
/usr/bin/redis-server --version
