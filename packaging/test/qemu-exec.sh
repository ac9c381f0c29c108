#!/bin/sh
# qemu-exec.sh BINARY [ARGS...]: runs a GOARCH=arm or arm64 binary on
# another machine through qemu-user (Debian's qemu-user-static), without
# binfmt_misc; for `go test -exec`:
#
#   GOARCH=arm64 go test -exec packaging/test/qemu-exec.sh ./agent/outbox/
#
# Tests that run their own binary again as a child (the outbox's crash
# tests exec os.Args[0]) need that path to be runnable: it is set (qemu -0)
# to a wrapper script, next to BINARY, that runs BINARY through qemu in
# turn. GOARCH picks the emulator; QEMU_CPU, read by qemu itself, the CPU
# (arm1176: a Raspberry Pi 1 or Zero; cortex-a7: a Pi 2; cortex-a53: a
# Pi 3).
set -eu

bin=$1
shift
case "${GOARCH:-}" in
arm64) qemu="qemu-aarch64-static" ;;
arm) qemu="qemu-arm-static" ;;
*)
	echo "qemu-exec.sh: GOARCH=${GOARCH:-} is not arm or arm64" >&2
	exit 2
	;;
esac
command -v "$qemu" >/dev/null || {
	echo "qemu-exec.sh: $qemu missing (apt-get install qemu-user-static)" >&2
	exit 2
}

wrapper=$bin.qemu
cat >"$wrapper" <<WRAPPER
#!/bin/sh
exec $qemu -0 "\$0" "$bin" "\$@"
WRAPPER
chmod +x "$wrapper"
exec "$qemu" -0 "$wrapper" "$bin" "$@"
