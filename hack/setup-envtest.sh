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

# kube-apiserver and kubectl: k8s.io/kubernetes names its staging modules
# at v0.0.0 with local replaces; replace each with its published version.
log "building kube-apiserver and kubectl v$K8S_VERSION"
mkdir -p "$work/k8s" && (
  cd "$work/k8s"
  minor=${K8S_VERSION#*.}
  staging="v0.$minor"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module envtest/k8s"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "tool ("
    echo "	k8s.io/kubernetes/cmd/kube-apiserver"
    echo "	k8s.io/kubernetes/cmd/kubectl"
    echo ")"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' |
      grep -v -e 'k8s.io/sample-cli-plugin' -e 'k8s.io/sample-controller' |
      while read -r m; do echo "replace $m => $m $staging"; done
  } > go.mod
  go mod tidy >/dev/null 2>&1
  pkg=k8s.io/component-base/version
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ld="-X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor%%.*}"
  go build -trimpath -ldflags "$ld" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build -trimpath -ldflags "$ld" -o "$out/kubectl" k8s.io/kubernetes/cmd/kubectl
)
"$out/kube-apiserver" --version >&2
touch "$stamp"
echo "$out"
