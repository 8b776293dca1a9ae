#!/usr/bin/env bash
# The embedded-database test (go tool task e2e:embedded): what `go tool task
# run` starts on a machine without MariaDB, on ports of its own - bin/embeddb
# on 127.0.0.1:13316, Portico with portico-embedded.cnf (admin 18991,
# listener 14016) and `portico load --sessions 45` - then embedded.spec.ts.
# Everything started here is stopped on exit, pass or fail. Arguments go to
# playwright test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules/@playwright/test ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

readonly db_port=13316 admin_port=18991 listener_port=14016
for p in $db_port $admin_port $listener_port; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "something already listens on 127.0.0.1:$p: stop it first" >&2
		exit 1
	fi
done

root=$(cd ../.. && pwd)
# The embedded database is a module of its own: its first build fetches and
# compiles go-mysql-server (a minute or two), later ones take seconds.
(cd "$root/cmd/embeddb" && go build -o "$root/bin/embeddb" .)

export PORTICO_BINARY=${PORTICO_BINARY:-$root/bin/portico}
logs=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$logs"
}
trap cleanup EXIT

# wait_for NAME PID CHECK...: run CHECK until it succeeds; fail if PID ends.
wait_for() {
	local name=$1 pid=$2 i
	shift 2
	for ((i = 0; i < 300; i++)); do
		if "$@"; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name exited before it was ready:" >&2
			cat "$logs/$name.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "$name not ready after 30s:" >&2
	cat "$logs/$name.log" >&2
	return 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

"$root/bin/embeddb" --addr 127.0.0.1:$db_port --schema "$root/cmd/portico/devdb/demo.sql" >"$logs/embeddb.log" 2>&1 &
pids+=($!)
wait_for embeddb $! listening $db_port

"$PORTICO_BINARY" --config embedded/portico-embedded.cnf >"$logs/portico.log" 2>&1 &
portico=$!
pids+=($portico)
wait_for portico $portico curl -sf -u admin:mariadb -o /dev/null "http://127.0.0.1:$admin_port/v1/services"

"$PORTICO_BINARY" load --config embedded/portico-embedded.cnf --sessions 45 --summary 10s >"$logs/load.log" 2>&1 &
pids+=($!)

export PORTICO_ADMIN_URL=http://127.0.0.1:$admin_port PORTICO_LISTENER_PORT=$listener_port
status=0
npx playwright test --config embedded/playwright.embedded.config.ts "$@" || status=$?
if ! kill -0 $portico 2>/dev/null; then
	echo "portico (pid $portico) ended during the run" >&2
	status=1
fi
if [ $status -ne 0 ]; then
	for f in embeddb portico load; do
		echo "--- $f log ---" >&2
		tail -50 "$logs/$f.log" >&2
	done
fi
exit $status
