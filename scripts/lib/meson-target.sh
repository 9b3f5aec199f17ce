#!/usr/bin/env bash
# Runs the non-meson builds for the top-level meson targets `ember-ko` and
# `qemu`, leaving the result (a copy / a symlink) at the target's output.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# = 2 ] || die "usage: meson-target.sh ember-ko|qemu OUTPUT"
case "$1" in
ember-ko)
	[ -f "$EMBER_ROOT/kernel/Makefile" ] || die "kernel/Makefile is missing (kernel helper)"
	make -C "$EMBER_ROOT/kernel" >&2
	cp "$EMBER_ROOT/kernel/ember.ko" "$2"
	;;
qemu)
	q=$(ember_qemu)
	ln -sfn "$q" "$2"
	;;
*) die "unknown target '$1'" ;;
esac
