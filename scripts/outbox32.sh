#!/usr/bin/env bash
# outbox32.sh: runs agent/outbox's tests as a 32-bit build, the proof that
# the armv6 and armv7 builds (Pi 1 and Zero, 32-bit Raspberry Pi OS) keep
# working: a 32-bit memory map limits the file (MaxBytes32), and the crash
# tests kill 32-bit writers. `make test` calls it.
#
# It finds out which way this machine has, in this order:
#   386  GOARCH=386, run natively: an amd64 kernel with IA32 emulation runs
#        it. Found by building and running a tiny 386 program (a kernel
#        without it says "exec format error").
#   arm  GOARCH=arm GOARM=6 on an emulated ARMv6 CPU (arm1176, a Pi Zero),
#        through qemu-user (Debian's qemu-user-static), by
#        scripts/outbox-arch.sh: the tests that kill a child run natively
#        with the ARM build as the child. (GOARCH=386 under qemu-i386 is no
#        way: the Go runtime dies, "bad g in signal handler".)
# and fails when the way it picked fails. Only when it has neither does it
# skip, saying so in one line (install qemu-user-static to run them).
#
# Environment: GO (go); OUTBOX32 picks the way instead of finding it out:
# 386, arm, or auto (the default).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
way=${OUTBOX32:-auto}

# runs386 reports whether this kernel runs a GOARCH=386 program.
runs386() {
	local dir
	dir=$(mktemp -d)
	printf 'package main\n\nfunc main() { println("386 ok") }\n' >"$dir/main.go"
	local ok=1
	if GOARCH=386 CGO_ENABLED=0 "$GO" build -o "$dir/probe" "$dir/main.go" &&
		"$dir/probe" 2>&1 | grep -q '^386 ok$'; then
		ok=0
	fi
	rm -rf "$dir"
	return $ok
}

if [[ $way == auto ]]; then
	if runs386 2>/dev/null; then
		way=386
	elif command -v qemu-arm-static >/dev/null; then
		way=arm
		echo "outbox32: this kernel does not run 386 programs; running the 32-bit outbox tests as GOARCH=arm under qemu-arm-static"
	else
		echo "outbox32: SKIPPED the 32-bit outbox tests: this kernel does not run 386 programs and qemu-arm-static is missing (apt-get install qemu-user-static)"
		exit 0
	fi
fi

case $way in
386 | arm) GO=$GO exec scripts/outbox-arch.sh "$way" ;;
*)
	echo "outbox32: OUTBOX32=$way: want 386, arm or auto" >&2
	exit 2
	;;
esac
