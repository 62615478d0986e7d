#!/bin/sh
# Installs the Debian 12 packages vdispld needs to build and test.
# Run as root (or through sudo).
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
      libxen-dev libsystemd-dev libpng-dev libcmocka-dev edid-decode
      libdrm-dev libinput-dev libudev-dev libwayland-dev wayland-protocols weston xvfb xdotool
      sway grim qemu-system-x86 cpio kmod
      libinih-dev python3 systemd man-db bash-completion debhelper dpkg-dev fakeroot
      qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross device-tree-compiler
      xz-utils libelf1 libssl3"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another apt (an unattended upgrade, a second shell) may hold the lock for a
# while: wait for it rather than fail.
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300"
# debhelper, dpkg-dev: the Debian package (debian/, tests/service/deb_build.sh).
# libelf1, libssl3: the tools of linux-kbuild-6.1 (objtool, modpost, sign-file)
# for the out-of-tree vkms.ko of the x86 VM test (tests/vm/build-vkms.sh).
# arm64 package lists: tests/xen-qemu-arm64/fetch.sh downloads arm64 Xen, the
# kernel and libraries with `apt-get download` and unpacks them with dpkg -x
# (never installed on this machine).
dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
for try in 1 2 3 4 5 6; do
  $APT update -qq && break
  [ "$try" = 6 ] && exit 1
  echo "install-deps: apt-get update failed (try $try), retrying in 20 s" >&2
  sleep 20
done
# shellcheck disable=SC2086
$APT install -y -qq --no-install-recommends $PKGS >/dev/null
echo "install-deps: ok"
