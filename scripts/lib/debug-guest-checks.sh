#!/bin/sh
# Runs in the debug-kernel guest (scripts/test.sh, lane "guest-debug") after
# the whole guest suite, as three more tests in run-all.sh's marker format:
#   fault-injection  ember-ioctl-fuzz with failslab and fail_page_alloc
#                    failing allocations whose call stack is inside ember.ko
#                    (its executable sections, from SECTIONS), for the
#                    fuzzer's processes only; it must still make all its
#                    calls and end with a right MATMUL, and allocations must
#                    really have failed
#   kmemleak         two scans; any unreferenced object fails it
#   kernel-reports   the checkers were live to the end (KASAN, lockdep,
#                    kmemleak) and the kernel log holds no KASAN, UBSAN,
#                    lockdep, might_sleep, WARN, BUG or kmemleak report
#
#   debug-guest-checks.sh start
#   debug-guest-checks.sh SECTIONS FUZZER CALLS
# `start` (before the suite) copies the kernel log from /dev/kmsg into
# $kmsg as it is written: a test's `dmesg -c` cannot hide a report from it.
# SECTIONS: "name size" lines, ember.ko's non-init executable sections.
dbg=/sys/kernel/debug
kmsg=/tmp/ember-kmsg.log
if [ "$1" = start ]; then
	cat /dev/kmsg > $kmsg &
	exit 0
fi
sections=$1 fuzzer=$2 calls=$3
# The same count as run-all.sh's kw(), so the END lines stay comparable.
kw() { dmesg | grep -cE 'WARNING: CPU:|BUG: |Oops:|general protection fault|kernel BUG at|UBSAN:|KASAN:|blocked for more than'; }
# tap N OK TEXT: a TAP line, "ok" when OK is 0; returns OK.
tap() {
	if [ "$2" = 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fi
	return "$2"
}
# ---- fault injection ---------------------------------------------------------
echo '@@EMBER-TEST-BEGIN fault-injection'
echo '1..3'
fail=0
start='' end=''
while read -r name size; do
	a=$(cat "/sys/module/ember/sections/$name" 2>/dev/null) || continue
	a=$((a)) e=$((a + size))
	if [ -z "$start" ] || [ "$a" -lt "$start" ]; then start=$a; fi
	if [ -z "$end" ] || [ "$e" -gt "$end" ]; then end=$e; fi
done < "$sections"
ok=1
if [ -n "$start" ] && [ -d $dbg/failslab ] && [ -d $dbg/fail_page_alloc ]; then
	ok=0
	start=$(printf '0x%x' "$start") end=$(printf '0x%x' "$end")
	# Only tasks with make-it-fail (the fuzzer's), only with ember.ko's code
	# on the stack, sleeping allocations and order 0 included. `times`
	# counts down by one per injected failure.
	for d in failslab fail_page_alloc; do
		for kv in task-filter=Y require-start=$start require-end=$end \
			stacktrace-depth=32 interval=1 verbose=0 ignore-gfp-wait=N \
			times=1000000; do
			echo "${kv#*=}" > "$dbg/$d/${kv%%=*}" || ok=1
		done
	done
	echo N > $dbg/fail_page_alloc/ignore-gfp-highmem || ok=1
	echo 0 > $dbg/fail_page_alloc/min-order || ok=1
	echo 5 > $dbg/failslab/probability || ok=1
	echo 1 > $dbg/fail_page_alloc/probability || ok=1
fi
tap 1 $ok "failslab (5%) and fail_page_alloc (1%) on allocations from ember.ko's code [${start:-?}, ${end:-?})" ||
	echo "# no /sys/module/ember/sections, no $dbg/failslab or a setting was refused: is this the debug kernel with ember loaded?"
fail=$((fail | ok))
fslab=0 fpage=0 ok=1
if [ "$fail" = 0 ]; then
	EMBER_FUZZ_FAULT_INJECT=1 timeout "${EMBER_GUEST_TEST_TIMEOUT:-900}" \
		"$fuzzer" --seed 7 --calls "$calls" > /tmp/fi.log 2>&1
	ok=$?
	sed 's/^/# /' /tmp/fi.log
	fslab=$((1000000 - $(cat $dbg/failslab/times)))
	fpage=$((1000000 - $(cat $dbg/fail_page_alloc/times)))
	echo 0 > $dbg/failslab/probability
	echo 0 > $dbg/fail_page_alloc/probability
fi
tap 2 $ok "ember-ioctl-fuzz --calls $calls under fault injection: exit $ok (all calls made, MATMUL right afterwards, no unexpected ember log line)"
fail=$((fail | $?))
[ "$fslab" -gt 0 ] && [ "$fpage" -gt 0 ]
tap 3 $? "allocations failed by injection: $fslab slab, $fpage page (each must be > 0)"
fail=$((fail | $?))
echo; echo "@@EMBER-TEST-END fault-injection rc=$fail kernel_warnings=$(kw)"

# ---- kmemleak ----------------------------------------------------------------
echo '@@EMBER-TEST-BEGIN kmemleak'
echo '1..1'
# An object is reported once it is 5 s old and unreferenced in a scan; the
# second scan catches what the first saw too young.
leaks=-1
if echo scan > $dbg/kmemleak; then
	sleep 6
	echo scan > $dbg/kmemleak
	cat $dbg/kmemleak > /tmp/leaks.txt
	leaks=$(grep -c '^unreferenced object' /tmp/leaks.txt)
	mine=$(awk '/^unreferenced object/ { n = 0 } /ember/ && !n { c++; n = 1 } END { print c + 0 }' /tmp/leaks.txt)
	head -n 200 /tmp/leaks.txt | sed 's/^/# /'
	echo "# $leaks unreferenced objects, $mine with ember.ko in their allocation trace"
fi
[ "$leaks" = 0 ]
tap 1 $? "kmemleak: $leaks unreferenced objects after the suite (-1: $dbg/kmemleak unusable)"
rc=$?
echo; echo "@@EMBER-TEST-END kmemleak rc=$rc kernel_warnings=$(kw)"

# ---- kernel reports ----------------------------------------------------------
echo '@@EMBER-TEST-BEGIN kernel-reports'
echo '1..6'
fail=0
# the whole log since boot, without /dev/kmsg's "level,seq,time,flags;"
log() { sed 's/^[0-9]*,[0-9]*,[0-9]*,[^;]*;//' $kmsg; }
[ -s $kmsg ]
tap 1 $? "the kernel log since boot was captured ($kmsg: run 'debug-guest-checks.sh start' first)"
fail=$((fail | $?))
log | grep -q 'KernelAddressSanitizer initialized'
tap 2 $? 'KASAN initialized at boot'
fail=$((fail | $?))
dl=$(awk '/debug_locks:/ { print $2 }' /proc/lockdep_stats 2>/dev/null)
[ "$dl" = 1 ]
tap 3 $? "lockdep still validating at the end (debug_locks ${dl:-missing})"
fail=$((fail | $?))
[ -r $dbg/kmemleak ] && ! log | grep -q 'kmemleak: Kernel memory leak detector disabled'
tap 4 $? 'kmemleak enabled to the end'
fail=$((fail | $?))
[ -w /proc/self/make-it-fail ]
tap 5 $? 'fault injection available (/proc/self/make-it-fail)'
fail=$((fail | $?))
# Lockdep's reports start "WARNING: possible ...", "WARNING: inconsistent
# lock state" and the like, not "WARNING: CPU:" as a WARN_ON does.
pat='WARNING: |BUG: |Oops:|general protection fault|kernel BUG at|UBSAN:|KASAN:|blocked for more than|possible circular locking|suspected memory leak'
n=$(log | grep -cE "$pat")
if [ "$n" != 0 ]; then
	# a KASAN report's allocation and free stacks are ~60 lines down
	log | grep -E -A80 "$pat" | head -n 400 | sed 's/^/# /'
fi
[ "$n" = 0 ]
tap 6 $? "kernel log: $n KASAN/UBSAN/lockdep/might_sleep/WARN/BUG/kmemleak report lines"
fail=$((fail | $?))
echo; echo "@@EMBER-TEST-END kernel-reports rc=$fail kernel_warnings=$(kw)"
exit $fail
