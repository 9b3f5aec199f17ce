#!/bin/sh
# SPDX-License-Identifier: MIT
# Firmware load failures (TAP). Run as root in the guest with ember.ko loaded.
# For a missing, truncated, corrupt, ABI-mismatched and wrong-build image the
# probe must fail with exactly one driver error line that names the file and
# the versions involved, and leave no accel node; the good image must then
# bring the device back with a working job. Bad images are made here from the
# good one by patching header fields (offsets: struct ember_fw_header in
# firmware/include/ember/hw.h).
dir=$(cd "$(dirname "$0")" && pwd)
ko=${EMBER_KO:-/lib/ember/ember.ko}
fwdir=/lib/firmware/ember
good=$fwdir/ember-fw.bin
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
node_present() { ls /dev/accel/accel* >/dev/null 2>&1; }
# The driver's error lines: drm_err() prints "ember <pci addr>: [drm] *ERROR* ...".
err_lines() { dmesg | grep 'ember [0-9a-f:.]*: \[drm\] \*ERROR\*'; }

# poke FILE OFFSET BYTE: overwrite one byte (octal escape for printf)
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
byte_at() { dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' '; }

# expect_probe_failure NAME IMAGE PATTERN: load ember.ko with fw_name=IMAGE and
# check the probe failed with one error line naming IMAGE and matching PATTERN.
expect_probe_failure() {
	name=$1 image=$2 pattern=$3
	rmmod ember 2>/dev/null
	dmesg -c >/dev/null
	insmod "$ko" fw_name="$image" || { not_ok "$name: insmod failed"; return; }
	i=0
	while [ $i -lt 100 ] && [ -z "$(err_lines)" ] && ! node_present; do
		sleep 0.1
		i=$((i + 1))
	done
	lines=$(err_lines)
	count=$(printf '%s\n' "$lines" | grep -c .)
	echo "# $name: $lines"
	if node_present; then
		not_ok "$name: probe succeeded with a bad image"
	elif [ "$count" != 1 ]; then
		not_ok "$name: $count driver error lines (want exactly 1)"
	elif ! printf '%s' "$lines" | grep -q "firmware $image"; then
		not_ok "$name: the error line does not name $image"
	elif ! printf '%s' "$lines" | grep -q "ABI 1\.[0-9]*+"; then
		not_ok "$name: the error line does not say which ABI the driver expects"
	elif ! printf '%s' "$lines" | grep -q -- "$pattern"; then
		not_ok "$name: the error line does not match '$pattern'"
	else
		ok "$name: probe fails with one line naming the file and versions"
	fi
	rmmod ember 2>/dev/null
}

echo "TAP version 13"
echo "1..7"
if [ -f "$good" ]; then ok "good image present at $good"; else not_ok "no $good"; fi

hdr=$(od -An -tu4 -j8 -N4 "$good" | tr -d ' ')	# header_size

cp "$good" $fwdir/truncated.bin
dd if="$good" of=$fwdir/truncated.bin bs=40 count=1 2>/dev/null
expect_probe_failure "missing file" ember/missing.bin "ember/missing.bin"
expect_probe_failure "truncated image" ember/truncated.bin "smaller than"

cp "$good" $fwdir/corrupt.bin
off=$((hdr + 100))
poke $fwdir/corrupt.bin $off "\\$(printf '%03o' $((255 - $(byte_at "$good" $off))))"
expect_probe_failure "corrupt payload" ember/corrupt.bin "CRC-32"

cp "$good" $fwdir/abi2.bin
poke $fwdir/abi2.bin 4 '\002'	# abi_major = 2
expect_probe_failure "ABI major mismatch" ember/abi2.bin "ABI mismatch.*ABI 2\."

cp "$good" $fwdir/wrongbuild.bin
poke $fwdir/wrongbuild.bin 16 "\\$(printf '%03o' $((255 - $(byte_at "$good" 16))))"
expect_probe_failure "build id mismatch" ember/wrongbuild.bin "rejected by the device: error 6"

# the good image brings the device back, and a job runs right
dmesg -c >/dev/null
insmod "$ko"
i=0
while [ $i -lt 100 ] && ! node_present; do sleep 0.1; i=$((i + 1)); done
if node_present && "$dir/ember-probe-test" -t perf_counts_jobs >/tmp/fw-good.log 2>&1; then
	ok "the good image boots and a job runs"
else
	cat /tmp/fw-good.log 2>/dev/null
	not_ok "the good image did not bring the device back"
fi
rm -f $fwdir/truncated.bin $fwdir/corrupt.bin $fwdir/abi2.bin $fwdir/wrongbuild.bin
[ $fails = 0 ]
