#!/usr/bin/env bash
# nginx sits in front of the app servers (deploy/nginx.conf.template). The cluster rehearsal (make cluster)
# and its test (tests/cluster/) run Debian's nginx program with a configuration and a port of their own;
# nothing here configures or starts the machine's nginx service.
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's nginx for the cluster rehearsal and its test..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
else
  echo "The cluster rehearsal and its test need nginx at /usr/sbin/nginx: sudo apt-get install -y nginx-light" >&2
  exit 1
fi
