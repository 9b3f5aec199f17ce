#!/usr/bin/env bash
# Boots Debian's 6.12 kernel in the Ember QEMU (TCG) with an ember-npu device,
# loads drm + ember.ko, runs one shell command and exits with its status.
#
#   scripts/run-guest.sh [--module PATH|none] [--firmware PATH|none]
#       [--add SRC:DST]... [--share DIR] [--mem SIZE] [--qemu-arg ARG]...
#       [--append KARG]... [--timeout SECS] [--no-load] [--log FILE]
#       [--debug-kernel] -- 'command run in the guest'
#
# --share DIR exports the host directory DIR read-only over virtio-9p; the
#   guest mounts it at /share (9p2000.L, cache=loose: files can be mmap()ed).
#   Nothing is copied: use it for models and other large inputs.
# --debug-kernel boots the KASAN/lockdep/kmemleak/UBSAN/fault-injection
#   kernel scripts/build-debug-kernel.sh builds (cached; built first if
#   missing), with drm, its helpers and 9p built in, and by default the
#   ember.ko built against it ($EMBER_BUILD/debug-kernel/ember.ko).
# --mem SIZE is the guest RAM, as QEMU's -m takes it: a number with an M or
#   G suffix (a bare number is MiB). Default 3G. The RAM is a shared memfd
#   (memory-backend-memfd,share=on), which lets the NPU map scattered guest
#   buffers in place instead of copying them (docs/hardware.md section 7.1).
#
# Guest layout: busybox in /bin, the drm modules in /lib/ember/deps (load
# order in /lib/ember/deps.order), our module at /lib/ember/ember.ko, the
# firmware at /lib/firmware/ember/ember-fw.bin, `ember-modules load|unload|
# reload` to (re)load them, ember-run and ember-bench in /bin when
# build-guest/ has them, the 9p modules in /lib/ember/share (loaded only with
# --share), --add'ed files where asked. The command runs in / with
# EMBER_GUEST=1; its exit status comes back through a marker line on the
# serial console. Exit codes: the command's; 123 when --share could not be
# mounted; 124 on timeout; 125 when the guest stopped without a marker
# (crash, panic, init failure).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

module=$EMBER_ROOT/kernel/ember.ko
module_given=0
# the sanitizer-free build's image, as a device would ship it
firmware=$(ember_build_guest_dir)/firmware/ember-fw.bin
firmware_given=0
adds=()
qemu_args=()
kargs=()
timeout_s=600
load=1
log=
share=
mem=3G
debug_kernel=0
while [ $# -gt 0 ]; do
	case "$1" in --module|--firmware|--add|--share|--mem|--qemu-arg|--append|--timeout|--log)
		[ $# -ge 2 ] || die "$1 needs a value" ;;
	esac
	case "$1" in
	--module) module=$2; module_given=1; shift 2 ;;
	--firmware) firmware=$2; firmware_given=1; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--share) share=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--qemu-arg) qemu_args+=("$2"); shift 2 ;;
	--append) kargs+=("$2"); shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--no-load) load=0; shift ;;
	--log) log=$2; shift 2 ;;
	--debug-kernel) debug_kernel=1; shift ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) echo "run-guest: unknown option '$1'" >&2; usage ;;
	esac
done
[ $# -eq 1 ] || { echo "run-guest: give exactly one guest command after --" >&2; usage; }
cmd=$1
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, got '$timeout_s'"
# --mem: QEMU's -m syntax, restricted to what a guest here can use.
[[ "$mem" =~ ^([1-9][0-9]*)([MG]?)$ ]] ||
	die "--mem wants a size like 3G or 1536M (a bare number is MiB), got '$mem'"
mem_mib=${BASH_REMATCH[1]}
[ "${BASH_REMATCH[2]}" = G ] && mem_mib=$((mem_mib * 1024))
[ "$mem_mib" -ge 256 ] || die "--mem $mem is too small: the guest needs at least 256M"
if [ -n "$share" ]; then
	[ -e "$share" ] || die "--share directory '$share' does not exist"
	[ -d "$share" ] || die "--share '$share' is not a directory (give the directory holding the files)"
	[ -r "$share" ] && [ -x "$share" ] || die "--share directory '$share' is not readable"
	share=$(cd "$share" && pwd -P)
fi

# A missing module/firmware is an error when the guest must load them (or the
# path was given explicitly); with --no-load the defaults are optional.
check_input() { # name path given
	if [ "$2" = none ]; then
		[ $load = 0 ] || die "--$1 none needs --no-load (the guest loads it otherwise)"
		return 1
	fi
	[ -f "$2" ] && return 0
	if [ $load = 1 ] || [ "$3" = 1 ]; then
		die "$1 '$2' not found (build it: scripts/build.sh, or pass --$1 PATH)"
	fi
	note "warning: no $1 at $2; the guest will not have it"
	return 1
}
if [ $debug_kernel = 1 ] && [ $module_given = 0 ]; then
	module=$(ember_build_dir)/debug-kernel/ember.ko
	[ $load = 0 ] || [ -f "$module" ] ||
		die "no $module: build ember.ko for the debug kernel (scripts/build.sh debug-kernel)"
fi
have_module=0; check_input module "$module" $module_given && have_module=1
have_fw=0; check_input firmware "$firmware" $firmware_given && have_fw=1

if [ $debug_kernel = 1 ]; then
	dk=$(bash "$EMBER_ROOT/scripts/build-debug-kernel.sh" --kernel-only | tail -n1) ||
		die "scripts/build-debug-kernel.sh failed (see above)"
	kver=$(cat "$dk/release")
	vmlinuz=$dk/bzImage
	# reports can come long before the end, when the log is read
	kargs+=(log_buf_len=8M)
else
	kver=$(ember_kver)
	vmlinuz=/boot/vmlinuz-$kver
fi
[ -r "$vmlinuz" ] || die "$vmlinuz not readable"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found; install busybox-static (scripts/install-deps.sh)"
! ldd "$busybox" >/dev/null 2>&1 ||
	die "$busybox is not static; install busybox-static (scripts/install-deps.sh)"
if [ $have_module = 1 ]; then
	vm=$(modinfo -F vermagic "$module" 2>/dev/null || true)
	[ "${vm%% *}" = "$kver" ] ||
		die "$module was built for '${vm%% *}', the guest kernel is $kver: rebuild it (make -C kernel)"
fi

# ---- module dependency closure, dependencies first --------------------------
# The drm modules ember.ko needs, plus whatever ember.ko itself declares.
deps_order=()
declare -A seen=()
visit() { # module name
	local m=${1//-/_} d
	# the debug kernel has all of them built in
	[ $debug_kernel = 0 ] || return 0
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	local path
	path=$(modinfo -k "$kver" -n "$m" 2>/dev/null) ||
		die "kernel module '$m' not found for $kver"
	case "$path" in (builtin|'(builtin)'|*/builtin) return 0 ;; esac
	for d in $(modinfo -k "$kver" -F depends "$m" | tr ',' ' '); do
		visit "$d"
	done
	deps_order+=("$m:$path")
}
for m in drm drm_kms_helper drm_shmem_helper gpu_sched; do visit "$m"; done
if [ $have_module = 1 ]; then
	for d in $(modinfo -F depends "$module" 2>/dev/null | tr ',' ' '); do
		visit "$d"
	done
fi
# The virtio-9p client for --share (9p, 9pnet_virtio and their closure:
# 9pnet, netfs). Always in the base image, loaded only with --share. The
# transport underneath, virtio_pci, is built into Debian's kernel
# (CONFIG_VIRTIO_PCI=y); visit() skips built-ins. A closure of its own
# (seen reset), so it is complete even if it overlaps the drm modules.
n_drm=${#deps_order[@]}
seen=()
for m in 9p 9pnet_virtio; do visit "$m"; done
share_order=("${deps_order[@]:n_drm}")
deps_order=("${deps_order[@]:0:n_drm}")

# ---- base initramfs (cached: busybox, modules, /init) -----------------------
mkdir -p "$EMBER_CACHE/guest"
key=$( {
	echo "$kver"
	sha256sum "$busybox" "$0" | cut -d' ' -f1
	for e in "${deps_order[@]}" "${share_order[@]}"; do
		echo "$e $(stat -c '%s %Y' "${e#*:}")"
	done
} | sha256sum | cut -c1-16)
base=$EMBER_CACHE/guest/base-$key.cpio

write_init() { # staging dir
	cat > "$1/init" <<'INIT'
#!/bin/sh
# Ember guest init: mount, load modules, run the command, report, power off.
export PATH=/bin:/sbin HOME=/root EMBER_GUEST=1
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmp /tmp
. /etc/ember/env
echo   # the BIOS leaves the cursor mid-line
echo "ember-init: up ($(uname -r), $(nproc) CPUs)"
finish() {
	# Kernel WARN/BUG/oops lines are below the quiet console level: show them.
	pat='WARNING: CPU:|BUG: |Oops:|general protection fault|kernel BUG at|UBSAN:|KASAN:|blocked for more than'
	bad=$(dmesg | grep -cE "$pat")
	if [ "$bad" -gt 0 ]; then
		echo "ember-init: kernel log has $bad warning/bug lines:"
		dmesg | grep -E -A25 "$pat" | head -n 150
	fi
	echo
	echo "@@EMBER-EXIT $EMBER_TOKEN status=$1 kernel_warnings=$bad"
	sleep 0.2   # let the UART drain before the power goes
	poweroff -f
	reboot -f
}
if [ "$EMBER_SHARE" = 1 ]; then
	# run-guest.sh --share: the host directory, read-only, over virtio-9p.
	while read -r name path; do
		grep -q "^$name " /proc/modules && continue
		insmod "$path" || { echo "ember-init: insmod $path failed (needed for --share)"; finish 123; }
	done < /lib/ember/share.order
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,ro share /share || {
		echo "ember-init: mounting the --share directory at /share failed"
		dmesg | tail -n 20
		finish 123
	}
fi
if [ "$EMBER_LOAD" = 1 ]; then
	ember-modules load || { dmesg | tail -n 30; finish 126; }
	ls /dev/accel/accel* >/dev/null 2>&1 ||
		echo "ember-init: warning: no /dev/accel node after loading ember.ko (probe failed? see above)"
fi
cd /
sh /etc/ember/cmd.sh
finish $?
INIT
	cat > "$1/bin/ember-modules" <<'MODS'
#!/bin/sh
# ember-modules load|unload|reload: the drm dependencies, then ember.ko.
load_deps() {
	while read -r name path; do
		grep -q "^$name " /proc/modules && continue
		insmod "$path" || { echo "ember-modules: insmod $path failed" >&2; return 1; }
	done < /lib/ember/deps.order
}
load_ember() {
	[ -f /lib/ember/ember.ko ] || { echo "ember-modules: no /lib/ember/ember.ko in this guest" >&2; return 1; }
	insmod /lib/ember/ember.ko || { echo "ember-modules: insmod ember.ko failed" >&2; return 1; }
}
case "$1" in
load) load_deps && load_ember ;;
unload) rmmod ember ;;
reload) rmmod ember && load_ember ;;
*) echo "usage: ember-modules load|unload|reload" >&2; exit 2 ;;
esac
MODS
	chmod 755 "$1/init" "$1/bin/ember-modules"
}

build_base() {
	local st
	st=$(mktemp -d "$EMBER_CACHE/guest/base.XXXXXX")
	mkdir -p "$st"/{bin,dev,proc,sys,tmp,root,share,etc/ember,lib/ember/deps,lib/ember/share,lib/firmware}
	ln -s bin "$st/sbin"
	mknod "$st/dev/console" c 5 1
	cp "$busybox" "$st/bin/busybox"
	local a
	for a in $("$busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$st/bin/$a"
	done
	# put_modules DIR ENTRY...: decompressed, in load order, listed in DIR.order
	put_modules() {
		local dir=$1 i=0 e name path dst; shift
		: > "$st/$dir.order"
		for e in "$@"; do
			name=${e%%:*}; path=${e#*:}
			dst=$dir/$(printf '%02d' $i)-$name.ko
			case "$path" in
			*.xz) xz -dc "$path" > "$st/$dst" ;;
			*.zst) zstd -qdc "$path" > "$st/$dst" ;;
			*.gz) gzip -dc "$path" > "$st/$dst" ;;
			*) cp "$path" "$st/$dst" ;;
			esac
			echo "$name /$dst" >> "$st/$dir.order"
			i=$((i + 1))
		done
	}
	put_modules lib/ember/deps "${deps_order[@]}"
	put_modules lib/ember/share "${share_order[@]}"
	write_init "$st"
	(cd "$st" && find . -print0 | LC_ALL=C sort -z |
		cpio --quiet --null -o -H newc -R 0:0 --reproducible) > "$st.cpio"
	mv -f "$st.cpio" "$base"   # atomic: concurrent runs may race to build it
	rm -rf "$st"
}
[ -f "$base" ] || build_base
# Old bases (other inputs) pile up as the script or kernel changes.
find "$EMBER_CACHE/guest" -maxdepth 1 -name 'base-*.cpio' ! -name "${base##*/}" -mmin +60 -delete 2>/dev/null || true

# ---- per-run overlay (module, firmware, --add files, command) ---------------
run=$(mktemp -d "${TMPDIR:-/tmp}/ember-guest.XXXXXX")
trap 'rm -rf "$run"' EXIT
trap 'exit 130' INT TERM
ov=$run/overlay
mkdir -p "$ov/bin" "$ov/etc/ember" "$ov/lib/ember" "$ov/lib/firmware/ember"
[ $have_module = 1 ] && cp "$module" "$ov/lib/ember/ember.ko"
[ $have_fw = 1 ] && cp "$firmware" "$ov/lib/firmware/ember/ember-fw.bin"
# The static tools from build-guest/, on the guest's PATH; without their
# debug info (about 1 MB each instead of 3).
for t in ember-run ember-bench; do
	f=$(ember_build_guest_dir)/tools/$t/$t
	[ -f "$f" ] || continue
	if ldd "$f" >/dev/null 2>&1; then
		note "warning: $f is dynamically linked and cannot run in the guest; not adding it (rebuild: scripts/build.sh guest)"
		continue
	fi
	strip --strip-debug -o "$ov/bin/$t" "$f" 2>/dev/null || cp "$f" "$ov/bin/$t"
done
for a in "${adds[@]}"; do
	src=${a%%:*}; dst=${a#*:}
	[ "$src" != "$a" ] && [ -n "$src" ] && [ -n "$dst" ] || die "--add wants SRC:DST, got '$a'"
	[ -e "$src" ] || die "--add source '$src' does not exist"
	case "$dst" in /*) ;; *) die "--add destination '$dst' must be an absolute guest path" ;; esac
	# The guest has no libc: a dynamic binary would fail there with "not found".
	while IFS= read -r f; do
		ldd "$f" >/dev/null 2>&1 &&
			note "warning: $f is dynamically linked; the guest has no shared libraries (use build-guest/)"
	done < <(find -L "$src" -type f -perm -u+x 2>/dev/null)
	if [ "${dst%/}" != "$dst" ]; then   # DST/ : copy into that directory
		mkdir -p "$ov$dst"
		cp -rL "$src" "$ov$dst"
	else
		mkdir -p "$(dirname "$ov$dst")"
		cp -rL "$src" "$ov$dst"
	fi
done
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
share_flag=0
[ -z "$share" ] || share_flag=1
printf 'EMBER_LOAD=%s\nEMBER_SHARE=%s\nEMBER_TOKEN=%s\n' $load $share_flag "$token" > "$ov/etc/ember/env"
printf '%s\n' "$cmd" > "$ov/etc/ember/cmd.sh"
(cd "$ov" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc -R 0:0) > "$run/overlay.cpio"
# The kernel unpacks concatenated cpio archives in order; later files win.
cat "$base" "$run/overlay.cpio" > "$run/initrd.cpio"

# ---- boot ------------------------------------------------------------------
qemu=$(ember_qemu)
# The device runs only the firmware build it was compiled with; say so up
# front instead of leaving it to a failed probe in the guest.
if [ $have_fw = 1 ] && [ -f "$qemu.build-id" ]; then
	fw_id=$(od -An -t x8 -j16 -N8 "$firmware" | tr -d ' \n')
	q_id=$(tr -d ' \n' < "$qemu.build-id")
	[ "$fw_id" = "$q_id" ] ||
		note "warning: $firmware has build id $fw_id but this QEMU runs firmware $q_id; the driver will reject it (rebuild both: scripts/build.sh host qemu)"
fi
share_args=()
if [ -n "$share" ]; then
	"$qemu" -device help 2>/dev/null | grep -q '"virtio-9p-pci"' ||
		die "$qemu has no virtio-9p-pci device, which --share needs: use the QEMU scripts/build-qemu.sh builds (configured with --enable-virtfs), or unset EMBER_QEMU"
	# QEMU option values escape a comma by doubling it.
	share_args=(-fsdev "local,id=share,path=${share//,/,,},security_model=none,readonly=on"
		-device virtio-9p-pci,fsdev=share,mount_tag=share)
fi
cons=$run/console.log
set +e
timeout --foreground -k 10 "$timeout_s" "$qemu" \
	-accel tcg -cpu max -smp 2 -nographic -no-reboot \
	-object "memory-backend-memfd,id=ram,size=${mem_mib}M,share=on" \
	-M q35,memory-backend=ram -m "${mem_mib}M" \
	-L /usr/share/qemu -L /usr/share/seabios -nodefaults \
	-serial stdio \
	-kernel "$vmlinuz" -initrd "$run/initrd.cpio" \
	-append "console=ttyS0 panic=-1 quiet ${kargs[*]}" \
	-device ember-npu "${share_args[@]}" "${qemu_args[@]}" \
	</dev/null | sed -u 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' | tee "$cons"
qrc=${PIPESTATUS[0]}
set -e
[ -n "$log" ] && cp "$cons" "$log"

marker=$(grep -ao "@@EMBER-EXIT $token status=[0-9]* kernel_warnings=[0-9]*" "$cons" | tail -n1 || true)
if [ -z "$marker" ]; then
	if [ "$qrc" = 124 ]; then
		note "guest timed out after ${timeout_s}s (no exit marker)"
		exit 124
	fi
	note "guest stopped without an exit marker (QEMU exit $qrc): crash, panic or init failure; see the console output above"
	exit 125
fi
status=${marker#*status=}; status=${status%% *}
kw=${marker##*kernel_warnings=}
[ "$kw" = 0 ] || note "warning: the guest kernel logged $kw WARNING/BUG lines (shown above)"
[ "$status" = 126 ] && [ $load = 1 ] && note "loading the modules in the guest failed (see above)"
[ "$status" = 123 ] && [ -n "$share" ] && note "mounting --share $share at /share in the guest failed (see above)"
exit "$status"
