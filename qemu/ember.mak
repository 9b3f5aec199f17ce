# Minimal x86_64 device set for Ember (scripts/build-qemu.sh installs this as
# configs/devices/x86_64-softmmu/ember.mak): the q35 machine, the NPU,
# isa-debug-exit so a guest can report an exit status, and virtio-9p over
# PCI (-device virtio-9p-pci / -virtfs: scripts/run-guest.sh --share). The
# 9p symbols need QEMU configured with --enable-virtfs (build-qemu.sh does).
CONFIG_Q35=y
CONFIG_EMBER_NPU=y
CONFIG_ISA_DEBUG=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_9P=y
