#!/bin/bash
# xen-qemu-test.sh VDISPLD CLIENT EVREAD INJECT WORKDIR [domd] -- the CTest
# tests "xen_qemu" and, with "domd", "xen_qemu_domd": fetch the Debian
# packages (once, cached in VD_XEN_CACHE), build the boot images around this
# build's vdispld and xenfront-client, boot Xen in QEMU and run the scenario
# (run.py prints PASS/FAIL per check). The display domain case also needs
# vkms.ko for Debian's kernel (../vm/build-vkms.sh: built once into the
# cache) and runs run.py --only-domd; it has no input case (EVREAD and
# INJECT unused).
set -euo pipefail
[ $# -eq 5 ] || { [ $# -eq 6 ] && [ "$6" = domd ]; } ||
    { echo "usage: $0 VDISPLD CLIENT EVREAD INJECT WORKDIR [domd]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
W=$5
CASE=${6:-}
mkdir -p "$W"
t() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(t)" 'BEGIN{printf "%.1f", b - a}'; }

T=$(t)
"$HERE/fetch.sh"
echo "xen-qemu: fetch $(el "$T") s"
T=$(t)
if [ "$CASE" = domd ]; then
    VKMS=$("$HERE/../vm/build-vkms.sh" | tail -n 1)
    echo "xen-qemu: vkms $(el "$T") s"
    T=$(t)
    "$HERE/build-images.sh" --domd "$VKMS" "$1" "$2" "$W/images"
    ARGS=--only-domd
else
    "$HERE/build-images.sh" "$1" "$2" "$W/images" "$3" "$4"
    ARGS=
fi
echo "xen-qemu: images $(el "$T") s"
T=$(t)
rc=0
# shellcheck disable=SC2086
python3 "$HERE/run.py" --images "$W/images" --results "$W/results" $ARGS ${VD_XEN_QEMU_ARGS:-} || rc=$?
echo "xen-qemu: qemu run $(el "$T") s"
exit $rc
