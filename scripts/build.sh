#!/usr/bin/env bash
# Builds every piece of Ember (incrementally; a warm run takes seconds):
#   host    build/        userspace and host tests (ASan + UBSan)
#   guest   build-guest/  static, sanitizer-free binaries and the firmware
#                         image for the QEMU guest
#   tsan    build-tsan/   userspace and host tests with ThreadSanitizer (the
#                         'threads' suite runs there)
#   module  kernel/ember.ko (Kbuild against the Debian 6.12 headers)
#   qemu    the QEMU 10.0 binary with the ember-npu device (scripts/build-qemu.sh)
#   debug-kernel  the KASAN/lockdep/kmemleak/UBSAN/fault-injection guest
#           kernel (cached) and ember.ko against it in build/debug-kernel/
#           (scripts/build-debug-kernel.sh; not part of the default)
#
#   scripts/build.sh [host|guest|module|qemu|debug-kernel|tsan]...  (default: the first four)
#
# EMBER_BUILD / EMBER_BUILD_GUEST / EMBER_BUILD_TSAN override the build
# directories.
# A missing piece is an error; EMBER_PARTIAL=1 turns it into a warning (for
# use while the tree is being filled in).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

build=$(ember_build_dir)
build_guest=$(ember_build_guest_dir)
build_tsan=$(ember_build_tsan_dir)
partial=${EMBER_PARTIAL:-0}
missing() {
	if [ "$partial" = 1 ]; then note "warning (EMBER_PARTIAL=1): $*"; return 0; fi
	die "$*"
}

# meson_dir DIR OPTION...: configure once, then let ninja reconfigure itself.
meson_dir() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		note "configuring $dir ($*)"
		if [ -d "$dir/meson-private" ]; then   # an earlier setup failed
			meson setup --wipe "$dir" "$EMBER_ROOT" "$@" >&2
		else
			# (scripts/test.sh's test-logs may be there after a failed setup)
			[ ! -e "$dir" ] || [ -z "$(ls -A "$dir" | grep -vx test-logs)" ] ||
				die "$dir exists but is not a meson build directory; remove it"
			meson setup "$dir" "$EMBER_ROOT" "$@" >&2
		fi
	fi
	# An existing directory configured differently (say, without sanitizers)
	# is switched to the options this script promises.
	local stale
	stale=$(meson introspect --buildoptions "$dir" | python3 -c '
import json, sys
have = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for a in sys.argv[1:]:
    k, v = a[2:].split("=", 1)
    cur = have.get(k)
    cur = ",".join(cur) if isinstance(cur, list) else str(cur).lower()
    if cur != v:
        print(a)' "$@")
	if [ -n "$stale" ]; then
		note "reconfiguring $dir:" $stale
		meson configure "$dir" $stale >&2
	fi
	# A failed build is retried once after a reconfigure: a new or removed
	# source file (e.g. after a pull) can need one that ninja cannot see.
	meson compile -C "$dir" >&2 && return 0
	note "build in $dir failed; reconfiguring and retrying once"
	meson setup --reconfigure "$dir" "$EMBER_ROOT" "$@" >&2
	meson compile -C "$dir" >&2
}

do_host() {
	meson_dir "$build" -Db_sanitize=address,undefined
}

do_tsan() {
	meson_dir "$build_tsan" -Db_sanitize=thread
}

do_guest() {
	meson_dir "$build_guest" -Dguest=true -Db_sanitize=none \
		-Ddefault_library=static -Dprefer_static=true
	# the image the guest loads (scripts/run-guest.sh): sanitizer-free
	[ -f "$build_guest/firmware/ember-fw.bin" ] ||
		missing "$build_guest/firmware/ember-fw.bin was not built (firmware/meson.build)"
}

do_module() {
	if [ ! -f "$EMBER_ROOT/kernel/Makefile" ]; then
		missing "kernel/Makefile is missing (kernel helper)"
		return 0
	fi
	make -C "$EMBER_ROOT/kernel" >&2
	[ -f "$EMBER_ROOT/kernel/ember.ko" ] || die "make -C kernel did not produce kernel/ember.ko"
}

do_debug_kernel() {
	bash "$EMBER_ROOT/scripts/build-debug-kernel.sh" >/dev/null
}

do_qemu() {
	local q
	q=$(ember_qemu)
	note "QEMU: $q"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(host guest module qemu)
for s in "${steps[@]}"; do
	case "$s" in
	host|guest|module|qemu|debug-kernel|tsan)
		t0=$SECONDS
		note "== $s"
		"do_${s//-/_}"
		note "== $s done ($((SECONDS - t0)) s)"
		;;
	*) die "unknown step '$s' (host, guest, module, qemu, debug-kernel, tsan)" ;;
	esac
done
