#!/usr/bin/env bash
# Installs everything Ember needs on a fresh Debian 12 machine: build tools,
# libdrm/liburing, the bookworm-backports 6.12 kernel image + headers (guest
# kernel and module build tree), linux-source-6.12 + libelf-dev (the debug
# kernel, scripts/build-debug-kernel.sh), meson 1.7, QEMU build deps,
# busybox, seabios, OpenBLAS (benchmark baseline), jansson (JSON), gnuplot
# (scripts/plot-bench). Idempotent: a second run is a no-op.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root (apt-get needs it)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

# The stamp is keyed by this file, so adding a package re-runs the install.
stamp=/var/lib/ember-deps.$(sha256sum "$0" | cut -c1-16)
[ -f "$stamp" ] && { echo "install-deps: already done ($stamp)"; exit 0; }

cat > /etc/apt/sources.list.d/ember-backports.list <<'L'
deb http://deb.debian.org/debian bookworm-backports main
L
# QEMU 10.0's complete source package only exists in trixie's deb-src;
# source packages carry no binaries, so this cannot change installed packages.
cat > /etc/apt/sources.list.d/ember-trixie-src.list <<'L'
deb-src http://deb.debian.org/debian trixie main
L
apt-get update -q

apt-get install -y -q --no-install-recommends \
	build-essential pkg-config git ca-certificates xz-utils zstd cpio bzip2 \
	libdrm-dev liburing-dev busybox-static seabios qemu-system-data \
	libglib2.0-dev libpixman-1-dev ninja-build python3-venv flex bison libfdt-dev \
	libopenblas0-pthread libopenblas-dev sparse dpkg-dev kmod bc \
	clang llvm libclang-rt-14-dev libelf-dev libjansson-dev gnuplot-nox cmake
apt-get install -y -q --no-install-recommends -t bookworm-backports \
	meson python3-pycotap linux-image-amd64 linux-headers-amd64 linux-source-6.12

touch "$stamp"
echo "install-deps: done"
