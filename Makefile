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

.PHONY: help build test e2e demo bench lint fmt vet proto tools breaking fuzz stress modules clean

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
	@$(MAKE) --no-print-directory modules

MODULES := $(shell sed -n 's|^[[:space:]]*\./||p' go.work)

modules: ## build every workspace module on its own (GOWORK=off: its go.mod must stand alone)
	@set -e; for m in $(MODULES); do echo "GOWORK=off go build ./$$m/..."; (cd $$m && GOWORK=off $(GO) build ./...); done

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.')

proto: tools ## regenerate proto/ebs/v1 Go, gRPC, gateway and OpenAPI code
	buf generate
	cd proto && $(GO) mod tidy

breaking: tools ## buf breaking against AGAINST (default: the main branch)
	buf breaking --against '$(or $(AGAINST),.git#branch=main)'

# $(call tool,BINARY,PACKAGE,VERSION): install PACKAGE@VERSION unless BINARY on
# PATH was built from exactly that module version (go version -m), so every
# machine generates byte-identical code.
tool = @v=$$($(GO) version -m "$$(command -v $(1))" 2>/dev/null | awk '$$1=="mod"{print $$3; exit}'); \
	[ "$$v" = "$(3)" ] || { echo "installing $(2)@$(3)"; $(GO) install $(2)@$(3); }

tools: ## install buf, the protoc plugins and helm at pinned versions (into GOBIN)
	$(call tool,buf,github.com/bufbuild/buf/cmd/buf,$(BUF_VERSION))
	$(call tool,protoc-gen-go,google.golang.org/protobuf/cmd/protoc-gen-go,$(PROTOC_GEN_GO_VERSION))
	$(call tool,protoc-gen-go-grpc,google.golang.org/grpc/cmd/protoc-gen-go-grpc,$(PROTOC_GEN_GRPC_VERSION))
	$(call tool,protoc-gen-grpc-gateway,github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway,$(GRPC_GATEWAY_VERSION))
	$(call tool,protoc-gen-openapiv2,github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2,$(GRPC_GATEWAY_VERSION))
	$(call tool,helm,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

# Fuzz targets, as PACKAGE:TARGET; each runs for FUZZTIME.
FUZZTIME ?= 60s
FUZZ ?= ./libs/koji/wire:FuzzDecodeResponse ./libs/koji/wire:FuzzDecodeCall ./libs/rpmver:FuzzCompareIsAntisymmetric

fuzz: ## run every fuzz target for FUZZTIME (default 60s); failures land in testdata/fuzz
	@set -e; for f in $(FUZZ); do \
	  echo "fuzz $${f#*:} ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$${f#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s "$${f%%:*}"; \
	done

stress: ## the lease-lock tests 20 times under -race (issue 2's check)
	$(GO) test -race -count=20 -run '^TestLock' ./libs/natsx/

clean: ## remove build output
	rm -rf bin
