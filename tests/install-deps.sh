#!/bin/sh
# Installs the Debian 12 packages vdispld needs to build and test.
# Run as root (or through sudo).
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
      libxen-dev libsystemd-dev libpng-dev libcmocka-dev edid-decode
      libdrm-dev libwayland-dev wayland-protocols weston qemu-system-x86 cpio kmod
      libinih-dev python3 systemd man-db"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: ok"
