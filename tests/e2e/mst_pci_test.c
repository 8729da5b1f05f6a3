// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_mstream: the device as a VMM's vfio-pci sees it (issue 13, items 16
 * and 17).
 *
 * QEMU's vfio-pci realizes a device only if it is a PCI device with the
 * standard region and IRQ counts and a readable config space; it takes the
 * device's own dirty tracking whenever the DMA-logging feature probes
 * successfully, and sizes its migration buffer from MIG_DATA_SIZE. Each test
 * checks one of those, as vfio-pci does for a physical device.
 */
#include <stdint.h>
#include <sys/uio.h>

#include "mst_harness.h"

#define CFG_SIZE	256

FIXTURE(pci_dev)
{
	struct mst_dev dev;
};

FIXTURE_SETUP(pci_dev)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 4 * MST_MIB;
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
}

FIXTURE_TEARDOWN(pci_dev)
{
	mst_dev_destroy(&self->dev);
}

static int region_info(int fd, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

static int irq_info(int fd, uint32_t index, struct vfio_irq_info *ii)
{
	memset(ii, 0, sizeof(*ii));
	ii->argsz = sizeof(*ii);
	ii->index = index;
	return ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, ii) ? -errno : 0;
}

TEST_F(pci_dev, device_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, info.num_irqs);
}

/* A readable and writable 256-byte config space at its region's offset. */
TEST_F(pci_dev, config_region)
{
	struct vfio_region_info ri;

	ASSERT_EQ(0, region_info(self->dev.fd, VFIO_PCI_CONFIG_REGION_INDEX, &ri));
	EXPECT_EQ(CFG_SIZE, ri.size);
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		  ri.flags);
	EXPECT_RET(-EINVAL, region_info(self->dev.fd, VFIO_PCI_NUM_REGIONS, &ri));
}

/* The BARs, the ROM and VGA are absent: size 0, as vfio-pci reports them. */
TEST_F(pci_dev, empty_regions)
{
	struct vfio_region_info ri, cfg;
	uint32_t i;

	ASSERT_EQ(0, region_info(self->dev.fd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg));
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		if (i == VFIO_PCI_CONFIG_REGION_INDEX)
			continue;
		ASSERT_EQ(0, region_info(self->dev.fd, i, &ri));
		EXPECT_EQ(0, ri.size);
		/* each region at its own offset, as vfio-pci lays them out */
		EXPECT_NE(cfg.offset, ri.offset);
	}
}

TEST_F(pci_dev, config_space)
{
	uint8_t cfg[CFG_SIZE], again[CFG_SIZE];
	struct vfio_region_info ri;
	uint32_t ones = 0xffffffff, bar;
	uint16_t vendor, status;
	int i;

	ASSERT_EQ(0, region_info(self->dev.fd, VFIO_PCI_CONFIG_REGION_INDEX, &ri));
	ASSERT_EQ(CFG_SIZE, pread(self->dev.fd, cfg, CFG_SIZE, ri.offset));
	memcpy(&vendor, cfg + 0x00, 2);
	EXPECT_NE(0, vendor);
	EXPECT_NE(0xffff, vendor);
	/* header type 0, no interrupt pin, no capability list */
	EXPECT_EQ(0, cfg[0x0e] & 0x7f);
	EXPECT_EQ(0, cfg[0x3d]);
	memcpy(&status, cfg + 0x06, 2);
	EXPECT_EQ(0, status & 0x10);

	/* BAR and ROM sizing as QEMU does it: all ones read back 0 (absent) */
	for (i = 0x10; i <= 0x30; i += 4) {
		if (i > 0x24 && i < 0x30)
			continue;
		ASSERT_EQ(4, pwrite(self->dev.fd, &ones, 4, ri.offset + i));
		ASSERT_EQ(4, pread(self->dev.fd, &bar, 4, ri.offset + i));
		EXPECT_EQ(0, bar);
	}
	/* the identity is read-only; the interrupt line is scratch */
	ASSERT_EQ(4, pwrite(self->dev.fd, &ones, 4, ri.offset));
	ASSERT_EQ(1, pwrite(self->dev.fd, "\x0b", 1, ri.offset + 0x3c));
	ASSERT_EQ(CFG_SIZE, pread(self->dev.fd, again, CFG_SIZE, ri.offset));
	EXPECT_EQ(0, memcmp(cfg, again, 0x3c));
	EXPECT_EQ(0x0b, again[0x3c]);

	/* short at the end, nothing past it, nothing outside the config region */
	EXPECT_EQ(4, pread(self->dev.fd, again, 16, ri.offset + CFG_SIZE - 4));
	EXPECT_SYSERR(EINVAL, pread(self->dev.fd, again, 4, ri.offset + CFG_SIZE));
	EXPECT_SYSERR(EINVAL, pread(self->dev.fd, again, 4, 0));
}

/*
 * No interrupt: INTx, MSI and MSI-X report a count of 0; ERR (a conventional
 * PCI device) and REQ are not offered, as vfio-pci answers for them.
 */
TEST_F(pci_dev, irqs)
{
	struct vfio_irq_info ii;
	uint32_t i;

	for (i = VFIO_PCI_INTX_IRQ_INDEX; i <= VFIO_PCI_MSIX_IRQ_INDEX; i++) {
		ASSERT_EQ(0, irq_info(self->dev.fd, i, &ii));
		EXPECT_EQ(0, ii.count);
	}
	EXPECT_RET(-EINVAL, irq_info(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, &ii));
	EXPECT_RET(-EINVAL, irq_info(self->dev.fd, VFIO_PCI_REQ_IRQ_INDEX, &ii));
	EXPECT_RET(-EINVAL, irq_info(self->dev.fd, VFIO_PCI_NUM_IRQS, &ii));
}

/*
 * The device does no DMA: it must not offer device dirty tracking, or a VMM
 * selects it over the IOMMU's and fails to read its report.
 */
TEST_F(pci_dev, no_dma_logging)
{
	EXPECT_RET(-ENOTTY, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
					NULL, 0));
	EXPECT_RET(-ENOTTY, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
					NULL, 0));
}

/* QEMU sizes its migration buffer from this before the first read. */
TEST_F(pci_dev, data_size_nonzero)
{
	uint64_t len = 0;

	ASSERT_EQ(0, mst_data_size(self->dev.fd, &len));
	EXPECT_GE(len, 4 * MST_MIB);
}

TEST_HARNESS_MAIN
