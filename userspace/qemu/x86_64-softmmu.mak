# Devices of the smallest QEMU that migrates a VM holding the sample device:
# the q35 board (it selects the chipset, AHCI, the PCIe root and the rest of
# what the board needs) and vfio-pci.  Used by scripts/build-qemu-v3 with
# --without-default-devices.
CONFIG_Q35=y
CONFIG_VFIO_PCI=y
