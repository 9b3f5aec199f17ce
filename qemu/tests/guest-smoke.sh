#!/usr/bin/env bash
# Boots Debian's 6.12 kernel with a busybox initramfs on the Ember QEMU and
# checks from inside the guest that the PCI device enumerates as hw.h says
# (ids, class, revision, BAR0 64-bit 64 KiB, BAR2 4 KiB). No driver needed.
#   usage: qemu/tests/guest-smoke.sh [qemu-system-x86_64]
# Prints TAP and "N passed, N failed"; exit status 1 on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
qemu=${1:-$("$root/scripts/build-qemu.sh" 2>/dev/null | tail -n1)}
kernel=$(ls /boot/vmlinuz-6.12.*-amd64 2>/dev/null | sort -V | tail -n1)
[ -n "$kernel" ] || { echo "guest-smoke: no /boot/vmlinuz-6.12.*: run scripts/install-deps.sh" >&2; exit 1; }
bb=$(command -v busybox) || { echo "guest-smoke: busybox missing: apt-get install busybox-static" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/bin" "$tmp/root/proc" "$tmp/root/sys"
cp "$bb" "$tmp/root/bin/busybox"
for a in sh mount cat; do ln -s busybox "$tmp/root/bin/$a"; done
cat >"$tmp/root/init" <<'E'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] || continue
	echo "EMBER id=$(cat $d/vendor):$(cat $d/device) class=$(cat $d/class) rev=$(cat $d/revision)"
	i=0
	while read -r start end flags; do
		echo "EMBER bar$i=$start $end $flags"; i=$((i + 1))
	done < $d/resource
done
echo EMBER-END
poweroff -f
E
chmod +x "$tmp/root/init"
(cd "$tmp/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$tmp/initrd.gz"

timeout 180 "$qemu" -accel tcg -cpu max -M q35 -m 512M -smp 2 -nographic \
	-no-reboot -nodefaults -L /usr/share/qemu -L /usr/share/seabios \
	-serial stdio -monitor none -kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet" -device ember-npu \
	</dev/null >"$tmp/console.log" 2>&1 || true

n=0 fail=0
check() { # name, command...
	local name=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; fail=$((fail + 1)); fi
}
has() { grep -q -- "$1" "$tmp/console.log"; }
bar() { # index, size, flags mask, flags value (IORESOURCE_MEM 0x200, _MEM_64 0x100000)
	local line start end flags
	line=$(grep -m1 "^EMBER bar$1=" "$tmp/console.log" | tr -d '\r') || return 1
	read -r start end flags <<<"${line#*=}"
	(( end - start + 1 == $2 && (flags & $3) == $4 ))
}
check "guest booted and enumerated PCI" has EMBER-END
check "vendor:device 0x1234:0xe3b0, class 0x120000, revision 0x01" \
	has "EMBER id=0x1234:0xe3b0 class=0x120000 rev=0x01"
check "BAR0: 64 KiB, memory, 64-bit" bar 0 65536 0x100200 0x100200
check "BAR2: 4 KiB memory, 32-bit (MSI-X)" bar 2 4096 0x100200 0x200
[ "$fail" = 0 ] || sed -n '1,200p' "$tmp/console.log" | tail -40 >&2
echo "1..$n"
echo "$((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
