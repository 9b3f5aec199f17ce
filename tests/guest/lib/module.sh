# SPDX-License-Identifier: MIT
# Module helpers for the guest test scripts that unload ember.ko (sourced,
# with $dir the directory of the test binaries and $ko the module file).
mem() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
module_loaded() { grep -q '^ember ' /proc/modules; }
node_present() { ls /dev/accel/accel* >/dev/null 2>&1; }
# the module back: ember-modules (run-guest.sh) or insmod $ko
load() {
	if command -v ember-modules >/dev/null 2>&1; then
		ember-modules load
	else
		insmod "$ko"
	fi
}
# wait up to 10 s for the accel node after insmod (probe is asynchronous)
wait_node() {
	i=0
	while [ $i -lt 100 ]; do
		node_present && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# one checked job (ember-probe-test's perf case); its log as TAP comments
good_job() { "$dir/ember-probe-test" -t perf_counts_jobs >/tmp/good-job.log 2>&1 ||
	{ sed 's/^/# /' /tmp/good-job.log; return 1; }; }
