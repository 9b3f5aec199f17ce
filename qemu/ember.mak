# Minimal x86_64 device set for Ember (scripts/build-qemu.sh installs this as
# configs/devices/x86_64-softmmu/ember.mak): the q35 machine, the NPU, and
# isa-debug-exit so a guest can report an exit status.
CONFIG_Q35=y
CONFIG_EMBER_NPU=y
CONFIG_ISA_DEBUG=y
