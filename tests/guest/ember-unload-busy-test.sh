#!/bin/sh
# SPDX-License-Identifier: MIT
# Ember module unload with jobs queued (TAP). Run as root in the guest with
# ember.ko loaded, from the directory holding the guest test binaries:
#   ember-unload-busy-test.sh
# A process queues ~30 s of device work, 1000 NOPs behind it and 64 io_uring
# jobs (ember-errno-test -t hold_queued_for_unload). Checks: rmmod fails
# while its files are open (each open file holds a module reference) and the
# jobs keep their place; after kill -9 of the process, rmmod succeeds within
# the removal's drain wait (one job timeout) plus margin, without a kernel
# warning or "jobs still alive at removal"; the module loads again, a MATMUL
# runs right, and the memory the process and the module used is back.
# Runs after ember-reload-test.sh (scripts/test.sh runs the scripts last, in
# name order); the module comes back with `ember-modules` or insmod $EMBER_KO.
dir=$(dirname "$0")
ko=${EMBER_KO:-/lib/ember/ember.ko}
pidfile=/tmp/ember-hold.pid
. "$dir/lib/tap.sh"
. "$dir/lib/module.sh"
# MemAvailable plus the free pages parked on per-CPU lists (/proc/zoneinfo
# "count:"), which MemFree leaves out and whose size churn changes by MiBs
avail() { awk '$1 == "count:" { s += $2 } END { print s * 4 }' /proc/zoneinfo |
	{ read -r pcp; echo $(($(mem MemAvailable) + pcp)); }; }
kwarn() { dmesg | grep -cE 'WARNING: CPU:|BUG: |Oops:|general protection fault|kernel BUG at|UBSAN:|KASAN:|blocked for more than|still alive at removal'; }
now_ds() { awk '{ printf "%d", $1 * 10 }' /proc/uptime; }   # tenths of a second

echo "TAP version 13"
echo "1..10"
check "ember.ko is loaded at start" module_loaded
wait_node

echo 3 > /proc/sys/vm/drop_caches
avail0=$(avail)
slab0=$(mem SUnreclaim)
warn0=$(kwarn)

rm -f "$pidfile"
EMBER_HOLD_QUEUED=1 EMBER_HOLD_PIDFILE=$pidfile "$dir/ember-errno-test" \
	-t hold_queued_for_unload >/tmp/unload-hold.log 2>&1 &
harness=$!
i=0
while [ ! -s "$pidfile" ] && [ $i -lt 600 ] && kill -0 $harness 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
holder=$(cat "$pidfile" 2>/dev/null)
if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then
	ok "a process holds 3 files with jobs queued (pid $holder)"
else
	not_ok "the holder did not start; its output:"
	sed 's/^/# /' /tmp/unload-hold.log
fi
grep holding /tmp/unload-hold.log | sed 's/^#* */# /'

refs=$(cat /sys/module/ember/refcnt 2>/dev/null)
if out=$(rmmod ember 2>&1); then
	not_ok "rmmod refused while the files are open (it unloaded the module)"
	load && wait_node
else
	ok "rmmod refused while the files are open (refcnt $refs): $out"
fi
check "the module and its node are still there" sh -c 'grep -q "^ember " /proc/modules && ls /dev/accel/accel* >/dev/null 2>&1'

# kill -9 with everything still queued, then unload at once
t0=$(now_ds)
[ -n "$holder" ] && kill -9 "$holder"
wait $harness 2>/dev/null
i=0
until rmmod ember 2>/tmp/unload-rmmod.err; do
	i=$((i + 1))
	[ $i -ge 300 ] && break
	sleep 0.1
done
t1=$(now_ds)
if ! module_loaded && [ ! -e /sys/module/ember ] && ! node_present; then
	ok "rmmod succeeded $(((t1 - t0) / 10)).$(((t1 - t0) % 10)) s after kill -9 ($i refusals first)"
else
	not_ok "rmmod still fails 30 s after kill -9: $(cat /tmp/unload-rmmod.err)"
fi
# the removal waits up to one job timeout (5 s) for the ring, then aborts it
check "the unload took at most 15 s" [ $((t1 - t0)) -le 150 ]
warn1=$(kwarn)
if [ "$warn1" = "$warn0" ]; then
	ok "no kernel warning and no job alive at removal"
else
	not_ok "kernel warnings during the unload: $warn0 -> $warn1"
	dmesg | tail -n 40 | sed 's/^/# /'
fi

if load && wait_node; then
	ok "the module loads again"
else
	not_ok "insmod / probe failed after the busy unload"
	dmesg | tail -n 20 | sed 's/^/# /'
fi
check "a MATMUL job runs right after the reload" good_job

echo 3 > /proc/sys/vm/drop_caches
avail1=$(avail)
slab1=$(mem SUnreclaim)
echo "# MemAvailable + per-CPU free pages $avail0 -> $avail1 kB, SUnreclaim $slab0 -> $slab1 kB"
# The holder pinned a 4 MiB weight BO and ~1 MiB more; a reload costs less
# than 2 MiB (ember-reload-test.sh).
if [ -n "${EMBER_KASAN:-}" ]; then
	# KASAN's quarantine keeps freed objects; kmemleak checks that kernel
	ok "memory bounds # SKIP EMBER_KASAN"
elif [ $((avail0 - avail1)) -le 2048 ] && [ $((slab1 - slab0)) -le 768 ]; then
	ok "memory is back: MemAvailable dropped $((avail0 - avail1)) kB (<= 2048), SUnreclaim grew $((slab1 - slab0)) kB (<= 768)"
else
	not_ok "memory not back: MemAvailable dropped $((avail0 - avail1)) kB (bound 2048), SUnreclaim grew $((slab1 - slab0)) kB (bound 768)"
fi
echo "# Totals: pass:$((n - fails)) fail:$fails"
[ $fails -eq 0 ]
