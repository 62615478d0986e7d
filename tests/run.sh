#!/bin/bash
# The test command (README "Testing"): installs what the tests need, builds
# vdispld three ways and runs every CTest label:
#   build/       strict warnings as errors: unit, sim, service, bench, vm, xen-qemu
#   build-asan/  ASan + UBSan with leak checking: unit, sim
#   build-fuzz/  clang libFuzzer targets, time-boxed: fuzz
# The vm and xen-qemu tests boot QEMU (TCG) with Debian's kernel and Xen,
# fetched once into $VD_XEN_CACHE (default /var/cache/vdispld-xen-qemu); the
# arm64 xen-qemu test also cross-builds vdispld for arm64 (its own build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

tests/install-deps.sh

step() { printf '\n=== %s ===\n' "$*"; }

step "build (warnings are errors)"
cmake -S . -B build -DVD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVD_XEN_QEMU_TEST=ON >/dev/null
cmake --build build -j"$JOBS"

step "build with ASan + UBSan"
cmake -S . -B build-asan -DVD_WERROR=ON -DVD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$JOBS"

step "build fuzz targets (clang)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DVD_FUZZ=ON -DVD_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzz_codec

step "tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -LE "fuzz|bench"

step "fuzzing (time-boxed)"
ctest --test-dir build-fuzz --output-on-failure -L fuzz

step "Xen in QEMU with the real xen-front"
ctest --test-dir build --output-on-failure -L xen-qemu

step "all other tests"
ctest --test-dir build --output-on-failure -j"$JOBS" -LE "fuzz|xen-qemu"
