#!/usr/bin/env bash
# unit-check.sh DEB: checks the systemd unit the .deb ships.
#
#  1. systemd-analyze verify, on the unit as the package installs it: the
#     package's files are unpacked into a throw-away root, with the
#     host's systemd units (the targets it orders itself after) and the
#     host's /bin/sh, which its ExecCondition= and ExecReload= run; verify --root= then checks that every command the
#     unit names exists and is executable in that root, the packaged
#     binary at /usr/bin/iot-hub-agent included. Nothing is started: a
#     container has no systemd as PID 1.
#  2. systemd-analyze security --offline=yes: the exposure must be at most
#     MAX_EXPOSURE (2.0).
#
# Needs systemd-analyze (Debian's systemd package) and dpkg-deb.
set -euo pipefail

MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
deb=${1:?usage: unit-check.sh DEB}
unit=iot-hub-agent.service

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
installed=$root/usr/lib/systemd/system/$unit
[[ -f $installed ]] || { echo "unit-check: $deb has no /usr/lib/systemd/system/$unit" >&2; exit 1; }

# The host's units, for the targets (not ours: the package's wins).
hostunits=/usr/lib/systemd/system
[[ -d $hostunits ]] || hostunits=/lib/systemd/system
cp -an "$hostunits/." "$root/usr/lib/systemd/system/"
# Merged /usr, as on Debian 12 and Raspberry Pi OS.
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
cp "$(readlink -f /bin/sh)" "$root/usr/bin/sh"

echo "== systemd-analyze verify --root (the unit and binary from $(basename "$deb"))"
if ! out=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1); then
	echo "$out" >&2
	echo "unit-check: systemd-analyze verify failed" >&2
	exit 1
fi
# verify exits 0 on some warnings: any line about our unit is a failure.
if grep -F "$unit" <<<"$out" >&2; then
	echo "unit-check: systemd-analyze verify warned about $unit" >&2
	exit 1
fi
echo "ok"

echo "== systemd-analyze security --offline=yes"
out=$(systemd-analyze security --offline=yes --no-pager "$installed" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
if [[ -z $score ]]; then
	echo "$out" >&2
	echo "unit-check: no exposure level in systemd-analyze security's output" >&2
	exit 1
fi
grep -E '✗' <<<"$out" || true
echo "exposure $score (at most $MAX_EXPOSURE)"
if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
	echo "unit-check: exposure $score is over $MAX_EXPOSURE" >&2
	exit 1
fi
