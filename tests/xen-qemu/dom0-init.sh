#!/bin/sh
# /init of the Dom0 initramfs (busybox). Brings up the Xen toolstack
# (xenfs, evtchn/gntdev/gntalloc/privcmd, xenstored, xen-init-dom0,
# xenconsoled), mounts the host's result directory (virtio-9p, tag "host")
# on /results, then, with "vdtest" on the kernel command line, runs
# /root/scenario.sh and prints VDTEST-END; otherwise gives a shell.
# The steps are dom0-toolstack.sh's, shared with the arm64 test.
. /lib/dom0-toolstack.sh
dom0_start
dom0_toolstack virtio_pci
dom0_run
