# syntax=docker/dockerfile:1.7
# Two images from one file:
#   docker build --target runner   -t flashduty-runner .
#   docker build --target operator -t flashduty-operator .
# Base images are pinned to exact versions.

ARG GO_VERSION=1.26.8
ARG KUBECTL_VERSION=v1.37.2
ARG ALPINE_VERSION=3.21.3
ARG DEBIAN_VERSION=12.12

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
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
FROM registry.k8s.io/kubectl:${KUBECTL_VERSION} AS kubectl

# The runner: its binary, kubectl and the everyday tools the permission
# presets name (cat, ls, grep, ps, df, free…), non-root, /workspace as a
# volume. Debian rather than busybox: the sandbox grants execution per
# program file, and busybox is one file for every applet (approving `ls`
# would let a child run `sh`).
FROM debian:${DEBIAN_VERSION}-slim AS runner
RUN apt-get update && apt-get install -y --no-install-recommends procps ca-certificates && rm -rf /var/lib/apt/lists/* && \
    useradd --system --no-create-home --uid 65532 --shell /usr/sbin/nologin runner && install -d -o 65532 -g 65532 /workspace
COPY --from=build /out/flashduty-runner /usr/local/bin/flashduty-runner
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
# The Flashduty CLI that the platform's Flashduty skill runs, when the
# build context's FLASHDUTY_CLI_DIR holds it (empty by default: the CLI
# comes with Flashduty's releases, not the Go module proxy).
ARG FLASHDUTY_CLI_DIR=hack/no-cli
COPY ${FLASHDUTY_CLI_DIR}/ /usr/local/lib/flashduty-runner/bin/
RUN rm -f /usr/local/lib/flashduty-runner/bin/.keep
ENV FLASHDUTY_RUNNER_WORKSPACE_ROOT=/workspace HOME=/tmp
VOLUME ["/workspace"]
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/flashduty-runner"]
CMD ["run"]

# The operator: its binary only, non-root.
FROM alpine:${ALPINE_VERSION} AS operator
COPY --from=build /out/flashduty-operator /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
