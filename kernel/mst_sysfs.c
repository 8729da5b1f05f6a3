// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: the per-instance knobs and statistics, in
 * /sys/bus/mdev/devices/<uuid>/mstream/.
 *
 * Geometry knobs (state_size, backing, crit_size) change only while the
 * device is not opened (-EBUSY otherwise) and drop the current state: the
 * next open (or checksum read) allocates a fresh one. The other knobs take
 * effect at the next session, or live for dirty_rate, dirty_pattern,
 * reinit_period_ms and engine_bw.
 */

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "mst.h"

static struct mst_dev *mst_attr_dev(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static int mst_parse_u64(const char *buf, u64 *val)
{
	char *end;
	u64 v;

	/* memparse: 64M, 1G, ... as well as plain bytes */
	v = memparse(buf, &end);
	if (end == buf)
		return -EINVAL;
	if (*end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*val = v;
	return 0;
}

static int mst_parse_u32(const char *buf, u32 *val)
{
	u64 v;
	int ret = mst_parse_u64(buf, &v);

	if (ret)
		return ret;
	if (v > U32_MAX)
		return -ERANGE;
	*val = v;
	return 0;
}

/* A geometry change: only while not opened; drops the current state. */
static ssize_t mst_store_geometry(struct mst_dev *mdev, u64 *field64,
				  u32 *field32, u64 val, size_t count)
{
	ssize_t ret = count;

	mutex_lock(&mdev->state_mutex);
	if (mdev->opened) {
		ret = -EBUSY;
	} else {
		if (field64)
			*field64 = val;
		else
			*field32 = val;
		mst_state_free(mdev);
	}
	mutex_unlock(&mdev->state_mutex);
	return ret;
}

static ssize_t state_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(mst_attr_dev(dev)->cfg.state_size));
}

static ssize_t state_size_store(struct device *dev,
				struct device_attribute *attr,
				const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u64 v;
	int ret = mst_parse_u64(buf, &v);

	if (ret)
		return ret;
	if (v < MST_MIN_STATE_SIZE || v > MST_MAX_STATE_SIZE ||
	    v % MST_STATE_ALIGN)
		return -EINVAL;
	return mst_store_geometry(mdev, &mdev->cfg.state_size, NULL, v, count);
}
static DEVICE_ATTR_RW(state_size);

static const char * const mst_backing_names[] = {
	[MST_BACKING_MEMORY] = "memory",
	[MST_BACKING_PATTERN] = "pattern",
};

static ssize_t backing_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	u32 b = READ_ONCE(mst_attr_dev(dev)->cfg.backing);

	return sysfs_emit(buf, "%s\n", mst_backing_names[b]);
}

static ssize_t backing_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	int i = sysfs_match_string(mst_backing_names, buf);

	if (i < 0)
		return i;
	return mst_store_geometry(mdev, NULL, &mdev->cfg.backing, i, count);
}
static DEVICE_ATTR_RW(backing);

static ssize_t crit_size_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(mst_attr_dev(dev)->cfg.crit_size));
}

static ssize_t crit_size_store(struct device *dev,
			       struct device_attribute *attr,
			       const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u32 v;
	int ret = mst_parse_u32(buf, &v);

	if (ret)
		return ret;
	if (!v || v > MST_CRIT_MAX_SIZE)
		return -EINVAL;
	return mst_store_geometry(mdev, NULL, &mdev->cfg.crit_size, v, count);
}
static DEVICE_ATTR_RW(crit_size);

static ssize_t dirty_rate_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(mst_attr_dev(dev)->cfg.dirty_rate));
}

static ssize_t dirty_rate_store(struct device *dev,
				struct device_attribute *attr,
				const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u64 v;
	int ret = mst_parse_u64(buf, &v);

	if (ret)
		return ret;
	WRITE_ONCE(mdev->cfg.dirty_rate, v);
	mst_wl_kick(mdev);
	return count;
}
static DEVICE_ATTR_RW(dirty_rate);

static const char * const mst_dirty_pattern_names[] = {
	[MST_DIRTY_UNIFORM] = "uniform",
	[MST_DIRTY_HOT] = "hot",
};

static ssize_t dirty_pattern_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	u32 p = READ_ONCE(mst_attr_dev(dev)->cfg.dirty_pattern);

	return sysfs_emit(buf, "%s\n", mst_dirty_pattern_names[p]);
}

static ssize_t dirty_pattern_store(struct device *dev,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	int i = sysfs_match_string(mst_dirty_pattern_names, buf);

	if (i < 0)
		return i;
	WRITE_ONCE(mst_attr_dev(dev)->cfg.dirty_pattern, i);
	mst_wl_kick(mst_attr_dev(dev));
	return count;
}
static DEVICE_ATTR_RW(dirty_pattern);

static ssize_t reinit_period_ms_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(mst_attr_dev(dev)->cfg.reinit_period_ms));
}

static ssize_t reinit_period_ms_store(struct device *dev,
				      struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u32 v;
	int ret = mst_parse_u32(buf, &v);

	if (ret)
		return ret;
	WRITE_ONCE(mdev->cfg.reinit_period_ms, v);
	mst_wl_kick(mdev);
	return count;
}
static DEVICE_ATTR_RW(reinit_period_ms);

static ssize_t reinit_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	bool v;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	if (!v)
		return count;
	mutex_lock(&mdev->state_mutex);
	ret = mst_state_ensure(mdev);
	if (!ret)
		mst_state_reinit(mdev);
	mutex_unlock(&mdev->state_mutex);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(reinit);

#define MST_U32_KNOB(_name, _min, _max)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n",					\
			  READ_ONCE(mst_attr_dev(dev)->cfg._name));	\
}									\
static ssize_t _name##_store(struct device *dev,			\
			     struct device_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	u32 v;								\
	int ret = mst_parse_u32(buf, &v);				\
									\
	if (ret)							\
		return ret;						\
	if (v < (_min) || v > (_max))					\
		return -EINVAL;						\
	WRITE_ONCE(mst_attr_dev(dev)->cfg._name, v);			\
	return count;							\
}									\
static DEVICE_ATTR_RW(_name)

MST_U32_KNOB(engines, 1, MST_MAX_ENGINES);
MST_U32_KNOB(engine_bw, 0, U32_MAX >> 20);
MST_U32_KNOB(read_ahead, 1, MST_MAX_READ_AHEAD);

static ssize_t chunk_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(mst_attr_dev(dev)->cfg.chunk_size));
}

static ssize_t chunk_size_store(struct device *dev,
				struct device_attribute *attr,
				const char *buf, size_t count)
{
	u32 v;
	int ret = mst_parse_u32(buf, &v);

	if (ret)
		return ret;
	if (v < MST_MIN_CHUNK_SIZE || v > MST_MAX_CHUNK_SIZE ||
	    v % MST_PAGE_SIZE)
		return -EINVAL;
	WRITE_ONCE(mst_attr_dev(dev)->cfg.chunk_size, v);
	return count;
}
static DEVICE_ATTR_RW(chunk_size);

static const char * const mst_v2_mode_names[] = {
	[MST_V2_SINGLE] = "single",
	[MST_V2_MUX] = "mux",
};

static ssize_t v2_mode_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	u32 m = READ_ONCE(mst_attr_dev(dev)->cfg.v2_mode);

	return sysfs_emit(buf, "%s\n", mst_v2_mode_names[m]);
}

static ssize_t v2_mode_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	int i = sysfs_match_string(mst_v2_mode_names, buf);

	if (i < 0)
		return i;
	WRITE_ONCE(mst_attr_dev(dev)->cfg.v2_mode, i);
	return count;
}
static DEVICE_ATTR_RW(v2_mode);

static ssize_t checksum_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u64 sum = 0;
	int ret;

	mutex_lock(&mdev->state_mutex);
	ret = mst_state_ensure(mdev);
	if (!ret)
		sum = mst_state_checksum(mdev);
	mutex_unlock(&mdev->state_mutex);
	if (ret)
		return ret;
	return sysfs_emit(buf, "%016llx\n", sum);
}
static DEVICE_ATTR_RO(checksum);

static ssize_t mig_state_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	enum vfio_device_mig_state st;

	mutex_lock(&mdev->state_mutex);
	st = mdev->mig_state;
	mutex_unlock(&mdev->state_mutex);
	return sysfs_emit(buf, "%s\n", mst_mig_state_name(st));
}
static DEVICE_ATTR_RO(mig_state);

static ssize_t protocol_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	u32 n = READ_ONCE(mst_attr_dev(dev)->num_dirty);

	if (!n)
		return sysfs_emit(buf, "v2\n");
	return sysfs_emit(buf, "v3 %u\n", n);
}
static DEVICE_ATTR_RO(protocol);

/* Totals of the ended sessions plus the live one. */
static u64 mst_bytes(struct mst_dev *mdev, bool save)
{
	struct mst_sess *sess;
	u64 n;
	u32 i;

	mutex_lock(&mdev->state_mutex);
	n = atomic64_read(save ? &mdev->bytes_saved : &mdev->bytes_loaded);
	sess = mdev->sess;
	if (sess && (sess->kind == MST_SESS_SAVE) == save)
		for (i = 0; i < sess->nfiles; i++)
			n += atomic64_read(&sess->s[i].xfer);
	mutex_unlock(&mdev->state_mutex);
	return n;
}

static ssize_t bytes_saved_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", mst_bytes(mst_attr_dev(dev), true));
}
static DEVICE_ATTR_RO(bytes_saved);

static ssize_t bytes_loaded_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", mst_bytes(mst_attr_dev(dev), false));
}
static DEVICE_ATTR_RO(bytes_loaded);

static ssize_t fw_busy_ns_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  (long long)atomic64_read(&mst_attr_dev(dev)->fw_busy_ns));
}
static DEVICE_ATTR_RO(fw_busy_ns);

static ssize_t crit_gen_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u64 gen = 0;

	mutex_lock(&mdev->state_mutex);
	if (mdev->st.ready) {
		mutex_lock(&mdev->st.crit_lock);
		gen = mdev->st.crit_gen;
		mutex_unlock(&mdev->st.crit_lock);
	}
	mutex_unlock(&mdev->state_mutex);
	return sysfs_emit(buf, "%llu\n", gen);
}
static DEVICE_ATTR_RO(crit_gen);

static struct attribute *mst_dev_attrs[] = {
	&dev_attr_state_size.attr,
	&dev_attr_backing.attr,
	&dev_attr_crit_size.attr,
	&dev_attr_dirty_rate.attr,
	&dev_attr_dirty_pattern.attr,
	&dev_attr_reinit_period_ms.attr,
	&dev_attr_reinit.attr,
	&dev_attr_engines.attr,
	&dev_attr_v2_mode.attr,
	&dev_attr_engine_bw.attr,
	&dev_attr_chunk_size.attr,
	&dev_attr_read_ahead.attr,
	&dev_attr_checksum.attr,
	&dev_attr_mig_state.attr,
	&dev_attr_protocol.attr,
	&dev_attr_bytes_saved.attr,
	&dev_attr_bytes_loaded.attr,
	&dev_attr_fw_busy_ns.attr,
	&dev_attr_crit_gen.attr,
	NULL,
};

static const struct attribute_group mst_dev_group = {
	.name = "mstream",
	.attrs = mst_dev_attrs,
};

const struct attribute_group *mst_dev_groups[] = {
	&mst_dev_group,
	NULL,
};
