// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: a migratable mdev sample device.
 *
 * The parent is a virtual device "mstream" of class "vfio_mstream", so its
 * one mdev type is /sys/class/mdev_bus/mstream/mdev_supported_types/
 * vfio_mstream-dev. Each instance is a VFIO PCI device with a config space
 * and nothing else (no BAR, no interrupt, no DMA), enough for a VMM's
 * vfio-pci to attach it; what it has is migration state (see mst_state.c), the v2
 * migration protocol and the proposed v3 multi-stream protocol
 * (uapi/linux/vfio_mstream.h).
 */

#include <linux/device.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/pci_ids.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/vfio.h>

#include "mst.h"

static struct mst_parent {
	struct class *class;
	struct device dev;
	struct mdev_parent parent;
	struct mdev_type type;
	struct mdev_type *types[1];
} mst_parent;

/* ---- the PCI face: what a VMM's vfio-pci needs to realize the device ---- */

/*
 * Regions at the offsets vfio-pci gives them, so that a VMM that computes
 * them instead of asking (none should) still finds the config space.
 */
#define MST_PCI_OFFSET_SHIFT		40
#define MST_PCI_INDEX_TO_OFFSET(i)	((u64)(i) << MST_PCI_OFFSET_SHIFT)
#define MST_PCI_OFFSET_TO_INDEX(off)	((off) >> MST_PCI_OFFSET_SHIFT)
#define MST_PCI_OFFSET_MASK		(MST_PCI_INDEX_TO_OFFSET(1) - 1)

/*
 * Placeholder IDs, as the uAPI's feature numbers are: Red Hat's vendor ID, as
 * samples/vfio-mdev/mdpy.c uses, and a device ID none of QEMU's devices uses.
 * Class "other system peripheral", so that no guest driver binds to it.
 */
#define MST_PCI_VENDOR_ID		0x1b36
#define MST_PCI_DEVICE_ID		0x10ff

/*
 * A conventional type 0 header and nothing else: no BAR, no ROM, no
 * capability, no interrupt pin, and a command register hardwired to 0 (no
 * decode to enable, no DMA to master). Only the interrupt line, a scratch
 * register for software, is writable; every other write is dropped, which
 * is how the BAR and ROM sizing writes of a VMM read back 0: absent.
 */
static void mst_pci_cfg_init(u8 *cfg)
{
	memset(cfg, 0, PCI_CFG_SPACE_SIZE);
	put_unaligned_le16(MST_PCI_VENDOR_ID, cfg + PCI_VENDOR_ID);
	put_unaligned_le16(MST_PCI_DEVICE_ID, cfg + PCI_DEVICE_ID);
	cfg[PCI_REVISION_ID] = 1;
	put_unaligned_le16(PCI_CLASS_SYSTEM_OTHER, cfg + PCI_CLASS_DEVICE);
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put_unaligned_le16(MST_PCI_VENDOR_ID, cfg + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(MST_PCI_DEVICE_ID, cfg + PCI_SUBSYSTEM_ID);
}

static ssize_t mst_pci_cfg_rw(struct mst_dev *dev, char __user *ubuf,
			      size_t count, loff_t *ppos, bool write)
{
	u64 pos = *ppos, off = pos & MST_PCI_OFFSET_MASK;
	u8 buf[PCI_CFG_SPACE_SIZE];

	if (MST_PCI_OFFSET_TO_INDEX(pos) != VFIO_PCI_CONFIG_REGION_INDEX ||
	    off >= PCI_CFG_SPACE_SIZE)
		return -EINVAL;
	count = min_t(size_t, count, PCI_CFG_SPACE_SIZE - off);

	if (write) {
		if (copy_from_user(buf, ubuf, count))
			return -EFAULT;
		if (off <= PCI_INTERRUPT_LINE && off + count > PCI_INTERRUPT_LINE) {
			spin_lock(&dev->pci_lock);
			dev->pci_cfg[PCI_INTERRUPT_LINE] =
				buf[PCI_INTERRUPT_LINE - off];
			spin_unlock(&dev->pci_lock);
		}
	} else {
		spin_lock(&dev->pci_lock);
		memcpy(buf, dev->pci_cfg + off, count);
		spin_unlock(&dev->pci_lock);
		if (copy_to_user(ubuf, buf, count))
			return -EFAULT;
	}
	*ppos += count;
	return count;
}

/* ---- vfio_device_ops ---- */

static int mst_init_dev(struct vfio_device *vdev)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);

	mutex_init(&dev->state_mutex);
	mutex_init(&dev->sess_lock);
	mutex_init(&dev->wl_lock);
	mutex_init(&dev->st.crit_lock);
	spin_lock_init(&dev->pci_lock);
	mst_pci_cfg_init(dev->pci_cfg);
	init_waitqueue_head(&dev->wl_wq);
	mst_cfg_defaults(&dev->cfg);
	dev->st.next_seed = get_random_u64();
	WRITE_ONCE(dev->mig_state, VFIO_DEVICE_STATE_RUNNING);
	atomic64_set(&dev->bytes_saved, 0);
	atomic64_set(&dev->bytes_loaded, 0);
	atomic64_set(&dev->fw_busy_ns, 0);

	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
				VFIO_MIGRATION_PRE_COPY;
	/*
	 * No log_ops: the device does no DMA, and a device that offers DMA
	 * logging is the one a VMM asks for the dirty pages instead of the
	 * IOMMU.
	 */
	vdev->mig_ops = &mst_mig_ops;
	return 0;
}

/* The last reference is gone: no session, no file, no sysfs user left. */
static void mst_release_dev(struct vfio_device *vdev)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);

	mst_state_free(dev);
	mutex_destroy(&dev->st.crit_lock);
	mutex_destroy(&dev->wl_lock);
	mutex_destroy(&dev->sess_lock);
	mutex_destroy(&dev->state_mutex);
}

static int mst_open_device(struct vfio_device *vdev)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);
	int ret;

	mutex_lock(&dev->state_mutex);
	ret = mst_state_ensure(dev);
	if (ret)
		goto out_unlock;
	ret = mst_wl_start(dev);
	if (ret)
		goto out_unlock;
	WRITE_ONCE(dev->mig_state, VFIO_DEVICE_STATE_RUNNING);
	WRITE_ONCE(dev->precopy_v2, false);
	WRITE_ONCE(dev->num_dirty, 0);
	dev->opened = true;
	atomic64_set(&dev->bytes_saved, 0);
	atomic64_set(&dev->bytes_loaded, 0);
	atomic64_set(&dev->fw_busy_ns, 0);
	mst_wl_set_active(dev, true);
out_unlock:
	mutex_unlock(&dev->state_mutex);
	return ret;
}

static void mst_close_device(struct vfio_device *vdev)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);

	mst_mig_close(dev);
	mutex_lock(&dev->state_mutex);
	mst_wl_stop(dev);
	dev->opened = false;
	mutex_unlock(&dev->state_mutex);
}

static ssize_t mst_read(struct vfio_device *vdev, char __user *buf,
			size_t count, loff_t *ppos)
{
	return mst_pci_cfg_rw(mst_vdev_to_dev(vdev), buf, count, ppos, false);
}

static ssize_t mst_write(struct vfio_device *vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	return mst_pci_cfg_rw(mst_vdev_to_dev(vdev), (char __user *)buf, count,
			      ppos, true);
}

static long mst_ioctl(struct vfio_device *vdev, unsigned int cmd,
		      unsigned long arg)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = VFIO_PCI_NUM_IRQS;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_REGIONS)
			return -EINVAL;
		/* the config space, and every BAR, the ROM and VGA absent */
		info.cap_offset = 0;
		info.offset = MST_PCI_INDEX_TO_OFFSET(info.index);
		if (info.index == VFIO_PCI_CONFIG_REGION_INDEX) {
			info.flags = VFIO_REGION_INFO_FLAG_READ |
				     VFIO_REGION_INFO_FLAG_WRITE;
			info.size = PCI_CFG_SPACE_SIZE;
		} else {
			info.flags = 0;
			info.size = 0;
		}
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info info;

		minsz = offsetofend(struct vfio_irq_info, count);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		/*
		 * As vfio-pci answers for a conventional PCI device without
		 * interrupts: INTx, MSI and MSI-X exist with a count of 0;
		 * there is no error (PCIe only) or request notification.
		 */
		switch (info.index) {
		case VFIO_PCI_INTX_IRQ_INDEX:
			info.flags = VFIO_IRQ_INFO_EVENTFD |
				     VFIO_IRQ_INFO_MASKABLE |
				     VFIO_IRQ_INFO_AUTOMASKED;
			break;
		case VFIO_PCI_MSI_IRQ_INDEX:
		case VFIO_PCI_MSIX_IRQ_INDEX:
			info.flags = VFIO_IRQ_INFO_EVENTFD |
				     VFIO_IRQ_INFO_NORESIZE;
			break;
		default:
			return -EINVAL;
		}
		info.count = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_RESET:
		return mst_mig_reset(dev);
	}
	return -ENOTTY;
}

static int mst_device_feature(struct vfio_device *vdev, u32 flags,
			      void __user *arg, size_t argsz)
{
	return mst_mig_feature(mst_vdev_to_dev(vdev), flags, arg, argsz);
}

static const struct vfio_device_ops mst_dev_ops = {
	.name = "vfio-mstream",
	.init = mst_init_dev,
	.release = mst_release_dev,
	.open_device = mst_open_device,
	.close_device = mst_close_device,
	.ioctl = mst_ioctl,
	.read = mst_read,
	.write = mst_write,
	.device_feature = mst_device_feature,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/* ---- mdev driver ---- */

static int mst_probe(struct mdev_device *mdev)
{
	struct mst_dev *dev;
	int ret;

	dev = vfio_alloc_device(mst_dev, vdev, &mdev->dev, &mst_dev_ops);
	if (IS_ERR(dev))
		return PTR_ERR(dev);

	ret = vfio_register_emulated_iommu_dev(&dev->vdev);
	if (ret)
		goto err_put_vdev;
	dev_set_drvdata(&mdev->dev, dev);
	return 0;

err_put_vdev:
	vfio_put_device(&dev->vdev);
	return ret;
}

static void mst_remove(struct mdev_device *mdev)
{
	struct mst_dev *dev = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&dev->vdev);
	vfio_put_device(&dev->vdev);
}

static struct mdev_driver mst_mdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.max_instances = MST_MAX_INSTANCES,
	.driver = {
		.name = MST_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = mst_dev_groups,
	},
	.probe = mst_probe,
	.remove = mst_remove,
};

static void mst_parent_release(struct device *dev)
{
}

static int __init mst_init(void)
{
	int ret;

	ret = mst_fw_module_init();
	if (ret)
		return ret;
	ret = mdev_register_driver(&mst_mdev_driver);
	if (ret)
		goto err_fw_exit;

	mst_parent.class = class_create(MST_NAME);
	if (IS_ERR(mst_parent.class)) {
		ret = PTR_ERR(mst_parent.class);
		goto err_unregister_driver;
	}

	device_initialize(&mst_parent.dev);
	mst_parent.dev.class = mst_parent.class;
	mst_parent.dev.release = mst_parent_release;
	ret = dev_set_name(&mst_parent.dev, "%s", MST_PARENT_NAME);
	if (ret)
		goto err_put_parent;
	ret = device_add(&mst_parent.dev);
	if (ret)
		goto err_put_parent;

	mst_parent.type.sysfs_name = MST_TYPE_SYSFS_NAME;
	mst_parent.type.pretty_name = "vfio-mstream migration sample";
	mst_parent.types[0] = &mst_parent.type;
	ret = mdev_register_parent(&mst_parent.parent, &mst_parent.dev,
				   &mst_mdev_driver, mst_parent.types,
				   ARRAY_SIZE(mst_parent.types));
	if (ret)
		goto err_del_parent;
	return 0;

err_del_parent:
	device_del(&mst_parent.dev);
err_put_parent:
	put_device(&mst_parent.dev);
	class_destroy(mst_parent.class);
err_unregister_driver:
	mdev_unregister_driver(&mst_mdev_driver);
err_fw_exit:
	mst_fw_module_exit();
	return ret;
}

static void __exit mst_exit(void)
{
	mdev_unregister_parent(&mst_parent.parent);
	device_unregister(&mst_parent.dev);
	class_destroy(mst_parent.class);
	mdev_unregister_driver(&mst_mdev_driver);
	mst_fw_module_exit();
}

module_init(mst_init);
module_exit(mst_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-mstream: migratable mdev sample device, VFIO migration v2 and proposed v3 multi-stream");
