// SPDX-License-Identifier: MIT
/*
 * device.c - one VFIO device: open through its group and a type1v2
 * container, probe its migration features, drive its FSM, get its data FDs.
 *
 * Every call is a thin, checked wrapper of one ioctl: the policy (which arcs,
 * when) lives in the session, so this file can be read against the uAPI.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "internal.h"
#include "vfio_compat.h"

struct mstream_device {
	int container, group, fd;
	bool borrowed_fd; /* from mstream_device_from_fd(): the caller's to close */
	mstream_checksum_fn checksum;
	void *checksum_arg;
	char name[NAME_MAX + 1];
	char sysfs[PATH_MAX];
};

static int resolve(const char *name, char *sysfs, char *base)
{
	static const char *const buses[] = { "/sys/bus/mdev/devices", "/sys/bus/pci/devices",
					     "/sys/bus/platform/devices" };
	char path[PATH_MAX + NAME_MAX + 32];
	const char *slash;

	if (!name || !*name)
		return fail(-EINVAL, "no device name");
	if (strchr(name, '/')) {
		if (!realpath(name, sysfs))
			return fail(-errno, "%s: %s", name, strerror(errno));
	} else {
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(buses); i++) {
			snprintf(path, sizeof(path), "%s/%s", buses[i], name);
			if (realpath(path, sysfs))
				break;
		}
		if (i == ARRAY_SIZE(buses))
			return fail(-ENOENT, "%s: no such device in /sys/bus/{mdev,pci,platform}/devices",
				    name);
	}
	slash = strrchr(sysfs, '/');
	snprintf(base, NAME_MAX + 1, "%s", slash ? slash + 1 : sysfs);
	return 0;
}

static int open_group(struct mstream_device *dev)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char link[PATH_MAX + 16], path[PATH_MAX + 16], target[PATH_MAX];
	const char *num;
	ssize_t n;

	snprintf(link, sizeof(link), "%s/iommu_group", dev->sysfs);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return fail(-errno, "%s: no IOMMU group (%s): is it bound to a VFIO driver?",
			    dev->name, strerror(errno));
	target[n] = 0;
	num = strrchr(target, '/');
	num = num ? num + 1 : target;
	snprintf(path, sizeof(path), "/dev/vfio/%s", num);

	dev->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (dev->container < 0)
		return fail(-errno, "/dev/vfio/vfio: %s (is the vfio module loaded?)",
			    strerror(errno));
	if (ioctl(dev->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail(-EPROTO, "/dev/vfio/vfio: unknown VFIO API version");
	if (ioctl(dev->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		return fail(-EOPNOTSUPP, "VFIO type1v2 IOMMU not available (load vfio_iommu_type1)");

	dev->group = open(path, O_RDWR | O_CLOEXEC);
	if (dev->group < 0)
		return fail(-errno, "%s (group of %s): %s", path, dev->name, strerror(errno));
	if (ioctl(dev->group, VFIO_GROUP_GET_STATUS, &status))
		return fail(-errno, "%s: VFIO_GROUP_GET_STATUS: %s", path, strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(-EBUSY, "%s: group not viable (a device in it is not bound to VFIO)",
			    path);
	if (ioctl(dev->group, VFIO_GROUP_SET_CONTAINER, &dev->container))
		return fail(-errno, "%s: VFIO_GROUP_SET_CONTAINER: %s", path, strerror(errno));
	if (ioctl(dev->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail(-errno, "VFIO_SET_IOMMU(TYPE1v2): %s", strerror(errno));
	dev->fd = ioctl(dev->group, VFIO_GROUP_GET_DEVICE_FD, dev->name);
	if (dev->fd < 0)
		return fail(-errno, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", dev->name, strerror(errno));
	return 0;
}

int mstream_device_open(struct mstream_device **devp, const char *name)
{
	struct mstream_device *dev;
	int ret;

	clear_error();
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->container = dev->group = dev->fd = -1;
	ret = resolve(name, dev->sysfs, dev->name);
	if (!ret)
		ret = open_group(dev);
	if (ret) {
		mstream_device_close(dev);
		return ret;
	}
	*devp = dev;
	return 0;
}

int mstream_device_from_fd(struct mstream_device **devp, int fd, const char *name)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct mstream_device *dev;
	int ret;

	clear_error();
	*devp = NULL;
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return fail(-EBADF, "fd %d: not an open file descriptor", fd);
	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &info)) {
		ret = -errno;
		return fail(ret, "fd %d: not a VFIO device (%s)", fd, strerror(-ret));
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->container = dev->group = -1;
	dev->fd = fd;
	dev->borrowed_fd = true;
	if (name) {
		ret = resolve(name, dev->sysfs, dev->name);
		if (ret) {
			free(dev);
			return ret;
		}
	} else {
		snprintf(dev->name, sizeof(dev->name), "fd %d", fd);
	}
	*devp = dev;
	return 0;
}

void mstream_device_close(struct mstream_device *dev)
{
	if (!dev)
		return;
	if (!dev->borrowed_fd)
		close_fd(&dev->fd);
	close_fd(&dev->group);
	close_fd(&dev->container);
	free(dev);
}

const char *mstream_device_name(const struct mstream_device *dev)
{
	return dev->name;
}

const char *mstream_device_sysfs_path(const struct mstream_device *dev)
{
	return dev->sysfs;
}

int mstream_device_fd(const struct mstream_device *dev)
{
	return dev->fd;
}

/*
 * VFIO_DEVICE_FEATURE with a payload of len bytes: copied in for SET,
 * copied out for GET (and on -ENOSPC, where the kernel writes the size it
 * needs into the payload). The buffer is u64 aligned so that the payload's
 * __aligned_u64 fields, after the 8-byte header, are aligned.
 */
static int feature(struct mstream_device *dev, uint32_t op, uint32_t index, void *data,
		   size_t len)
{
	size_t size = sizeof(struct vfio_device_feature) + len;
	uint64_t small[(sizeof(struct vfio_device_feature) + 64) / 8];
	struct vfio_device_feature *f;
	int ret = 0;

	f = size <= sizeof(small) ? (void *)small : calloc(1, size);
	if (!f)
		return -ENOMEM;
	memset(f, 0, size);
	f->argsz = size;
	f->flags = op | index;
	if (data && len)
		memcpy(f->data, data, len);
	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, f))
		ret = -errno;
	if (data && len && (!ret || ret == -ENOSPC) &&
	    (op & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)))
		memcpy(data, f->data, len);
	if ((void *)f != (void *)small)
		free(f);
	return ret;
}

int mstream_device_get_state(struct mstream_device *dev, enum mstream_state *state)
{
	struct vfio_device_feature_mig_state st = { 0 };
	int ret = feature(dev, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st,
			  sizeof(st));

	if (ret)
		return fail(ret, "%s: get migration state: %s", dev->name, strerror(-ret));
	*state = st.device_state;
	return 0;
}

int mstream_device_set_state(struct mstream_device *dev, enum mstream_state state, int *data_fd)
{
	struct vfio_device_feature_mig_state st = { .device_state = state, .data_fd = -1 };
	int ret;

	/* SET alone (GET | SET is -EINVAL): the kernel still copies the struct
	 * back, with data_fd set when the arc opened a session. */
	ret = feature(dev, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st,
		      sizeof(st));

	if (data_fd)
		*data_fd = -1;
	if (ret)
		return fail(ret, "%s: -> %s: %s", dev->name, mstream_state_name(state),
			    strerror(-ret));
	if (st.data_fd >= 0) {
		if (data_fd)
			*data_fd = st.data_fd;
		else
			close(st.data_fd);
	}
	return 0;
}

int mstream_device_reset(struct mstream_device *dev)
{
	if (ioctl(dev->fd, VFIO_DEVICE_RESET))
		return fail(-errno, "%s: reset: %s", dev->name, strerror(errno));
	return 0;
}

int mstream_device_set_streams(struct mstream_device *dev, unsigned int num_dirty)
{
	struct vfio_device_feature_mig_multistream ms = { .num_dirty = num_dirty };
	int ret = feature(dev, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_MIG_MULTISTREAM, &ms,
			  sizeof(ms));

	if (ret == -ENOTTY && !num_dirty)
		return 0; /* no v3 at all: v2 is what it speaks */
	if (ret == -ENOTTY)
		return fail(ret, "%s: the device does not speak v3 (no MIG_MULTISTREAM)", dev->name);
	if (ret == -ERANGE)
		return fail(ret, "%s: %u dirty streams is above the device's limit", dev->name,
			    num_dirty);
	if (ret)
		return fail(ret, "%s: select %u dirty streams: %s", dev->name, num_dirty,
			    strerror(-ret));
	return 0;
}

int mstream_device_get_stream_fds(struct mstream_device *dev, int *fds, unsigned int *num_fds)
{
	struct vfio_device_feature_mig_stream_fds *sf;
	size_t len;
	int ret;

	if (*num_fds > MSTREAM_MAX_STREAMS - 1)
		return fail(-EINVAL, "%s: %u stream FDs asked for, at most %d", dev->name,
			    *num_fds, MSTREAM_MAX_STREAMS - 1);
	len = sizeof(*sf) + *num_fds * sizeof(sf->fds[0]);
	sf = calloc(1, len);
	if (!sf)
		return -ENOMEM;
	sf->num_fds = *num_fds;
	ret = feature(dev, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIG_STREAM_FDS, sf, len);
	if (ret == -ENOSPC) {
		ret = fail(ret, "%s: %u dirty streams, room for %u FDs", dev->name, sf->num_fds,
			   *num_fds);
		*num_fds = sf->num_fds;
	} else if (ret) {
		ret = fail(ret, "%s: get dirty stream FDs: %s", dev->name, strerror(-ret));
	} else if (sf->num_fds > *num_fds) {
		ret = fail(-EPROTO, "%s: %u stream FDs returned for room for %u", dev->name,
			   sf->num_fds, *num_fds);
	} else {
		*num_fds = sf->num_fds;
		memcpy(fds, sf->fds, sf->num_fds * sizeof(int));
	}
	free(sf);
	return ret;
}

int mstream_device_enable_reinit(struct mstream_device *dev)
{
	int ret = feature(dev, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
			  NULL, 0);

	if (ret)
		return fail(ret, "%s: opt into PRECOPY_INFOv2: %s", dev->name, strerror(-ret));
	return 0;
}

int mstream_device_probe(struct mstream_device *dev, struct mstream_caps *caps)
{
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_device_feature_mig_multistream ms = { 0 };
	struct vfio_device_feature_mig_data_size ds = { 0 };
	enum mstream_state state;

	memset(caps, 0, sizeof(*caps));
	if (feature(dev, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIGRATION, &mig,
		    sizeof(mig)))
		return 0; /* not migratable: everything stays false */
	caps->migration = true;
	caps->mig_flags = mig.flags;
	caps->stop_copy = mig.flags & VFIO_MIGRATION_STOP_COPY;
	caps->p2p = mig.flags & VFIO_MIGRATION_P2P;
	caps->pre_copy = mig.flags & VFIO_MIGRATION_PRE_COPY;
	if (!mstream_device_get_state(dev, &state))
		caps->state = state;
	caps->precopy_info_v2 = !feature(dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
					 VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	if (!feature(dev, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIG_MULTISTREAM, &ms,
		     sizeof(ms))) {
		caps->multistream = true;
		caps->max_dirty = ms.max_dirty;
		caps->num_dirty = ms.num_dirty;
	}
	if (!feature(dev, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds,
		     sizeof(ds))) {
		caps->data_size = true;
		caps->stop_copy_length = ds.stop_copy_length;
	}
	clear_error();
	return 0;
}

int mstream_device_stream_info(struct mstream_device *dev, int fd,
			       struct mstream_stream_info *info)
{
	struct vfio_mig_stream_info si = { .argsz = sizeof(si) };

	if (ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &si))
		return fail(-errno, "%s: stream info: %s", dev ? dev->name : "?", strerror(errno));
	memset(info, 0, sizeof(*info));
	info->flags = si.flags;
	info->stream_id = si.stream_id;
	info->num_streams = si.num_streams;
	info->pending_bytes = si.pending_bytes;
	info->queued_bytes = si.queued_bytes;
	return 0;
}

int mstream_device_precopy_info(struct mstream_device *dev, int fd,
				struct mstream_stream_info *info)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };

	if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi))
		return fail(-errno, "%s: precopy info: %s", dev ? dev->name : "?", strerror(errno));
	memset(info, 0, sizeof(*info));
	/* VFIO_PRECOPY_INFO_REINIT and MSTREAM_INFO_REINIT are both bit 0. */
	info->flags = pi.flags & VFIO_PRECOPY_INFO_REINIT ? MSTREAM_INFO_REINIT : 0;
	info->num_streams = 1;
	info->initial_bytes = pi.initial_bytes;
	info->dirty_bytes = pi.dirty_bytes;
	info->pending_bytes = pi.initial_bytes + pi.dirty_bytes;
	return 0;
}

void mstream_device_set_checksum(struct mstream_device *dev, mstream_checksum_fn fn, void *arg)
{
	dev->checksum = fn;
	dev->checksum_arg = arg;
}

int device_checksum(struct mstream_device *dev, uint64_t *sum)
{
	return dev->checksum ? dev->checksum(dev, sum, dev->checksum_arg) : -ENOENT;
}
