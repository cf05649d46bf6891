#!/usr/bin/env bash
# broker.sh: find, start or install a RabbitMQ broker for the tests and demos.
#
#   scripts/broker.sh [ensure]  print an AMQP URL of a broker that accepts connections
#   scripts/broker.sh deps      make sure the Debian packages amqp-specs (for go generate) and
#                               amqp-tools (the reference the cmd/ tests compare against) are there
#
# ensure tries, in order: $AMQP_URL; a broker already on localhost:5672; starting an
# installed rabbitmq-server (no systemd needed); installing rabbitmq-server with
# apt-get (root only). Status goes to stderr, the URL alone to stdout. Idempotent.
# Tunables: BROKER_START_TIMEOUT (seconds, default 120), BROKER_STATE_DIR.
set -euo pipefail

# No path means vhost "/" (with a trailing "/" the URI spec says vhost "").
DEFAULT_URL="amqp://guest:guest@localhost:5672"
START_TIMEOUT="${BROKER_START_TIMEOUT:-120}"
STATE_DIR="${BROKER_STATE_DIR:-${TMPDIR:-/tmp}/amqplib-go-broker-$(id -u)}"
LOG="$STATE_DIR/rabbitmq-server.log"

say() { echo "broker.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# tcp_open HOST PORT: does something accept TCP connections there (1 s at most)?
tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

wait_tcp() { # wait_tcp HOST PORT SECONDS
	local end=$((SECONDS + $3))
	until tcp_open "$1" "$2"; do ((SECONDS < end)) && sleep 0.5 || return 1; done
}

# url_hostport URL: print "host port" of an amqp:// or amqps:// URL.
url_hostport() {
	local rest="${1#*://}" port=5672 host
	[[ $1 == amqps://* ]] && port=5671
	rest="${rest%%[/?#]*}"  # authority
	rest="${rest##*@}"      # drop the user info
	[[ $rest =~ ^(\[([^]]*)\]|([^:]*))(:([0-9]+))?$ ]] || return 1
	host="${BASH_REMATCH[2]}${BASH_REMATCH[3]}" port="${BASH_REMATCH[5]:-$port}"
	echo "${host:-localhost} $port"
}

log_tail() { # the server's stdout, then the newest node log
	local f logdir="$STATE_DIR/log"
	debian_as_root && logdir=/var/log/rabbitmq
	for f in "$LOG" "$(ls -t "$logdir"/*.log 2>/dev/null | head -n 1)"; do
		[[ -s $f ]] || continue
		say "last lines of $f:"
		tail -n 25 "$f" >&2
	done
}

is_root() { [[ $(id -u) == 0 ]]; }
# apt_install PKG...: install Debian packages, refreshing the lists only when needed.
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	say "installing $* with apt-get"
	apt-get install -y -q "$@" >&2 || { apt-get update -q >&2 && apt-get install -y -q "$@" >&2; } ||
		die "apt-get install $* failed (see the output above)"
}

server_installed() { command -v rabbitmq-server >/dev/null || [[ -x /usr/sbin/rabbitmq-server ]]; }

# The Debian package runs the node as the "rabbitmq" user: as root we go through its
# wrappers in /usr/sbin (they switch user). Otherwise the node runs as us, with all
# its state (database, logs, Erlang cookie) under $STATE_DIR.
debian_as_root() { is_root && id rabbitmq >/dev/null 2>&1 && [[ -x /usr/sbin/rabbitmq-server ]]; }

rabbit_bin() { # rabbit_bin NAME: the real script, bypassing Debian's root-only wrapper
	[[ -x /usr/lib/rabbitmq/bin/$1 ]] && echo "/usr/lib/rabbitmq/bin/$1" || command -v "$1" || echo "/usr/sbin/$1"
}

ctl() { # rabbitmqctl, bounded to 90 s
	if debian_as_root; then
		timeout 90 /usr/sbin/rabbitmqctl "$@"
	else
		HOME="$STATE_DIR" timeout 90 "$(rabbit_bin rabbitmqctl)" "$@"
	fi
}

start_server() {
	mkdir -p "$STATE_DIR"
	say "starting rabbitmq-server in the background (log: $LOG)"
	# setsid: the node must outlive make and not get the terminal's signals.
	if debian_as_root; then
		setsid -w /usr/sbin/rabbitmq-server >"$LOG" 2>&1 </dev/null &
	else
		mkdir -p "$STATE_DIR/mnesia" "$STATE_DIR/log"
		(cd "$STATE_DIR" && HOME="$STATE_DIR" RABBITMQ_MNESIA_BASE="$STATE_DIR/mnesia" \
			RABBITMQ_LOG_BASE="$STATE_DIR/log" \
			RABBITMQ_ENABLED_PLUGINS_FILE="$STATE_DIR/enabled_plugins" \
			exec setsid -w "$(rabbit_bin rabbitmq-server)" >"$LOG" 2>&1 </dev/null) &
	fi
	local pid=$! end=$((SECONDS + START_TIMEOUT))
	until tcp_open localhost 5672; do
		kill -0 "$pid" 2>/dev/null || { log_tail; die "rabbitmq-server exited during startup"; }
		((SECONDS < end)) || { log_tail; die "rabbitmq-server did not listen on localhost:5672 within ${START_TIMEOUT}s"; }
		sleep 0.5
	done
	await_ready
}

# await_ready: the port is open; make sure the node has finished booting.
await_ready() {
	if ! ctl -q await_startup --timeout 60 >&2; then
		log_tail
		die "rabbitmq-server listens on 5672 but 'rabbitmqctl await_startup' failed"
	fi
	say "rabbitmq-server is ready on localhost:5672"
}

ensure() {
	if [[ -n ${AMQP_URL:-} ]]; then
		local hp
		hp=$(url_hostport "$AMQP_URL") || die "cannot read host and port from AMQP_URL"
		# shellcheck disable=SC2086
		wait_tcp $hp 10 || die "AMQP_URL is set but nothing accepts TCP at ${hp/ /:} (waited 10s)"
		echo "$AMQP_URL"
		return
	fi
	if tcp_open localhost 5672; then
		echo "$DEFAULT_URL"
		return
	fi
	if ! server_installed; then
		is_root || die "no broker on localhost:5672 and rabbitmq-server is not installed.
  Install it (e.g. 'sudo apt-get install rabbitmq-server') or set AMQP_URL=amqp://user:pass@host:port/vhost"
		apt_install rabbitmq-server
		# The package's postinst may have started the node (invoke-rc.d), or a
		# policy-rc.d / missing init system may have prevented it: handle both.
		if wait_tcp localhost 5672 5; then
			await_ready
			echo "$DEFAULT_URL"
			return
		fi
	fi
	start_server
	echo "$DEFAULT_URL"
}

SPECS=(/usr/share/amqp/specs/0-8/amqp0-8.stripped.xml
	/usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml)

# AMQP_TOOLS: the programs of Debian's amqp-tools (rabbitmq-c) that the CLI tests run.
AMQP_TOOLS=(amqp-publish amqp-get amqp-consume amqp-declare-queue amqp-delete-queue)

have_amqp_tools() {
	local t
	for t in "${AMQP_TOOLS[@]}"; do command -v "$t" >/dev/null || return 1; done
}

# deps installs what is missing, in one apt-get run, as root only. Without root,
# missing specs are an error (go generate needs them); missing amqp-tools only a
# warning: the comparison tests then skip, or fail under CI=true.
deps() {
	local missing=()
	[[ -f ${SPECS[0]} && -f ${SPECS[1]} ]] || missing+=(amqp-specs)
	have_amqp_tools || missing+=(amqp-tools)
	((${#missing[@]} > 0)) || return 0
	if ! is_root; then
		if [[ " ${missing[*]} " == *" amqp-specs "* ]]; then
			[[ ${CI:-} == true ]] && die "the Debian package amqp-specs (AMQP spec XML for go generate) is missing.
  Install it: sudo apt-get install ${missing[*]}"
			say "notice: the AMQP spec XML (Debian's amqp-specs) is not installed: the check that the" \
				"generated z*.go files are up to date is skipped; 'make generate' needs it."
		fi
		say "warning: amqp-tools (rabbitmq-c's amqp-publish & co.) is missing: the tests comparing" \
			"cmd/ with it will skip (or fail under CI=true). Install it: sudo apt-get install amqp-tools"
		return 0
	fi
	apt_install "${missing[@]}"
}

case "${1:-ensure}" in
ensure) ensure ;;
deps) deps ;;
*) die "usage: $0 [ensure|deps]" ;;
esac
