# bench/lib.sh: shell helpers that the scripts comparing warden with
# fail2ban share (bench/server-vs-fail2ban, bench/firewall-vs-fail2ban/run
# and firewalld.sh). Sourced, not run. A script sets, before sourcing:
#   BENCH      its name, for messages
#   NS_PREFIX  the start of its network namespaces' names
# and uses KEEP, F2B_CONFIG and TIMEOUT as its header comment says.
# The helpers keep their state in the script's variables: work, ns, pid,
# start_ns.

# usage [CODE]: print the script's header comment (its help) and exit.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-2}"; }

# workdir NAME: the working directory in $work: $KEEP when set (kept
# afterwards), else a new /tmp/NAME.XXXXXX (removed by cleanup).
workdir() {
	if [[ -n $KEEP ]]; then
		work=$KEEP
		mkdir -p "$work"
	else
		work=$(mktemp -d "/tmp/$1.XXXXXX")
	fi
}

# cleanup: kill the server in $pid, delete the namespace in $ns, remove
# $work unless kept. For `trap cleanup EXIT`.
cleanup() {
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
	[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null || true
	if [[ -z $KEEP ]]; then rm -rf "$work"; fi
}

# netns NAME: a fresh network namespace $NS_PREFIX-NAME-PID with loopback
# up, in $ns (never the host's network or ruleset).
netns() {
	ns=$NS_PREFIX-$1-$$
	ip netns add "$ns"
	ip -n "$ns" link set lo up
}

# unnetns: delete the namespace in $ns.
unnetns() {
	ip netns del "$ns"
	ns=""
}

# ---- fail2ban-server with one sshd jail; bans are given with
# `fail2ban-client set sshd banip A B ...` (one action run per address).

# f2b_conf RUN ACTION: a copy of fail2ban's tree in RUN/conf with one sshd
# jail on RUN/auth.log (polling) and banaction ACTION; socket, pid file,
# log and database in RUN.
f2b_conf() {
	local run=$1 action=$2
	rm -rf "$run/conf"
	cp -a "$F2B_CONFIG" "$run/conf"
	rm -f "$run"/conf/jail.d/* "$run"/conf/*.local
	: >"$run/auth.log"
	cat >"$run/conf/fail2ban.local" <<-EOF
		[Definition]
		loglevel = INFO
		logtarget = $run/server.log
		socket = $run/sock
		pidfile = $run/pid
		dbfile = $run/db.sqlite3
		dbpurgeage = 7d
	EOF
	cat >"$run/conf/jail.local" <<-EOF
		[DEFAULT]
		ignoreself = false
		ignoreip =
		bantime = 1d
		banaction = $action
		[sshd]
		enabled = true
		port = ssh
		backend = polling
		logpath = $run/auth.log
	EOF
}

# f2b_start RUN: fail2ban-server on RUN/conf in $ns; sets pid, and start_ns
# to the time it was started; returns once `status sshd` answers.
f2b_start() {
	local run=$1 i
	start_ns=$(date +%s%N)
	ip netns exec "$ns" fail2ban-server -f -x -c "$run/conf" -s "$run/sock" -p "$run/pid" >>"$run/stdout" 2>&1 &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		fail2ban-client -s "$run/sock" status sshd >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$BENCH: fail2ban did not start; log: $run/server.log" >&2
	exit 1
}

# f2b_stop: SIGTERM the server in $pid and wait for it (ten minutes at
# most, then SIGKILL).
f2b_stop() {
	kill -TERM "$pid"
	local i
	for ((i = 0; i < 6000; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

# count_ipset: bans in fail2ban's ipset of the sshd jail, in $ns.
count_ipset() {
	ip netns exec "$ns" ipset list -t f2b-sshd 2>/dev/null | awk -F': ' '/^Number of entries/ { print $2; f = 1 } END { if (!f) print 0 }'
}

# wait_count COUNT K SINCE_NS: poll COUNT (a command printing a number)
# every half second until it says K or more (TIMEOUT seconds at most);
# print the seconds from SINCE_NS to then.
wait_count() {
	local count=$1 k=$2 since=$3 deadline=$((SECONDS + TIMEOUT)) n
	while :; do
		n=$("$count")
		((n >= k)) && break
		if ((SECONDS > deadline)); then
			echo "$BENCH: timeout with $n of $k bans" >&2
			exit 1
		fi
		sleep 0.5
	done
	awk -v a="$since" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

# addrs K: K addresses from 100.64.0.1 up, as fwbench and firewalldbench
# ban them.
addrs() {
	awk -v k="$1" 'BEGIN { for (i = 1; i <= k; i++) printf "100.64.%d.%d ", int(i / 256), i % 256; print "" }'
}
