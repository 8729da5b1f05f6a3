/* SPDX-License-Identifier: MIT */
/*
 * vfio_compat.h - the VFIO uAPI this library uses, whatever the build's
 * <linux/vfio.h> is.
 *
 * Why: Debian 12's libc headers (linux-libc-dev 6.1) predate PRE_COPY,
 * VFIO_MIG_GET_PRECOPY_INFO and MIG_DATA_SIZE (Linux 6.2), and
 * <linux/vfio_mstream.h> only supplies what Linux 7.1 added. Every value
 * below is the one upstream assigned; the guards keep newer headers' own.
 * VFIO_MIG_GET_PRECOPY_INFO arrived together with struct vfio_precopy_info,
 * so it guards the struct too.
 */
#ifndef MSTREAM_VFIO_COMPAT_H
#define MSTREAM_VFIO_COMPAT_H

#include <linux/vfio.h>
#include <linux/vfio_mstream.h>

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif

#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};
#endif

/* enum vfio_device_mig_state gained PRE_COPY (6) and PRE_COPY_P2P (7) in 6.2;
 * an enum cannot be tested by the preprocessor, so the library uses its own
 * enum mstream_state, whose values are the kernel's. */

#endif
