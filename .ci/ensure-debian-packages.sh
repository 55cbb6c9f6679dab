#!/usr/bin/env bash
# Installs Debian packages the tests or the rehearsal need when their program is missing:
#   .ci/ensure-debian-packages.sh PROGRAM "what needs it" PACKAGE...
# (Chromium for the browser tests: Playwright's own browser download cannot work here. nginx for the
# cluster rehearsal and its test, which run the program with a configuration and a port of their own;
# nothing here configures or starts the machine's nginx service.)
set -euo pipefail
program=$1 purpose=$2
shift 2
if [ -x "$program" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's $* for $purpose..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
else
  echo "$purpose need $program: sudo apt-get install -y $*" >&2
  exit 1
fi
