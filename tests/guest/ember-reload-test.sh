#!/bin/sh
# SPDX-License-Identifier: MIT
# Ember module unload / reload test (TAP). Run as root in the guest with
# ember.ko loaded, from the directory holding the guest test binaries:
#   ember-reload-test.sh [rounds]
# Checks: rmmod refuses while a file is open; rmmod succeeds and removes the
# module and its node; insmod brings the device back and a job runs right;
# memory use does not grow over several reloads; then the leak test runs.
# The module comes back with `ember-modules` (run-guest.sh) or insmod
# $EMBER_KO (default /lib/ember/ember.ko).
rounds=${1:-5}
dir=$(dirname "$0")
ko=${EMBER_KO:-/lib/ember/ember.ko}
. "$dir/lib/tap.sh"
. "$dir/lib/module.sh"

echo "TAP version 13"
echo "1..$((6 + 3 * rounds))"
check "ember.ko is loaded at start" module_loaded
wait_node
check "an accel node exists" node_present

# an open file holds the module
node=$(ls /dev/accel/accel* | head -n1)
exec 3<>"$node"
if rmmod ember 2>/dev/null; then
	not_ok "rmmod refused while $node is open"
	load
	wait_node
else
	ok "rmmod refused while $node is open"
fi
exec 3>&-

echo 3 > /proc/sys/vm/drop_caches
avail0=$(mem MemAvailable)
slab0=$(mem SUnreclaim)
r=1
while [ $r -le "$rounds" ]; do
	if rmmod ember && ! module_loaded && [ ! -e /sys/module/ember ] && ! node_present; then
		ok "round $r: rmmod ember removed the module and its node"
	else
		not_ok "round $r: rmmod ember (loaded: $(grep -c '^ember ' /proc/modules), nodes: $(ls /dev/accel 2>/dev/null))"
	fi
	if load && wait_node; then
		ok "round $r: insmod brought the device back"
	else
		not_ok "round $r: insmod / probe failed"
		dmesg | tail -n 20
	fi
	check "round $r: a MATMUL job runs right after the reload" good_job
	r=$((r + 1))
done
echo 3 > /proc/sys/vm/drop_caches
avail1=$(mem MemAvailable)
slab1=$(mem SUnreclaim)
echo "# $rounds reloads: MemAvailable $avail0 -> $avail1 kB, SUnreclaim $slab0 -> $slab1 kB"
# A reload allocates and frees the firmware, rings and page tables (MiBs):
# leaking them once would exceed these bounds.
check "MemAvailable dropped by at most 2 MiB per reload" \
	[ $((avail0 - avail1)) -le $((2048 * rounds)) ]
check "SUnreclaim grew by at most 256 kB per reload" \
	[ $((slab1 - slab0)) -le $((256 * rounds)) ]

if [ -n "${EMBER_KASAN:-}" ]; then
	# (the leak test skips there: KASAN's quarantine keeps freed objects)
	echo "skipped: EMBER_KASAN is set; kmemleak checks leaks on this kernel" >/tmp/reload-leak.log
	ok "leak test after the reloads # SKIP EMBER_KASAN"
elif "$dir/ember-leak-test" >/tmp/reload-leak.log 2>&1; then
	ok "leak test after the reloads"
else
	not_ok "leak test after the reloads"
fi
sed 's/^/# /' /tmp/reload-leak.log
echo "# Totals: pass:$((n - fails)) fail:$fails"
[ $fails -eq 0 ]
