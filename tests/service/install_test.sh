#!/bin/sh
# cmake --install into a DESTDIR puts everything where an operator looks.
set -eu
BUILD=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DESTDIR="$work/root" cmake --install "$BUILD" --prefix /usr >"$work/log" 2>&1 ||
  { cat "$work/log"; exit 1; }
r="$work/root"
for f in usr/sbin/vdispld usr/bin/vdispctl; do
  [ -x "$r/$f" ] || { echo "FAIL: $f missing or not executable"; exit 1; }
done
for f in usr/lib/systemd/system/vdispld.service \
         usr/share/man/man8/vdispld.8 usr/share/man/man1/vdispctl.1 usr/share/man/man5/vdispld.conf.5 \
         usr/share/doc/vdispld/examples/vdispld.conf \
         usr/share/doc/vdispld/examples/guests.d/example.conf \
         usr/share/bash-completion/completions/vdispctl; do
  [ -s "$r/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
grep -q '^ExecStart=/usr/sbin/vdispld$' "$r/usr/lib/systemd/system/vdispld.service" ||
  { echo "FAIL: ExecStart does not name the installed daemon"; exit 1; }
# The example configuration is valid as shipped.
cp -r "$r/usr/share/doc/vdispld/examples" "$work/etc"
"$r/usr/sbin/vdispld" --config "$work/etc/vdispld.conf" --check-config ||
  { echo "FAIL: the example configuration does not validate"; exit 1; }
echo "install: ok"
