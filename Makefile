# ebs — see README.md. Every target works from a fresh clone.
SHELL := /bin/bash
GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

# Pinned tool versions (go line <= the machine's Go).
BUF_VERSION            ?= v1.75.0
PROTOC_GEN_GO_VERSION  ?= v1.36.12
PROTOC_GEN_GRPC_VERSION ?= v1.6.2
GRPC_GATEWAY_VERSION   ?= v2.33.0
HELM_VERSION           ?= v3.22.0

# Tests always run for real (-count=1): they talk to live services.
TESTFLAGS ?= -count=1 -race -timeout 20m
PKGS ?= work

.PHONY: help build test e2e demo bench lint fmt vet proto tools breaking clean

help: ## show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p bin
	$(GO) build -o bin/ github.com/fedora-eln/ebs/services/...
	@ls bin

test: ## go vet + go test -race across every module of the workspace
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

# End-to-end and chaos tests: every service as its own process (build tag e2e).
E2EFLAGS ?= -count=1 -timeout 20m

e2e: ## end-to-end and chaos tests: the real binaries as processes (needs PostgreSQL and RabbitMQ)
	$(GO) vet -tags e2e ./services/ebs/e2e/
	$(GO) test -tags e2e $(E2EFLAGS) ./services/ebs/e2e/

demo: ## build and run `ebs demo` (flags in ARGS, e.g. make demo ARGS=--exit-when-done)
	@mkdir -p bin
	$(GO) build -o bin/ebs ./services/ebs
	./bin/ebs demo $(ARGS)

bench: ## measure ebs against raw JetStream, RabbitMQ and the original's Koji pattern (bench/results.json, tables on stdout; ARGS for ebsbench flags)
	$(GO) run ./libs/benchkit/cmd/ebsbench -out bench/results.json $(ARGS)

lint: tools ## gofmt check, go vet, buf lint, helm chart + compose.yaml validation
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	buf lint
	cd deploy/check && GOWORK=off $(GO) test -count=1 ./...

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.')

proto: tools ## regenerate proto/ebs/v1 Go, gRPC, gateway and OpenAPI code
	buf generate
	cd proto && $(GO) mod tidy

breaking: tools ## buf breaking against AGAINST (default: the main branch)
	buf breaking --against '$(or $(AGAINST),.git#branch=main)'

tools: ## install buf, the protoc plugins and helm at pinned versions (into GOBIN)
	@command -v buf >/dev/null && buf --version | grep -q $(BUF_VERSION:v%=%) || $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@command -v protoc-gen-go >/dev/null || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@command -v protoc-gen-go-grpc >/dev/null || $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)
	@command -v protoc-gen-grpc-gateway >/dev/null || $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	@command -v protoc-gen-openapiv2 >/dev/null || $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	@command -v helm >/dev/null || $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

clean: ## remove build output
	rm -rf bin
