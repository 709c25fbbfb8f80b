# Flashduty Runner for Kubernetes.
# `make help` lists the targets. Tools are pinned here and installed into
# bin/ with `go install`; nothing is downloaded any other way.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
export PATH := $(CURDIR)/bin:/usr/local/go/bin:$(PATH)

# The release: a semantic version (the platform compares the one each
# runner reports), with the commit as build metadata.
RELEASE := 0.9.0
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION ?= $(RELEASE)+$(COMMIT)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

BIN := $(CURDIR)/bin
GOLANGCI_LINT_VERSION ?= v2.15.0
CONTROLLER_GEN_VERSION ?= v0.23.0
# The control plane for envtest, built from the Go module proxy by
# hack/setup-envtest.sh and cached under bin/k8s/.
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
HELM_VERSION ?= v3.22.0
HELM := $(BIN)/helm-$(HELM_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/flashduty-runner ./cmd/flashduty-runner
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/flashduty-platform-sim ./cmd/flashduty-platform-sim
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o $(BIN)/flashduty-operator ./cmd/flashduty-operator

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and the operator's RBAC from the code markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=flashduty-operator paths=./controllers/... output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files are not committed.
	@if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- api config charts; then \
		git diff --stat -- api config charts; echo "generated files are stale: run make manifests generate and commit"; exit 1; fi

.PHONY: envtest
envtest: ## Build (once) the kube-apiserver, etcd and kubectl that tests use.
	@K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/setup-envtest.sh >/dev/null

.PHONY: fmt
fmt: ## Format the code.
	gofmt -s -w .

.PHONY: vet
vet: ## go vet, and fail on unformatted files.
	@unformatted=$$(gofmt -s -l . | grep -v '^bin/' || true); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./test/e2e

.PHONY: test
test: vet lint verify-generated envtest $(HELM) ## Run every test, both tiers (the command CI runs).
	HELM=$(HELM) KUBEBUILDER_ASSETS=$$(K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/setup-envtest.sh) \
		go test -race -count=1 ./...
	$(MAKE) --no-print-directory demo
	$(MAKE) --no-print-directory e2e

.PHONY: e2e
e2e: envtest $(HELM) ## The end-to-end tier: the images on a real one-node cluster, installed with helm (needs root).
	HELM=$(HELM) VERSION=$(VERSION) COMMIT=$(COMMIT) K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/e2e.sh

.PHONY: cluster-up cluster-down
cluster-up: envtest images ## Start the one-node cluster with the images (hack/cluster.sh; needs root).
	source bin/images/images.env && K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/cluster.sh up "$$RUNNER_ARCHIVE" "$$OPERATOR_ARCHIVE"
cluster-down: ## Stop the one-node cluster and restore the host.
	hack/cluster.sh down

.PHONY: bench
bench: envtest ## Run the benchmarks (figures in docs/benchmarks.md).
	KUBEBUILDER_ASSETS=$$(hack/setup-envtest.sh) go test -run '^$$' -bench . -benchmem ./...

.PHONY: demo
demo: build envtest ## Play the whole story locally: control plane, operator, simulator, runner.
	go run ./hack/demo -bin $(BIN) -assets $$(hack/setup-envtest.sh)

GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

IMAGE_REPO ?= ghcr.io/flashcatcloud/flashduty-runner-k8s
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.PHONY: images
images: ## Build the runner and operator images into bin/images/ (a Docker engine, or buildah with local stand-in bases offline).
	VERSION=$(VERSION) COMMIT=$(COMMIT) K8S_VERSION=$(K8S_VERSION) hack/images.sh

.PHONY: docker-build
docker-build: ## Build the runner and operator images (needs a Docker engine).
	docker build --target runner --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE_REPO)/runner:$(VERSION) .
	docker build --target operator --build-arg VERSION=$(VERSION) -t $(IMAGE_REPO)/operator:$(VERSION) .

.PHONY: release
release: ## Build the stand-alone runner archives and checksums into dist/.
	rm -rf dist && mkdir -p dist
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		name_os=$$( [ $$os = linux ] && echo Linux || echo Darwin ); \
		name_arch=$$( [ $$arch = amd64 ] && echo x86_64 || echo arm64 ); \
		dir=dist/flashduty-runner_$${name_os}_$${name_arch}; mkdir -p $$dir; \
		echo "building $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/flashduty-runner ./cmd/flashduty-runner; \
		cp LICENSE README.md hack/flashduty-runner.service $$dir/; \
		tar -C $$dir -czf $$dir.tar.gz flashduty-runner LICENSE README.md flashduty-runner.service; \
		rm -rf $$dir; \
	done
	cd dist && sha256sum *.tar.gz > checksums.txt && cat checksums.txt

# helm reports its version and assumes a Kubernetes version through
# variables set at link time.
$(HELM):
	GOBIN=$(BIN) go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37" \
		helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(BIN)/helm $@

.PHONY: helm
helm: $(HELM) ## Install the pinned helm into bin/.
