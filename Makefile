# Flashduty Runner for Kubernetes.
# `make help` lists the targets. Tools are pinned here and installed into
# bin/ with `go install`; nothing is downloaded any other way.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
export PATH := $(CURDIR)/bin:/usr/local/go/bin:$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

BIN := $(CURDIR)/bin
GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/flashduty-runner ./cmd/flashduty-runner
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/flashduty-platform-sim ./cmd/flashduty-platform-sim

.PHONY: fmt
fmt: ## Format the code.
	gofmt -s -w .

.PHONY: vet
vet: ## go vet, and fail on unformatted files.
	@unformatted=$$(gofmt -s -l . | grep -v '^bin/' || true); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

.PHONY: test
test: vet ## Run every test (the command CI runs).
	go test -race -count=1 ./...

.PHONY: bench
bench: ## Run the benchmarks (figures in docs/benchmarks.md).
	go test -run '^$$' -bench . -benchmem ./...

.PHONY: lint
lint: $(BIN)/golangci-lint ## Run golangci-lint.
	$(BIN)/golangci-lint run ./...

$(BIN)/golangci-lint:
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
