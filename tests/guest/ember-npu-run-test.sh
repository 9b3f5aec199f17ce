#!/bin/sh
# SPDX-License-Identifier: MIT
# Language models on the NPU (TAP). Run as root in the guest with ember.ko
# loaded and the cases of scripts/lib/npu-cases.sh at /share: for each case
# `ember-run --device npu` must print exactly the host CPU's greedy output,
# with every step on the NPU (EMBER_EXPECT_PLACEMENT overrides the expected
# placement, e.g. on a device without SWIGLU; EMBER_NPU_CASES, a grep pattern,
# picks cases by name). Then: --device auto picks the
# NPU, a corrupt model file is a clear error, and --device npu without the
# driver fails and says what to do.
share=${EMBER_SHARE:-/share}
want=${EMBER_EXPECT_PLACEMENT:-'npu: [0-9]*/[0-9]* layers + embed + output; cpu: sampling'}
pick=${EMBER_NPU_CASES:-.}
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }

echo "TAP version 13"
if [ ! -f "$share/cases.txt" ]; then
	echo "1..1"
	not_ok "no $share/cases.txt: boot with --share of scripts/lib/npu-cases.sh's directory"
	exit 1
fi
grep -E "^($pick)" "$share/cases.txt" > /tmp/cases.txt
echo "1..$(($(grep -c . /tmp/cases.txt) + 5))"

while IFS='|' read -r name model np prompt; do
	[ -n "$name" ] || continue
	ember-run -m "$share/$model" -p "$prompt" -n "$np" --temp 0 --ignore-eos --device npu \
		> /tmp/out.txt 2> /tmp/err.txt
	rc=$?
	grep -E '^(device|placement|prefill|decode|cpu time|device copied):' /tmp/err.txt | sed "s/^/# $name: /"
	if [ $rc != 0 ]; then
		not_ok "$name: ember-run exited $rc: $(tail -n 3 /tmp/err.txt)"
	elif ! cmp -s /tmp/out.txt "$share/$name.expected"; then
		echo "#   npu: $(head -c 300 /tmp/out.txt)"
		echo "#   cpu: $(head -c 300 "$share/$name.expected")"
		not_ok "$name: the NPU's text differs from the host CPU's"
	elif ! grep -q "^placement: $want\$" /tmp/err.txt; then
		not_ok "$name: placement is not '$want'"
	else
		ok "$name: $np greedy tokens on the NPU equal the CPU's"
	fi
done < /tmp/cases.txt

first=$(head -n 1 "$share/cases.txt" | cut -d'|' -f2)
ember-run -m "$share/$first" -n 4 --temp 0 > /dev/null 2> /tmp/err.txt
if grep -q '^device:  npu (/dev/accel/accel' /tmp/err.txt; then
	ok "--device auto uses the NPU"
else
	not_ok "--device auto did not use the NPU: $(grep '^device' /tmp/err.txt)"
fi

head -c 4096 /dev/urandom > /tmp/bad.gguf
ember-run -m /tmp/bad.gguf -n 4 --device npu > /dev/null 2> /tmp/err.txt
rc=$?
if [ $rc = 1 ] && grep -q '/tmp/bad.gguf' /tmp/err.txt; then
	ok "a corrupt model file: exit 1, the message names it ($(head -n 1 /tmp/err.txt))"
else
	not_ok "a corrupt model file: exit $rc, '$(head -n 1 /tmp/err.txt)'"
fi

# More than the machine has: a 300000-token cache of SmolLM2's shape needs
# ~7 GiB; the session is refused before anything is allocated.
big=$(grep -m1 smollm2 "$share/cases.txt" | cut -d'|' -f2)
ember-run -m "$share/${big:-$first}" -n 4 --ctx 300000 --device npu > /dev/null 2> /tmp/err.txt
rc=$?
if [ $rc = 1 ] && grep -q 'MiB of NPU memory' /tmp/err.txt && grep -q -- '--mem' /tmp/err.txt; then
	ok "a model too large for the device's memory: $(head -n 1 /tmp/err.txt)"
else
	not_ok "a model too large for the device's memory: exit $rc, '$(head -n 1 /tmp/err.txt)'"
fi

# Without the driver: an error that says what is missing, never the CPU.
if rmmod ember; then
	ember-run -m "$share/$first" -n 4 --device npu > /tmp/out.txt 2> /tmp/err.txt
	rc=$?
	if [ $rc = 1 ] && grep -q 'ember.ko' /tmp/err.txt && grep -q -- '--device cpu' /tmp/err.txt &&
	   [ ! -s /tmp/out.txt ]; then
		ok "--device npu without the driver fails: $(head -n 1 /tmp/err.txt)"
	else
		not_ok "--device npu without the driver: exit $rc, '$(head -n 1 /tmp/err.txt)'"
	fi
	ember-run -m "$share/$first" -n 4 --temp 0 > /dev/null 2> /tmp/err.txt
	if grep -q '^device:  cpu (no NPU: ' /tmp/err.txt; then
		ok "--device auto without the driver runs on the CPU and says why"
	else
		not_ok "--device auto without the driver: $(grep '^device' /tmp/err.txt)"
	fi
	ember-modules load || echo "# reloading ember.ko failed"
else
	not_ok "rmmod ember failed"
	not_ok "--device auto without the driver: not run"
fi
[ $fails = 0 ]
