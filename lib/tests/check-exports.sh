#!/bin/sh
# SPDX-License-Identifier: MIT
# libember.so exports exactly the functions ember.h declares (libember.map
# and the header must not drift apart).  Usage: check-exports.sh LIB HEADER
set -eu
lib=$1 hdr=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
	grep -v '^LIBEMBER' | sort -u > "$tmp/exported"
grep -o '\bember_[a-z0-9_]*(' "$hdr" | tr -d '(' | sort -u > "$tmp/declared"
if diff -u "$tmp/declared" "$tmp/exported"; then
	echo "PASS: $(wc -l < "$tmp/exported") functions exported, as declared"
else
	echo "FAIL: exports differ from ember.h (- declared only, + exported only): update lib/libember.map"
	exit 1
fi
