#!/usr/bin/env bash
# deb-test.sh DEB...: checks the .debs of `make package`.
#
# Every package: its control fields, conffiles and contents (paths, modes,
# owners), and the build of its binary (go version -m: GOARCH, GOARM,
# CGO_ENABLED=0, -trimpath; no symbols: stripped).
#
# The amd64 package, in a throw-away Debian 12 root made by debootstrap
# (minbase, with adduser and systemd: Raspberry Pi OS has both) and
# entered with chroot, goes through what an operator does:
#   install    dpkg -i: the user iot-hub-agent (system, nologin) in dialout,
#              i2c and gpio (made when missing), /var/lib/iot-hub-agent 0700
#              iot-hub-agent, /etc/iot-hub-agent 0750 and agent.yaml 0640
#              root:iot-hub-agent (a conffile), the unit in
#              /usr/lib/systemd/system and enabled; the shipped agent.yaml
#              fails check-config on deviceId, and the unit's ExecCondition
#              (run as the user) skips the start;
#              systemd-analyze verify --root on the installed unit;
#   configure  deviceId set: check-config passes as the user, and the
#              ExecCondition lets the start go on;
#   upgrade    the same package again with the unit disabled: the edited
#              conffile kept, the unit still disabled;
#   remove     dpkg -r: binary and unit gone, unit disabled; conffile, user
#              and state kept; a reinstall enables the unit again;
#   purge      dpkg -P: user, group, state and /etc/iot-hub-agent gone;
#              dialout and i2c kept.
# Not tested here: starting and stopping the service (postinst's start,
# prerm's stop), which needs systemd as PID 1; a chroot has none, and the
# scripts skip those steps when /run/systemd/system is absent, as they do
# while an image is built.
#
# Needs root, dpkg-deb, go and debootstrap with a Debian mirror
# (DEBIAN_MIRROR, default http://deb.debian.org/debian); DEB_ROOT_CACHE
# (default /var/cache/iot-hub-agent-ci) keeps the downloaded packages
# between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
CACHE=${DEB_ROOT_CACHE:-/var/cache/iot-hub-agent-ci}
NAME=iot-hub-agent
CONF=/etc/$NAME/agent.yaml
UNIT=/usr/lib/systemd/system/$NAME.service
WANTS=/etc/systemd/system/multi-user.target.wants/$NAME.service

(($#)) || { echo "usage: deb-test.sh DEB..." >&2; exit 2; }

fail() {
	echo "deb-test: FAIL: $*" >&2
	exit 1
}
ok() { echo "  ok: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_deb DEB: the package's metadata, contents and binary.
check_deb() {
	local deb=$1 arch want_arch goarch goarm field contents bin info
	echo "== $(basename "$deb")"
	arch=$(dpkg-deb --field "$deb" Architecture)
	case $(basename "$deb") in
	*_armhf-armv6.deb) want_arch=armhf goarch=arm goarm=6 ;;
	*_arm64.deb) want_arch=arm64 goarch=arm64 goarm= ;;
	*_amd64.deb) want_arch=amd64 goarch=amd64 goarm= ;;
	*) fail "$deb: unexpected file name" ;;
	esac
	[[ $arch == "$want_arch" ]] || fail "$deb: Architecture $arch; want $want_arch"
	[[ $(dpkg-deb --field "$deb" Package) == "$NAME" ]] || fail "$deb: Package is not $NAME"
	[[ $(dpkg-deb --field "$deb" Depends) == *adduser* ]] || fail "$deb: Depends lacks adduser"
	field=$(dpkg-deb --field "$deb" Version)
	dpkg --validate-version "$field" || fail "$deb: Version $field is not a Debian version"
	ok "Package $NAME, Version $field, Architecture $arch, Depends $(dpkg-deb --field "$deb" Depends)"

	dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" ./conffiles ./postinst ./prerm ./postrm
	[[ $(cat "$tmp/conffiles") == "$CONF" ]] || fail "$deb: conffiles are $(cat "$tmp/conffiles"); want $CONF"
	ok "conffiles: $CONF; maintainer scripts postinst, prerm, postrm"

	contents=$(dpkg-deb --contents "$deb")
	for want in \
		"-rwxr-xr-x root/root ./usr/bin/$NAME" \
		"drwxr-x--- root/root ./etc/$NAME/" \
		"-rw-r----- root/root .$CONF" \
		"-rw-r--r-- root/root .$UNIT" \
		"-rw-r--r-- root/root ./usr/share/doc/$NAME/copyright"; do
		read -r mode owner path <<<"$want"
		grep -Eq "^$mode +$owner +[0-9]+ [0-9-]+ [0-9:]+ $path$" <<<"$contents" ||
			{ echo "$contents" >&2; fail "$deb: no $mode $owner $path"; }
	done
	ok "contents: /usr/bin/$NAME 0755, $CONF 0640, $UNIT"

	bin=$tmp/bin-$arch
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/$NAME >"$bin"
	info=$("$GO" version -m "$bin")
	for want in "GOARCH=$goarch" "CGO_ENABLED=0" "-trimpath=true" ${goarm:+"GOARM=$goarm"}; do
		grep -qE "^\s+build\s+$want$" <<<"$info" || { echo "$info" >&2; fail "$deb: the binary was not built with $want"; }
	done
	[[ $("$GO" tool nm "$bin" 2>&1 || true) == *"no symbols"* ]] || fail "$deb: the binary is not stripped"
	ok "binary: GOARCH=$goarch${goarm:+ GOARM=$goarm}, CGO_ENABLED=0 (static), -trimpath, stripped"
}

amd64=
for deb in "$@"; do
	check_deb "$deb"
	[[ $deb != *_amd64.deb ]] || amd64=$deb
done
[[ -n $amd64 ]] || fail "no amd64 package among $*"

[[ $(id -u) == 0 ]] || fail "the install test needs root (chroot)"
command -v debootstrap >/dev/null || fail "debootstrap missing (apt-get install debootstrap)"

echo "== a Debian root: debootstrap --variant=minbase --include=adduser,systemd $SUITE"
root=$tmp/root
mkdir -p "$CACHE"
start=$SECONDS
debootstrap --variant=minbase --include=adduser,systemd --cache-dir="$CACHE" \
	"$SUITE" "$root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
	{ tail -20 "$tmp/debootstrap.log" >&2; fail "debootstrap failed (a Debian mirror is needed: DEBIAN_MIRROR)"; }
ok "made in $((SECONDS - start))s"
[[ ! -e $root/run/systemd/system ]] || fail "the root has /run/systemd/system: postinst would try to start the unit"

in_root() { chroot "$root" "$@"; }
as_agent() { chroot "$root" runuser -u $NAME -- "$@"; }
# stat_is PATH WANT: PATH's mode, owner and group are WANT ("700 u g").
stat_is() {
	local got
	got=$(in_root stat -c '%a %U %G' "$1")
	[[ $got == "$2" ]] || fail "$1 is $got; want $2"
	ok "$1: $2"
}
# condition: the unit's ExecCondition, run as the agent's user.
condition() {
	local cmd
	cmd=$(sed -n 's/^ExecCondition=//p' "$root$UNIT")
	[[ -n $cmd ]] || fail "$UNIT has no ExecCondition"
	as_agent sh -c "$cmd"
}

echo "== install: dpkg -i $(basename "$amd64")"
cp "$amd64" "$root/tmp/agent.deb"
in_root dpkg -i /tmp/agent.deb
in_root iot-hub-agent version
entry=$(in_root getent passwd $NAME) || fail "no user $NAME"
IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
((uid < 1000)) || fail "user $NAME has uid $uid; want a system user"
[[ $shell == /usr/sbin/nologin && $home == /var/lib/$NAME ]] || fail "user $NAME: home $home, shell $shell"
ok "user: $entry"
groups=$(in_root id -Gn $NAME)
for g in $NAME dialout i2c gpio; do
	[[ " $groups " == *" $g "* ]] || fail "user $NAME is in groups: $groups; want $g"
done
ok "groups: $groups"
stat_is /var/lib/$NAME "700 $NAME $NAME"
stat_is /etc/$NAME "750 root $NAME"
stat_is $CONF "640 root $NAME"
stat_is $UNIT "644 root root"
# shellcheck disable=SC2016 # dpkg-query's ${Conffiles}, not the shell's
in_root dpkg-query -W -f='${Conffiles}\n' $NAME | grep -q "^ $CONF " || fail "$CONF is not a conffile"
ok "$CONF is a conffile"
# systemctl links to the unit by the first directory of its search path
# that has it: /lib/systemd/system on Debian 12, a link to /usr/lib.
link=$(readlink "$root$WANTS") || fail "the unit is not enabled: no $WANTS"
[[ $link == "$UNIT" || $link == "${UNIT#/usr}" ]] || fail "the unit is not enabled: $WANTS -> $link"
ok "enabled: $WANTS -> $link"
if out=$(as_agent iot-hub-agent check-config $CONF 2>&1); then
	fail "the shipped $CONF passes check-config; want deviceId required"
fi
[[ $out == *"deviceId: required"* ]] || fail "check-config of the shipped $CONF: $out; want deviceId: required"
ok "shipped config: $out"
if out=$(condition 2>&1); then fail "ExecCondition passes without a deviceId"; fi
ok "ExecCondition skips the start: $out"

echo "== systemd-analyze verify --root (the installed unit, in the Debian root)"
out=$(systemd-analyze verify --man=no --root="$root" $NAME.service 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify"; }
! grep -F "$NAME.service" <<<"$out" >&2 || fail "systemd-analyze verify warned about the unit"
ok "verified"

echo "== configure: deviceId set"
sed -i 's/^#deviceId: gw-0042/deviceId: gw-test-1/' "$root$CONF"
as_agent iot-hub-agent check-config $CONF >/dev/null || fail "check-config as $NAME with a deviceId"
ok "check-config passes, as the user $NAME"
condition || fail "ExecCondition refuses a config with a deviceId"
ok "ExecCondition lets the start go on"

echo "== upgrade: dpkg -i again, the unit disabled"
in_root systemctl disable --quiet $NAME.service
in_root dpkg -i /tmp/agent.deb
grep -q '^deviceId: gw-test-1$' "$root$CONF" || fail "the upgrade lost the edited $CONF"
ok "edited $CONF kept"
stat_is $CONF "640 root $NAME"
[[ ! -e $root$WANTS ]] || fail "the upgrade enabled the unit the admin disabled"
ok "the unit stays disabled"
in_root systemctl enable --quiet $NAME.service

echo "== remove: dpkg -r"
in_root dpkg -r $NAME
for gone in /usr/bin/$NAME $UNIT $WANTS; do
	[[ ! -e $root$gone && ! -L $root$gone ]] || fail "$gone left after remove"
done
ok "binary, unit and its enablement gone"
[[ -f $root$CONF && -d $root/var/lib/$NAME ]] || fail "remove took the conffile or the state"
in_root getent passwd $NAME >/dev/null || fail "remove took the user"
ok "conffile, state and user kept"

echo "== reinstall after remove: dpkg -i, then dpkg -r again"
in_root dpkg -i /tmp/agent.deb
[[ -L $root$WANTS ]] || fail "a reinstall after remove left the unit disabled"
ok "enabled again"
grep -q '^deviceId: gw-test-1$' "$root$CONF" || fail "the reinstall lost the edited $CONF"
ok "edited $CONF kept"
in_root dpkg -r $NAME

echo "== purge: dpkg -P"
in_root dpkg -P $NAME
for gone in /etc/$NAME /var/lib/$NAME; do
	[[ ! -e $root$gone ]] || fail "$gone left after purge"
done
! in_root getent passwd $NAME >/dev/null || fail "user $NAME left after purge"
! in_root getent group $NAME >/dev/null || fail "group $NAME left after purge"
for g in dialout i2c gpio; do
	in_root getent group $g >/dev/null || fail "purge took the group $g"
done
ok "user, group, /etc/$NAME and /var/lib/$NAME gone; dialout, i2c and gpio kept"
echo "deb-test: ok"
