# Sourced by hack/setup-envtest.sh and hack/setup-cluster.sh.
#
# k8s_build VERSION OUT COMMAND... builds Kubernetes commands (cmd/NAME of
# k8s.io/kubernetes at VERSION) from the Go module proxy into OUT, static
# and reporting the real version. k8s.io/kubernetes names its staging
# modules at v0.0.0 with local replaces, so `go install` cannot build it:
# a throwaway module requires it, names the commands as tools (or `go mod
# tidy` drops the requirement) and replaces each staging module with its
# published version.
k8s_build() {
  local version=$1 out=$2
  shift 2
  local work minor staging gomod cmd pkg ld
  work=$(mktemp -d)
  minor=${version#*.}
  staging="v0.$minor"
  (
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
    gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -n "$gomod" ]] || { echo "k8s_build: k8s.io/kubernetes@v$version is not on the module proxy" >&2; exit 1; }
    {
      printf 'module throwaway/k8s\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\ntool (\n' "$version"
      for cmd in "$@"; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$cmd"; done
      printf ')\n\n'
      grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' |
        grep -v -e 'k8s.io/sample-cli-plugin' -e 'k8s.io/sample-controller' |
        while read -r m; do echo "replace $m => $m $staging"; done
    } >go.mod
    go mod tidy >/dev/null 2>&1 || { go mod tidy; exit 1; }
    pkg=k8s.io/component-base/version
    ld="-X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean"
    ld="$ld -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=v$version -X k8s.io/client-go/pkg/version.gitMajor=1"
    ld="$ld -X k8s.io/client-go/pkg/version.gitMinor=${minor%%.*}"
    for cmd in "$@"; do
      echo "k8s_build: $cmd v$version" >&2
      go build -trimpath -ldflags "$ld" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
}
