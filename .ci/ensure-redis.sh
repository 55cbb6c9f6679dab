#!/usr/bin/env bash
# Make sure Redis answers before the app or the tests need it: it keeps the hold rate limits that every
# worker and app server share (boxoffice/rate_limits.py).
#  * BOXOFFICE_REDIS_URL set: a server of yours; we only check nothing here.
#  * otherwise the local server at 127.0.0.1:6379: start Debian's redis-server if it is installed but not
#    running (no persistence: the counts live for a minute at most).
set -euo pipefail

if [ -n "${BOXOFFICE_REDIS_URL:-}" ]; then
  exit 0
fi

answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if command -v redis-cli >/dev/null 2>&1 && answers; then
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  cat >&2 <<'MSG'
Redis is not running at 127.0.0.1:6379 and redis-server is not installed.
Install it:    sudo apt-get install -y redis-server
or point the box office at yours: export BOXOFFICE_REDIS_URL=redis://HOST:6379/0
MSG
  exit 1
fi

echo "Starting Redis..."
dir=/var/lib/redis
logfile=/var/log/redis/ci.log
if [ "$(id -u)" -ne 0 ] && { [ ! -w "$dir" ] || [ ! -w "$(dirname "$logfile")" ]; }; then
  dir="${TMPDIR:-/tmp}/boxoffice-redis"
  logfile="$dir/redis.log"
fi
mkdir -p "$dir" "$(dirname "$logfile")"
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir "$dir" --logfile "$logfile"
for _ in $(seq 1 40); do
  answers && exit 0
  sleep 0.25
done
echo "Redis did not answer at 127.0.0.1:6379 after starting; see $logfile" >&2
exit 1
