#!/bin/bash
# xen-qemu-arm64-test.sh SOURCE WORKDIR -- the CTest test "xen_qemu_arm64":
# fetch the arm64 Debian packages (once, cached in $VD_XEN_CACHE/arm64),
# build the out-of-tree modules (once), cross-build vdispld and the guest
# client from SOURCE for arm64, build the boot images, boot Xen on arm64 in
# QEMU and run the scenario (run.py prints PASS/FAIL per check and the
# numbers measured).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SOURCE WORKDIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$1" && pwd)
W=$2
mkdir -p "$W"
t() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(t)" 'BEGIN{printf "%.1f", b - a}'; }

T=$(t)
"$HERE/fetch.sh"
echo "xen-qemu-arm64: fetch $(el "$T") s"
T=$(t)
"$HERE/build-modules.sh" "${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}/arm64/modules"
echo "xen-qemu-arm64: modules $(el "$T") s"
T=$(t)
B=$W/build-arm64
if [ ! -f "$B/CMakeCache.txt" ]; then
    nice -n 10 cmake -S "$SRC" -B "$B" -DCMAKE_TOOLCHAIN_FILE="$HERE/aarch64-toolchain.cmake" \
        -DVD_WERROR=ON >"$W/cmake-arm64.log" 2>&1 || { tail -30 "$W/cmake-arm64.log"; exit 1; }
fi
nice -n 10 cmake --build "$B" -j2 --target vdispld xenfront-client >>"$W/cmake-arm64.log" 2>&1 ||
    { tail -30 "$W/cmake-arm64.log"; exit 1; }
echo "xen-qemu-arm64: cross build $(el "$T") s"
T=$(t)
"$HERE/build-images.sh" "$B/src/vdispld" "$B/tests/xen-qemu/xenfront-client" \
    "${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}/arm64/modules" "$W/images"
echo "xen-qemu-arm64: images $(el "$T") s"
T=$(t)
rc=0
python3 "$HERE/run.py" --images "$W/images" --results "$W/results" ${VD_XEN_QEMU_ARGS:-} || rc=$?
echo "xen-qemu-arm64: qemu run $(el "$T") s"
exit $rc
