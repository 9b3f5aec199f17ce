#!/usr/bin/env bash
# Builds qemu-system-x86_64 (Debian's QEMU 10.0 source) with the Ember NPU
# device (qemu/**) and the Ember firmware (firmware/src, firmware/kernels)
# compiled in, and prints the binary's absolute path as the last stdout line.
#
# Everything is cached under ${EMBER_CACHE:-$HOME/.cache/ember}/qemu:
#   dl/              the downloaded Debian source package (fetched once)
#   src-<ver>/       the unpacked QEMU tree; our files are synced into
#                    hw/misc/ember/ (only changed files are touched)
#   build-<ver>-<conf>/  the configured meson/ninja tree (incremental
#                    rebuilds), one per configure line
#   bin/qemu-system-x86_64-<key>   finished binaries, keyed by a hash of
#                    every input, so an unchanged tree returns at once;
#                    <binary>.build-id holds the firmware build id inside.
# Progress goes to stderr. Needs the deps from scripts/install-deps.sh.
set -euo pipefail

say() { printf 'build-qemu: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The whole script is one function, parsed before it runs, so editing this
# file during a build cannot corrupt the running build.
main() {
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${EMBER_CACHE:-$HOME/.cache/ember}/qemu"
dl="$cache/dl"
mkdir -p "$dl" "$cache/bin"

# Work from a snapshot of the inputs, so files edited during the build
# cannot make the binary, its key and its firmware build id disagree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root="$tmp/snap"
mkdir -p "$root/scripts"
tar -C "$repo" --exclude='.*' --exclude='*~' \
	-cf - qemu firmware uapi | tar -C "$root" -xf -
cp "$repo/scripts/build-qemu.sh" "$root/scripts/"
self="$root/scripts/build-qemu.sh"

# ---- 1. the Debian source package (downloaded once, then reused) ---------
dsc=$(ls "$dl"/qemu_10.0.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$dsc" ]; then
	say "downloading Debian's QEMU 10.0 source package into $dl"
	(cd "$dl" && apt-get source --download-only qemu/trixie >&2) ||
		die "apt-get source qemu/trixie failed: it needs trixie's deb-src line and a fresh 'apt-get update' (scripts/install-deps.sh sets both up)"
	dsc=$(ls "$dl"/qemu_10.0.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$dsc" ] || die "apt-get source fetched no qemu 10.0 .dsc into $dl"
fi
ver=$(basename "$dsc" .dsc)
ver=${ver#qemu_}			# e.g. 10.0.13+ds-0+deb13u1

# ---- 2. the cache key: every input of the binary --------------------------
# (qemu/tests and docs are not inputs: editing them rebuilds nothing)
inputs() {
	(cd "$root" && find qemu firmware uapi -type f ! -path 'qemu/tests/*' \
		! -name '*.md' -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum)
	sha256sum <"$self"
	echo "qemu $ver"
}
key=$(inputs | sha256sum | cut -c1-16)
bin="$cache/bin/qemu-system-x86_64-$key"
if [ -x "$bin" ]; then
	say "up to date ($key)"
	echo "$bin"
	exit 0
fi

# One build at a time per cache (other helpers run this script too).
exec 9>"$cache/lock"
if ! flock -n 9; then
	say "waiting for another build-qemu.sh run to finish"
	flock 9
fi
if [ -x "$bin" ]; then
	say "built meanwhile ($key)"
	echo "$bin"
	exit 0
fi

# ---- 3. unpack (once per source version) ----------------------------------
src="$cache/src-$ver"
if [ ! -f "$src/.ember-unpacked" ]; then
	say "unpacking $ver"
	rm -rf "$src" "$src.tmp"
	command -v dpkg-source >/dev/null || die "dpkg-source missing: apt-get install dpkg-dev"
	dpkg-source --no-check -x "$dsc" "$src.tmp" >&2
	# The +ds tarball strips edk2 blobs that pc-bios/meson.build may still
	# list; empty bzip2 placeholders satisfy it (SeaBIOS is used instead).
	for f in aarch64-code arm-code arm-vars riscv-code riscv-vars i386-code \
		i386-secure-code i386-vars x86_64-code x86_64-secure-code \
		loongarch64-code loongarch64-vars; do
		p="$src.tmp/pc-bios/edk2-$f.fd.bz2"
		[ -e "$p" ] || bzip2 -c </dev/null >"$p"
	done
	# Hook hw/misc/ember into Kconfig and meson.
	echo "source ember/Kconfig" >>"$src.tmp/hw/misc/Kconfig"
	echo "subdir('ember')" >>"$src.tmp/hw/misc/meson.build"
	touch "$src.tmp/.ember-unpacked"
	mv "$src.tmp" "$src"
fi

# ---- 4. sync our files into hw/misc/ember (unchanged files keep mtimes) ---
dst="$src/hw/misc/ember"
stage="$tmp/stage"
mkdir -p "$stage"
cp -r "$root/qemu/." "$stage/"
mkdir -p "$stage/fw/src" "$stage/fw/kernels" "$stage/fw/include" "$stage/fw/uapi"
cp -r "$root/firmware/include/." "$stage/fw/include/"
cp -r "$root/uapi/." "$stage/fw/uapi/"
fw_src=() fw_kern=()
for f in "$root"/firmware/src/*.c; do
	[ -e "$f" ] || continue
	cp "$f" "$stage/fw/src/"; fw_src+=("src/$(basename "$f")")
done
for f in "$root"/firmware/src/*.h; do [ -e "$f" ] && cp "$f" "$stage/fw/src/"; done
for f in "$root"/firmware/kernels/*.c; do
	[ -e "$f" ] || continue
	cp "$f" "$stage/fw/kernels/"; fw_kern+=("kernels/$(basename "$f")")
done
for f in "$root"/firmware/kernels/*.h; do [ -e "$f" ] && cp "$f" "$stage/fw/kernels/"; done
[ ${#fw_src[@]} -gt 0 ] && [ ${#fw_kern[@]} -gt 0 ] ||
	die "no firmware sources in firmware/src or firmware/kernels"
rm -rf "$stage/ember.mak" "$stage/tests" "$stage/README.md"

# The firmware build id, exactly as firmware/build-id.sh prints it.
if [ -f "$root/firmware/build-id.sh" ]; then
	build_id=$(sh "$root/firmware/build-id.sh" "$root" | tail -n1 | tr -d '[:space:]')
else
	die "firmware/build-id.sh is missing"
fi
[[ "$build_id" =~ ^[0-9a-fA-F]{16}$ ]] ||
	die "firmware/build-id.sh printed '$build_id', not 16 hex digits"

# Firmware includes "drm/ember_accel.h", which includes "drm.h": take that
# from libdrm or the kernel uapi headers.
drm_inc=
for d in /usr/include/libdrm /usr/include/drm; do
	[ -f "$d/drm.h" ] && { drm_inc=$d; break; }
done
[ -n "$drm_inc" ] || die "no drm.h: apt-get install libdrm-dev"

{
	echo "# Generated by scripts/build-qemu.sh: the firmware compiled into the device."
	echo "ember_fw_inc = include_directories('include', 'uapi', 'uapi/drm', '$drm_inc')"
	echo "ember_fw_lib = static_library('ember-fw', files("
	for f in "${fw_src[@]}" "${fw_kern[@]}"; do echo "    '$f',"; done
	echo "  ),"
	echo "  include_directories: ember_fw_inc,"
	# GCC 12's AVX-512 intrinsics self-initialise (__Y = __Y); QEMU's
	# -Winit-self turns that into -Wuninitialized noise in the kernels.
	echo "  c_args: ['-DEMBER_FW_BUILD_ID=0x${build_id}ULL',"
	echo "           '-DEMBER_FW_VERSION_STR=\"1.0.0+${build_id:0:8}\"',"
	# The kernels' hot loops: the optimisation a release build of the tree
	# gives them, not QEMU's -O2 with hardening (zeroed locals, registers
	# cleared at every return).
	echo "           '-Wno-init-self', '-O3',"
	echo "           '-ftrivial-auto-var-init=uninitialized',"
	echo "           '-fzero-call-used-regs=skip'],"
	echo "  dependencies: [threads, libm],"
	echo "  build_by_default: false)"
	echo "ember_fw_dep = declare_dependency(link_whole: ember_fw_lib,"
	echo "  include_directories: ember_fw_inc)"
} >"$stage/fw/meson.build"

# rsync-like: copy changed files, drop files no longer in the stage.
mkdir -p "$dst"
(cd "$stage" && find . -type f) | while read -r f; do
	if ! cmp -s "$stage/$f" "$dst/$f"; then
		mkdir -p "$(dirname "$dst/$f")"
		cp "$stage/$f" "$dst/$f"
	fi
done
(cd "$dst" && find . -type f) | while read -r f; do
	[ -e "$stage/$f" ] || rm -f "$dst/$f"
done

mak="$src/configs/devices/x86_64-softmmu/ember.mak"
cmp -s "$root/qemu/ember.mak" "$mak" || cp "$root/qemu/ember.mak" "$mak"

# ---- 5. configure (once per source version and configure line) ------------
# --enable-virtfs: virtio-9p (`-virtfs`, `-device virtio-9p-pci`), how
# scripts/run-guest.sh --share exports a host directory to the guest. On
# Linux it only needs xattr support (--enable-attr), which glibc's
# <sys/xattr.h> provides: no extra package. (--without-default-features
# turns every auto feature off, so both must be asked for by name.)
conf_args=(--target-list=x86_64-softmmu --without-default-features
	--without-default-devices --with-devices-x86_64=ember
	--disable-docs --disable-install-blobs --enable-tcg
	--enable-virtfs --enable-attr
	--python=/usr/bin/python3 --disable-download)
conf_key=$(printf '%s\n' "${conf_args[@]}" | sha256sum | cut -c1-16)
# One build tree per configure line: trees (worktrees, branches) that share
# this cache but configure differently each keep their incremental build
# instead of wiping each other's.
build="$cache/build-$ver-$conf_key"
if [ "$(cat "$build/.ember-configured" 2>/dev/null)" != "$conf_key" ]; then
	say "configuring $build"
	rm -rf "$build"
	mkdir -p "$build"
	(cd "$build" && "$src/configure" "${conf_args[@]}" >&2) ||
		{ rm -rf "$build"; die "configure failed (see above)"; }
	echo "$conf_key" >"$build/.ember-configured"
fi

# ---- 6. build, then publish under the input key ---------------------------
say "building ($(nproc) jobs)"
ninja -C "$build" -j"$(nproc)" qemu-system-x86_64 >&2 || die "ninja failed (see above)"
cp "$build/qemu-system-x86_64" "$bin.tmp"
# The firmware build id compiled in: an image for this binary must carry it.
echo "$build_id" >"$bin.build-id"
mv "$bin.tmp" "$bin"
ln -sfn "$(basename "$bin")" "$cache/bin/qemu-system-x86_64"
# Keep the 4 newest keyed binaries.
ls -t "$cache"/bin/qemu-system-x86_64-* 2>/dev/null | grep -v '\.build-id$' |
	tail -n +5 | while read -r old; do rm -f "$old" "$old.build-id"; done
say "built $bin"
echo "$bin"
}

main "$@"
