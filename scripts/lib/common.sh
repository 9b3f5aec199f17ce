# Shared helpers for the scripts in scripts/ (sourced, not run).
# Paths, the guest kernel version and the QEMU binary are resolved here so
# every script agrees on them.

EMBER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Shared with scripts/build-qemu.sh, which reads the same variable.
# Exported so that it also holds where HOME is unset (CI).
export EMBER_CACHE=${EMBER_CACHE:-${HOME:-/root}/.cache/ember}

die() { echo "${0##*/}: error: $*" >&2; exit 1; }
note() { echo "${0##*/}: $*" >&2; }

# The guest kernel: the newest installed Debian 6.12 image (bookworm-backports
# moves the exact number, so it is never hard-coded). EMBER_KVER overrides.
ember_kver() {
	if [ -n "${EMBER_KVER:-}" ]; then
		echo "$EMBER_KVER"
		return
	fi
	local v
	v=$(cd /boot 2>/dev/null && ls -1 vmlinuz-6.12.* 2>/dev/null |
		sed 's/^vmlinuz-//' | sort -V | tail -n1)
	[ -n "$v" ] || die "no /boot/vmlinuz-6.12.* installed; run scripts/install-deps.sh"
	[ -d "/lib/modules/$v/kernel" ] ||
		die "/lib/modules/$v missing; reinstall linux-image-$v (scripts/install-deps.sh)"
	echo "$v"
}

# The QEMU with the ember-npu device: $EMBER_QEMU, else whatever
# scripts/build-qemu.sh (cached, owned by the QEMU helper) prints as its last
# stdout line. Its progress goes to stderr, so a cold build stays visible.
ember_qemu() {
	if [ -n "${EMBER_QEMU:-}" ]; then
		[ -x "$EMBER_QEMU" ] || die "EMBER_QEMU=$EMBER_QEMU is not an executable"
		echo "$EMBER_QEMU"
		return
	fi
	local b="$EMBER_ROOT/scripts/build-qemu.sh" q
	[ -f "$b" ] || die "scripts/build-qemu.sh is missing (QEMU helper); set EMBER_QEMU to a QEMU with -device ember-npu"
	mkdir -p "$EMBER_CACHE"
	# build-qemu.sh serialises concurrent builds with its own lock.
	q=$(bash "$b" | tail -n1) ||
		die "scripts/build-qemu.sh failed (see above)"
	[ -n "$q" ] && [ -x "$q" ] ||
		die "scripts/build-qemu.sh did not print an executable QEMU path as its last line (got '$q')"
	echo "$q"
}

# Build directories (absolute). EMBER_BUILD / EMBER_BUILD_GUEST override them,
# e.g. to keep a development build out of the shared tree.
ember_abs() { case "$1" in /*) echo "$1" ;; *) echo "$EMBER_ROOT/$1" ;; esac; }
ember_build_dir() { ember_abs "${EMBER_BUILD:-build}"; }
ember_build_guest_dir() { ember_abs "${EMBER_BUILD_GUEST:-build-guest}"; }
ember_build_tsan_dir() { ember_abs "${EMBER_BUILD_TSAN:-build-tsan}"; }
