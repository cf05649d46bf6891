#!/usr/bin/env bash
# node2.sh: a throwaway second RabbitMQ node for destructive tests (freeze,
# memory alarm, forced close). It never touches the main broker on 5672.
#
#   scripts/node2.sh start        start the node unless it runs; print its AMQP URL
#   scripts/node2.sh stop         stop it (and SIGCONT it first if it is frozen)
#   scripts/node2.sh status       exit 0 when the node is up and answers AMQP's port
#   scripts/node2.sh ctl ARGS...  rabbitmqctl -n NODE ARGS... (bounded to 60 s)
#   scripts/node2.sh pid          print the beam.smp process id
#   scripts/node2.sh env          print NAME=value lines (URL, PID_FILE, STATE_DIR, ...)
#   scripts/node2.sh wipe         stop, then delete the state directory
#
# The node runs as the current user (root or not) straight from
# /usr/lib/rabbitmq/bin, not through Debian's /usr/sbin wrappers (which switch to
# the rabbitmq user and share its Erlang cookie and database). Everything it
# writes (database, logs, config, Erlang cookie, pid file) lives in its own state
# directory; only epmd (port 4369) is shared with the main node. Management and
# prometheus plugins are off. Start and stop are serialised with flock, so test
# binaries running in parallel can all call start.
#
# Tunables: NODE2_NAME (amqplib-node2@localhost), NODE2_PORT (5682),
# NODE2_DIST_PORT (25682), NODE2_STATE_DIR (${TMPDIR:-/tmp}/amqplib-go-node2-UID),
# NODE2_START_TIMEOUT (seconds, 120).
set -euo pipefail

NAME="${NODE2_NAME:-amqplib-node2@localhost}"
PORT="${NODE2_PORT:-5682}"
DIST_PORT="${NODE2_DIST_PORT:-25682}"
STATE_DIR="${NODE2_STATE_DIR:-${TMPDIR:-/tmp}/amqplib-go-node2-$(id -u)}"
START_TIMEOUT="${NODE2_START_TIMEOUT:-120}"
PID_FILE="$STATE_DIR/node2.pid"
LOG="$STATE_DIR/server.log"
URL="amqp://guest:guest@127.0.0.1:$PORT"
[[ $PORT != 5672 ]] || { echo "node2.sh: refusing to use port 5672 (the main broker's)" >&2; exit 2; }

say() { echo "node2.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

bin() { # bin NAME: the real RabbitMQ script, bypassing Debian's user-switching wrapper
	if [[ -x /usr/lib/rabbitmq/bin/$1 ]]; then
		echo "/usr/lib/rabbitmq/bin/$1"
	elif command -v "$1" >/dev/null; then
		command -v "$1"
	else
		die "$1 not found: install rabbitmq-server (apt-get install rabbitmq-server)"
	fi
}

# node_env CMD...: run CMD with the node's environment.
node_env() {
	env HOME="$STATE_DIR" \
		RABBITMQ_NODENAME="$NAME" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$PORT" \
		RABBITMQ_DIST_PORT="$DIST_PORT" \
		RABBITMQ_CTL_DIST_PORT_MIN=$((DIST_PORT + 10000)) \
		RABBITMQ_CTL_DIST_PORT_MAX=$((DIST_PORT + 10030)) \
		RABBITMQ_MNESIA_BASE="$STATE_DIR/mnesia" \
		RABBITMQ_LOG_BASE="$STATE_DIR/log" \
		RABBITMQ_CONFIG_FILE="$STATE_DIR/rabbitmq.conf" \
		RABBITMQ_ADVANCED_CONFIG_FILE="$STATE_DIR/advanced.config" \
		RABBITMQ_CONF_ENV_FILE="$STATE_DIR/rabbitmq-env.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$STATE_DIR/enabled_plugins" \
		RABBITMQ_PID_FILE="$PID_FILE" \
		"$@"
}

ctl() { node_env timeout 60 "$(bin rabbitmqctl)" -n "$NAME" "$@"; }

tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# beam_pid: the node's beam.smp pid from the pid file, if that process lives and is beam.
beam_pid() {
	local pid
	[[ -s $PID_FILE ]] || return 1
	pid=$(tr -dc '0-9' <"$PID_FILE")
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$STATE_DIR" || return 1
	echo "$pid"
}

thaw() { local pid; pid=$(beam_pid) && kill -CONT "$pid" 2>/dev/null || true; }

prepare() {
	mkdir -p "$STATE_DIR/mnesia" "$STATE_DIR/log"
	chmod 700 "$STATE_DIR"
	if [[ ! -s $STATE_DIR/.erlang.cookie ]]; then
		(umask 077 && head -c 30 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9' | tr 'a-f' 'A-F' >"$STATE_DIR/.erlang.cookie")
		chmod 400 "$STATE_DIR/.erlang.cookie"
	fi
	echo '[].' >"$STATE_DIR/enabled_plugins" # no management, no prometheus
	: >"$STATE_DIR/rabbitmq-env.conf"        # not /etc/rabbitmq's
	cat >"$STATE_DIR/rabbitmq.conf" <<-EOF
		listeners.tcp.default = 127.0.0.1:$PORT
		vm_memory_high_watermark.relative = 0.4
		disk_free_limit.absolute = 1MB
		log.console = false
		log.file.level = warning
	EOF
}

lock() { # lock: serialise start/stop between processes (fd 9, released at exit)
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/.script.lock"
	flock -w "$((START_TIMEOUT + 30))" 9 || die "another node2.sh holds $STATE_DIR/.script.lock"
}

up() { beam_pid >/dev/null && tcp_open "$PORT"; }

start() {
	lock
	thaw
	if up && ctl -q await_startup --timeout 30 >/dev/null 2>&1; then
		echo "$URL"
		return
	fi
	if beam_pid >/dev/null; then
		say "the node runs but does not answer; restarting it"
		stop_locked
	fi
	if tcp_open "$PORT"; then
		die "something else listens on 127.0.0.1:$PORT (set NODE2_PORT)"
	fi
	prepare
	say "starting $NAME on 127.0.0.1:$PORT (state: $STATE_DIR, log: $LOG)"
	# setsid: the node outlives this script and the test binary that ran it.
	# Every fd of the launcher goes to the log, so no caller's pipe stays open.
	(cd "$STATE_DIR" && node_env setsid -w "$(bin rabbitmq-server)") >"$LOG" 2>&1 </dev/null 9>&- &
	local launcher=$! end=$((SECONDS + START_TIMEOUT))
	until tcp_open "$PORT"; do
		if ! kill -0 "$launcher" 2>/dev/null; then
			tail -n 30 "$LOG" >&2 || true
			die "rabbitmq-server exited during startup (see $LOG and $STATE_DIR/log)"
		fi
		((SECONDS < end)) || { tail -n 30 "$LOG" >&2 || true; die "$NAME did not listen on $PORT within ${START_TIMEOUT}s"; }
		sleep 0.3
	done
	ctl -q await_startup --timeout 60 >&2 || die "$NAME listens but 'rabbitmqctl await_startup' failed"
	beam_pid >/dev/null || die "no beam.smp pid in $PID_FILE"
	say "$NAME is ready"
	echo "$URL"
}

stop_locked() {
	local pid
	pid=$(beam_pid) || return 0
	kill -CONT "$pid" 2>/dev/null || true
	ctl -q stop >/dev/null 2>&1 || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "the node did not stop; killing pid $pid"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PID_FILE"
}

case "${1:-}" in
start) start ;;
stop) lock && stop_locked ;;
status) up ;;
ctl) shift && ctl "$@" ;;
pid) beam_pid || die "node2 is not running" ;;
env)
	echo "URL=$URL"
	echo "NAME=$NAME"
	echo "PORT=$PORT"
	echo "STATE_DIR=$STATE_DIR"
	echo "PID_FILE=$PID_FILE"
	;;
wipe) lock && stop_locked && rm -rf "$STATE_DIR" ;;
*) die "usage: $0 start|stop|status|ctl ARGS...|pid|env|wipe" ;;
esac
