#!/usr/bin/env bash
# Every storefront figure of docs/benchmarks.md ("Storefront (issue 4)") in one go, against a gunicorn
# started here on loopback and stopped at the end. Each step stops by itself (request count or seconds).
#
#   BOXOFFICE_DB=boxoffice_bench_small bench/storefront_all.sh [PORT] [WORKERS] [THREADS]
#
# The database must hold the demo data (flask demo load --scale small); `setup` adds the bench events
# and customers once.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8101}
WORKERS=${2:-4}
THREADS=${3:-2}
URL=http://127.0.0.1:$PORT
export BOXOFFICE_DB=${BOXOFFICE_DB:-boxoffice_bench_small}
BENCH=(.venv/bin/python -m bench.storefront)
LOG=$(mktemp /tmp/storefront-access.XXXXXX.log)

ids=$("${BENCH[@]}" setup)
echo "$ids"
HALL=$(sed -n 's/^1,000-seat event: \([0-9]*\).*/\1/p' <<<"$ids")
ARENA=$(sed -n 's/^arena event: *\([0-9]*\).*/\1/p' <<<"$ids")
SECTION=$(.venv/bin/python - "$ARENA" <<'EOF'
import sys
from boxoffice import create_app
from boxoffice.services import seatmap
with create_app().app_context():
    print(seatmap.section_overview(int(sys.argv[1]))[0].section_id)
EOF
)

# Serves the app with gunicorn on $PORT, with an access log ending in %(D)s (the request time in
# microseconds, read back by `logstats`) unless the argument is "quiet".
serve() {
    [ -n "${SERVER:-}" ] && { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
    local log=(--access-logfile "$LOG" --access-logformat '%(h)s "%(r)s" %(s)s %(b)s %(D)s')
    [ "${1:-}" = quiet ] && log=()
    .venv/bin/gunicorn -w "$WORKERS" -k gthread --threads "$THREADS" -b "127.0.0.1:$PORT" "${log[@]}" wsgi:app &
    SERVER=$!
    for _ in $(seq 50); do curl -sf -o /dev/null "$URL/events/$HALL" && break; sleep 0.2; done
}
trap '[ -n "${SERVER:-}" ] && kill $SERVER 2>/dev/null; wait 2>/dev/null || true' EXIT
serve

# Runs one bench command, then prints the server time gunicorn logged for it and empties the log.
step() {
    "${BENCH[@]}" "$@"
    "${BENCH[@]}" logstats "$LOG" | sed 's/^/  server: /'
    : > "$LOG"
}

echo "== gunicorn -w $WORKERS -k gthread --threads $THREADS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$LOG"
echo "== 1. event page, 1,000 seats"
step page --url "$URL" --event "$HALL" --clients 1 --requests 300 --seconds 15
step page --url "$URL" --event "$HALL" --clients 8 --requests 1500 --seconds 30
echo "== 2. no-change poll"
step poll --url "$URL" --event "$HALL" --clients 1 --requests 3000 --seconds 15
step poll --url "$URL" --event "$HALL" --clients 8 --requests 8000 --seconds 15
"${BENCH[@]}" poll-server --event "$HALL" --calls 5000
echo "== 3. arena ($ARENA, section $SECTION)"
step page --url "$URL" --event "$ARENA" --clients 1 --requests 300 --seconds 15
step page --url "$URL" --event "$ARENA" --clients 8 --requests 1500 --seconds 20
step page --url "$URL" --event "$ARENA" --section "$SECTION" --clients 1 --requests 300 --seconds 15
step page --url "$URL" --event "$ARENA" --section "$SECTION" --clients 8 --requests 1500 --seconds 20
step poll --url "$URL" --event "$ARENA" --section "$SECTION" --clients 8 --requests 8000 --seconds 15
echo "== 4. checkout, each on a fresh arena event, then verified"
# Without the access log first (gunicorn writing a line a request costs it about 1 ms of CPU a booking),
# then once more with it, as the figures above were taken.
serve quiet
"${BENCH[@]}" checkout --url "$URL" --clients 8 --mode distinct --bookings 9000 --seconds 60
"${BENCH[@]}" checkout --url "$URL" --clients 8 --mode contend --bookings 9000 --seconds 60
"${BENCH[@]}" checkout --url "$URL" --clients 8 --mode distinct --browser plain --bookings 9000 --seconds 60
serve
step checkout --url "$URL" --clients 8 --mode distinct --bookings 9000 --seconds 60
rm -f "$LOG"
