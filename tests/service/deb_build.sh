#!/bin/sh
# Builds the Debian package (debian/, dpkg-buildpackage -b) from the source
# tree SRC into OUT: OUT/vdispld_VERSION_ARCH.deb, the log in OUT/build.log.
# The tree is copied first (as it is, committed or not, without build
# directories), so that what dpkg-buildpackage writes (debian/vdispld/,
# obj-*/, ../*.deb) stays out of SRC.
set -eu
SRC=$(realpath "$1") OUT=$(realpath -m "$2")
rm -rf "$OUT"
mkdir -p "$OUT/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z -co --exclude-standard |
    tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$OUT/src"
else
  tar -C "$SRC" --exclude='./build*' -cf - . | tar -xf - -C "$OUT/src"
fi
cd "$OUT/src"
t0=$(date +%s)
if ! DEB_BUILD_OPTIONS="parallel=${JOBS:-2} nocheck" dpkg-buildpackage -b -uc -us \
    >"$OUT/build.log" 2>&1; then
  tail -n 60 "$OUT/build.log"
  echo "FAIL: dpkg-buildpackage (the whole log: $OUT/build.log)"
  exit 1
fi
rm -rf "$OUT/src"
echo "deb_build: $(cd "$OUT" && ls vdispld_*.deb) in $(($(date +%s) - t0)) s"
