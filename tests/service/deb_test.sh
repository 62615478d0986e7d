#!/bin/sh
# The Debian package as built by deb_build.sh (DEBDIR): what an operator
# gets from `dpkg -i`. Installing it under a real systemd is vm_systemd's.
set -eu
SRC=$1 DEBDIR=$2
fail() { echo "FAIL: $*"; exit 1; }
deb=$(ls "$DEBDIR"/vdispld_*.deb) || fail "no package in $DEBDIR (deb_build)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The package's version is the project's.
want=$(sed -n 's/^project(vdispld VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
got=$(dpkg-deb -f "$deb" Version)
[ "$got" = "$want" ] || fail "package version $got, CMakeLists.txt says $want (debian/changelog)"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/files"
for f in /usr/sbin/vdispld /usr/bin/vdispctl /lib/systemd/system/vdispld.service \
         /etc/vdispld/vdispld.conf /etc/vdispld/guests.d/example.conf \
         /usr/share/man/man8/vdispld.8.gz /usr/share/man/man1/vdispctl.1.gz \
         /usr/share/man/man5/vdispld.conf.5.gz /usr/share/bash-completion/completions/vdispctl \
         /usr/share/doc/vdispld/copyright; do
  grep -qx "$f" "$work/files" || fail "$f not in the package"
done
# /usr/share/doc/vdispld/deployment.md, possibly compressed.
grep -q '^/usr/share/doc/vdispld/deployment.md' "$work/files" || fail "no deployment guide"
# No test tools in it: the simulated Xen in a process of its own stays out.
! grep -q 'simhost\|/tests/' "$work/files" || fail "test tools packaged: $(grep 'simhost\|/tests/' "$work/files")"
# The configuration is the operator's: conffiles, kept over upgrades.
dpkg-deb -e "$deb" "$work/ctl"
[ "$(sort "$work/ctl/conffiles" | tr '\n' ' ')" = \
  "/etc/vdispld/guests.d/example.conf /etc/vdispld/vdispld.conf " ] ||
  fail "conffiles: $(cat "$work/ctl/conffiles")"
# Installing enables nothing: "enable" only for a unit debhelper installed
# before (an upgrade, which keeps the administrator's choice); debhelper's
# default enables on the first installation ("was-enabled" is true for a
# unit never seen). "start" goes through deb-systemd-invoke, which starts no
# disabled unit. (vm_systemd installs it under systemd and looks.)
awk '/^[[:space:]]*#/ { next }
     /deb-systemd-helper debian-installed/ { guarded = 1 }
     /deb-systemd-helper enable/ && !guarded { bad = 1 }
     END { exit bad }' "$work/ctl/postinst" ||
  fail "postinst enables the unit on a first installation: $(cat "$work/ctl/postinst")"
grep -q "^Depends:.*libxenstore" "$work/ctl/control" || fail "no dependency on libxenstore"
# What it installs runs, and the example configuration is valid as shipped.
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/sbin/vdispld" --version | grep -q "^vdispld $want" || fail "vdispld --version"
"$work/root/usr/bin/vdispctl" --version | grep -q "^vdispctl $want" || fail "vdispctl --version"
"$work/root/usr/sbin/vdispld" --config "$work/root/etc/vdispld/vdispld.conf" --check-config ||
  fail "/etc/vdispld/vdispld.conf as shipped does not validate"
grep -q '^ExecStart=/usr/sbin/vdispld$' "$work/root/lib/systemd/system/vdispld.service" ||
  fail "the unit's ExecStart is not the packaged daemon"
# Every setting in /etc/vdispld is commented out: the built-in defaults hold.
! grep -rv '^[[:space:]]*\(#.*\)\{0,1\}$' "$work/root/etc/vdispld" | grep -v ':\[default\]$' ||
  fail "settings that are not commented out in /etc/vdispld"
echo "deb: ok ($(basename "$deb"), $(wc -l <"$work/files") paths)"
