#!/usr/bin/env bash
# The Ember demo, from any state including a fresh Debian 12 machine (root):
# installs dependencies, builds everything (cached), boots the QEMU guest with
# the ember-npu device and the models directory shared at /share, and there
#  1. generates text with the default model (stories260K) on the NPU, then
#     the same on the guest's own CPU, and prints both speeds side by side;
#  2. runs tools/ember-demo, which submits batches of MATMUL and ATTENTION
#     jobs through io_uring, checks every result against a CPU reference and
#     prints jobs/s. Arguments go to ember-demo.
# EMBER_SKIP_DEPS=1 skips scripts/install-deps.sh; EMBER_MODELS names
# another directory holding stories260K.gguf.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
cd "$EMBER_ROOT"

if [ "${EMBER_SKIP_DEPS:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ]; then
		bash scripts/install-deps.sh
	else
		ls /var/lib/ember-deps.* >/dev/null 2>&1 ||
			die "dependencies not installed: run scripts/install-deps.sh as root"
	fi
fi
# The guest needs the module, QEMU, the firmware image (host build) and the
# static demo binary (guest build).
bash scripts/build.sh host module qemu guest

demo=$(ember_build_guest_dir)/tools/ember-demo/ember-demo
[ -x "$demo" ] || die "$demo was not built (tools/ember-demo)"
models=${EMBER_MODELS:-$EMBER_ROOT/../shared/models}
[ -f "$models/stories260K.gguf" ] ||
	die "$models/stories260K.gguf not found (the shared models directory beside the clone; or set EMBER_MODELS)"
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
# In the guest: the same greedy text on the NPU and on the guest CPU, then a
# line with both decode speeds (ember-run's summary goes to stderr).
gen='ember-run -m /share/stories260K.gguf -p "Once upon a time" -n 64 --temp 0 --device'
cmd="echo '== text generation on the Ember NPU (stories260K, greedy) =='
$gen npu 2>/tmp/npu.txt || { cat /tmp/npu.txt; exit 1; }
grep -E '^(device|placement|prefill|decode|cpu time):' /tmp/npu.txt
echo; echo '== the same on the guest CPU (TCG) =='
$gen cpu 2>/tmp/cpu.txt >/dev/null || { cat /tmp/cpu.txt; exit 1; }
grep -E '^(prefill|decode|cpu time):' /tmp/cpu.txt
rate() { sed -n 's/^decode:.*= *\([0-9.]*\) tok\/s/\1/p' \$1; }
echo; echo \"decode: NPU \$(rate /tmp/npu.txt) tok/s, guest CPU \$(rate /tmp/cpu.txt) tok/s\"
echo; echo '== ember-demo: MATMUL and ATTENTION jobs through io_uring =='
ember-demo$args"
exec bash scripts/run-guest.sh --timeout "${EMBER_DEMO_TIMEOUT:-900}" \
	--share "$models" --add "$demo:/bin/ember-demo" -- "$cmd"
