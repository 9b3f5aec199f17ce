#!/bin/sh
# SPDX-License-Identifier: MIT
# Print the Ember firmware build id: the first 16 hex digits of a SHA-256
# over every firmware source file (sorted path + content), so the QEMU device
# and ember-fw.bin agree exactly when they were built from the same sources.
#   usage: firmware/build-id.sh [--list] [repo-root]
#   (repo-root defaults to this script's ../; --list prints the hashed files)
set -eu

list=0
if [ "${1:-}" = --list ]; then
	list=1
	shift
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || { echo "build-id.sh: cannot cd to $root" >&2; exit 1; }
[ -f uapi/drm/ember_accel.h ] || {
	echo "build-id.sh: $root is not the Ember repo root (no uapi/drm/ember_accel.h)" >&2
	exit 1
}

files() {
	{
		# editor swap/backup files are not sources
		find firmware/include firmware/src firmware/kernels -type f \
			! -name '.*' ! -name '*~' 2>/dev/null
		echo uapi/drm/ember_accel.h
	} | LC_ALL=C sort
}

if [ "$list" = 1 ]; then
	files
	exit 0
fi

# One "sha256  path" line per file, in byte order of the path: hashing those
# lines covers both the names and the contents, independent of locale.
files | while IFS= read -r f; do
	sha256sum -- "$f"
done | sha256sum | cut -c1-16
