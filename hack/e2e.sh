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
trap 'hack/cluster.sh down' EXIT
hack/cluster.sh up "$RUNNER_ARCHIVE" "$OPERATOR_ARCHIVE"
E2E_CLUSTER_ENV=$CLUSTER_DIR/env E2E_RUNNER_IMAGE=$RUNNER_IMAGE E2E_OPERATOR_IMAGE=$OPERATOR_IMAGE \
	go test -tags e2e -count=1 -timeout 20m -v ./test/e2e
