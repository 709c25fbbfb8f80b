#!/usr/bin/env bash
# Builds the control plane that envtest needs (etcd, kube-apiserver) and a
# matching kubectl from the Go module proxy, and caches them under
# bin/k8s/<version>/ with a stamp file. Prints the directory to use as
# KUBEBUILDER_ASSETS. setup-envtest cannot download binaries here; see
# docs/development.md.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
out="$PWD/bin/k8s/$K8S_VERSION-etcd$ETCD_VERSION"
stamp="$out/.complete"
if [[ -f "$stamp" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

log() { echo "setup-envtest: $*" >&2; }

# etcd: the server's main package is the module root.
log "building etcd v$ETCD_VERSION"
mkdir -p "$work/etcd" && (
  cd "$work/etcd"
  go mod init envtest/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
  go build -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3
)

# kube-apiserver and kubectl, built as hack/lib/k8s-build.sh says.
# shellcheck source=hack/lib/k8s-build.sh
source hack/lib/k8s-build.sh
k8s_build "$K8S_VERSION" "$out" kube-apiserver kubectl
"$out/kube-apiserver" --version >&2
touch "$stamp"
echo "$out"
