#!/bin/sh
# SPDX-License-Identifier: MIT
# `ember-bench device` on the guest's NPU (TAP), a short run: every row is
# a well-formed flat JSON object; there is a jobs/s row, above zero, for
# NOP and MATMUL jobs at each batch (1, 16, 64, 256) through the ioctl and
# through io_uring, the io_uring rows carrying the ratio to the ioctl's; the
# MATMUL rows of every weight type are measured; and the forward-pass row
# of stories260K on the NPU has its wall, device-busy, overhead and CPU ms
# per token. Run as root in the guest with ember.ko loaded and
# shared/models at /share (scripts/test.sh does):
#   ember-bench-device-test.sh
share=${EMBER_SHARE:-/share}
model=$share/stories260K.gguf
out=/tmp/bench-device.json
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
# num FIELD LINE: the number a row holds for FIELD ("" if none)
num() { echo "$2" | sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9.eE+-]*\).*/\1/p"; }
positive() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }

echo "TAP version 13"
echo "1..8"
t0=$(date +%s)
ember-bench device --json --time 0.05 --model "$model" > $out 2> /tmp/bench-device.err
rc=$?
echo "# $(wc -l < $out) rows in $(($(date +%s) - t0)) s"
sed 's/^/# stderr: /' /tmp/bench-device.err | head -n 20
if [ $rc = 0 ] && [ -s $out ]; then
	ok "ember-bench device --json exits 0 with rows"
else
	not_ok "ember-bench device --json exits 0 with rows (exit $rc)"
fi

# A flat object: "key":string|number|null|true|false, comma-separated.
str='"([^"\\]|\\.)*"'
val="($str|-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|null|true|false)"
bad=$(grep -c -v -E "^\\{$str:$val(,$str:$val)*\\}\$" $out)
if [ "$bad" = 0 ]; then
	ok "every row is a well-formed JSON object"
else
	not_ok "every row is a well-formed JSON object ($bad are not)"
	grep -v -E "^\\{$str:$val(,$str:$val)*\\}\$" $out | head -n 3 | sed 's/^/#   /'
fi

dev=$(grep '"op":"device"' $out)
if positive "$(num compute_units "$dev")" && echo "$dev" | grep -q '"node":"/dev/accel/accel'; then
	ok "the device row names the node and its compute units"
else
	not_ok "the device row names the node and its compute units: $dev"
fi

for job in nop matmul; do
	missing=
	for b in 1 16 64 256; do
		for path in ioctl io_uring; do
			row=$(grep "\"job\":\"$job\",\"path\":\"$path\",\"batch\":$b," $out)
			[ "$(echo "$row" | grep -c .)" = 1 ] && positive "$(num value "$row")" ||
				missing="$missing $path@$b"
			if [ $path = io_uring ] && ! positive "$(num ratio "$row")"; then
				missing="$missing ratio@$b"
			fi
		done
	done
	if [ -z "$missing" ]; then
		ok "$job jobs: jobs/s > 0 through ioctl and io_uring at batches 1, 16, 64, 256, with the ratio"
	else
		not_ok "$job jobs: rows missing or not positive:$missing"
	fi
done
grep '"op":"jobs"' $out | grep '"batch":64,' |
	sed 's/.*"shape":"\([^"]*\)".*"value":\([0-9.]*\).*/# \1: \2 jobs\/s/'

missing=
for dt in f32 f16 q8_0 q4_0; do
	row=$(grep "\"op\":\"matmul\",\"dtype\":\"$dt\",\"shape\":\"1x1536x576\"" $out)
	positive "$(num value "$row")" && positive "$(num weight_gbs "$row")" &&
		positive "$(num busy_us "$row")" || missing="$missing $dt"
done
if [ -z "$missing" ]; then
	ok "MATMUL 1x1536x576 rows in f32, f16, q8_0, q4_0: GFLOP/s, weight GB/s, busy time"
else
	not_ok "MATMUL 1x1536x576 rows missing or not positive:$missing"
fi
if [ "$(grep -c -E '"op":"(attention|rmsnorm|swiglu|copy)"' $out)" -ge 8 ]; then
	ok "ATTENTION, RMSNORM, SWIGLU and COPY rows"
else
	not_ok "ATTENTION, RMSNORM, SWIGLU and COPY rows: $(grep -c -E '"op":"(attention|rmsnorm|swiglu|copy)"' $out) of 9"
fi

fwd=$(grep '"op":"forward"' $out)
echo "# $fwd"
if positive "$(num wall_ms_per_token "$fwd")" && positive "$(num busy_ms_per_token "$fwd")" &&
   positive "$(num cpu_ms_per_token "$fwd")" && [ -n "$(num overhead_ms_per_token "$fwd")" ] &&
   [ "$(num tokens "$fwd")" -ge 4 ] 2>/dev/null &&
   echo "$fwd" | grep -q '"placement":"npu: '; then
	ok "the forward-pass row: wall, busy, overhead and CPU ms per token of stories260K on the NPU"
else
	not_ok "the forward-pass row: wall, busy, overhead and CPU ms per token of stories260K on the NPU"
fi
echo "# Totals: pass:$((n - fails)) fail:$fails"
[ $fails -eq 0 ]
