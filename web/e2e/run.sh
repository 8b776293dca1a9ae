#!/usr/bin/env bash
# Runs the Playwright suite against a freshly started bin/portico using
# portico-e2e.cnf. The test MariaDB must already be running (go tool task test
# starts it). Portico is stopped on exit, pass or fail. Arguments are passed
# to playwright test (for example a spec file).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/@playwright/test ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

log=$(mktemp)
../../bin/portico --config portico-e2e.cnf >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
	if curl -sf -u admin:mariadb -o /dev/null http://127.0.0.1:18989/v1/sessions; then
		break
	fi
	if ! kill -0 $pid 2>/dev/null; then
		echo "portico exited before it was ready:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done

export PORTICO_ADMIN_URL=http://127.0.0.1:18989 PORTICO_LISTENER_PORT=14006
if ! npx playwright test "$@"; then
	echo "--- portico log ---" >&2
	cat "$log" >&2
	exit 1
fi
