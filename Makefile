# iot-hub agent. Every target works on a fresh machine with Go 1.26.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO          ?= go
# net/http's bundled HTTP/2 is left out of every build and test: the agent
# needs none (its health endpoint is on loopback, an update is one file
# over HTTPS/1.1), and it is 450 KB of an ARM binary, which must stay
# within MAX_BINARY_MIB.
export GOFLAGS := $(strip $(GOFLAGS) -tags=nethttpomithttp2)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
BENCHTIME   ?= 1s
BENCHCOUNT  ?= 3
# CONFORMANCE_SECONDS is how long make conformance runs each uplink's agent.
CONFORMANCE_SECONDS ?= 60
# CONFORMANCE_COMMAND_PARTITIONS is the partitions of the commands topic
# in make conformance: keyless and LegacyPartitioner-keyed commands land on
# partitions other than the agent's, which it reads with commandsPartitions:
# all.
CONFORMANCE_COMMAND_PARTITIONS ?= 3
OUTBOX_RECORDS ?= 1000000
# FLEET_N is how many gateways make fleet runs; FLEET_FLAGS, more of its
# flags (go run ./internal/fleet -h).
FLEET_N     ?= 1000
FLEET_FLAGS ?=
# VERSION is what `bin/agent version` prints.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)

# Release builds and packages (make cross, make package) go to DIST.
DIST        := dist
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
# CROSS lists the release builds, GOOS/GOARCH/GOARM, each
# $(DIST)/iot-hub-agent_GOOS_ARCH: armv6 is every Raspberry Pi (Pi 1 and
# Zero have an ARMv6 CPU), armv7 the Pi 2 and 3 (32-bit), arm64 the Pi 3,
# 4 and 5 with a 64-bit OS, amd64 for development.
CROSS       := linux/arm/6 linux/arm/7 linux/arm64 linux/amd64
# MAX_BINARY_MIB is the size budget of a stripped ARM binary; make cross
# fails beyond it.
MAX_BINARY_MIB ?= 15
# DEBS maps each .deb's Debian architecture to the build it ships. armhf
# ships the ARMv6 build (GOARM=6), not an ARMv7 one: Debian's armhf
# targets ARMv7, but Raspberry Pi OS's 32-bit armhf is built for ARMv6 so
# that it runs on the Pi 1 and Zero too; with GOARM=6 the one armhf
# package runs on every Pi, and on Debian's ARMv7 armhf as well (GOARM=7
# would only add VFPv3 and ARMv7 barrier instructions, which the agent does
# not need; the ARMv7 build on an ARMv6 CPU dies of an illegal
# instruction, see make arm-smoke). Its file says so:
# iot-hub-agent_VERSION_armhf-armv6.deb.
DEBS        := armhf:linux_armv6 arm64:linux_arm64 amd64:linux_amd64
# DEB_VERSION is VERSION as a Debian version: v1.2.3 -> 1.2.3,
# v1.2.3-rc1 -> 1.2.3~rc1, v1.2.3-4-gabc1234-dirty -> 1.2.3+4.gabc1234.dirty,
# and an untagged commit abc1234 -> 0.0.0+git.abc1234 (which does not sort
# by age: tag releases).
DEB_VERSION ?= $(shell v='$(VERSION:v%=%)'; case $$v in ([0-9]*.*) ;; (*) v=0.0.0-git.$$v ;; esac; \
                 echo "$$v" | sed -e 's/-rc/~rc/' -e 's/-/+/' -e 's/-/./g')

# SOURCE_DATE_EPOCH, the last commit's time, is the files' time in the
# .debs: the same commit makes the same packages.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: all build agent run test lint bench fuzz generate tidy cross package \
        unit-check arm-smoke deb-test package-check conformance fleet

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
## then the outbox's tests again as a 32-bit build (scripts/outbox32.sh:
## GOARCH=386 where the kernel runs it, else GOARCH=arm under qemu-user),
## for the limits of a 32-bit memory map; it prints how many ran.
test:
	@[ -n "$${MQTTTEST_MOSQUITTO:-}" ] || command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || [ -x /usr/local/sbin/mosquitto ] || \
	  echo "make test: mosquitto not found: the MQTT tests use the embedded broker instead (apt-get install mosquitto for the real one)"
	$(GO) test -race -count=1 ./...
	GO=$(GO) scripts/outbox32.sh

## lint: go vet, gofmt, go mod tidy and staticcheck must all be clean.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...

## bench: run the benchmarks and print a table with ratios to the baselines
## measured in the same run. BenchmarkAgentCPU and BenchmarkAgentMixedCPU
## (two agents side by side for a minute each: one reading 50 sensors a
## second, or 200 of five types and 50 local MQTT messages a second; the
## other idle) run once. The outbox's
## benchmarks run on their own: BenchmarkAppend like the others, the heavy
## ones (a million records each, OUTBOX_RECORDS) once, as their numbers do
## not depend on -benchtime.
bench:
	{ $(GO) test -run '^$$' -bench . -skip '^BenchmarkAgent(Mixed)?CPU$$' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $$($(GO) list ./... | grep -v '/agent/outbox$$') && \
	  $(GO) test -run '^$$' -bench '^BenchmarkAgent(Mixed)?CPU$$' -benchtime 1x -count 1 ./cmd/agent && \
	  $(GO) test -run '^$$' -bench '^BenchmarkAppend$$' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./agent/outbox && \
	  $(GO) test -run '^$$' -bench . -skip '^BenchmarkAppend$$' -benchmem -benchtime 1x -count 1 -timeout 30m ./agent/outbox -outbox.records $(OUTBOX_RECORDS); \
	} | tee bench.out | $(GO) run ./internal/benchtable

## fleet: FLEET_N gateways (the agent's outbox, MQTT uplink and sampler,
## in one process) against mosquitto, killed and started again after 60 s;
## prints the reconnect storm, the readings lost and duplicated, and what
## one gateway costs a Kafka cluster (docs/fleet.md). Needs mosquitto.
## Fails when a reading is lost or a target is missed.
fleet:
	$(GO) run ./internal/fleet -n $(FLEET_N) -check $(FLEET_FLAGS)

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

## cross: build the stripped, static release binaries of CROSS into dist/
## (iot-hub-agent_linux_armv6, _armv7, _arm64, _amd64) and print their
## sizes; fails when an ARM one is over MAX_BINARY_MIB (15).
cross:
	@mkdir -p $(DIST)
	@for t in $(CROSS); do \
	  IFS=/ read -r os arch arm <<< "$$t"; \
	  name=$${os}_$${arch}; [ -z "$$arm" ] || name=$${os}_armv$$arm; \
	  echo "go build $(DIST)/iot-hub-agent_$$name (GOOS=$$os GOARCH=$$arch$${arm:+ GOARM=$$arm})"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath \
	    -ldflags "-s -w $(LDFLAGS)" -o $(DIST)/iot-hub-agent_$$name ./cmd/agent; \
	done
	@over=0; printf '%-36s %10s %7s\n' file bytes MiB; \
	for f in $(DIST)/iot-hub-agent_linux_*; do \
	  [ -x "$$f" ] || continue; b=$$(stat -c %s "$$f"); \
	  printf '%-36s %10d %7.2f\n' "$$f" "$$b" "$$(awk "BEGIN{print $$b/1048576}")"; \
	  case $$f in *_arm*) if [ "$$b" -gt $$(( $(MAX_BINARY_MIB) * 1048576 )) ]; then \
	    echo "  over the $(MAX_BINARY_MIB) MiB budget (MAX_BINARY_MIB)"; over=1; fi ;; esac; \
	done; exit $$over

## package: build a .deb per DEBS architecture into dist/ with nfpm
## (packaging/nfpm.yaml): iot-hub-agent_DEB_VERSION_{armhf-armv6,arm64,amd64}.deb.
package: cross
	@for d in $(DEBS); do \
	  arch=$${d%%:*}; build=$${d#*:}; \
	  out=$(DIST)/iot-hub-agent_$(DEB_VERSION)_$$arch.deb; [ "$$build" != linux_armv6 ] || out=$(DIST)/iot-hub-agent_$(DEB_VERSION)_$$arch-armv6.deb; \
	  rm -f "$$out"; \
	  DEB_ARCH=$$arch DEB_VERSION='$(DEB_VERSION)' AGENT_BINARY=$(DIST)/iot-hub-agent_$$build \
	  SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
	    $(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager deb --target "$$out"; \
	done

## unit-check: systemd-analyze verify the unit as the amd64 .deb installs it
## (in a throw-away root), and its security exposure must be at most 2.0.
unit-check: package
	packaging/test/unit-check.sh $(DIST)/iot-hub-agent_$(DEB_VERSION)_amd64.deb

## arm-smoke: under qemu-user (Debian's qemu-user-static), the ARM builds
## print their version, run the demo's embedded broker and sim sensor and
## answer getSensors; then the outbox's tests as GOARCH=arm and arm64.
arm-smoke: cross agent
	VERSION='$(VERSION)' packaging/test/arm-smoke.sh

## deb-test: check the .debs' metadata and contents, then install, upgrade,
## remove and purge the amd64 one in a Debian root made by debootstrap
## (root and the Debian mirror needed).
deb-test: package
	packaging/test/deb-test.sh $(DIST)/iot-hub-agent_$(DEB_VERSION)_*.deb

## package-check: unit-check, arm-smoke and deb-test.
package-check: unit-check arm-smoke deb-test

## conformance: the platform's side run for real (conformance/, Node 20):
## npm ci, then the agent with each uplink for CONFORMANCE_SECONDS (60)
## against mosquitto and kfake; kafkajs 2, MQTT.js 5 and Zod 3, used as the
## platform's document uses them, validate every message it sends and
## ask it RPCs, two agents on one cluster, round trips timed through
## docs/backend.md's TypeScript example, compiled by tsc (issue 18); then
## one agent with both uplinks in phase A, MQTT in both formats, for up to
## 20 s (issue 20).
conformance: agent
	$(GO) build -o bin/conformance-kfake ./conformance/kfake
	cd conformance && npm ci --no-audit --no-fund
	cd conformance && node run.mjs --agent ../bin/agent --kfake ../bin/conformance-kfake \
	  --seconds $(CONFORMANCE_SECONDS) --command-partitions $(CONFORMANCE_COMMAND_PARTITIONS)
