#!/bin/sh
# SPDX-License-Identifier: MIT
# firmware/build-id.sh: 16 hex digits, deterministic, equal to the id this
# build was configured with (else: reconfigure), and sensitive to a file's
# content, a file's name and an added file (checked on a scratch copy).
#   usage: test_build_id.sh REPO_ROOT CONFIGURED_ID
set -eu
root=$1 configured=$2
script="$root/firmware/build-id.sh"
fail() { echo "FAIL test_build_id: $*" >&2; exit 1; }

a=$(sh "$script" "$root")
b=$(cd / && sh "$script" "$root")
echo "$a" | grep -Eqx '[0-9a-f]{16}' || fail "printed '$a', not 16 hex digits"
[ "$a" = "$b" ] || fail "not deterministic: $a vs $b"
[ "$a" = "$configured" ] ||
	fail "sources give $a but this build was configured with $configured: run meson setup --reconfigure"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/uapi/drm" "$tmp/firmware"
cp "$root/uapi/drm/ember_accel.h" "$tmp/uapi/drm/"
for d in include src kernels; do
	cp -r "$root/firmware/$d" "$tmp/firmware/"
done
base=$(sh "$script" "$tmp")
[ "$base" = "$a" ] || fail "a copy of the sources gives $base, the tree $a"
echo "/* x */" >>"$tmp/firmware/src/crc32.c"
c1=$(sh "$script" "$tmp")
[ "$c1" != "$base" ] || fail "changing firmware/src/crc32.c kept the id"
mv "$tmp/firmware/src/crc32.c" "$tmp/firmware/src/crc32b.c"
c2=$(sh "$script" "$tmp")
[ "$c2" != "$c1" ] || fail "renaming a file kept the id"
echo "int x;" >"$tmp/firmware/kernels/new.c"
c3=$(sh "$script" "$tmp")
[ "$c3" != "$c2" ] || fail "adding firmware/kernels/new.c kept the id"
echo "/* y */" >>"$tmp/uapi/drm/ember_accel.h"
c4=$(sh "$script" "$tmp")
[ "$c4" != "$c3" ] || fail "changing the uapi header kept the id"
echo "test_build_id: ok ($a)"
