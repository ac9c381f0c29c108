#!/usr/bin/env bash
# arm-smoke.sh: proof that the ARM release builds run, on an amd64 machine,
# through qemu-user (Debian's qemu-user-static, called directly: binfmt_misc
# is not needed).
#
# For each ARM build of `make cross` (dist/iot-hub-agent_linux_*), on the
# Raspberry Pi CPU it is meant for (QEMU_CPU):
#   armv6  arm1176     Pi 1, Zero: the armhf package's build
#   armv7  cortex-a7   Pi 2
#   arm64  cortex-a53  Pi 3, 4, 5 with a 64-bit OS
#  1. `version` prints the build's version and GOARCH;
#  2. `run` with the demo's setup (the embedded MQTT broker on a free
#     loopback port, the sim sensor every second), for a few seconds: the
#     native agent (bin/agent call, no emulation) asks it getSensors
#     {"fresh": true}, which must read the sim sensor under emulation and
#     answer success; SIGTERM must stop it with exit 0.
# Then the armv7 build on the ARMv6 CPU must fail (illegal instruction):
# that shows the emulated CPU is the one asked for, and why armhf ships the
# ARMv6 build. Last, agent/outbox's tests as GOARCH=arm64 and as GOARCH=arm
# GOARM=6 at once, every one of them, through scripts/outbox-arch.sh
# (SKIP_OUTBOX=1 skips them): the tests that kill a child run natively
# there, with the emulated build as the child, since a fork of an
# emulated Go program sometimes never reaches exec under qemu-user.
# Each step's time is printed at the end.
#
# Environment: DIST (dist), AGENT (bin/agent: a native build, for call),
# VERSION (what `version` must print; default: whatever it prints).
set -euo pipefail
cd "$(dirname "$0")/../.."

DIST=${DIST:-dist}
AGENT=${AGENT:-bin/agent}
GO=${GO:-go}

for tool in qemu-arm-static qemu-aarch64-static python3; do
	command -v "$tool" >/dev/null || { echo "arm-smoke: $tool missing (apt-get install qemu-user-static python3)" >&2; exit 1; }
done
[[ -x $AGENT ]] || { echo "arm-smoke: $AGENT missing (make agent)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

timings=()
# timed NAME CMD...: runs CMD and records how long it took.
timed() {
	local name=$1 start end
	shift
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	timings+=("$(printf '%-44s %7.1fs' "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")")
}

fail() {
	echo "arm-smoke: FAIL: $*" >&2
	exit 1
}

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_log FILE TEXT SECONDS: waits for TEXT in FILE while the agent runs.
wait_log() {
	local file=$1 text=$2 deadline=$((SECONDS + $3))
	until grep -qF "$text" "$file"; do
		kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; fail "the agent exited before logging \"$text\""; }
		((SECONDS < deadline)) || { cat "$file" >&2; fail "no \"$text\" in the log within $3s"; }
		sleep 0.2
	done
}

# check_version NAME QEMU CPU GOARCH
check_version() {
	local name=$1 qemu=$2 cpu=$3 goarch=$4 out
	out=$(QEMU_CPU=$cpu "$qemu" "$DIST/iot-hub-agent_linux_$name" version) || fail "$name: version exited $?"
	echo "$name ($cpu): $out"
	[[ $out == "agent "*" linux/$goarch" ]] || fail "$name: version printed \"$out\"; want agent VERSION GOVERSION linux/$goarch"
	if [[ -n ${VERSION:-} && $out != "agent $VERSION "* ]]; then
		fail "$name: version printed \"$out\"; want version $VERSION"
	fi
}

# check_run NAME QEMU CPU: runs the build against its embedded broker and
# asks it getSensors.
check_run() {
	local name=$1 qemu=$2 cpu=$3 port dir out code summary
	dir=$tmp/$name
	mkdir -p "$dir"
	port=$(free_port)
	cat >"$dir/agent.yaml" <<-YAML
		deviceId: smoke-$name
		stateDir: $dir/state
		log: {level: info, format: json}
		uplink:
		  mqtt:
		    broker: mqtt://127.0.0.1:$port
		    embeddedBroker: {enabled: true, listen: "127.0.0.1:$port"}
		sensors:
		  - {name: sim, type: sim, interval: 1s, period: 2m}
	YAML
	QEMU_CPU=$cpu "$qemu" "$DIST/iot-hub-agent_linux_$name" run --config "$dir/agent.yaml" 2>"$dir/agent.log" &
	pid=$!
	wait_log "$dir/agent.log" '"mqtt: connected"' 60
	sleep 3 # a few seconds of running: the sim sensor's reads, telemetry published
	out=$("$AGENT" call --broker "mqtt://127.0.0.1:$port" --device "smoke-$name" --timeout 20s getSensors '{"fresh": true}') ||
		{ cat "$dir/agent.log" >&2; fail "$name: agent call getSensors exited $?: $out"; }
	summary=$(python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", "status %r" % r["status"]
sim = [s for s in r["payload"]["result"]["sensors"] if s["name"] == "sim"]
assert sim and sim[0]["health"] == "ok", "no healthy sim sensor"
print(", ".join("%s=%s%s" % (m["metric"], m["value"], m["unit"]) for m in sim[0]["readings"]))
' <<<"$out") || fail "$name: getSensors answered: $out"
	echo "$name ($cpu): getSensors answered success, sim ok: $summary"
	kill -TERM "$pid"
	code=0
	wait "$pid" || code=$?
	pid=
	((code == 0)) || { cat "$dir/agent.log" >&2; fail "$name: exited $code after SIGTERM; want 0"; }
	grep -qF '"agent stopped"' "$dir/agent.log" || { cat "$dir/agent.log" >&2; fail "$name: no \"agent stopped\" in the log"; }
	echo "$name ($cpu): stopped on SIGTERM, exit 0"
}

while read -r name qemu cpu goarch; do
	[[ -x $DIST/iot-hub-agent_linux_$name ]] || fail "$DIST/iot-hub-agent_linux_$name missing (make cross)"
	timed "$name: version" check_version "$name" "$qemu" "$cpu" "$goarch"
	timed "$name: run, getSensors, stop" check_run "$name" "$qemu" "$cpu"
done <<'TARGETS'
armv6 qemu-arm-static arm1176 arm
armv7 qemu-arm-static cortex-a7 arm
arm64 qemu-aarch64-static cortex-a53 arm64
TARGETS

code=0
# Through sh, which reaps it quietly: bash would print "Illegal instruction".
sh -c 'QEMU_CPU=arm1176 qemu-arm-static "$1" version; exit $?' sh "$DIST/iot-hub-agent_linux_armv7" >/dev/null 2>&1 || code=$?
((code != 0)) || fail "the armv7 build ran on an ARMv6 CPU (arm1176); want an illegal instruction"
echo "armv7 on arm1176 (ARMv6): refused, exit $code, as it should"

# outbox_tests: the two runs side by side, each keeping about one core
# busy under qemu, each to its own log, printed once both are done.
outbox_tests() {
	local a b code_a=0 code_b=0
	env GO="$GO" scripts/outbox-arch.sh arm64 >"$tmp/outbox-arm64.log" 2>&1 &
	a=$!
	env GO="$GO" scripts/outbox-arch.sh arm >"$tmp/outbox-arm.log" 2>&1 &
	b=$!
	wait "$a" || code_a=$?
	wait "$b" || code_b=$?
	cat "$tmp/outbox-arm64.log" "$tmp/outbox-arm.log"
	((code_a == 0)) || fail "outbox tests as GOARCH=arm64 exited $code_a"
	((code_b == 0)) || fail "outbox tests as GOARCH=arm GOARM=6 exited $code_b"
}

if [[ ${SKIP_OUTBOX:-} != 1 ]]; then
	timed "outbox tests: GOARCH=arm64 and arm GOARM=6, side by side" outbox_tests
fi

echo "== arm-smoke timings"
printf '%s\n' "${timings[@]}"
echo "arm-smoke: ok"
