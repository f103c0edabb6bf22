#!/usr/bin/env bash
# firewalld part of firewall-vs-fail2ban: a real firewalld (private system
# bus, firewalld --nofork in a fresh network namespace, its configuration in
# a temp dir; the host's bus, firewall and /etc/firewalld are never touched),
# then warden's firewalld backend (firewalldbench) and fail2ban-server with
# its firewallcmd-ipset action, each against its own firewalld.
#
#   bench/firewall-vs-fail2ban/firewalld.sh [--parts "warden-firewalld fail2ban-firewalld"]
#                                           [-k "10000 100000"] [-f "1000"] [--keep DIR]
#
# Output lines have run's format (backend=... k=... apply_s=...; fail2ban
# action=... k=... apply_s=... restore_s=...), so run can call this script
# as one more part. Must run as root; needs dbus-daemon, firewalld, ipset.
set -euo pipefail

PARTS=${PARTS:-"warden-firewalld fail2ban-firewalld"}
KS=${KS:-"10000 100000"}
F2B_KS=${F2B_KS:-"1000"}
KEEP=${KEEP:-}
F2B_CONFIG=${F2B_CONFIG:-/etc/fail2ban}
TIMEOUT=${TIMEOUT:-3600}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-2}"; }
while (($#)); do
	case $1 in
	-k) KS=$2; shift 2 ;;
	-f) F2B_KS=$2; shift 2 ;;
	--parts) PARTS=$2; shift 2 ;;
	--keep) KEEP=$2; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "firewalld.sh: unknown argument $1" >&2; usage ;;
	esac
done
((EUID == 0)) || { echo "firewalld.sh: must run as root (network namespaces)" >&2; exit 1; }
for tool in dbus-daemon firewalld firewall-cmd ipset; do
	command -v "$tool" >/dev/null || { echo "firewalld.sh: needs $tool (Debian packages dbus, firewalld, ipset)" >&2; exit 1; }
done

root=$(cd "$(dirname "$0")/../.." && pwd)
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
if [[ -n $KEEP ]]; then
	work=$KEEP
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/firewalld-bench.XXXXXX)
fi
ns="" bus_pid="" fwd_pid="" pid=""
cleanup() {
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
	fwd_down
	if [[ -z $KEEP ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# fwd_up NAME: bus + firewalld in a fresh namespace $ns; exports
# DBUS_SYSTEM_BUS_ADDRESS for everything started afterwards.
fwd_up() {
	local dir=$work/fwd-$1 i
	rm -rf "$dir"
	mkdir -p "$dir/etc"
	ns=fwdb-$1-$$
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	cat >"$dir/bus.conf" <<-EOF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <type>system</type>
		  <listen>unix:path=$dir/bus</listen>
		  <auth>EXTERNAL</auth>
		  <policy context="default">
		    <allow user="*"/> <allow own="*"/>
		    <allow send_type="method_call"/> <allow send_type="signal"/>
		    <allow send_type="method_return"/> <allow send_type="error"/>
		    <allow receive_type="method_call"/> <allow receive_type="signal"/>
		    <allow receive_type="method_return"/> <allow receive_type="error"/>
		  </policy>
		</busconfig>
	EOF
	printf 'DefaultZone=public\nFirewallBackend=nftables\nFlushAllOnReload=yes\nCleanupOnExit=yes\nLogDenied=off\n' >"$dir/etc/firewalld.conf"
	dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile --nosyslog >"$dir/bus.log" 2>&1 &
	bus_pid=$!
	export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus
	for ((i = 0; i < 100; i++)); do [[ -S $dir/bus ]] && break; sleep 0.1; done
	ip netns exec "$ns" firewalld --nofork --nopid --system-config "$dir/etc" --log-target console >"$dir/firewalld.log" 2>&1 &
	fwd_pid=$!
	for ((i = 0; i < 600; i++)); do
		[[ $(firewall-cmd --state 2>/dev/null) == running ]] && return 0
		kill -0 "$fwd_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "firewalld.sh: firewalld did not start; log: $dir/firewalld.log" >&2
	exit 1
}

fwd_down() {
	local p
	for p in $fwd_pid $bus_pid; do
		kill -TERM "$p" 2>/dev/null || continue
		for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	fwd_pid="" bus_pid=""
	[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null || true
	ns=""
}

part_warden-firewalld() {
	fwd_up w
	ip netns exec "$ns" "$work/firewalldbench" -k "${KS// /,}"
	fwd_down
}

# ---- fail2ban-server with one sshd jail and banaction firewallcmd-ipset
# (an ipset per jail, filled with one `ipset add` per ban, matched by a
# firewalld direct rule), bans given with `fail2ban-client set sshd banip`.

f2b_conf() {
	local run=$1
	rm -rf "$run/conf"
	cp -a "$F2B_CONFIG" "$run/conf"
	rm -f "$run"/conf/jail.d/* "$run"/conf/*.local
	: >"$run/auth.log"
	printf '[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\npidfile = %s\ndbfile = %s\ndbpurgeage = 7d\n' \
		"$run/server.log" "$run/sock" "$run/pid" "$run/db.sqlite3" >"$run/conf/fail2ban.local"
	printf '[DEFAULT]\nignoreself = false\nignoreip =\nbantime = 1d\nbanaction = firewallcmd-ipset\n[sshd]\nenabled = true\nport = ssh\nbackend = polling\nlogpath = %s\n' \
		"$run/auth.log" >"$run/conf/jail.local"
}

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
	echo "firewalld.sh: fail2ban did not start; log: $run/server.log" >&2
	exit 1
}

f2b_stop() {
	kill -TERM "$pid"
	local i
	for ((i = 0; i < 6000; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

count_f2b() {
	ip netns exec "$ns" ipset list -t f2b-sshd 2>/dev/null | awk -F': ' '/^Number of entries/ { print $2; f = 1 } END { if (!f) print 0 }'
}

# wait_count K SINCE_NS: seconds from SINCE_NS until fail2ban's set holds K.
wait_count() {
	local k=$1 since=$2 deadline=$((SECONDS + TIMEOUT)) n
	while :; do
		n=$(count_f2b)
		((n >= k)) && break
		((SECONDS > deadline)) && { echo "firewalld.sh: timeout with $n of $k bans" >&2; exit 1; }
		sleep 0.5
	done
	awk -v a="$since" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

addrs() {
	awk -v k="$1" 'BEGIN { for (i = 1; i <= k; i++) printf "100.64.%d.%d ", int(i / 256), i % 256; print "" }'
}

part_fail2ban-firewalld() {
	local k run apply restore t0
	for k in $F2B_KS; do
		run=$work/fail2ban-firewalld-$k
		rm -rf "$run"
		mkdir -p "$run"
		f2b_conf "$run"
		fwd_up f
		f2b_start "$run"
		t0=$(date +%s%N)
		# shellcheck disable=SC2046 # one word per address
		fail2ban-client -s "$run/sock" set sshd banip $(addrs "$k") >"$run/banip.out" 2>&1 &
		apply=$(wait_count "$k" "$t0")
		wait $! || true
		f2b_stop
		f2b_start "$run"
		restore=$(wait_count "$k" "$start_ns")
		f2b_stop
		fwd_down
		echo "fail2ban action=firewallcmd-ipset k=$k apply_s=$apply restore_s=$restore (restore from process start)"
	done
}

echo "firewalld.sh: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), firewalld $(dpkg-query -W -f='${Version}' firewalld 2>/dev/null || echo "?"), $(ipset --version | head -1)"
if [[ " $PARTS " == *" warden-"* ]]; then
	(cd "$root" && go build -o "$work/firewalldbench" ./bench/firewall-vs-fail2ban/firewalldbench)
fi
for part in $PARTS; do
	declare -F "part_$part" >/dev/null || { echo "firewalld.sh: no part $part" >&2; exit 2; }
	"part_$part"
done
