#!/usr/bin/env bash
# Measures the dashboard against a freshly started `bin/portico simulate`
# (no MariaDB needed): dashboard.perf.spec.ts with playwright.perf.config.ts.
# Portico is stopped on exit, pass or fail. Arguments are passed to
# playwright test.
#
# Environment: PORTICO_PERF_SESSIONS (10000), PORTICO_PERF_RATE (1000),
# PORTICO_PERF_PORT (18990), PORTICO_PERF_MINUTES (1) and the rest that
# playwright.perf.config.ts lists.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules/@playwright/test ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

export PORTICO_PERF_SESSIONS=${PORTICO_PERF_SESSIONS:-10000}
export PORTICO_PERF_RATE=${PORTICO_PERF_RATE:-1000}
port=${PORTICO_PERF_PORT:-18990}
url=http://127.0.0.1:$port

if curl -s -o /dev/null "$url/"; then
	echo "something already answers on $url: stop it or set PORTICO_PERF_PORT" >&2
	exit 1
fi

log=$(mktemp)
# Its own datadir, as the e2e suite has, so that admin/mariadb works
# whatever the development datadir's accounts are.
../../bin/portico simulate --config perf/portico-perf.cnf --admin "127.0.0.1:$port" \
	--sessions "$PORTICO_PERF_SESSIONS" --rate "$PORTICO_PERF_RATE" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 300); do
	if curl -sf -u admin:mariadb -o /dev/null "$url/v1/services"; then
		break
	fi
	if ! kill -0 $pid 2>/dev/null; then
		echo "portico simulate exited before it was ready:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done
grep -m1 '^Simulating' "$log" || true

export PORTICO_ADMIN_URL=$url
status=0
npx playwright test -c perf/playwright.perf.config.ts "$@" || status=$?
if ! kill -0 $pid 2>/dev/null; then
	echo "portico simulate (pid $pid) is gone: it ended during the run, and what followed measured nothing" >&2
	status=1
fi
if [ $status -ne 0 ]; then
	echo "--- portico simulate log ---" >&2
	cat "$log" >&2
fi
exit $status
