#!/bin/sh
# /init of the arm64 Dom0 initramfs (busybox), as ../xen-qemu/dom0-init.sh,
# with its steps (../xen-qemu/dom0-toolstack.sh): the Xen toolstack, the
# host's result directory (virtio-9p over virtio-mmio, tag "host") on
# /results, then, with "vdtest" on the kernel command line,
# /root/scenario.sh and VDTEST-END; otherwise a shell. Here the Xen
# libraries are in their own directory, and debugfs is mounted (vkms' CRC).
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib/aarch64-linux-gnu
. /lib/dom0-toolstack.sh
dom0_start
mount -t debugfs debugfs /sys/kernel/debug
dom0_toolstack virtio_mmio
dom0_run
