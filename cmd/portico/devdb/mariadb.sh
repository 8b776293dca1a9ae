#!/usr/bin/env bash
# Private, throw-away MariaDB server for development and tests.
#
#   mariadb.sh start DIR PORT   start (or reuse) a server whose state lives in DIR
#   mariadb.sh stop  DIR        stop the server started for DIR (no error if none)
#
# MARIADBD_ARGS, if set, adds options to mariadbd's command line when it
# starts (bench:proxy raises max_connections this way).
#
# The server listens on 127.0.0.1:PORT and on the socket DIR/mariadb.sock, keeps
# its data in DIR/data and never reads the system option files (--no-defaults),
# so it is independent of any system-wide MariaDB. It creates (idempotently)
# the users maxuser/maxpwd @'%', @'127.0.0.1' and @'localhost' with ALL
# PRIVILEGES ON *.*, maxtls/maxpwd likewise but only over TLS (REQUIRE SSL),
# and the database portico_demo, then applies demo.sql
# beside this script: the demo databases shop and analytics and their
# accounts, which `portico load` uses.
#
# The server also speaks TLS: a throw-away CA and a server certificate for
# 127.0.0.1 and localhost are made once with openssl in DIR/tls, and tests
# that check certificates trust DIR/tls/ca.pem.
#
# If mariadbd is not installed, Debian's mariadb-server and mariadb-client are
# installed with apt-get; a temporary policy-rc.d stops the package from
# starting the system service.
set -euo pipefail

readonly DB_USER=maxuser
readonly DB_PASSWORD=maxpwd
# DB_TLS_USER is maxuser's twin that may only log in over TLS.
readonly DB_TLS_USER=maxtls
readonly DB_NAME=portico_demo
readonly WAIT_SECONDS=60
DEMO_SQL="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/demo.sql"
readonly DEMO_SQL

prog=$(basename "$0")

usage() {
	echo "usage: $prog start DIR PORT" >&2
	echo "       $prog stop DIR" >&2
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

find_mariadbd() {
	if command -v mariadbd >/dev/null 2>&1; then
		command -v mariadbd
	elif [ -x /usr/sbin/mariadbd ]; then
		echo /usr/sbin/mariadbd
	else
		return 1
	fi
}

install_mariadb() {
	echo "$prog: mariadbd not found; installing mariadb-server and mariadb-client with apt-get" >&2
	# Keep the package from starting the system-wide service: invoke-rc.d
	# consults /usr/sbin/policy-rc.d and exit code 101 means "action forbidden".
	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [ ! -e "$policy" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		created_policy=1
	fi
	local rc=0
	as_root apt-get update || rc=$?
	if [ "$rc" -eq 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			mariadb-server mariadb-client || rc=$?
	fi
	if [ "$created_policy" -eq 1 ]; then
		as_root rm -f "$policy"
	fi
	[ "$rc" -eq 0 ] || die "apt-get failed (exit $rc)"
}

# abs_dir DIR: create DIR and print its absolute path.
abs_dir() {
	mkdir -p "$1"
	(cd "$1" && pwd -P)
}

# pid_alive: true if DIR/mariadb.pid names a live mariadbd that uses our datadir.
pid_alive() {
	local pid
	[ -s "$PID_FILE" ] || return 1
	pid=$(tr -dc '0-9' <"$PID_FILE")
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: the process must be a server for this datadir.
	if [ -r "/proc/$pid/cmdline" ]; then
		tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--datadir=$DATA_DIR" || return 1
	fi
	echo "$pid"
}

ping_server() {
	[ -S "$SOCKET" ] || return 1
	mariadb-admin --no-defaults --protocol=socket -S "$SOCKET" -u root \
		--connect-timeout=2 ping >/dev/null 2>&1
}

root_sql() {
	mariadb --no-defaults --protocol=socket -S "$SOCKET" -u root --batch "$@"
}

ensure_users() {
	root_sql <<-SQL
		DROP USER IF EXISTS ''@'localhost';
		DROP USER IF EXISTS ''@'$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)';
		CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
		CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
		CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
		ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
		ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
		ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
		GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
		GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
		GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
		CREATE USER IF NOT EXISTS '$DB_TLS_USER'@'%' IDENTIFIED BY '$DB_PASSWORD' REQUIRE SSL;
		CREATE USER IF NOT EXISTS '$DB_TLS_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD' REQUIRE SSL;
		GRANT ALL PRIVILEGES ON *.* TO '$DB_TLS_USER'@'%';
		GRANT ALL PRIVILEGES ON *.* TO '$DB_TLS_USER'@'127.0.0.1';
		CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
		FLUSH PRIVILEGES;
	SQL
	root_sql <"$DEMO_SQL"
}

init_datadir() {
	# A datadir without the marker is a leftover of a failed initialisation.
	if [ -d "$DATA_DIR" ] && [ ! -e "$DATA_DIR/.portico-initialized" ]; then
		echo "$prog: removing incomplete datadir $DATA_DIR" >&2
		rm -rf "$DATA_DIR"
	fi
	[ -d "$DATA_DIR" ] && return 0

	local log="$BASE_DIR/install-db.log"
	if ! mariadb-install-db --no-defaults --datadir="$DATA_DIR" "${USER_ARGS[@]}" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		>"$log" 2>&1; then
		cat "$log" >&2
		rm -rf "$DATA_DIR"
		die "mariadb-install-db failed"
	fi
	touch "$DATA_DIR/.portico-initialized"
}

# ensure_tls: make DIR/tls/ca.pem and a server certificate it signed, once.
# A directory without the marker is a leftover of a failed run.
ensure_tls() {
	if [ -e "$TLS_DIR/.portico-complete" ]; then
		return 0
	fi
	command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the test server's TLS certificate"
	rm -rf "$TLS_DIR"
	mkdir -p "$TLS_DIR"
	local log="$BASE_DIR/tls.log"
	if ! (
		cd "$TLS_DIR" &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
				-subj "/CN=Portico test CA" -keyout ca-key.pem -out ca.pem &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr &&
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
				-extfile server.ext -out server.pem
	) >"$log" 2>&1; then
		cat "$log" >&2
		die "could not make the TLS certificates in $TLS_DIR"
	fi
	touch "$TLS_DIR/.portico-complete"
}

start() {
	local port=$1
	case "$port" in
	'' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
	esac
	[ "$port" -ne 3306 ] || die "refusing to use port 3306"

	local mariadbd pid
	if ! mariadbd=$(find_mariadbd) || ! command -v mariadb-install-db >/dev/null 2>&1 ||
		! command -v mariadb-admin >/dev/null 2>&1 || ! command -v mariadb >/dev/null 2>&1; then
		install_mariadb
		mariadbd=$(find_mariadbd) || die "mariadbd still not found after installing"
	fi

	if pid_alive >/dev/null && ping_server; then
		local running_port
		running_port=$(root_sql --skip-column-names -e 'SELECT @@port')
		if [ "$running_port" != "$port" ]; then
			die "a server for $DATA_DIR is already running on port $running_port, not $port; run '$prog stop $BASE_DIR' first"
		fi
		ensure_users
		echo "mariadb ready on 127.0.0.1:$port (datadir $DATA_DIR)"
		return 0
	fi
	if pid=$(pid_alive); then
		die "mariadbd (pid $pid) for $DATA_DIR is running but does not answer; run '$prog stop $BASE_DIR'"
	fi
	rm -f "$PID_FILE" "$SOCKET" "$SOCKET.lock"

	init_datadir
	ensure_tls

	: >"$ERROR_LOG"
	# Fully detached: new session, no inherited stdin/stdout/stderr, so callers
	# that wait for our output to close (task, go exec) do not hang.
	setsid "$mariadbd" --no-defaults \
		--datadir="$DATA_DIR" \
		--port="$port" \
		--bind-address=127.0.0.1 \
		--socket="$SOCKET" \
		--pid-file="$PID_FILE" \
		"${USER_ARGS[@]}" \
		${MARIADBD_ARGS-} \
		--skip-name-resolve \
		--ssl-ca="$TLS_DIR/ca.pem" \
		--ssl-cert="$TLS_DIR/server.pem" \
		--ssl-key="$TLS_DIR/server-key.pem" \
		--log-error="$ERROR_LOG" \
		</dev/null >>"$BASE_DIR/mariadbd.out" 2>&1 9>&- &
	local child=$!
	disown "$child" 2>/dev/null || true

	local i
	for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
		if ping_server; then
			ensure_users
			echo "mariadb ready on 127.0.0.1:$port (datadir $DATA_DIR, TLS CA $TLS_DIR/ca.pem)"
			return 0
		fi
		if ! kill -0 "$child" 2>/dev/null; then
			break
		fi
		sleep 0.25
	done

	echo "$prog: mariadbd did not become ready; error log $ERROR_LOG:" >&2
	cat "$ERROR_LOG" >&2 || true
	if kill -0 "$child" 2>/dev/null; then
		kill "$child" 2>/dev/null || true
	fi
	exit 1
}

stop() {
	local pid
	if ! pid=$(pid_alive); then
		rm -f "$PID_FILE"
		echo "mariadb not running (datadir $DATA_DIR)"
		return 0
	fi
	mariadb-admin --no-defaults --protocol=socket -S "$SOCKET" -u root \
		--connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true

	local i
	for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$PID_FILE"
			echo "mariadb stopped (datadir $DATA_DIR)"
			return 0
		fi
		# Nudge with SIGTERM (clean shutdown) after 10s if the admin command was lost.
		if [ "$i" -eq 40 ]; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		sleep 0.25
	done
	die "mariadbd (pid $pid) did not exit within ${WAIT_SECONDS}s"
}

[ $# -ge 2 ] || usage
cmd=$1
BASE_DIR=$(abs_dir "$2")
DATA_DIR="$BASE_DIR/data"
SOCKET="$BASE_DIR/mariadb.sock"
PID_FILE="$BASE_DIR/mariadb.pid"
ERROR_LOG="$BASE_DIR/error.log"
TLS_DIR="$BASE_DIR/tls"
# Unix socket paths are limited to 107 bytes.
[ "${#SOCKET}" -le 100 ] || die "DIR is too long for a unix socket path: $SOCKET"

USER_ARGS=()
if [ "$(id -u)" -eq 0 ]; then
	USER_ARGS=(--user=root)
fi

# Serialise concurrent start/stop calls for the same DIR.
exec 9>"$BASE_DIR/.lock"
flock -w 120 9 || die "could not lock $BASE_DIR/.lock"

case "$cmd" in
start)
	[ $# -eq 3 ] || usage
	start "$3"
	;;
stop)
	[ $# -eq 2 ] || usage
	stop
	;;
*) usage ;;
esac
