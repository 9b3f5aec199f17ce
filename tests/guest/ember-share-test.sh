#!/bin/sh
# SPDX-License-Identifier: MIT
# The host directory exported with `scripts/run-guest.sh --share` (TAP). Run
# in the guest booted with --share of shared/models (scripts/test.sh does):
#   ember-share-test.sh
# Checks: /share is a read-only 9p mount and writes to it fail with EROFS;
# stories260K.gguf reads back with its published sha256; ember-run (on the
# guest's PATH) mmap()s the model straight from /share and its greedy text
# is the host's (build/tools/ember-run/ember-run, same arguments) and a
# prefix of llama.cpp's reference in stories260K-reference.json.
share=/share
model=$share/stories260K.gguf
reference=$share/stories260K-reference.json
model_sha256=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
prompt="Once upon a time"
# What the host's ember-run prints on stdout for
#   -m stories260K.gguf -p "Once upon a time" -n 16 --temp 0 --device cpu
# (the prompt, then 16 greedy tokens). It is the start of the reference's
# greedy_output for this prompt, after its "<s> ".
expected="Once upon a time, there was a little girl named Lily. She loved to play"
. "$(dirname "$0")/lib/tap.sh"
# the mount options of /share, as /proc/mounts lists them
share_opts() { awk -v m="$share" '$2 == m { print $3 " " $4 }' /proc/mounts; }
# expect_erofs DESCRIPTION COMMAND: the command must fail saying EROFS
expect_erofs() {
	out=$(sh -c "$2" 2>&1)
	rc=$?
	if [ $rc != 0 ] && echo "$out" | grep -q 'Read-only file system'; then
		ok "$1 fails with EROFS"
	else
		not_ok "$1 fails with EROFS (exit $rc: $out)"
	fi
}

echo "TAP version 13"
echo "1..8"
opts=$(share_opts)
echo "# /share: ${opts:-not mounted}"
if [ -z "$opts" ]; then
	not_ok "/share is mounted (boot the guest with run-guest.sh --share shared/models)"
else
	check "/share is a 9p mount" [ "${opts%% *}" = 9p ]
fi
case ",${opts#* }," in
*,ro,*) ok "/share is mounted read-only" ;;
*) not_ok "/share is mounted read-only (options: ${opts#* })" ;;
esac
expect_erofs "creating a file in /share" ": > $share/.ember-share-test-write"
expect_erofs "appending to $model" ": >> $model"

sum=$(sha256sum "$model" 2>&1 | cut -d' ' -f1)
check "sha256 of $model is the published one (got $sum)" [ "$sum" = "$model_sha256" ]

# ember-run maps the model file (gguf_open: mmap), so this is also the test
# that mmap() of a 9p file works with cache=loose.
if command -v ember-run >/dev/null 2>&1; then
	ok "ember-run is on PATH ($(command -v ember-run))"
else
	not_ok "ember-run is on PATH (run-guest.sh copies it from build-guest/tools/ember-run)"
fi
out=$(ember-run -m "$model" -p "$prompt" -n 16 --temp 0 --device cpu 2>/tmp/share-run.log)
rc=$?
if [ $rc = 0 ] && [ "$out" = "$expected" ]; then
	ok "ember-run on $model prints the host's greedy text"
else
	not_ok "ember-run on $model prints the host's greedy text (exit $rc)"
	echo "# expected: $expected"
	echo "# got:      $out"
fi
sed 's/^/# /' /tmp/share-run.log

# llama.cpp's greedy_output for the prompt: "<s> " + prompt + 64 tokens.
ref=$(awk -v p="\"prompt\": \"$prompt\"" 'index($0, p) { f = 1 }
	f && /"greedy_output"/ { sub(/^[^:]*: *"/, ""); sub(/" *,? *$/, ""); print; exit }' \
	"$reference" 2>/dev/null | sed 's/\\"/"/g')
ref=$(printf '%b' "$ref")
ref=${ref#"<s> "}
if [ -n "$out" ] && [ "${ref#"$out"}" != "$ref" ]; then
	ok "the guest's text is a prefix of llama.cpp's reference output"
else
	not_ok "the guest's text is a prefix of llama.cpp's reference output"
	echo "# reference: ${ref:-(none found in $reference)}"
fi
echo "# Totals: pass:$((n - fails)) fail:$fails"
[ $fails -eq 0 ]
