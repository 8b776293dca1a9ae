#!/usr/bin/env bash
# What `go tool task run` does once bin/portico is built: choose a backend
# database, start it if it is ours, start Portico in front of it and the demo
# load through it, and stop them all on exit (Ctrl-C).
#
# The backend, first match wins:
#   1. PORTICO_CONFIG=FILE   a Portico/MaxScale config of yours, used as is:
#                            its servers are the backend.
#   2. PORTICO_BACKEND=HOST:PORT  a MariaDB or MySQL you run: portico.cnf with
#                            that server, written to .tmp/portico-run.cnf.
#                            It needs the accounts of demo.sql and maxuser.
#   3. mariadbd on PATH or in /usr/sbin: a private MariaDB (mariadb.sh) on
#                            127.0.0.1:PORT, unless PORTICO_EMBEDDED=1.
#   4. otherwise the embedded database: bin/embeddb (go-mysql-server, in
#                            memory) on 127.0.0.1:PORT with demo.sql.
# Nothing is installed on any of these paths: a machine with only Go gets 4.
#
# Usage: run.sh DIR PORT   (the private MariaDB's state directory and port)
set -euo pipefail

dir=${1:?usage: run.sh DIR PORT}
port=${2:?usage: run.sh DIR PORT}
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
devdb=cmd/portico/devdb
config=cmd/portico/portico.cnf

pids=()
stop_mariadb=0
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$stop_mariadb" -eq 1 ]; then
		"$devdb/mariadb.sh" stop "$dir" || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# has_mariadb: the private MariaDB needs the server and its three tools;
# without any of them mariadb.sh would install packages, which this path
# must never do.
has_mariadb() {
	{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } &&
		command -v mariadb-install-db >/dev/null 2>&1 &&
		command -v mariadb-admin >/dev/null 2>&1 &&
		command -v mariadb >/dev/null 2>&1
}

# wait_port PID ADDR PORT: wait until ADDR:PORT accepts connections, or fail
# if PID ends first.
wait_port() {
	local i
	for ((i = 0; i < 300; i++)); do
		if (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$1" 2>/dev/null; then
			echo "run: the database exited before it listened on $2:$3" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "run: nothing listens on $2:$3 after 30s" >&2
	return 1
}

if [ -n "${PORTICO_CONFIG:-}" ]; then
	config=$PORTICO_CONFIG
	[ -r "$config" ] || { echo "run: PORTICO_CONFIG=$config is not a readable file" >&2; exit 1; }
	echo "Backend: the servers of $config (PORTICO_CONFIG set)"
elif [ -n "${PORTICO_BACKEND:-}" ]; then
	host=${PORTICO_BACKEND%:*}
	bport=${PORTICO_BACKEND##*:}
	case "$bport" in
	'' | *[!0-9]*) echo "run: PORTICO_BACKEND must be HOST:PORT, got '$PORTICO_BACKEND'" >&2; exit 1 ;;
	esac
	[ "$host" != "$PORTICO_BACKEND" ] && [ -n "$host" ] ||
		{ echo "run: PORTICO_BACKEND must be HOST:PORT, got '$PORTICO_BACKEND'" >&2; exit 1; }
	mkdir -p .tmp
	# The server section's address and port only; the listener keeps its own.
	awk -v host="$host" -v port="$bport" '
		/^\[/ { server = ($0 == "[mariadb1]") }
		server && /^address=/ { print "address=" host; next }
		server && /^port=/ { print "port=" port; next }
		{ print }
	' "$config" >.tmp/portico-run.cnf
	config=.tmp/portico-run.cnf
	echo "Backend: the MariaDB at $host:$bport (PORTICO_BACKEND set; config $config)"
elif [ "${PORTICO_EMBEDDED:-}" != 1 ] && has_mariadb; then
	echo "Backend: a private MariaDB on 127.0.0.1:$port, data in $dir (mariadbd is installed; PORTICO_EMBEDDED=1 picks the embedded database instead)"
	stop_mariadb=1
	"$devdb/mariadb.sh" start "$dir" "$port"
else
	if [ "${PORTICO_EMBEDDED:-}" = 1 ]; then
		why="PORTICO_EMBEDDED=1"
	else
		why="no mariadbd on PATH or in /usr/sbin"
	fi
	echo "Backend: the embedded database on 127.0.0.1:$port - go-mysql-server, in memory, reset at each start ($why)"
	# A module of its own (cmd/embeddb/go.mod): its first build fetches and
	# compiles go-mysql-server, a minute or two; later builds take seconds.
	if [ ! -x bin/embeddb ] || [ -n "$(find cmd/embeddb -newer bin/embeddb -print -quit)" ]; then
		echo "Building bin/embeddb (the first build takes a minute or two)..."
		(cd cmd/embeddb && go build -o ../../bin/embeddb .)
	fi
	./bin/embeddb --addr "127.0.0.1:$port" --schema "$devdb/demo.sql" --log-level warn &
	pids+=($!)
	wait_port "$!" 127.0.0.1 "$port"
fi

# From here Ctrl-C stops Portico and the load, and the exit status is
# Portico's: a stop on request is no failure.
trap 'for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done' INT TERM

# The load waits for its first login, so it starts once Portico answers, and
# logs only warnings so that Portico's banner stays in view.
./bin/portico --config "$config" &
portico=$!
pids+=("$portico")
./bin/portico load --config "$config" --sessions 50 --log-level warn --summary 30s &
pids+=($!)
set +e
wait "$portico"
status=$?
# A signal interrupts wait: wait again for the exit status of Portico.
while kill -0 "$portico" 2>/dev/null; do wait "$portico"; status=$?; done
exit "$status"
