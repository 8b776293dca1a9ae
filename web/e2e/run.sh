#!/usr/bin/env bash
# Runs the Playwright suite against a freshly started bin/portico using
# portico-e2e.cnf. The test MariaDB must already be running (go tool task test
# starts it). Portico is stopped on exit, pass or fail. Arguments are passed
# to playwright test (for example a spec file).
#
# Some specs start Portico processes of their own (helpers/portico.ts), from
# a copy of portico-e2e.cnf on free ports: reconnect.spec.ts stops and
# restarts one, many.spec.ts runs `portico simulate`.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/@playwright/test ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

admin=http://127.0.0.1:18989
if curl -s -o /dev/null "$admin/"; then
	echo "something already answers on $admin: stop it first" >&2
	exit 1
fi

log=$(mktemp)
# PORTICO_BINARY runs another build (helpers/portico.ts uses it too).
export PORTICO_BINARY=${PORTICO_BINARY:-$PWD/../../bin/portico}
# Sessions a spec left open must not hold the stop at the end for a drain.
"$PORTICO_BINARY" --config portico-e2e.cnf --drain-timeout 0s >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
	if curl -sf -u admin:mariadb -o /dev/null "$admin/v1/services"; then
		break
	fi
	if ! kill -0 $pid 2>/dev/null; then
		echo "portico exited before it was ready:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done

export PORTICO_ADMIN_URL=$admin PORTICO_LISTENER_PORT=14006 PORTICO_OTHER_LISTENER_PORT=14007
status=0
npx playwright test "$@" || status=$?
if ! kill -0 $pid 2>/dev/null; then
	echo "portico (pid $pid) ended during the run" >&2
	status=1
fi
if [ $status -ne 0 ]; then
	echo "--- portico log ---" >&2
	cat "$log" >&2
fi
exit $status
