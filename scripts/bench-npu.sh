#!/usr/bin/env bash
# One model, three places, one go:
#   host-cpu   ember-run --bench on this machine's CPU (a release build,
#              cached in build-rel/)
#   guest-cpu  ember-run --bench --device cpu in the QEMU guest (TCG)
#   guest-npu  ember-run --bench --device npu in the same guest boot, the
#              device's compute threads = --threads; then `ember-bench
#              device` (jobs/s through io_uring and the ioctl, per-op
#              device time, the forward pass's overhead on this model)
#
#   scripts/bench-npu.sh MODEL.gguf [ember-run bench options]
#
# e.g. scripts/bench-npu.sh /tmp/smol-q8.gguf --threads 2 --prefill 128 -n 64
#
# The options go to every ember-run (--threads N: default all host CPUs;
# the guest has 2 vCPUs). The guest's CPU is emulated (TCG) and very slow,
# so guest-cpu uses its own token counts: --prefill $EMBER_GUEST_CPU_PREFILL
# (16) -n $EMBER_GUEST_CPU_DECODE (8) --reps $EMBER_GUEST_CPU_REPS (1),
# after the options given. The model's directory is shared read-only with
# the guest (run-guest.sh --share), whose RAM is 2x the file + 1 GiB.
#
# Output (stdout), JSON lines:
#   {"where": "info", ...}        the host CPU (figures from other hosts are
#                                 not comparable), threads, token counts, the
#                                 load average before and after
#   {"where": W, "phase": P, ...} ember-run --bench --json's row, plus where
#                                 and host_cpu, for W in host-cpu, guest-cpu,
#                                 guest-npu and P in prefill, decode
#   {"ratio": R, ...}             guest-npu/host-cpu (prefill, decode),
#                                 guest-npu/guest-cpu (decode), io_uring/ioctl
#                                 jobs/s at batch 64 (NOP and MATMUL jobs)
#   {"where": "guest-npu", "bench": "ember-bench device forward decode", ...}
#                                 wall, device busy, overhead (their
#                                 difference) and CPU ms per token
# Everything the guest printed, ember-bench device's rows among it, goes
# to $EMBER_BENCH_OUT (default build-rel/bench-npu/), named on stderr.
# EMBER_BENCH_DEVICE_ARGS: more ember-bench device options (e.g. --time 1);
# EMBER_BENCH_TIMEOUT: seconds for the guest boot (default 3600).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

[ $# -ge 1 ] || die "usage: scripts/bench-npu.sh MODEL.gguf [ember-run bench options]"
model=$1
shift
[ -f "$model" ] || die "model '$model' not found (a GGUF file; ember-mkmodel writes benchmark models)"
[ -r "$model" ] || die "model '$model' is not readable"
model=$(realpath "$model")
name=${model##*/}
dir=${model%/*}
opts=("$@")
for o in "${opts[@]}"; do
	case "$o" in
	-m|--model|--device|--json|--bench) die "'$o' is set by bench-npu.sh; give only bench options (--threads, --prefill, -n, --reps, --kv-type, ...)" ;;
	*[\'\"\\\$\`]*) die "option '$o' has quotes or shell characters; the guest's shell would read them differently" ;;
	esac
done
threads=
for ((i = 0; i < ${#opts[@]}; i++)); do
	case "${opts[i]}" in
	--threads) threads=${opts[i + 1]:-} ;;
	--threads=*) threads=${opts[i]#--threads=} ;;
	esac
done
if [ -z "$threads" ]; then
	threads=$(nproc)
	opts+=(--threads "$threads")
fi
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads wants a positive integer, got '$threads'"
[ "$threads" -le 2 ] ||
	note "warning: --threads $threads, but the guest has 2 vCPUs: guest-cpu runs $threads threads on 2 CPUs"
gc_prefill=${EMBER_GUEST_CPU_PREFILL:-16}
gc_decode=${EMBER_GUEST_CPU_DECODE:-8}
gc_reps=${EMBER_GUEST_CPU_REPS:-1}
for v in gc_prefill gc_decode gc_reps; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || die "EMBER_GUEST_CPU_* wants whole numbers, got '${!v}'"
done
# "AMD EPYC" alone names no CPU: family, model and stepping go with it
host_cpu=$(awk -F': *' '/^model name/ { n = $2 } /^cpu family/ { f = $2 } /^model\t/ { m = $2 }
	/^stepping/ { s = $2 } /^$/ { exit } END { printf "%s (family %s, model %s, stepping %s)", n, f, m, s }' /proc/cpuinfo)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
out=${EMBER_BENCH_OUT:-$EMBER_ROOT/build-rel/bench-npu}
mkdir -p "$out"

# ---- builds (cached) -----------------------------------------------------------
rel=$EMBER_ROOT/build-rel
if [ ! -f "$rel/build.ninja" ]; then
	note "configuring $rel (release)"
	meson setup "$rel" "$EMBER_ROOT" --buildtype=release >&2
fi
ninja -C "$rel" tools/ember-run/ember-run >&2 || die "building the release ember-run in $rel failed"
# the guest's static tools, the module, QEMU and the firmware image
bash "$EMBER_ROOT/scripts/build.sh" guest module qemu >&2 || die "scripts/build.sh guest module qemu failed"

# ---- host-cpu ------------------------------------------------------------------
note "host-cpu: ember-run --bench ${opts[*]} on $host_cpu"
"$rel/tools/ember-run/ember-run" -m "$model" --bench --json --device cpu "${opts[@]}" \
	> "$out/host-cpu.json" 2> "$out/host-cpu.err" ||
	{ cat "$out/host-cpu.err" >&2; die "the host-cpu bench failed (above)"; }

# ---- the guest: guest-npu, ember-bench device, guest-cpu in one boot ------------
size_mib=$(( ($(stat -c %s "$model") + (1 << 20) - 1) >> 20 ))
mem=$(( 2 * size_mib + 1024 ))M
q="${opts[*]}"
# each command's stdout as @@BENCH lines, its stderr as @@ERR lines
run_tagged() { # TAG COMMAND
	printf '%s >/tmp/o 2>/tmp/e; rc=$?; sed "s/^/@@BENCH %s /" /tmp/o; sed "s/^/@@ERR %s /" /tmp/e; echo "@@RC %s $rc"\n' \
		"$2" "$1" "$1" "$1"
}
guest_cmd=$(
	run_tagged guest-npu "ember-run -m /share/$name --bench --json --device npu $q"
	run_tagged device "ember-bench device --json --threads $threads --model /share/$name ${EMBER_BENCH_DEVICE_ARGS:-}"
	run_tagged guest-cpu "ember-run -m /share/$name --bench --json --device cpu $q --prefill $gc_prefill -n $gc_decode --reps $gc_reps"
)
note "guest: $name shared from $dir, --mem $mem, ember-npu.compute-threads=$threads"
set +e
bash "$EMBER_ROOT/scripts/run-guest.sh" --share "$dir" --mem "$mem" \
	--qemu-arg -global --qemu-arg "ember-npu.compute-threads=$threads" \
	--timeout "${EMBER_BENCH_TIMEOUT:-3600}" --log "$out/guest-console.log" \
	-- "$guest_cmd" > /dev/null
grc=$?
set -e
[ $grc = 0 ] || die "the guest run failed (exit $grc); its console: $out/guest-console.log"
for t in guest-npu device guest-cpu; do
	sed -n "s/^@@BENCH $t //p" "$out/guest-console.log" > "$out/$t.json"
	sed -n "s/^@@ERR $t //p" "$out/guest-console.log" > "$out/$t.err"
	rc=$(sed -n "s/^@@RC $t //p" "$out/guest-console.log")
	[ "$rc" = 0 ] || { cat "$out/$t.err" >&2; die "$t in the guest exited ${rc:-without a status} (above; console: $out/guest-console.log)"; }
done
note "raw outputs: $out/{host-cpu,guest-npu,guest-cpu,device}.json"

# ---- the report ----------------------------------------------------------------
python3 - "$out" "$host_cpu" "$threads" "$gc_prefill" "$gc_decode" "$gc_reps" "$q" "$name" \
	"$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, sys

out, host_cpu, threads, gc_prefill, gc_decode, gc_reps, opts, model_file, load0, load1 = sys.argv[1:]


def rows(name):
    res = []
    with open(os.path.join(out, name + ".json")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                res.append(json.loads(line))
    return res


print(json.dumps({
    "where": "info", "host_cpu": host_cpu, "threads": int(threads),
    "options": opts, "model_file": model_file,
    "load_average": {"start": load0, "end": load1},
    "guest_cpu_tokens": {"prefill": int(gc_prefill), "decode": int(gc_decode),
                         "reps": int(gc_reps)},
    "note": "guest-cpu runs the guest's emulated CPU (TCG) with its own smaller token counts "
            f"(--prefill {gc_prefill} -n {gc_decode} --reps {gc_reps}; EMBER_GUEST_CPU_PREFILL, "
            "_DECODE, _REPS); guest-npu computes on this host's threads "
            f"(ember-npu.compute-threads={threads}); figures from another host are not comparable"}))
speed = {}
for where in ("host-cpu", "guest-cpu", "guest-npu"):
    for r in rows(where):
        row = {"where": where, "phase": r["phase"], "tokens_per_s": r["tokens_per_s"],
               "model": r["model"], "model_file": model_file,
               "cpu_ms_per_token": r["cpu_ms_per_token"]}
        row.update({k: v for k, v in r.items() if k not in row})
        row["host_cpu"] = host_cpu
        speed[(where, r["phase"])] = r["tokens_per_s"]
        print(json.dumps(row))
model = rows("host-cpu")[0]["model"]


def ratio(name, phase, a, b):
    if a in speed and b in speed and speed[b] > 0:
        print(json.dumps({"ratio": name, "phase": phase, "value": round(speed[a] / speed[b], 4),
                          "model": model, "model_file": model_file, "host_cpu": host_cpu}))


ratio("guest-npu/host-cpu", "prefill", ("guest-npu", "prefill"), ("host-cpu", "prefill"))
ratio("guest-npu/host-cpu", "decode", ("guest-npu", "decode"), ("host-cpu", "decode"))
ratio("guest-npu/guest-cpu", "decode", ("guest-npu", "decode"), ("guest-cpu", "decode"))
dev = rows("device")
for job in ("nop", "matmul"):
    r = [x for x in dev if x.get("job") == job and x.get("batch") == 64 and x.get("path") == "io_uring"]
    if r:
        print(json.dumps({"ratio": "io_uring/ioctl", "job": job, "batch": 64,
                          "value": r[0]["ratio"], "io_uring_jobs_per_s": r[0]["value"],
                          "ioctl_jobs_per_s": r[0]["baseline"], "host_cpu": host_cpu}))
fwd = [x for x in dev if x.get("op") == "forward"]
if fwd:
    f = fwd[0]
    print(json.dumps({"where": "guest-npu", "bench": "ember-bench device forward decode",
                      "model": f["model"], "tokens": f["tokens"],
                      "wall_ms_per_token": f["wall_ms_per_token"],
                      "busy_ms_per_token": f["busy_ms_per_token"],
                      "overhead_ms_per_token": f["overhead_ms_per_token"],
                      "cpu_ms_per_token": f["cpu_ms_per_token"], "host_cpu": host_cpu}))
PY
