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

/**
 * enum mst_knob_kind - what a store to a knob does besides the store
 * @MST_KNOB_GEOMETRY: the state is sized from it: refused (-EBUSY) while the
 *	device is opened, and the current state is dropped.
 * @MST_KNOB_WORKLOAD: the workload reads it between batches: kick it so that
 *	the new value holds once the store returns.
 * @MST_KNOB_PLAIN: read where it takes effect (session start, or live by the
 *	engines for engine_bw): nothing to do.
 */
enum mst_knob_kind {
	MST_KNOB_GEOMETRY,
	MST_KNOB_WORKLOAD,
	MST_KNOB_PLAIN,
};

/**
 * struct mst_knob - a field of struct mst_cfg exposed in sysfs
 * @attr: the attribute; mst_knob_show() and mst_knob_store() get back to the
 *	descriptor from it with container_of().
 * @offset: offsetof() the field in struct mst_cfg.
 * @wide: the field is a u64; else a u32, and a value above U32_MAX is
 *	-ERANGE rather than -EINVAL, as for any u32 knob.
 * @min: smallest accepted value.
 * @max: largest accepted value.
 * @align: the value must be a multiple of it; 0 for any value.
 * @kind: enum mst_knob_kind.
 * @names: an enum knob (a u32) is read and written as these names, value i
 *	as @names[i]; NULL for a number.
 * @nnames: how many @names.
 *
 * A value that parses but is out of [@min, @max] or not aligned is -EINVAL,
 * and so is a name not in @names.
 */
struct mst_knob {
	struct device_attribute attr;
	size_t offset;
	bool wide;
	u64 min;
	u64 max;
	u64 align;
	enum mst_knob_kind kind;
	const char * const *names;
	size_t nnames;
};

static const struct mst_knob *mst_attr_knob(struct device_attribute *attr)
{
	return container_of(attr, struct mst_knob, attr);
}

static void *mst_knob_field(struct mst_dev *mdev, const struct mst_knob *k)
{
	return (u8 *)&mdev->cfg + k->offset;
}

static ssize_t mst_knob_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	const struct mst_knob *k = mst_attr_knob(attr);
	void *field = mst_knob_field(mst_attr_dev(dev), k);

	if (k->wide)
		return sysfs_emit(buf, "%llu\n", READ_ONCE(*(u64 *)field));
	if (k->names)
		return sysfs_emit(buf, "%s\n",
				  k->names[READ_ONCE(*(u32 *)field)]);
	return sysfs_emit(buf, "%u\n", READ_ONCE(*(u32 *)field));
}

static ssize_t mst_knob_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	const struct mst_knob *k = mst_attr_knob(attr);
	struct mst_dev *mdev = mst_attr_dev(dev);
	void *field = mst_knob_field(mdev, k);
	u64 v;
	int ret;

	if (k->names) {
		ret = __sysfs_match_string(k->names, k->nnames, buf);
		if (ret < 0)
			return ret;
		v = ret;
		ret = 0;
	} else if (k->wide) {
		ret = mst_parse_u64(buf, &v);
	} else {
		u32 v32;

		ret = mst_parse_u32(buf, &v32);
		v = v32;
	}
	if (ret)
		return ret;
	if (v < k->min || v > k->max || (k->align && v % k->align))
		return -EINVAL;

	if (k->kind == MST_KNOB_GEOMETRY)
		return mst_store_geometry(mdev, k->wide ? field : NULL,
					  k->wide ? NULL : field, v, count);
	if (k->wide)
		WRITE_ONCE(*(u64 *)field, v);
	else
		WRITE_ONCE(*(u32 *)field, v);
	if (k->kind == MST_KNOB_WORKLOAD)
		mst_wl_kick(mdev);
	return count;
}

/* The u32/u64 split is all the generic code handles: refuse other widths. */
#define MST_KNOB(_name, _min, _max, _align, _kind)			\
static_assert(sizeof_field(struct mst_cfg, _name) == sizeof(u32) ||	\
	      sizeof_field(struct mst_cfg, _name) == sizeof(u64));	\
static struct mst_knob mst_knob_##_name = {				\
	.attr	= __ATTR(_name, 0644, mst_knob_show, mst_knob_store),	\
	.offset	= offsetof(struct mst_cfg, _name),			\
	.wide	= sizeof_field(struct mst_cfg, _name) == sizeof(u64),	\
	.min	= (_min),						\
	.max	= (_max),						\
	.align	= (_align),						\
	.kind	= (_kind),						\
}

/* A u32 field of enum values, read and written as the names in @_names. */
#define MST_ENUM_KNOB(_name, _names, _kind)				\
static_assert(sizeof_field(struct mst_cfg, _name) == sizeof(u32));	\
static struct mst_knob mst_knob_##_name = {				\
	.attr	= __ATTR(_name, 0644, mst_knob_show, mst_knob_store),	\
	.offset	= offsetof(struct mst_cfg, _name),			\
	.max	= U32_MAX,						\
	.kind	= (_kind),						\
	.names	= (_names),						\
	.nnames	= ARRAY_SIZE(_names),					\
}

MST_KNOB(state_size, MST_MIN_STATE_SIZE, MST_MAX_STATE_SIZE, MST_STATE_ALIGN,
	 MST_KNOB_GEOMETRY);
MST_KNOB(crit_size, 1, MST_CRIT_MAX_SIZE, 0, MST_KNOB_GEOMETRY);
MST_KNOB(dirty_rate, 0, U64_MAX, 0, MST_KNOB_WORKLOAD);
MST_KNOB(reinit_period_ms, 0, U32_MAX, 0, MST_KNOB_WORKLOAD);
MST_KNOB(engines, 1, MST_MAX_ENGINES, 0, MST_KNOB_PLAIN);
/* MiB/s per engine, 0 = unlimited; at most U32_MAX bytes/s */
MST_KNOB(engine_bw, 0, U32_MAX >> 20, 0, MST_KNOB_PLAIN);
MST_KNOB(chunk_size, MST_MIN_CHUNK_SIZE, MST_MAX_CHUNK_SIZE, MST_PAGE_SIZE,
	 MST_KNOB_PLAIN);
MST_KNOB(read_ahead, 1, MST_MAX_READ_AHEAD, 0, MST_KNOB_PLAIN);

static const char * const mst_backing_names[] = {
	[MST_BACKING_MEMORY] = "memory",
	[MST_BACKING_PATTERN] = "pattern",
};

MST_ENUM_KNOB(backing, mst_backing_names, MST_KNOB_GEOMETRY);

static const char * const mst_dirty_pattern_names[] = {
	[MST_DIRTY_UNIFORM] = "uniform",
	[MST_DIRTY_HOT] = "hot",
};

MST_ENUM_KNOB(dirty_pattern, mst_dirty_pattern_names, MST_KNOB_WORKLOAD);

/*
 * A reconfiguration comes from a running guest, or from the device's own
 * firmware while it saves; a stopped (STOP, RUNNING_P2P), loading or failed
 * device does not change its internal state.
 */
static bool mst_reinit_allowed(enum vfio_device_mig_state state)
{
	return state == VFIO_DEVICE_STATE_RUNNING ||
	       state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	       state == VFIO_DEVICE_STATE_STOP_COPY;
}

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
	if (!mst_reinit_allowed(mdev->mig_state))
		ret = -EBUSY;
	else
		ret = mst_state_ensure(mdev);
	if (!ret)
		ret = mst_state_reinit(mdev);
	mutex_unlock(&mdev->state_mutex);
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(reinit);

static const char * const mst_v2_mode_names[] = {
	[MST_V2_SINGLE] = "single",
	[MST_V2_MUX] = "mux",
	[MST_V2_MUXHEAD] = "muxhead",
};

MST_ENUM_KNOB(v2_mode, mst_v2_mode_names, MST_KNOB_PLAIN);

static const char * const mst_integrity_names[] = {
	[MST_INTEGRITY_CRC] = "crc",
	[MST_INTEGRITY_DEVICE] = "device",
};

MST_ENUM_KNOB(integrity, mst_integrity_names, MST_KNOB_PLAIN);

/*
 * Hashes the whole state (up to 64 GiB): root only. state_mutex is held
 * because the state is allocated and freed under it (and the hash must see
 * one kind of backing), which stalls the migration arcs meanwhile. wl_lock
 * is held too: the workload writes pages under it, so its next batch waits
 * for the hash, which then reads pages nobody writes. A resuming session's
 * writes are not held off: the sum of a RESUMING device is not a snapshot.
 * It allocates nothing: a state not allocated yet is hashed as the first
 * allocation will make it.
 */
static ssize_t checksum_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct mst_dev *mdev = mst_attr_dev(dev);
	u64 sum;

	mutex_lock(&mdev->state_mutex);
	if (mdev->st.ready) {
		mutex_lock(&mdev->wl_lock);
		sum = mst_state_checksum(mdev);
		mutex_unlock(&mdev->wl_lock);
	} else {
		sum = mst_state_checksum_unallocated(mdev);
	}
	mutex_unlock(&mdev->state_mutex);
	return sysfs_emit(buf, "%016llx\n", sum);
}
static DEVICE_ATTR_ADMIN_RO(checksum);

static ssize_t mig_state_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	enum vfio_device_mig_state st = READ_ONCE(mst_attr_dev(dev)->mig_state);

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
	&mst_knob_state_size.attr.attr,
	&mst_knob_backing.attr.attr,
	&mst_knob_crit_size.attr.attr,
	&mst_knob_dirty_rate.attr.attr,
	&mst_knob_dirty_pattern.attr.attr,
	&mst_knob_reinit_period_ms.attr.attr,
	&dev_attr_reinit.attr,
	&mst_knob_engines.attr.attr,
	&mst_knob_v2_mode.attr.attr,
	&mst_knob_integrity.attr.attr,
	&mst_knob_engine_bw.attr.attr,
	&mst_knob_chunk_size.attr.attr,
	&mst_knob_read_ahead.attr.attr,
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
