# iot-hub agent. Every target works on a fresh machine with Go 1.26.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
BENCHTIME   ?= 1s
BENCHCOUNT  ?= 3
OUTBOX_RECORDS ?= 1000000
# VERSION is what `bin/agent version` prints.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)

.PHONY: all build agent run test lint bench fuzz generate tidy

all: lint test build

## build: compile bin/agent (with VERSION) and every package.
build: agent
	$(GO) build ./...

## agent: compile bin/agent, the daemon, with VERSION.
agent:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/agent ./cmd/agent

## run: start the demo (examples/demo.yaml): the agent with its embedded
## MQTT broker on 127.0.0.1:1883 and a simulated sensor read every second;
## its state goes to ./var. Stop it with Ctrl-C.
run: agent
	bin/agent run --config examples/demo.yaml

## test: run every test, fuzz seed corpora included, with the race detector;
## then the outbox again as a 32-bit build (GOARCH=386 runs on amd64), for
## the limits of a 32-bit memory map.
test:
	$(GO) test -race -count=1 ./...
	GOARCH=386 $(GO) test -count=1 ./agent/outbox/

## lint: go vet, gofmt, go mod tidy and staticcheck must all be clean.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...

## bench: run the benchmarks and print a table with ratios to the baselines
## measured in the same run. BenchmarkAgentCPU (two agents side by side
## for a minute, one reading 50 sensors a second) runs once. The outbox's
## benchmarks run on their own: BenchmarkAppend like the others, the heavy
## ones (a million records each, OUTBOX_RECORDS) once, as their numbers do
## not depend on -benchtime.
bench:
	{ $(GO) test -run '^$$' -bench . -skip '^BenchmarkAgentCPU$$' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $$($(GO) list ./... | grep -v '/agent/outbox$$') && \
	  $(GO) test -run '^$$' -bench '^BenchmarkAgentCPU$$' -benchtime 1x -count 1 ./cmd/agent && \
	  $(GO) test -run '^$$' -bench '^BenchmarkAppend$$' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./agent/outbox && \
	  $(GO) test -run '^$$' -bench . -skip '^BenchmarkAppend$$' -benchmem -benchtime 1x -count 1 -timeout 30m ./agent/outbox -outbox.records $(OUTBOX_RECORDS); \
	} | tee bench.out | $(GO) run ./internal/benchtable

## fuzz: run every fuzz target for FUZZTIME each (default 30s).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

## generate: regenerate generated files (contracts/schema).
generate:
	$(GO) generate ./...
