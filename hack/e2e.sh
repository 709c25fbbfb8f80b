#!/usr/bin/env bash
# The end-to-end tier: builds the images (hack/images.sh), starts a real
# one-node cluster with them (hack/cluster.sh), runs test/e2e against it
# and stops the cluster whatever happened. Fails, never skips, when the
# machine cannot run it: the reason is printed.
#   hack/e2e.sh          HELM=… VERSION=… COMMIT=… K8S_VERSION=… in the environment (make e2e sets them)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n "${HELM:-}" ]] || { echo "e2e: HELM is not set (make e2e installs the pinned helm)" >&2; exit 1; }
export CLUSTER_DIR=${CLUSTER_DIR:-${TMPDIR:-/tmp}/flashduty-e2e-cluster}
hack/images.sh
# shellcheck source=/dev/null
source bin/images/images.env
state=$(mktemp -d)
hack/cluster.sh host-state >"$state/before"
# The cluster is stopped whatever happened, and the host must then be as
# it was: a difference fails the tier.
finish() {
	local rc=$?
	hack/cluster.sh down || rc=1
	hack/cluster.sh host-state >"$state/after"
	# Lines gone or new; a sysctl that only appeared is a kernel module
	# loaded on the way (conntrack, br_netfilter), at its defaults.
	awk 'NR == FNR { before[$0] = 1; if ($1 == "sysctl") { split($2, kv, "="); had[kv[1]] = 1 }; next }
		{ after[$0] = 1; if (!($0 in before)) { split($2, kv, "="); if ($1 != "sysctl" || kv[1] in had) print "+ " $0 } }
		END { for (l in before) if (!(l in after)) print "- " l }' "$state/before" "$state/after" >"$state/diff"
	if [[ -s "$state/diff" ]]; then
		echo "e2e: the cluster left the host changed (- before, + after):" >&2
		cat "$state/diff" >&2
		rc=1
	fi
	rm -rf "$state"
	exit "$rc"
}
trap finish EXIT
hack/cluster.sh up "$RUNNER_ARCHIVE" "$OPERATOR_ARCHIVE"
E2E_CLUSTER_ENV=$CLUSTER_DIR/env E2E_RUNNER_IMAGE=$RUNNER_IMAGE E2E_OPERATOR_IMAGE=$OPERATOR_IMAGE \
	go test -tags e2e -count=1 -timeout 20m -v ./test/e2e
