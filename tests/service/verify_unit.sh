#!/bin/sh
# systemd-analyze verify on the unit as installed: ExecStart points at the
# daemon just built, and the man pages it names are looked up in docs/man.
set -eu
UNIT=$1 VDISPLD=$2 MANSRC=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=/usr/sbin/vdispld|ExecStart=$VDISPLD|" "$UNIT" >"$work/vdispld.service"
man=--man=no
if command -v man >/dev/null 2>&1; then
  for s in 1 5 8; do mkdir -p "$work/man/man$s" && cp "$MANSRC"/*."$s" "$work/man/man$s/"; done
  export MANPATH="$work/man"
  man=--man=yes
fi
out=$(systemd-analyze verify "$man" "$work/vdispld.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings: none allowed but the device nodes a non-Xen host lacks.
bad=$(echo "$out" | grep -v -e '^$' -e "Couldn't stat device /dev/xen/" || true)
[ -z "$bad" ] || { echo "FAIL: $bad"; exit 1; }
echo "verify_unit: ok ($man)"
