#!/usr/bin/env bash
# Builds the runner and operator images into archives under bin/images/:
# with a Docker engine when there is one; otherwise with buildah, from
# local stand-ins for the base images when the public ones cannot be
# pulled (a Debian root made by debootstrap from the configured mirror,
# this machine's Go, the kubectl hack/setup-envtest.sh built).
#   hack/images.sh            VERSION=… COMMIT=… K8S_VERSION=… in the environment
set -euo pipefail
cd "$(dirname "$0")/.."
out=bin/images
mkdir -p "$out"
version=${VERSION:-dev}
commit=${COMMIT:-unknown}
k8s=${K8S_VERSION:-1.37.2}
tag=${version//+/-} # an image tag has no +
runner=flashduty-runner:$tag
operator=flashduty-operator:$tag

# describe RUNNER OPERATOR RUNNER_ARCHIVE OPERATOR_ARCHIVE: what was built,
# for hack/e2e.sh and people.
describe() {
	printf 'RUNNER_IMAGE=%s\nOPERATOR_IMAGE=%s\nRUNNER_ARCHIVE=%s\nOPERATOR_ARCHIVE=%s\n' "$@" >"$out/images.env"
	echo "images: $1 in $3, $2 in $4"
}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker build --target runner --build-arg VERSION="$version" --build-arg COMMIT="$commit" -t "$runner" .
	docker build --target operator --build-arg VERSION="$version" -t "$operator" .
	docker save -o "$out/flashduty-runner.tar" "$runner"
	docker save -o "$out/flashduty-operator.tar" "$operator"
	describe docker.io/library/"$runner" docker.io/library/"$operator" "$out/flashduty-runner.tar" "$out/flashduty-operator.tar"
	exit 0
fi
for tool in buildah podman runc; do
	command -v "$tool" >/dev/null || {
		echo "images: no Docker engine, and $tool is missing (apt-get install buildah podman runc debootstrap)" >&2
		exit 1
	}
done

# The Go stage uses this machine's module and build caches: a build after
# the tests compiles little.
bud=(buildah bud --runtime runc --network host --layers --build-arg VERSION="$version" --build-arg COMMIT="$commit" --build-arg GOPROXY="$(go env GOPROXY)"
	--volume "$(go env GOMODCACHE):/go/pkg/mod" --volume "$(go env GOCACHE):/root/.cache/go-build")
if ! buildah pull --quiet docker.io/library/debian:12.12-slim >/dev/null 2>&1; then
	echo "images: the public base images cannot be pulled; building local stand-ins" >&2
	base=localhost/stand-in/debian:bookworm-slim
	if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
		command -v debootstrap >/dev/null || { echo "images: debootstrap is missing" >&2; exit 1; }
		mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
		mirror=${mirror:-http://deb.debian.org/debian}
		root=$(mktemp -d)
		trap 'rm -rf "$root"' EXIT
		debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
		# Slimmed as Debian's -slim images are: no docs, manuals or
		# locales, and apt keeps no package files.
		printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/info/*\n' >"$root/etc/dpkg/dpkg.cfg.d/docker"
		printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n' >"$root/etc/apt/apt.conf.d/docker-clean"
		rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
		tar -C "$root" -c . | podman import - "$base" >/dev/null
	fi
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx" ${root:+"$root"}' EXIT
	# Go: this machine's toolchain and the CA bundle the route to the
	# module proxy needs.
	cp -a "$(go env GOROOT)" "$ctx/go"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
	printf 'FROM %s\nCOPY go /usr/local/go\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/bin:/usr/bin:/bin\n' "$base" >"$ctx/Containerfile.go"
	buildah bud --runtime runc --layers -q -f "$ctx/Containerfile.go" -t localhost/stand-in/golang:local "$ctx" >/dev/null
	rm -rf "$ctx/go"
	# kubectl: the one hack/setup-envtest.sh builds from the module proxy.
	kubectl_bin=$(ls bin/k8s/"$k8s"-*/kubectl 2>/dev/null | head -1)
	[ -n "$kubectl_bin" ] || kubectl_bin=$(K8S_VERSION=$k8s hack/setup-envtest.sh)/kubectl
	cp "$kubectl_bin" "$ctx/kubectl"
	printf 'FROM scratch\nCOPY kubectl /bin/kubectl\n' >"$ctx/Containerfile.kubectl"
	buildah bud --runtime runc -q -f "$ctx/Containerfile.kubectl" -t localhost/stand-in/kubectl:"$k8s" "$ctx" >/dev/null
	bud+=(--build-arg BUILD_IMAGE=localhost/stand-in/golang:local --build-arg KUBECTL_IMAGE=localhost/stand-in/kubectl:"$k8s"
		--build-arg RUNNER_BASE="$base" --build-arg OPERATOR_BASE="$base")
fi
"${bud[@]}" --target runner -t "localhost/$runner" .
"${bud[@]}" --target operator -t "localhost/$operator" .
rm -f "$out/flashduty-runner.oci.tar" "$out/flashduty-operator.oci.tar"
podman save --format oci-archive -o "$out/flashduty-runner.oci.tar" "localhost/$runner"
podman save --format oci-archive -o "$out/flashduty-operator.oci.tar" "localhost/$operator"
describe "localhost/$runner" "localhost/$operator" "$out/flashduty-runner.oci.tar" "$out/flashduty-operator.oci.tar"
