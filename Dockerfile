# syntax=docker/dockerfile:1.7
# Two images from one file:
#   docker build --target runner   -t flashduty-runner .
#   docker build --target operator -t flashduty-operator .
# Base images are pinned to exact versions, and each is a build argument,
# so that an offline build can name local stand-ins (hack/images.sh).

ARG GO_VERSION=1.26.8
ARG KUBECTL_VERSION=v1.37.2
ARG ALPINE_VERSION=3.21.3
ARG DEBIAN_VERSION=12.12
ARG BUILD_IMAGE=golang:${GO_VERSION}-bookworm
ARG KUBECTL_IMAGE=registry.k8s.io/kubectl:${KUBECTL_VERSION}
ARG RUNNER_BASE=debian:${DEBIAN_VERSION}-slim
ARG OPERATOR_BASE=alpine:${ALPINE_VERSION}

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ARG GOPROXY=https://proxy.golang.org,direct
# Fixed cache paths on any Go base, so that a builder can mount caches
# there (hack/images.sh gives buildah this machine's).
ENV GOPROXY=${GOPROXY} GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY runner/ runner/
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/flashduty-runner ./cmd/flashduty-runner && \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flashduty-operator ./cmd/flashduty-operator

# kubectl for the runner, from the official image.
FROM ${KUBECTL_IMAGE} AS kubectl

# The runner: its binary, kubectl and the diagnosis tools the read-only
# presets allow (docs/permissions.md): text tools, jq, curl, dig and
# nslookup, ip and ss, ping, traceroute, lsof, openssl, procps; non-root
# (uid and gid 65532), /workspace as a volume. Debian rather than busybox:
# the sandbox grants execution per program file, and busybox is one file
# for every applet (approving `ls` would let a child run `sh`).
FROM ${RUNNER_BASE} AS runner
RUN apt-get update && apt-get install -y --no-install-recommends \
        procps ca-certificates curl jq dnsutils iproute2 iputils-ping traceroute lsof openssl netcat-openbsd && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 65532 runner && \
    useradd --system --no-create-home --uid 65532 --gid 65532 --shell /usr/sbin/nologin runner && \
    install -d -o 65532 -g 65532 /workspace
COPY --from=build /out/flashduty-runner /usr/local/bin/flashduty-runner
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
# The Flashduty CLI that the platform's Flashduty skill runs, when the
# build context's FLASHDUTY_CLI_DIR holds it (empty by default: the CLI
# comes with Flashduty's releases, not the Go module proxy).
ARG FLASHDUTY_CLI_DIR=hack/no-cli
COPY ${FLASHDUTY_CLI_DIR}/ /usr/local/lib/flashduty-runner/bin/
RUN rm -f /usr/local/lib/flashduty-runner/bin/.keep
# No FLASHDUTY_RUNNER_* variables: the operator runs the runner with
# --env-overrides=api-key, which refuses them. The workspace is a flag of
# the default command instead (the operator passes its own arguments).
ENV HOME=/tmp
VOLUME ["/workspace"]
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/flashduty-runner"]
CMD ["run", "--workspace-root", "/workspace"]

# The operator: its binary only, non-root.
FROM ${OPERATOR_BASE} AS operator
COPY --from=build /out/flashduty-operator /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
