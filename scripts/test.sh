#!/usr/bin/env bash
# Runs every Ember test from any state, including a fresh Debian 12 machine
# (as root): installs dependencies, builds (cached), then
#   1. host tests       meson test -C build (ASan + UBSan), all suites; the
#                       'threads' suite again in build-tsan (ThreadSanitizer)
#   2. kernel checks    checkpatch --strict, a W=1 build, a C=1 (sparse) build,
#                       each failing on any warning
#   3. guest tests      one QEMU boot running every kselftest binary from
#                       build-guest/tests/guest/ and the tests/guest/*.sh scripts,
#                       with the models (stories260K from ../shared/models beside
#                       the clone, a generated SmolLM2-135M) and the host CPU's
#                       outputs for them (scripts/lib/npu-cases.sh) exported
#                       read-only at /share (run-guest.sh --share)
#   4. variant devices  boots with SWIGLU switched off (caps-ops-mask), with
#                       injected failures (inject-*-job: the driver's recovery,
#                       a generation that survives them, a device that dies),
#                       then one running the host build's guest tests (ASan +
#                       UBSan) with their libraries staged
#   5. device model     qemu/tests/ember_qtest.py: registers, MMU, ring, resets
#   6. debug kernel     section 3's run-all.sh once more on a KASAN, lockdep,
#                       kmemleak, UBSAN and fault-injection kernel
#                       (scripts/build-debug-kernel.sh), then the fuzzer with
#                       ember's allocations failing, kmemleak scans and a
#                       check of the whole kernel log (scripts/lib/
#                       debug-guest-checks.sh)
# It prints per-suite summaries and, as the very last line,
# "N passed, N failed". Exit status: 0 only if nothing failed and the guest
# tests ran.
#
# `scripts/test.sh host|kernel|guest|debug...` runs only those parts (for
# development; the README command runs all four; debug implies guest).
#
# Environment: EMBER_BUILD, EMBER_BUILD_GUEST (build dirs), EMBER_SKIP_DEPS=1
# (do not call install-deps.sh), EMBER_GUEST_TIMEOUT (s, whole guest run),
# EMBER_GUEST_TEST_TIMEOUT (s, one guest test), EMBER_TEST_TIMEOUT_MULT
# (meson --timeout-multiplier); for the debug kernel EMBER_DEBUG_GUEST_TIMEOUT
# (s, whole run, 5400), EMBER_DEBUG_TEST_TIMEOUT (s, one test, 2700),
# EMBER_DEBUG_FI_CALLS (fuzzer calls under fault injection, 20000).
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
cd "$EMBER_ROOT"

build=$(ember_build_dir)
build_guest=$(ember_build_guest_dir)
export EMBER_BUILD=$build EMBER_BUILD_GUEST=$build_guest
logs=$build/test-logs
t_start=$SECONDS

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(host kernel guest debug)
for p in "${parts[@]}"; do
	case "$p" in host|kernel|guest|debug) ;; *) fatal "unknown part '$p' (host, kernel, guest, debug)" ;; esac
done
[[ " ${parts[*]} " != *" debug "* ]] || parts+=(guest)   # it reruns guest's run-all.sh
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }

# ---- result bookkeeping -------------------------------------------------------
results=()   # "suite<TAB>passed<TAB>failed<TAB>skipped<TAB>note"
record() { results+=("$(printf '%s\t%s\t%s\t%s\t%s' "$@")"); }
record_lines() { # summarize.py output on stdin
	local l
	while IFS= read -r l; do [ -n "$l" ] && results+=("$l"); done
}
section() { printf '\n==== %s\n' "$*"; }
# Even a run that cannot start ends with the summary line.
fatal() { echo "test.sh: error: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# ---- 0. dependencies and build ---------------------------------------------------
section "dependencies"
if [ "${EMBER_SKIP_DEPS:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ]; then
		bash scripts/install-deps.sh || fatal "scripts/install-deps.sh failed"
	else
		ls /var/lib/ember-deps.* >/dev/null 2>&1 ||
			fatal "dependencies not installed: run scripts/install-deps.sh as root"
		note "not root: assuming scripts/install-deps.sh has been run"
	fi
fi

built=()
steps=()
want host && steps+=(host tsan)
want guest && steps=(host tsan module qemu guest)
want debug && steps+=(debug-kernel)
for step in "${steps[@]}"; do
	section "build: $step"
	# Builds are prerequisites, not tests: only a failure is counted.
	if bash scripts/build.sh "$step"; then
		built+=("$step")
	else
		record "build:$step" 0 1 0 "scripts/build.sh $step failed"
	fi
done
is_built() { [[ " ${built[*]} " == *" $1 "* ]]; }
mkdir -p "$logs"

# ran_all SUITE LOG: a guest runner that stopped before its last test (say,
# OOM-killed) fails, whatever the tests that did run reported.
ran_all() {
	grep -q '^@@EMBER-RUN-ALL-DONE' "$2" ||
		record "$1:runner" 0 1 0 "the guest's run-all.sh stopped before its last test (killed? see $2)"
}

# ---- 1. host tests ------------------------------------------------------------------
if ! want host; then
	:
elif section "host tests (meson test -C $build, ASan + UBSan)"; is_built host; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
	rm -f "$build/meson-logs/testlog.json"   # never count a stale run
	meson test -C "$build" --print-errorlogs \
		--timeout-multiplier "${EMBER_TEST_TIMEOUT_MULT:-3}"
	record_lines < <(python3 scripts/lib/summarize.py meson \
		"$build/meson-logs/testlog.json" firmware kernels runtime lib)
else
	record host 0 1 0 "host build failed: no host tests ran"
fi
# The tests whose code runs on several threads (suite 'threads': the CPU
# backend's team, the kernels' pool, the firmware on the fake device's
# threads, libember shared by threads) once more under ThreadSanitizer.
if ! want host; then
	:
elif section "host tests on threads (meson test -C $(ember_build_tsan_dir) --suite threads, TSan)"
	is_built tsan; then
	tsan_dir=$(ember_build_tsan_dir)
	rm -f "$tsan_dir/meson-logs/testlog.json"
	TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
		meson test -C "$tsan_dir" --print-errorlogs --suite threads \
		--timeout-multiplier "${EMBER_TEST_TIMEOUT_MULT:-3}"
	record_lines < <(python3 scripts/lib/summarize.py meson \
		"$tsan_dir/meson-logs/testlog.json" | sed 's/^/tsan:/')
else
	record tsan 0 1 0 "scripts/build.sh tsan failed: the ThreadSanitizer tests did not run"
fi

# ---- 2. kernel checks -----------------------------------------------------------------
# kcheck NAME LOGFILE COMMAND...: passes only if COMMAND succeeds and prints no warning.
kcheck() {
	local name=$1 log=$2; shift 2
	local rc n
	"$@" >"$log" 2>&1
	rc=$?
	n=$(grep -cE '(warning|error|WARNING|ERROR|CHECK):' "$log")
	if [ $rc = 0 ] && [ "$n" = 0 ]; then
		echo "kernel:$name: clean"
		record "kernel:$name" 1 0 0 "clean"
	else
		grep -E '(warning|error|WARNING|ERROR|CHECK):' "$log" | head -n 40
		[ $rc = 0 ] || tail -n 20 "$log"
		echo "kernel:$name: FAILED (exit $rc, $n warning lines; full log: $log)"
		record "kernel:$name" 0 1 0 "exit $rc, $n warnings ($log)"
	fi
}
if ! want kernel; then
	:
elif section "kernel checks (checkpatch --strict, W=1, C=1)"
	[ -f kernel/Makefile ] && ls kernel/*.c >/dev/null 2>&1; then
	kcheck checkpatch "$logs/checkpatch.log" make -C kernel check
	# W=1 / C=1 need a full rebuild to see every warning: build a private copy
	# (the module's relative includes need firmware/include and uapi beside it).
	ktmp=$(mktemp -d "${TMPDIR:-/tmp}/ember-kcheck.XXXXXX")
	for flags in W=1 C=1; do
		rm -rf "$ktmp/t"
		mkdir -p "$ktmp/t/firmware"
		cp -r kernel "$ktmp/t/kernel"
		cp -r firmware/include "$ktmp/t/firmware/include"
		cp -r uapi "$ktmp/t/uapi"
		make -s -C "$ktmp/t/kernel" clean >/dev/null 2>&1
		kcheck "$flags" "$logs/kernel-${flags%%=*}.log" make -C "$ktmp/t/kernel" "$flags"
	done
	rm -rf "$ktmp"
else
	record kernel 0 1 0 "kernel/ sources missing: no kernel checks ran"
fi

# ---- 3. guest tests ----------------------------------------------------------------------
guest_ok=0
share_args=()   # run-guest.sh --share, once the models are staged
want guest || guest_ok=1   # not asked for
want guest && section "guest tests (QEMU, TCG)"
stage=$(mktemp -d "${TMPDIR:-/tmp}/ember-gtests.XXXXXX")
trap 'rm -rf "$stage"' EXIT
tests=()
if [ -d "$build_guest/tests/guest" ]; then
	while IFS= read -r f; do
		cp "$f" "$stage/"
		tests+=("${f##*/}")
	done < <(find "$build_guest/tests/guest" -maxdepth 1 -type f -perm -u+x | LC_ALL=C sort)
fi
scripts_=()
for f in tests/guest/*.sh; do
	[ -f "$f" ] || continue
	cp "$f" "$stage/"
	scripts_+=("${f##*/}")
done
# what the scripts source (not tests themselves)
mkdir -p "$stage/lib"
cp tests/guest/lib/*.sh "$stage/lib/"
if ! want guest; then
	:
elif [ ${#tests[@]} = 0 ]; then
	record guest 0 1 0 "no kselftest binaries in $build_guest/tests/guest"
elif ! is_built guest || ! is_built module || ! is_built qemu || ! is_built host; then
	record guest 0 1 0 "a build step failed: guest tests not run"
else
	# Binaries first; the unload/reload scripts last, as they replace the module.
	{
		echo '#!/bin/sh'
		echo 'cd /opt/ember/tests'
		# Kernel WARN/BUG lines so far, to tell which test caused one.
		echo "kw() { dmesg | grep -cE 'WARNING: CPU:|BUG: |Oops:|general protection fault|kernel BUG at|UBSAN:|KASAN:|blocked for more than'; }"
		for t in "${tests[@]}" "${scripts_[@]}"; do
			case "$t" in *.sh) run="sh ./$t" ;; *) run="./$t" ;; esac
			echo "echo '@@EMBER-TEST-BEGIN $t'"
			echo "timeout ${EMBER_GUEST_TEST_TIMEOUT:-900} $run; rc=\$?"
			echo "echo; echo \"@@EMBER-TEST-END $t rc=\$rc kernel_warnings=\$(kw)\""
		done
		# the runner itself got to the end (not OOM-killed half-way)
		echo "echo @@EMBER-RUN-ALL-DONE"
	} > "$stage/run-all.sh"
	echo "guest tests: ${tests[*]} ${scripts_[*]}"
	# The models reach the guest over virtio-9p, read-only, never copied
	# into the initramfs. CI has shared/ beside the clone; without it the
	# tests reading /share fail, and this says why.
	models_dir=$(realpath -m "$EMBER_ROOT/../shared/models")
	share_dir=$build/guest-share
	if [ ! -d "$models_dir" ]; then
		record guest:share 0 1 0 "no $models_dir (shared/ beside the clone): the guest has no /share and the tests that read it fail"
	elif ! bash scripts/lib/npu-cases.sh "$build" "$models_dir" "$share_dir"; then
		record guest:share 0 1 0 "scripts/lib/npu-cases.sh could not prepare $share_dir: the guest has no /share"
	else
		share_args=(--share "$share_dir")
	fi
	bash scripts/run-guest.sh --timeout "${EMBER_GUEST_TIMEOUT:-2700}" \
		--log "$logs/guest-console.log" "${share_args[@]}" \
		--add "$stage:/opt/ember/tests" -- 'sh /opt/ember/tests/run-all.sh'
	grc=$?
	echo "guest exit status: $grc"
	if [ -f "$logs/guest-console.log" ]; then
		guest_ok=1
		record_lines < <(python3 scripts/lib/summarize.py guest "$logs/guest-console.log")
		ran_all guest "$logs/guest-console.log"
	else
		record guest 0 1 0 "run-guest.sh failed before booting (exit $grc)"
	fi
	case $grc in
	0) ;;
	124|125) record guest 0 1 0 "guest timed out or crashed (exit $grc)"; guest_ok=0 ;;
	126) record guest 0 1 0 "loading the modules in the guest failed"; guest_ok=0 ;;
	123) record guest 0 1 0 "mounting --share $share_dir at /share in the guest failed"; guest_ok=0 ;;
	*) record guest 0 1 0 "guest test runner exited $grc" ;;
	esac
fi

# ---- 4. devices configured differently -------------------------------------------------------
# guest_variant NAME 'QEMU_GLOBAL...' TEST [ENV]: boot once more with
# "-global QEMU_GLOBAL" (each of the space-separated ones) and run one
# guest test binary; at least one of its
# cases must pass (all skipped would mean the setting never took effect).
guest_variant() {
	local name=$1 global=$2 t=$3 env=${4:-} out run g globals
	[ -f "$stage/$t" ] || { record "$name" 0 1 0 "$t was not built"; return; }
	case "$t" in *.sh) run="sh /opt/ember/tests/$t" ;; *) run="/opt/ember/tests/$t" ;; esac
	section "guest tests on a device with $global"
	{
		echo '#!/bin/sh'
		echo "echo '@@EMBER-TEST-BEGIN $t'"
		echo "$env timeout ${EMBER_GUEST_TEST_TIMEOUT:-900} $run; rc=\$?"
		echo "echo; echo \"@@EMBER-TEST-END $t rc=\$rc\""
	} > "$stage/run-$name.sh"
	globals=()
	for g in $global; do globals+=(--qemu-arg -global --qemu-arg "$g"); done
	bash scripts/run-guest.sh --timeout "${EMBER_GUEST_TIMEOUT:-2700}" \
		--log "$logs/$name-console.log" "${share_args[@]}" "${globals[@]}" \
		--add "$stage:/opt/ember/tests" -- "sh /opt/ember/tests/run-$name.sh"
	echo "guest exit status: $?"
	out=$(python3 scripts/lib/summarize.py guest "$logs/$name-console.log" "$name")
	record_lines <<<"$out"
	grep -qP "^$name:$t\t[1-9]" <<<"$out" ||
		record "$name" 0 1 0 "no case of $t passed: did $global reach the device?"
}
if want guest && [ $guest_ok = 1 ]; then
	# Software must see UNSUPPORTED for what a smaller NPU lacks (no SWIGLU),
	# and the runtime must run the FFN steps on the CPU with the same text.
	guest_variant guest-masked ember-npu.caps-ops-mask=0xdf ember-layer-test
	guest_variant guest-masked-run ember-npu.caps-ops-mask=0xdf ember-npu-run-test.sh \
		"EMBER_NPU_CASES=stories EMBER_EXPECT_PLACEMENT='npu: [0-9]*/[0-9]* attention + embed + output; cpu: [0-9]*/[0-9]* ffn + sampling'"
	# The first job hangs: the driver must time it out and recover the device.
	guest_variant guest-hang ember-npu.inject-hang-job=1 ember-recovery-test \
		EMBER_EXPECT_HANG=1
	guest_variant guest-inject "ember-npu.inject-fault-job=1 ember-npu.inject-bad-completion-job=3 ember-npu.inject-fw-crash-job=5 ember-npu.inject-slow-job=7 ember-npu.inject-hang-job=9" \
		ember-inject-test EMBER_EXPECT_INJECT=1
	# A greedy generation meets each of those failures, then the device
	# dies: the text and token ids equal an undisturbed run's.
	guest_variant guest-recover "ember-npu.inject-fault-job=5 ember-npu.inject-bad-completion-job=12 ember-npu.inject-fw-crash-job=20 ember-npu.inject-slow-job=28 ember-npu.inject-hang-job=37 ember-npu.inject-dead-job=80" \
		ember-recover-test.sh EMBER_EXPECT_RECOVER=1
	# Job 3 hangs and the reset fails: SUBMIT, io_uring and open get ENODEV.
	guest_variant guest-dead ember-npu.inject-dead-job=3 ember-errno-test \
		EMBER_EXPECT_DEAD=1

	# libember and the guest tests with ASan + UBSan (the host build's,
	# dynamically linked, with their libraries staged: static binaries
	# cannot take sanitizers).
	section "guest tests built with ASan + UBSan"
	astage=$build/guest-asan-stage
	if ! bash scripts/lib/guest-asan-stage.sh "$build" "$astage" "${EMBER_ASAN_FUZZ_CALLS:-20000}"; then
		record guest-asan 0 1 0 "scripts/lib/guest-asan-stage.sh failed"
	else
		bash scripts/run-guest.sh --timeout "${EMBER_GUEST_TIMEOUT:-2700}" \
			--log "$logs/guest-asan-console.log" "${share_args[@]}" \
			--add "$astage:/opt/ember/asan" -- 'sh /opt/ember/asan/run-all.sh'
		echo "guest exit status: $?"
		record_lines < <(python3 scripts/lib/summarize.py guest "$logs/guest-asan-console.log" guest-asan)
		ran_all guest-asan "$logs/guest-asan-console.log"
	fi
fi

# ---- 5. device model tests (qtest: the test plays the driver, no guest kernel) --------------
if want guest && is_built qemu; then
	section "device model tests (qemu/tests/ember_qtest.py)"
	python3 qemu/tests/ember_qtest.py "$(ember_qemu)" >"$logs/qtest.log" 2>&1
	qrc=$?
	grep -E '^not ok' "$logs/qtest.log" | head -n 20
	if line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/qtest.log" | tail -n1); then
		read -r qp _ qf _ <<<"$line"
		[ $qrc = 0 ] || [ "$qf" != 0 ] || qf=1
		record device:qtest "$qp" "$qf" 0 "log: $logs/qtest.log"
	else
		record device:qtest 0 1 0 "no summary line (exit $qrc; log: $logs/qtest.log)"
	fi
fi

# ---- 6. the debug kernel ---------------------------------------------------------------------
# Section 3's run-all.sh on the debug kernel, then debug-guest-checks.sh:
# the fuzzer with allocations from ember.ko failing, kmemleak, and no
# KASAN/UBSAN/lockdep/might_sleep/WARN/BUG report in the whole kernel log.
if want debug && [ $guest_ok = 1 ]; then
	section "guest tests on the debug kernel (KASAN, lockdep, kmemleak, UBSAN, fault injection)"
	dmod=$build/debug-kernel/ember.ko
	if ! is_built debug-kernel || [ ! -f "$dmod" ]; then
		record guest-debug 0 1 0 "scripts/build.sh debug-kernel failed: the debug lane did not run"
	elif [ ! -f "$stage/run-all.sh" ] || [ ! -f "$stage/ember-ioctl-fuzz" ] ||
		! grep -qE '^timeout [0-9]+ ' "$stage/run-all.sh"; then
		record guest-debug 0 1 0 "no run-all.sh (with 'timeout N' lines) or ember-ioctl-fuzz in $stage: the debug lane did not run"
	else
		dstage=$stage.debug
		mkdir -p "$dstage"
		cp scripts/lib/debug-guest-checks.sh "$dstage/"
		# run-all.sh with a longer per-test timeout: the checkers make the
		# guest kernel several times slower (ember-ioctl-fuzz: 2.5 -> 8 min).
		# EMBER_KASAN=1 tells the tests that bound meminfo growth (KASAN's
		# quarantine keeps freed objects) to leave leaks to kmemleak.
		sed -E "s/^timeout [0-9]+ /timeout ${EMBER_DEBUG_TEST_TIMEOUT:-2700} /" \
			"$stage/run-all.sh" > "$dstage/run-all.sh"
		# ember.ko's executable sections, for the fault-injection address range
		readelf -SW "$dmod" | sed -n 's/^ *\[ *[0-9]*\] //p' |
			awk '$7 ~ /X/ && $1 !~ /^\.init/ { print $1, "0x" $5 }' > "$dstage/ember.sections"
		rm -f "$logs/guest-debug-console.log"   # never count a stale run
		t_dbg=$SECONDS
		bash scripts/run-guest.sh --debug-kernel --timeout "${EMBER_DEBUG_GUEST_TIMEOUT:-5400}" \
			--log "$logs/guest-debug-console.log" "${share_args[@]}" \
			--add "$stage:/opt/ember/tests" --add "$dstage:/opt/ember/debug" -- \
			"sh /opt/ember/debug/debug-guest-checks.sh start; EMBER_KASAN=1 sh /opt/ember/debug/run-all.sh; sh /opt/ember/debug/debug-guest-checks.sh /opt/ember/debug/ember.sections /opt/ember/tests/ember-ioctl-fuzz ${EMBER_DEBUG_FI_CALLS:-20000}"
		grc=$?
		echo "debug guest exit status: $grc ($((SECONDS - t_dbg)) s)"
		rm -rf "$dstage"
		if [ -f "$logs/guest-debug-console.log" ]; then
			record_lines < <(python3 scripts/lib/summarize.py guest "$logs/guest-debug-console.log" guest-debug)
			ran_all guest-debug "$logs/guest-debug-console.log"
		else
			record guest-debug 0 1 0 "run-guest.sh --debug-kernel failed before booting (exit $grc)"
		fi
		case $grc in
		124|125) record guest-debug 0 1 0 "the debug guest timed out or crashed (exit $grc; log: $logs/guest-debug-console.log)" ;;
		126) record guest-debug 0 1 0 "loading ember.ko into the debug kernel failed" ;;
		123) record guest-debug 0 1 0 "mounting --share at /share in the debug guest failed" ;;
		esac
	fi
fi

# ---- summary ---------------------------------------------------------------------------------
section "summary ($((SECONDS - t_start)) s)"
tp=0 tf=0 ts=0
for r in "${results[@]}"; do
	IFS=$'\t' read -r suite p f s note <<<"$r"
	tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
	status=ok; [ "$f" = 0 ] || status=FAIL
	printf '  %-4s %-34s %4d passed, %3d failed, %3d skipped  %s\n' \
		"$status" "$suite" "$p" "$f" "$s" "$note"
done
[ $guest_ok = 1 ] || echo "  guest tests did not run"
[ $ts = 0 ] || echo "  ($ts skipped, not counted below)"
echo "$tp passed, $tf failed"
[ "$tf" = 0 ] && [ $guest_ok = 1 ]
