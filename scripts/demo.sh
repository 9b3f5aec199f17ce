#!/usr/bin/env bash
# The Ember demo, from any state including a fresh Debian 12 machine (root):
# installs dependencies, builds everything (cached), boots the QEMU guest with
# the ember-npu device and runs tools/ember-demo in it. ember-demo submits
# batches of MATMUL and ATTENTION jobs through io_uring, checks every result
# against a CPU reference and prints jobs/s. Arguments go to ember-demo.
# EMBER_SKIP_DEPS=1 skips scripts/install-deps.sh.
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
[ -x "$demo" ] || die "$demo was not built (tools/ember-demo, lib helper)"
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
exec bash scripts/run-guest.sh --timeout "${EMBER_DEMO_TIMEOUT:-900}" \
	--add "$demo:/bin/ember-demo" -- "ember-demo$args"
