#!/usr/bin/env bash
# Builds the node and controller binaries of a one-node cluster
# (kube-controller-manager, kube-scheduler, kubelet, kube-proxy) from the
# Go module proxy and caches them under bin/cluster/<version>/ with a stamp
# file; etcd, kube-apiserver and kubectl come from hack/setup-envtest.sh.
# Prints the directory. hack/cluster.sh uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=${K8S_VERSION:-1.37.2}
out="$PWD/bin/cluster/$K8S_VERSION"
if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi
# shellcheck source=hack/lib/k8s-build.sh
source hack/lib/k8s-build.sh
mkdir -p "$out"
k8s_build "$K8S_VERSION" "$out" kube-controller-manager kube-scheduler kubelet kube-proxy
"$out/kubelet" --version >&2
touch "$out/.complete"
echo "$out"
