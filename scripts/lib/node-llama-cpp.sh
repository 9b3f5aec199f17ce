#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the pinned node-llama-cpp (llama.cpp's prebuilt linux-x64 CPU
# libraries and its source bundle) into a cache outside the tree and prints
# the install prefix: PREFIX/node_modules/node-llama-cpp. Used by the interop
# test (llama.cpp as a reference) and scripts/build-llama-cpp.sh (its
# llama-bench and llama-quantize, built from the bundle).
#
# Exit 0: installed. 77: node/npm missing, not x86-64 Linux, or the registry
# unreachable (callers that are tests skip). 1: anything else.
set -u
ver=3.22.1
dir=${EMBER_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ember-npm}/node-llama-cpp-$ver
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "node-llama-cpp: node/npm not installed" >&2; exit 77
fi
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
	echo "node-llama-cpp: only the linux-x64 CPU binaries are installed; this is $(uname -s)-$(uname -m)" >&2
	exit 77
fi
# one install at a time: the interop tests run in parallel
mkdir -p "$dir" || exit 1
exec 9>"$dir.lock" && flock 9 || exit 1
if [ ! -f "$dir/.installed" ]; then
	t0=$(date +%s)
	# --omit=optional: of the prebuilt variants only the CPU one, named
	# below (the CUDA/Vulkan ones are hundreds of MB); --ignore-scripts and
	# SKIP_DOWNLOAD: no postinstall, which would try to fetch or build
	# llama.cpp when no prebuilt binary fits
	if ! NODE_LLAMA_CPP_SKIP_DOWNLOAD=true timeout 600 npm install --no-audit --no-fund \
	     --ignore-scripts --omit=optional --save-exact --prefix "$dir" \
	     "node-llama-cpp@$ver" "@node-llama-cpp/linux-x64@$ver" >"$dir/npm.log" 2>&1; then
		echo "node-llama-cpp: npm install failed (registry unreachable?); see $dir/npm.log" >&2
		exit 77
	fi
	echo "node-llama-cpp@$ver" >"$dir/.installed"
	echo "node-llama-cpp: installed $ver into $dir in $(($(date +%s) - t0)) s ($(du -sh "$dir" | cut -f1))" >&2
fi
echo "$dir"
