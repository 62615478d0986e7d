#!/bin/bash
# xen-qemu-test.sh VDISPLD CLIENT EVREAD INJECT WORKDIR -- the CTest test "xen_qemu":
# fetch the Debian packages (once, cached in VD_XEN_CACHE), build the boot
# images around this build's vdispld and xenfront-client, boot Xen in QEMU
# and run the scenario (run.py prints PASS/FAIL per check).
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 VDISPLD CLIENT EVREAD INJECT WORKDIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
W=$5
mkdir -p "$W"
t() { date +%s.%N; }
el() { awk -v a="$1" -v b="$(t)" 'BEGIN{printf "%.1f", b - a}'; }

T=$(t)
"$HERE/fetch.sh"
echo "xen-qemu: fetch $(el "$T") s"
T=$(t)
"$HERE/build-images.sh" "$1" "$2" "$W/images" "$3" "$4"
echo "xen-qemu: images $(el "$T") s"
T=$(t)
rc=0
python3 "$HERE/run.py" --images "$W/images" --results "$W/results" ${VD_XEN_QEMU_ARGS:-} || rc=$?
echo "xen-qemu: qemu run $(el "$T") s"
exit $rc
