#!/usr/bin/env bash
# outbox-arch.sh GOARCH: runs every test of agent/outbox as a build of
# another GOARCH on this amd64 machine: 386 natively (where the kernel runs
# it: scripts/outbox32.sh finds out), arm (GOARM=6) or arm64 through
# qemu-user (Debian's qemu-user-static, called directly: binfmt_misc is not
# needed). QEMU_CPU picks the emulated CPU: by default arm1176 (a Pi 1 or
# Zero) for arm, cortex-a53 (a Pi 3) for arm64.
#
# Under qemu, in two parts, with one test binary:
#   1. every test but REEXEC's, the test binary emulated;
#   2. REEXEC's tests, the ones that start a child (kill -9 at random
#      points, an Open under a file limit, a second process on a locked
#      file), run natively, each child being the emulated test binary
#      (OUTBOX_TEST_CHILD). Under qemu-user, a fork of the emulated,
#      multithreaded test binary sometimes never reaches exec: with
#      Debian 12's qemu 7.2.22 the forked child waited on a futex for
#      ever, in one of four runs of the crash tests (TestCrash/append,
#      killed by the test timeout). What these tests kill is the ARM build
#      as the writer; the parent only kills it and checks the file, and the
#      kernel is the host's either way.
# A test that starts a child and is not in REEXEC fails in part 1
# (childBinary in agent/outbox/crashhelpers_test.go says so).
#
# It prints the tests' output on a failure, else the skipped tests
# and a count. Environment: GO (go), QEMU_CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

REEXEC='^(TestCrash|TestCursorCrash|TestOpenFailureIsNotTreatedAsGarbage|TestLockedWhileCompacting|TestPowerCut)$'
GO=${GO:-go}
arch=${1:?usage: outbox-arch.sh 386|arm|arm64}
qemu=
case $arch in
386) build=(GOARCH=386) ;;
arm)
	build=(GOARCH=arm GOARM=6)
	qemu=qemu-arm-static cpu=${QEMU_CPU:-arm1176}
	;;
arm64)
	build=(GOARCH=arm64)
	qemu=qemu-aarch64-static cpu=${QEMU_CPU:-cortex-a53}
	;;
*)
	echo "outbox-arch.sh: GOARCH $arch: want 386, arm or arm64" >&2
	exit 2
	;;
esac
if [[ -n $qemu ]]; then
	command -v "$qemu" >/dev/null || {
		echo "outbox-arch.sh: $qemu missing (apt-get install qemu-user-static)" >&2
		exit 2
	}
	qemu=$(command -v "$qemu")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/outbox.test
env "${build[@]}" "$GO" test -c -o "$bin" ./agent/outbox/
what="${build[*]}"
status=0
if [[ -z $qemu ]]; then
	echo "outbox-arch: $what: every test, natively"
	(cd agent/outbox && "$bin" -test.count=1 -test.v -test.timeout=10m) >"$tmp/native.log" 2>&1 || status=$?
else
	what+=" on $cpu"
	cat >"$tmp/child" <<CHILD
#!/bin/sh
QEMU_CPU=$cpu exec $qemu $bin "\$@"
CHILD
	chmod +x "$tmp/child"
	echo "outbox-arch: $what: the tests emulated, but REEXEC's"
	(cd agent/outbox && OUTBOX_TEST_EMULATED=1 QEMU_CPU=$cpu "$qemu" "$bin" \
		-test.count=1 -test.v -test.timeout=10m -test.skip "$REEXEC") >"$tmp/emulated.log" 2>&1 || status=$?
	if ((status == 0)); then
		echo "outbox-arch: $what: REEXEC's tests native, their children emulated"
		OUTBOX_TEST_CHILD=$tmp/child "$GO" test -count=1 -v -timeout=10m -run "$REEXEC" ./agent/outbox/ \
			>"$tmp/children.log" 2>&1 || status=$?
	fi
fi

count() { cat "$tmp"/*.log | grep -c -- "^ *--- $1: " || true; }
passed=$(count PASS) skipped=$(count SKIP) failed=$(count FAIL)
if ((status != 0)); then
	cat "$tmp"/*.log
	echo "outbox-arch: FAIL as $what: $passed passed, $failed failed, $skipped skipped (tests and subtests)"
	exit "$status"
fi
grep -h -- '^ *--- SKIP: ' "$tmp"/*.log || true
summary="$passed tests and subtests passed, $skipped skipped"
[[ -z $qemu ]] || summary+="; $(grep -c -- '^ *--- PASS: ' "$tmp/children.log" || true) of them native with emulated children"
echo "outbox-arch: ok as $what: $summary"
