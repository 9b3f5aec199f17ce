# SPDX-License-Identifier: MIT
# TAP helpers for the guest test scripts (sourced): ok, not_ok and
# check DESCRIPTION COMMAND..., counting into $n and $fails.
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
check() {
	d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
