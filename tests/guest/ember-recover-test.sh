#!/bin/sh
# SPDX-License-Identifier: MIT
# A generation survives the device (TAP). Needs the boot scripts/test.sh
# gives it (guest_variant guest-recover, EMBER_EXPECT_RECOVER=1): QEMU with
#   inject-fault-job=5 inject-bad-completion-job=12 inject-fw-crash-job=20
#   inject-slow-job=28 inject-hang-job=37 inject-dead-job=80
# and this script as the first program to submit jobs (device jobs are
# numbered from 1). Elsewhere it skips.
#  1. a 64-token greedy generation of stories260K on the NPU (jobs 1-69:
#     the prefill, 63 decode passes, 5 re-runs) meets each recoverable
#     failure once: its text equals the host CPU's, its token ids the
#     guest CPU's, the summary names each failure and its recovery, and
#     every step stays on the NPU;
#  2. a second one meets the device dying (job 80 hangs and no firmware
#     boots again): the rest runs on the CPU, same text and ids;
#  3. after that the NPU refuses new sessions with a clear message.
share=${EMBER_SHARE:-/share}
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }

echo "TAP version 13"
if [ -z "$EMBER_EXPECT_RECOVER" ]; then
	echo "1..0 # SKIP needs a device with injected failures (scripts/test.sh: guest-recover)"
	exit 4
fi
case=$(grep -m1 '^stories-0|' "$share/cases.txt")
model=$share/$(echo "$case" | cut -d'|' -f2)
np=$(echo "$case" | cut -d'|' -f3)
prompt=$(echo "$case" | cut -d'|' -f4)
echo "1..12"

# gen DEVICE OUT: greedy generation, text to OUT.txt, summary to OUT.err
gen() {
	ember-run -m "$model" -p "$prompt" -n "$np" --temp 0 --ignore-eos --ids \
		--device "$1" > "/tmp/$2.txt" 2> "/tmp/$2.err"
	rc=$?
	grep -E '^(placement|decode|recovered):|^pass at' "/tmp/$2.err" | sed "s/^/# $2: /"
	return $rc
}
# same OUT WHAT: OUT's text equals the host CPU's, its ids the guest CPU's
same() {
	if ! cmp -s "/tmp/$1.txt" "$share/stories-0.expected"; then
		echo "#   got: $(head -c 300 "/tmp/$1.txt")"
		echo "#   cpu: $(head -c 300 "$share/stories-0.expected")"
		not_ok "$2: the text differs from the host CPU's"
	elif [ "$(grep '^ids:' "/tmp/$1.err")" != "$(grep '^ids:' /tmp/cpu.err)" ]; then
		not_ok "$2: the token ids differ from the CPU's"
	else
		ok "$2: $np tokens, text and ids equal to an undisturbed run's"
	fi
}
# has OUT PATTERN WHAT
has() {
	if grep -q -- "$2" "/tmp/$1.err"; then ok "$3"; else not_ok "$3: no '$2' in the summary"; fi
}

if gen cpu cpu && cmp -s /tmp/cpu.txt "$share/stories-0.expected"; then
	ok "the undisturbed run (guest CPU) equals the host CPU's text"
else
	not_ok "the guest CPU run: exit $rc, $(tail -n 2 /tmp/cpu.err)"
fi

t0=$(date +%s)
if gen npu npu; then
	same npu "NPU with 5 injected failures ($(($(date +%s) - t0)) s)"
else
	not_ok "ember-run --device npu exited $rc: $(tail -n 3 /tmp/npu.err)"
fi
has npu '^recovered: 5 failed device passes$' "five failed passes reported"
has npu 'faulted the device MMU (MMU_FAULT); the context is dead: device reopened, weights uploaded again; pass re-run on the NPU' \
	"MMU fault (job 5): a new context, the pass re-run on the NPU"
has npu 'hit a firmware error (FW_ERROR); the driver reset the device; pass re-run on the NPU' \
	"corrupted completion (job 12): FW_ERROR, the pass re-run on the NPU"
if [ "$(grep -c 'timed out (TIMEOUT); the driver reset the device; pass re-run on the NPU' /tmp/npu.err)" = 3 ]; then
	ok "firmware crash (job 20), slow job (28), hang (37): three timeouts, each pass re-run on the NPU"
else
	not_ok "three timeouts re-run on the NPU: $(grep -c 'timed out' /tmp/npu.err)"
fi
has npu '^placement: npu: [0-9]*/[0-9]* layers + embed + output; cpu: sampling$' \
	"every step stayed on the NPU"

t0=$(date +%s)
if gen npu dead; then
	same dead "the device dies at job 80 ($(($(date +%s) - t0)) s)"
else
	not_ok "ember-run with a dying device exited $rc: $(tail -n 3 /tmp/dead.err)"
fi
has dead 'the NPU is down; this pass and the rest run on the CPU' \
	"the summary says the rest ran on the CPU"
has dead '^placement: cpu: ' "the placement shows the CPU"
if dmesg | grep -q 'recovery failed'; then
	ok "the driver logged that its recovery failed"
else
	not_ok "no 'recovery failed' in the kernel log"
fi

ember-run -m "$model" -n 4 --device npu > /dev/null 2> /tmp/after.err
rc=$?
if [ $rc = 1 ] && grep -q -- '--device cpu' /tmp/after.err; then
	ok "a new NPU session on the dead device: exit 1, $(head -n 1 /tmp/after.err)"
else
	not_ok "a new NPU session on the dead device: exit $rc, '$(head -n 1 /tmp/after.err)'"
fi
[ $fails = 0 ]
