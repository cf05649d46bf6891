#!/usr/bin/env bash
# cluster.sh: a local three-node RabbitMQ cluster for recovery and chaos
# tests, from the installed rabbitmq-server (no systemd, no Docker). It never
# touches the main broker on 5672, nor node2 on 5682.
#
#   scripts/cluster.sh start          start the three nodes and join 2 and 3 to 1 (idempotent); print the URLs
#   scripts/cluster.sh stop           stop every node (thawing a frozen one first); nothing is left running
#   scripts/cluster.sh status         exit 0 when all three nodes run and are clustered
#   scripts/cluster.sh kill N         SIGKILL node N's beam.smp
#   scripts/cluster.sh restart N      start node N again (after kill or stop); it rejoins the cluster
#   scripts/cluster.sh stop-app N     rabbitmqctl stop_app on node N (connections closed with 320)
#   scripts/cluster.sh start-app N    rabbitmqctl start_app on node N
#   scripts/cluster.sh freeze N       SIGSTOP node N (it keeps its sockets, answers nothing)
#   scripts/cluster.sh thaw N         SIGCONT node N
#   scripts/cluster.sh close-conns N  close every client connection on node N (320 CONNECTION_FORCED)
#   scripts/cluster.sh url N          print node N's AMQP URL
#   scripts/cluster.sh addresses      print the three host:port addresses, comma-separated
#   scripts/cluster.sh pid N          print node N's beam.smp pid
#   scripts/cluster.sh ctl N ARGS...  rabbitmqctl -n NODE_N ARGS... (bounded to 60 s)
#   scripts/cluster.sh wipe           stop, then delete the state directories
#
# Each node runs as the current user straight from /usr/lib/rabbitmq/bin, with
# its own node name (amqplib-cN@localhost), AMQP port (CLUSTER_PORT_BASE+N,
# default 5691-5693), distribution port (25690+N), and data, log and config
# under CLUSTER_STATE_DIR/nN (default ${TMPDIR:-/tmp}/amqplib-go-cluster-UID).
# The nodes share one Erlang cookie, kept in the state directory. Only epmd
# (port 4369) is shared with other nodes on the machine. Commands are
# serialised with flock, so test binaries running in parallel can all call
# start.
set -euo pipefail

BASE_PORT="${CLUSTER_PORT_BASE:-5690}"
DIST_BASE="${CLUSTER_DIST_BASE:-25690}"
STATE_DIR="${CLUSTER_STATE_DIR:-${TMPDIR:-/tmp}/amqplib-go-cluster-$(id -u)}"
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-180}"
NODES=(1 2 3)

say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for n in "${NODES[@]}"; do
	p=$((BASE_PORT + n))
	[[ $p != 5672 && $p != 5682 ]] || die "refusing to use port $p (the main broker's or node2's): set CLUSTER_PORT_BASE"
done

bin() { # the real RabbitMQ script, bypassing Debian's user-switching wrapper
	if [[ -x /usr/lib/rabbitmq/bin/$1 ]]; then
		echo "/usr/lib/rabbitmq/bin/$1"
	elif command -v "$1" >/dev/null; then
		command -v "$1"
	else
		die "$1 not found: install rabbitmq-server (apt-get install rabbitmq-server)"
	fi
}

name() { echo "amqplib-c$1@localhost"; }
port() { echo $((BASE_PORT + $1)); }
dir() { echo "$STATE_DIR/n$1"; }
pid_file() { echo "$(dir "$1")/node.pid"; }
url() { echo "amqp://guest:guest@127.0.0.1:$(port "$1")"; }

check_n() { [[ ${1:-} =~ ^[123]$ ]] || die "node number must be 1, 2 or 3, not '${1:-}'"; }

# node_env N CMD...: run CMD with node N's environment.
node_env() {
	local n=$1 d
	shift
	d=$(dir "$n")
	env HOME="$d" \
		RABBITMQ_NODENAME="$(name "$n")" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$(port "$n")" \
		RABBITMQ_DIST_PORT=$((DIST_BASE + n)) \
		RABBITMQ_CTL_DIST_PORT_MIN=$((DIST_BASE + 10000 + 40 * n)) \
		RABBITMQ_CTL_DIST_PORT_MAX=$((DIST_BASE + 10030 + 40 * n)) \
		RABBITMQ_MNESIA_BASE="$d/mnesia" \
		RABBITMQ_LOG_BASE="$d/log" \
		RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
		RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
		RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
		RABBITMQ_PID_FILE="$(pid_file "$n")" \
		"$@"
}

ctl() { local n=$1; shift; node_env "$n" timeout 60 "$(bin rabbitmqctl)" -n "$(name "$n")" "$@"; }

tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# beam_pid N: node N's beam.smp pid, if that process lives and is node N's.
beam_pid() {
	local pid f
	f=$(pid_file "$1")
	[[ -s $f ]] || return 1
	pid=$(tr -dc '0-9' <"$f")
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(dir "$1")" || return 1
	grep -q '^[^)]*) [^Z]' "/proc/$pid/stat" 2>/dev/null || return 1 # not a zombie
	echo "$pid"
}

thaw() { local pid; pid=$(beam_pid "$1") && kill -CONT "$pid" 2>/dev/null || true; }

prepare() {
	local n=$1 d
	d=$(dir "$n")
	mkdir -p "$d/mnesia" "$d/log"
	chmod 700 "$STATE_DIR" "$d"
	if [[ ! -s $STATE_DIR/.erlang.cookie ]]; then
		(umask 077 && head -c 30 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9' | tr 'a-f' 'A-F' >"$STATE_DIR/.erlang.cookie")
	fi
	if ! cmp -s "$STATE_DIR/.erlang.cookie" "$d/.erlang.cookie" 2>/dev/null; then
		rm -f "$d/.erlang.cookie"
		cp "$STATE_DIR/.erlang.cookie" "$d/.erlang.cookie"
	fi
	chmod 400 "$d/.erlang.cookie"
	echo '[].' >"$d/enabled_plugins" # no management, no prometheus
	: >"$d/rabbitmq-env.conf"        # not /etc/rabbitmq's
	cat >"$d/rabbitmq.conf" <<-EOF
		listeners.tcp.default = 127.0.0.1:$(port "$n")
		vm_memory_high_watermark.relative = 0.2
		disk_free_limit.absolute = 1MB
		log.console = false
		log.file.level = warning
		cluster_partition_handling = autoheal
		# A frozen node is noticed in about 10 s instead of 60 (quorum
		# queue leaders move on after that).
		net_ticktime = 10
	EOF
}

lock() { # serialise commands between processes (fd 9, released at exit)
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/.script.lock"
	flock -w "$((START_TIMEOUT + 60))" 9 || die "another cluster.sh holds $STATE_DIR/.script.lock"
}

up() { beam_pid "$1" >/dev/null && tcp_open "$(port "$1")"; }

# launch N: start node N's rabbitmq-server in the background (not waiting).
launch() {
	local n=$1
	if beam_pid "$n" >/dev/null; then
		return
	fi
	if tcp_open "$(port "$n")"; then
		die "something else listens on 127.0.0.1:$(port "$n") (set CLUSTER_PORT_BASE)"
	fi
	prepare "$n"
	say "starting $(name "$n") on 127.0.0.1:$(port "$n") (state: $(dir "$n"))"
	# setsid: the node outlives this script and the test binary that ran it.
	(cd "$(dir "$n")" && node_env "$n" setsid -w "$(bin rabbitmq-server)") >"$(dir "$n")/server.log" 2>&1 </dev/null 9>&- &
}

# await N: wait until node N answers AMQP and has booted.
await() {
	local n=$1 end=$((SECONDS + START_TIMEOUT))
	until tcp_open "$(port "$n")"; do
		((SECONDS < end)) || { tail -n 30 "$(dir "$n")/server.log" >&2 || true; die "$(name "$n") did not listen on $(port "$n") within ${START_TIMEOUT}s"; }
		sleep 0.3
	done
	ctl "$n" -q await_startup --timeout 120 >&2 || die "$(name "$n") listens but 'rabbitmqctl await_startup' failed"
}

# sees_all N: node N sees all three nodes running.
sees_all() {
	local out
	out=$(ctl "$1" -q eval 'length(rabbit_mnesia:cluster_nodes(running)).' 2>/dev/null) || return 1
	[[ $(echo "$out" | tr -dc '0-9') == 3 ]]
}

# clustered: every node sees all three running (no partition).
clustered() { sees_all 1 && sees_all 2 && sees_all 3; }

start() {
	lock
	for n in "${NODES[@]}"; do thaw "$n"; done
	if up 1 && up 2 && up 3 && clustered; then
		print_urls
		return
	fi
	# Nodes that were clustered before come back together (each waits for
	# the others), so all are launched at once.
	for n in "${NODES[@]}"; do launch "$n"; done
	for n in "${NODES[@]}"; do await "$n"; done
	for n in 2 3; do
		if ! ctl "$n" -q eval "lists:member('$(name 1)', rabbit_mnesia:cluster_nodes(all))." 2>/dev/null | grep -q true; then
			say "joining $(name "$n") to $(name 1)"
			ctl "$n" -q stop_app >&2
			ctl "$n" -q reset >&2
			ctl "$n" -q join_cluster "$(name 1)" >&2
			ctl "$n" -q start_app >&2
			ctl "$n" -q await_startup --timeout 120 >&2
		fi
	done
	local end=$((SECONDS + 60))
	until clustered; do
		if ((SECONDS >= end)); then
			# A partition left by an earlier run (a node frozen too long):
			# restart the nodes that do not see the others.
			for n in "${NODES[@]}"; do
				if ! sees_all "$n"; then
					say "$(name "$n") does not see the whole cluster; restarting it"
					stop_node "$n"
					launch "$n"
					await "$n"
				fi
			done
			local end2=$((SECONDS + 60))
			until clustered; do
				((SECONDS < end2)) || die "the nodes did not form a cluster of 3"
				sleep 0.3
			done
			break
		fi
		sleep 0.3
	done
	say "cluster of $(name 1), $(name 2), $(name 3) is ready"
	print_urls
}

print_urls() { for n in "${NODES[@]}"; do url "$n"; done; }

stop_node() {
	local n=$1 pid
	pid=$(beam_pid "$n") || { rm -f "$(pid_file "$n")"; return 0; }
	kill -CONT "$pid" 2>/dev/null || true
	ctl "$n" -q stop >/dev/null 2>&1 || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$(name "$n") did not stop; killing pid $pid"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$(pid_file "$n")"
}

stop_all() {
	for n in "${NODES[@]}"; do thaw "$n"; done
	# In reverse, so that node 1 (the one the others joined) goes last.
	for n in 3 2 1; do stop_node "$n"; done
}

restart() {
	local n=$1
	thaw "$n"
	launch "$n"
	await "$n"
}

cmd=${1:-}
shift || true
case "$cmd" in
start) start ;;
stop) lock && stop_all ;;
status) up 1 && up 2 && up 3 && clustered ;;
kill)
	check_n "${1:-}"
	pid=$(beam_pid "$1") || die "node $1 is not running"
	kill -KILL "$pid"
	;;
restart) check_n "${1:-}" && lock && restart "$1" ;;
stop-app) check_n "${1:-}" && ctl "$1" -q stop_app ;;
start-app) check_n "${1:-}" && ctl "$1" -q start_app && ctl "$1" -q await_startup --timeout 120 ;;
freeze)
	check_n "${1:-}"
	pid=$(beam_pid "$1") || die "node $1 is not running"
	kill -STOP "$pid"
	;;
thaw) check_n "${1:-}" && thaw "$1" ;;
close-conns) check_n "${1:-}" && ctl "$1" -q close_all_connections "${2:-closed by cluster.sh}" ;;
url) check_n "${1:-}" && url "$1" ;;
addresses) echo "127.0.0.1:$(port 1),127.0.0.1:$(port 2),127.0.0.1:$(port 3)" ;;
pid) check_n "${1:-}" && { beam_pid "$1" || die "node $1 is not running"; } ;;
ctl) check_n "${1:-}" && { n=$1; shift; ctl "$n" "$@"; } ;;
wipe) lock && stop_all && rm -rf "$STATE_DIR" ;;
*) die "usage: $0 start|stop|status|kill N|restart N|stop-app N|start-app N|freeze N|thaw N|close-conns N|url N|addresses|pid N|ctl N ARGS...|wipe" ;;
esac
