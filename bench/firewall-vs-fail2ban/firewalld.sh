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

BENCH=firewalld.sh NS_PREFIX=fwdb
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh" # usage, workdir, netns, f2b_*, count_ipset, wait_count, addrs
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
workdir firewalld-bench
ns="" bus_pid="" fwd_pid="" pid=""
# cleanup replaces lib.sh's: firewalld and its bus go down too.
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
	netns "$1"
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

part_fail2ban-firewalld() {
	local k run apply restore t0
	for k in $F2B_KS; do
		run=$work/fail2ban-firewalld-$k
		rm -rf "$run"
		mkdir -p "$run"
		f2b_conf "$run" firewallcmd-ipset
		fwd_up f
		f2b_start "$run"
		t0=$(date +%s%N)
		# shellcheck disable=SC2046 # one word per address
		fail2ban-client -s "$run/sock" set sshd banip $(addrs "$k") >"$run/banip.out" 2>&1 &
		apply=$(wait_count count_ipset "$k" "$t0")
		wait $! || true
		f2b_stop
		f2b_start "$run"
		restore=$(wait_count count_ipset "$k" "$start_ns")
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
