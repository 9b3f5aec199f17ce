#!/usr/bin/env bash
# Builds the debug guest kernel: Debian's linux-source-6.12 with the small
# config kernel/debug.config (KASAN, lockdep, might_sleep checks, kmemleak,
# UBSAN, fault injection; drm, the gpu scheduler, the shmem helpers and 9p
# built in), then ember.ko against it. Prints the kernel's directory as the
# last stdout line; progress goes to stderr.
#
#   scripts/build-debug-kernel.sh [--kernel-only]
#
# The kernel is cached under ${EMBER_CACHE:-$HOME/.cache/ember}/debug-kernel/
# <key>/, keyed by a hash of its inputs (the linux-source package version,
# kernel/debug.config, this script, the compiler), so an unchanged input set
# returns at once. <key>/linux is the built tree (M= builds need it),
# <key>/bzImage the image run-guest.sh --debug-kernel boots. A cold build
# takes about 10 min of CPU: 5.5 min on 2 idle cores.
#
# ember.ko is built out of tree from a copy of kernel/ (with the
# firmware/include and uapi headers it includes) in
# $EMBER_BUILD/debug-kernel/, so kernel/ember.ko for the stock kernel is
# left alone. --kernel-only skips it.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

main() {
local kernel_only=0
case "${1:-}" in
--kernel-only) kernel_only=1 ;;
'') ;;
*) die "unknown option '$1' (--kernel-only)" ;;
esac

local tar=/usr/src/linux-source-6.12.tar.xz frag=$EMBER_ROOT/kernel/debug.config
[ -r "$tar" ] || die "$tar missing: install linux-source-6.12 (scripts/install-deps.sh)"
[ -r "$frag" ] || die "$frag missing (the debug kernel's config fragment)"
local ver
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null) ||
	die "linux-source-6.12 is not installed as a package: run scripts/install-deps.sh"

local cache=$EMBER_CACHE/debug-kernel key dir
mkdir -p "$cache"
key=$( {
	echo "linux-source-6.12 $ver"
	sha256sum < "$frag"
	sha256sum < "${BASH_SOURCE[0]}"
	gcc --version | head -n1
} | sha256sum | cut -c1-16)
dir=$cache/$key

if [ ! -f "$dir/done" ]; then
	# One build at a time per cache; a second caller waits for the first.
	exec 9>"$cache/lock"
	if ! flock -n 9; then
		note "waiting for another build-debug-kernel.sh run to finish"
		flock 9
	fi
	[ -f "$dir/done" ] || build_kernel "$tar" "$frag" "$dir"
	exec 9>&-
fi
note "kernel $(cat "$dir/release") ($key)"
# Trees of other inputs are ~3 GB each: keep only the newest.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mmin +60 \
	-exec rm -rf {} + 2>/dev/null || true

[ $kernel_only = 1 ] || build_module "$dir"
echo "$dir"
}

build_kernel() { # tar fragment dir
	local tar=$1 frag=$2 dir=$3 t0=$SECONDS src
	rm -rf "$dir"
	mkdir -p "$dir"
	note "unpacking $tar into $dir"
	tar -xJf "$tar" -C "$dir"
	src=$dir/linux-source-6.12
	[ -f "$src/Makefile" ] || die "$tar did not unpack to linux-source-6.12/"
	mv "$src" "$dir/linux"
	src=$dir/linux
	# ember.ko needs the gpu scheduler and the shmem GEM helpers, which
	# only drivers select (no prompt): one symbol that selects both.
	cat >> "$src/drivers/gpu/drm/Kconfig" <<'EOF'

config EMBER_DEBUG_HELPERS
	bool "DRM helpers for the out-of-tree ember.ko"
	depends on DRM && MMU
	select DRM_SCHED
	select DRM_GEM_SHMEM_HELPER
EOF
	make -s -C "$src" ARCH=x86_64 KCONFIG_ALLCONFIG="$frag" allnoconfig >&2
	# A symbol Kconfig dropped (a missing dependency, a renamed option)
	# would silently leave a checker out: every fragment line must hold.
	local l missing=()
	while IFS= read -r l; do
		grep -qxF -- "$l" "$src/.config" || missing+=("$l")
	done < <(grep -E '^(CONFIG_[A-Z0-9_]+=.*|# CONFIG_[A-Z0-9_]+ is not set)$' "$frag")
	[ ${#missing[@]} = 0 ] ||
		die "Kconfig did not keep these lines of $frag (a dependency is missing or the option changed in $tar): ${missing[*]}"
	note "building bzImage and modules with $(nproc) jobs (cold: about 10 min of CPU)"
	make -C "$src" ARCH=x86_64 -j"$(nproc)" bzImage modules >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log" >&2; die "kernel build failed (log: $dir/build.log)"; }
	cp "$src/arch/x86/boot/bzImage" "$dir/bzImage"
	cat "$src/include/config/kernel.release" > "$dir/release"
	touch "$dir/done"
	note "kernel built in $((SECONDS - t0)) s"
}

build_module() { # dir
	local kdir=$1/linux out
	out=$(ember_build_dir)/debug-kernel
	[ -f "$EMBER_ROOT/kernel/Kbuild" ] || die "kernel/Kbuild is missing"
	rm -rf "$out/kernel" "$out/firmware" "$out/uapi"
	mkdir -p "$out/kernel" "$out/firmware"
	cp "$EMBER_ROOT"/kernel/{Kbuild,Makefile,*.c,*.h} "$out/kernel/"
	cp -r "$EMBER_ROOT/firmware/include" "$out/firmware/include"
	cp -r "$EMBER_ROOT/uapi" "$out/uapi"
	make -C "$out/kernel" KDIR="$kdir" >&2 ||
		die "building ember.ko against the debug kernel failed (see above)"
	cp "$out/kernel/ember.ko" "$out/ember.ko"
	note "ember.ko for the debug kernel: $out/ember.ko"
}

main "$@"
