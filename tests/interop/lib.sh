# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154 # here, run, n, tol: the caller's
# Shell functions of the interop tests (sourced, POSIX sh). The caller sets
#   here  tests/interop (llama_ref.mjs, compare.mjs)
#   run   ember-run
#   n     tokens to generate a prompt
#   tol   the near-tie tolerance (EMBER_INTEROP_TOL, see compare.mjs)
# and calls interop_init, which sets dir (node-llama-cpp's prefix) and tmp
# (removed at exit), or exits 77 (meson: SKIP) when node/npm or the registry
# is unavailable and 1 when the install fails otherwise.

tap_n=0 passed=0 failed=0 skipped=0 near=0

interop_init() {
	dir=$(sh "$here/../../scripts/lib/node-llama-cpp.sh") || {
		rc=$?
		[ $rc = 77 ] && { echo "SKIP: node-llama-cpp unavailable (message above)"; exit 77; }
		echo "FAIL: installing node-llama-cpp failed"; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
}

tap() {	# ok|not ok|skip, text
	tap_n=$((tap_n + 1))
	case $1 in
	ok) passed=$((passed + 1)); echo "ok $tap_n - $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $tap_n - $2 # SKIP" ;;
	*) failed=$((failed + 1)); echo "not ok $tap_n - $2" ;;
	esac
}

# check LABEL MODEL PROMPTS: Ember's greedy tokens on MODEL for each line of
# the file PROMPTS, then llama.cpp's logits along them; one TAP line a prompt
# (compare.mjs: the same prompt tokens, and Ember's picks llama.cpp's or
# near ties within tol).
check() {
	t0=$(date +%s)
	errs="" i=0
	: >"$tmp/ids"
	while IFS= read -r p; do
		[ -n "$p" ] || continue
		i=$((i + 1))
		"$run" -m "$2" -p "$p" -n "$n" --temp 0 --ignore-eos --device cpu --threads 2 --ids </dev/null \
			>/dev/null 2>"$tmp/ember.$i"
		ids=$(sed -n 's/^ids://p' "$tmp/ember.$i" | head -n 1)
		echo "$ids" >>"$tmp/ids"	# a line even when ember-run failed
		errs="$errs $tmp/ember.$i"
	done <"$3"
	# one thread: as fast on these small models, and far faster when the
	# other tests take the cores (its two threads spin-wait for each other)
	if ! node "$here/llama_ref.mjs" "$dir/node_modules" "$2" "$n" --prompts "$3" --follow "$tmp/ids" --threads 1 \
	     >"$tmp/ref.json" 2>"$tmp/ref.err"; then
		tap "not ok" "$1: llama.cpp (llama_ref.mjs) failed"
		sed 's/^/#   /' "$tmp/ref.err" | tail -n 15
		return
	fi
	if [ -z "${info_shown-}" ]; then
		info_shown=1
		# shellcheck disable=SC2016 # JavaScript's ${}, not the shell's
		node -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1])).llama_cpp;
			console.log(`# llama.cpp: node-llama-cpp ${i.node_llama_cpp} (${i.binaries}, ${i.build_type}), ` +
				    `release ${i.llama_cpp_release}, commit ${i.llama_cpp_commit}, ` +
				    `CPU variant ${i.cpu_variant}, ${i.threads} threads`)' "$tmp/ref.json"
	fi
	# shellcheck disable=SC2086 # $errs: paths under mktemp -d, no blanks
	node "$here/compare.mjs" "$1" "$tol" "$tmp/ref.json" $errs >"$tmp/cmp.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*"near-tie"*) near=$((near + 1)); tap ok "${line#ok - }" ;;
		"ok - "*) tap ok "${line#ok - }" ;;
		"not ok - "*) tap "not ok" "${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done <"$tmp/cmp.out"
	[ $rc -le 1 ] || tap "not ok" "$1: compare.mjs failed (exit $rc)"
	echo "#   ($1: $(($(date +%s) - t0)) s)"
}

# interop_done NAME: the plan, the summary line and the exit status.
interop_done() {
	echo "1..$tap_n"
	echo "# $near of the $passed passes had near-tie picks within the tolerance (EMBER_INTEROP_TOL=$tol)"
	echo "$1: $passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ] || exit 1
	exit 0
}
