// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: the migration state machine, the saving and resuming
 * sessions, the device features and data_fd ioctl of v2; v3's own are in
 * mst_v3.c.
 *
 * As in mlx5, the FSM step is a flat list of the arcs
 * vfio_mig_get_next_state() may ask for; combination arcs are walked one
 * step at a time under state_mutex.
 */

#include <linux/file.h>
#include <linux/memcontrol.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "mst.h"

const char *mst_mig_state_name(enum vfio_device_mig_state state)
{
	static const char * const names[] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	if ((unsigned int)state >= ARRAY_SIZE(names) || !names[state])
		return "UNKNOWN";
	return names[state];
}

/* ---- sessions ---- */

static void mst_sess_free(struct kref *ref)
{
	struct mst_sess *sess = container_of(ref, struct mst_sess, ref);
	struct mst_dev *dev = sess->dev;
	u32 i;

	if (sess->kind == MST_SESS_SAVE)
		mst_fw_release(sess);
	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		if (s->rx_ready)
			mst_rx_parser_destroy(&s->rx);
		mutex_destroy(&s->lock);
		mutex_destroy(&s->wlock);
	}
	vfree(sess->rx_gen);
	mem_cgroup_put(sess->memcg);
	kvfree(sess);
	/* may free the device, if it was removed meanwhile */
	put_device(&dev->vdev.device);
}

void mst_sess_put(struct mst_sess *sess)
{
	kref_put(&sess->ref, mst_sess_free);
}

static struct mst_sess *mst_sess_alloc(struct mst_dev *dev,
				       enum mst_sess_kind kind, u32 nfiles)
{
	struct mst_sess *sess;
	u32 i;

	sess = kvzalloc(struct_size(sess, s, nfiles), GFP_KERNEL_ACCOUNT);
	if (!sess)
		return NULL;
	sess->memcg = get_mem_cgroup_from_mm(current->mm);
	sess->nfiles = nfiles;
	kref_init(&sess->ref);
	get_device(&dev->vdev.device);
	sess->dev = dev;
	sess->kind = kind;
	sess->chunk_size = READ_ONCE(dev->cfg.chunk_size);
	sess->read_ahead = READ_ONCE(dev->cfg.read_ahead);
	sess->maxp = mst_fw_maxp(sess->chunk_size);
	sess->crit_size = dev->st.crit_size;
	sess->integrity = READ_ONCE(dev->cfg.integrity);
	for (i = 0; i < nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		s->sess = sess;
		s->id = i;
		atomic64_set(&s->xfer, 0);
		mutex_init(&s->lock);
		mutex_init(&s->wlock);
	}
	return sess;
}

/* Creates the files of every stream; each holds a session reference. */
static int mst_sess_open_files(struct mst_sess *sess)
{
	u32 i;

	for (i = 0; i < sess->nfiles; i++) {
		struct file *filp = mst_file_open(&sess->s[i]);

		if (IS_ERR(filp))
			return PTR_ERR(filp);
		WRITE_ONCE(sess->s[i].filp, filp);
	}
	return 0;
}

/* Drops the session's own file references (an FD may keep its file). */
static void mst_sess_put_files(struct mst_sess *sess)
{
	u32 i;

	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		if (s->filp && !s->handed)
			fput(s->filp);
		/* a handed-out file's release must not abandon a dead session */
		WRITE_ONCE(s->filp, NULL);
	}
}

/* state_mutex held: detach and end the device's session, if any. */
static void mst_sess_close(struct mst_dev *dev)
{
	struct mst_sess *sess = dev->sess;
	u32 i;

	lockdep_assert_held(&dev->state_mutex);
	if (!sess)
		return;

	mutex_lock(&dev->sess_lock);
	if (dev->reinit_sess == sess)
		dev->reinit_sess = NULL;
	mutex_unlock(&dev->sess_lock);

	sess->dead = true;
	if (sess->kind == MST_SESS_SAVE) {
		mst_fw_stop(sess);
	} else {
		for (i = 0; i < sess->nfiles; i++) {
			mutex_lock(&sess->s[i].wlock);
			WRITE_ONCE(sess->s[i].dead, true);
			mutex_unlock(&sess->s[i].wlock);
		}
	}
	for (i = 0; i < sess->nfiles; i++) {
		u64 n = atomic64_xchg(&sess->s[i].xfer, 0);

		atomic64_add(n, sess->kind == MST_SESS_SAVE ?
			     &dev->bytes_saved : &dev->bytes_loaded);
	}
	mst_sess_put_files(sess);
	dev->sess = NULL;
	mst_sess_put(sess);
}

/* state_mutex held: RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> STOP_COPY. */
static struct file *mst_save_open(struct mst_dev *dev, bool precopy)
{
	u32 ndirty = dev->num_dirty, nfiles = ndirty ? ndirty + 1 : 1;
	struct mst_sess *sess;
	int ret;

	lockdep_assert_held(&dev->state_mutex);

	sess = mst_sess_alloc(dev, MST_SESS_SAVE, nfiles);
	if (!sess)
		return ERR_PTR(-ENOMEM);
	if (ndirty) {
		sess->protocol = 3;
		sess->nsub = nfiles;
	} else {
		u32 mode = READ_ONCE(dev->cfg.v2_mode);

		sess->protocol = 2;
		sess->mux = mst_v2_mode_muxed(mode);
		sess->mux_head = mode == MST_V2_MUXHEAD;
		sess->nsub = sess->mux ? READ_ONCE(dev->cfg.engines) + 1 : 1;
	}

	ret = mst_fw_init_save(sess);
	if (ret)
		goto err_stop_fw;
	ret = mst_sess_open_files(sess);
	if (ret)
		goto err_stop_fw;

	dev->sess = sess;
	mutex_lock(&dev->sess_lock);
	dev->reinit_sess = sess;
	mutex_unlock(&dev->sess_lock);
	mst_fw_go(sess, precopy);
	return get_file(sess->s[0].filp);

err_stop_fw:
	mst_fw_stop(sess);
	mst_sess_put_files(sess);
	mst_sess_put(sess);
	return ERR_PTR(ret);
}

/* state_mutex held: STOP -> RESUMING. */
static struct file *mst_resume_open(struct mst_dev *dev)
{
	u32 ndirty = dev->num_dirty, nfiles = ndirty ? ndirty + 1 : 1, i;
	struct mst_geometry geo;
	struct mst_sess *sess;
	int ret;

	lockdep_assert_held(&dev->state_mutex);

	sess = mst_sess_alloc(dev, MST_SESS_RESUME, nfiles);
	if (!sess)
		return ERR_PTR(-ENOMEM);
	sess->protocol = ndirty ? 3 : 2;
	/* v2: the stream count comes from the source (mux or not) */
	sess->nsub = ndirty ? nfiles : 0;

	sess->rx_gen = __vmalloc(dev->st.npages * sizeof(u32),
				 GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!sess->rx_gen) {
		ret = -ENOMEM;
		goto err_put_sess;
	}
	mst_state_geometry(sess, &geo);
	mst_rx_session_init(&sess->rx, &mst_rx_ops, sess, &geo);
	for (i = 0; i < nfiles; i++) {
		ret = mst_rx_parser_init(&sess->s[i].rx, &sess->rx,
					 ndirty ? i : MST_RX_ANY_STREAM);
		if (ret)
			goto err_put_sess;
		sess->s[i].rx_ready = true;
	}
	ret = mst_sess_open_files(sess);
	if (ret)
		goto err_put_files;

	dev->sess = sess;
	return get_file(sess->s[0].filp);

err_put_files:
	mst_sess_put_files(sess);
err_put_sess:
	mst_sess_put(sess);
	return ERR_PTR(ret);
}

/* state_mutex held: RESUMING -> STOP; the session's verdict. */
static int mst_resume_finish(struct mst_dev *dev)
{
	struct mst_sess *sess = dev->sess;
	u32 i;
	int ret;

	lockdep_assert_held(&dev->state_mutex);
	if (!sess || sess->kind != MST_SESS_RESUME)
		return -ENODATA;

	/* no write in flight from here on */
	for (i = 0; i < sess->nfiles; i++) {
		mutex_lock(&sess->s[i].wlock);
		WRITE_ONCE(sess->s[i].dead, true);
		mutex_unlock(&sess->s[i].wlock);
	}
	for (i = 0; i < sess->nfiles; i++)
		mst_rx_parser_finish(&sess->s[i].rx);
	ret = mst_rx_session_complete(&sess->rx);
	if (ret == -ENODATA && sess->protocol == 2) {
		u64 written = 0;

		/*
		 * v2, nothing ever accepted: the session never started and
		 * the device state is untouched, so leaving it is a plain
		 * cancel, as with today's drivers. v3 requires every stream
		 * to have ended, as its header says.
		 */
		for (i = 0; i < sess->nfiles; i++)
			written += atomic64_read(&sess->s[i].xfer);
		if (!written)
			ret = 0;
	}
	mst_sess_close(dev);
	return ret;
}

/* ---- the FSM ---- */

static bool mst_arc(enum vfio_device_mig_state cur,
		    enum vfio_device_mig_state new,
		    enum vfio_device_mig_state from,
		    enum vfio_device_mig_state to)
{
	return cur == from && new == to;
}

static struct file *mst_step_locked(struct mst_dev *dev,
				    enum vfio_device_mig_state new)
{
	enum vfio_device_mig_state cur = dev->mig_state;
	int ret;

	lockdep_assert_held(&dev->state_mutex);

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_RUNNING,
		    VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_PRE_COPY,
		    VFIO_DEVICE_STATE_PRE_COPY_P2P) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_RUNNING_P2P,
		    VFIO_DEVICE_STATE_RUNNING) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		    VFIO_DEVICE_STATE_PRE_COPY) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_RUNNING_P2P,
		    VFIO_DEVICE_STATE_STOP) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_STOP,
		    VFIO_DEVICE_STATE_RUNNING_P2P))
		return NULL;	/* the workload follows the state, see caller */

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_RUNNING,
		    VFIO_DEVICE_STATE_PRE_COPY) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_RUNNING_P2P,
		    VFIO_DEVICE_STATE_PRE_COPY_P2P))
		return mst_save_open(dev, true);

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_STOP,
		    VFIO_DEVICE_STATE_STOP_COPY))
		return mst_save_open(dev, false);

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		    VFIO_DEVICE_STATE_STOP_COPY)) {
		if (dev->sess)
			mst_fw_stop_copy(dev->sess);
		return NULL;
	}

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_PRE_COPY,
		    VFIO_DEVICE_STATE_RUNNING) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		    VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    mst_arc(cur, new, VFIO_DEVICE_STATE_STOP_COPY,
		    VFIO_DEVICE_STATE_STOP)) {
		/* saving only read the state: it is intact */
		mst_sess_close(dev);
		return NULL;
	}

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_STOP,
		    VFIO_DEVICE_STATE_RESUMING))
		return mst_resume_open(dev);

	if (mst_arc(cur, new, VFIO_DEVICE_STATE_RESUMING,
		    VFIO_DEVICE_STATE_STOP)) {
		ret = mst_resume_finish(dev);
		if (ret) {
			WRITE_ONCE(dev->mig_state, VFIO_DEVICE_STATE_ERROR);
			return ERR_PTR(ret);
		}
		return NULL;
	}

	/* vfio_mig_get_next_state() asks for no other arc */
	WARN_ON(true);
	return ERR_PTR(-EINVAL);
}

static struct file *mst_set_state(struct vfio_device *vdev,
				  enum vfio_device_mig_state new_state)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);
	enum vfio_device_mig_state next;
	struct file *res = NULL;
	int ret;

	mutex_lock(&dev->state_mutex);
	/* ERROR has no arc out but reset (and the core would WARN) */
	if (dev->mig_state == VFIO_DEVICE_STATE_ERROR) {
		res = ERR_PTR(-EINVAL);
		goto out_unlock;
	}
	while (new_state != dev->mig_state) {
		ret = vfio_mig_get_next_state(vdev, dev->mig_state, new_state,
					      &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = mst_step_locked(dev, next);
		if (IS_ERR(res))
			break;
		WRITE_ONCE(dev->mig_state, next);
		mst_wl_set_active(dev, next == VFIO_DEVICE_STATE_RUNNING ||
				       next == VFIO_DEVICE_STATE_PRE_COPY);
		if (res && new_state != dev->mig_state) {
			/* an FD only ever comes from the last arc */
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
out_unlock:
	mutex_unlock(&dev->state_mutex);
	return res;
}

static int mst_get_state(struct vfio_device *vdev,
			 enum vfio_device_mig_state *curr_state)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);

	mutex_lock(&dev->state_mutex);
	*curr_state = dev->mig_state;
	mutex_unlock(&dev->state_mutex);
	return 0;
}

static int mst_get_data_size(struct vfio_device *vdev,
			     unsigned long *stop_copy_length)
{
	struct mst_dev *dev = mst_vdev_to_dev(vdev);
	struct mst_sess *sess;
	u64 size = 0;
	u32 i;
	int ret;

	mutex_lock(&dev->state_mutex);
	ret = mst_state_ensure(dev);
	if (ret)
		goto out_unlock;
	sess = dev->sess;
	if (sess && sess->kind == MST_SESS_SAVE) {
		for (i = 0; i < sess->nfiles; i++)
			size += mst_fw_remaining(&sess->s[i]);
	} else {
		size = mst_fw_full_size(dev);
	}
	*stop_copy_length = size;
out_unlock:
	mutex_unlock(&dev->state_mutex);
	return ret;
}

const struct vfio_migration_ops mst_mig_ops = {
	.migration_set_state = mst_set_state,
	.migration_get_state = mst_get_state,
	.migration_get_data_size = mst_get_data_size,
};

/**
 * mst_mig_close() - the device FD closed: end any session
 * @dev: the device.
 */
void mst_mig_close(struct mst_dev *dev)
{
	mutex_lock(&dev->state_mutex);
	mst_wl_set_active(dev, false);
	mst_sess_close(dev);
	WRITE_ONCE(dev->mig_state, VFIO_DEVICE_STATE_RUNNING);
	WRITE_ONCE(dev->precopy_v2, false);
	WRITE_ONCE(dev->num_dirty, 0);
	mutex_unlock(&dev->state_mutex);
}

/**
 * mst_mig_reset() - VFIO_DEVICE_RESET: back to RUNNING
 * @dev: the device.
 *
 * Any session ends. A saving device keeps its state, as with a cancel; a
 * device that was loading (RESUMING) or failed to (ERROR) holds a partial
 * state and gets a fresh one.
 */
int mst_mig_reset(struct mst_dev *dev)
{
	bool fresh;

	mutex_lock(&dev->state_mutex);
	fresh = dev->mig_state == VFIO_DEVICE_STATE_ERROR ||
		dev->mig_state == VFIO_DEVICE_STATE_RESUMING;
	mst_wl_set_active(dev, false);
	mst_sess_close(dev);
	WRITE_ONCE(dev->mig_state, VFIO_DEVICE_STATE_RUNNING);
	WRITE_ONCE(dev->num_dirty, 0);
	if (fresh)
		mst_state_fresh(dev);
	mst_wl_set_active(dev, true);
	mutex_unlock(&dev->state_mutex);
	return 0;
}

/* ---- device features ---- */

static int mst_feature_precopy_v2(struct mst_dev *dev, u32 flags,
				  void __user *arg, size_t argsz)
{
	int ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);

	if (ret != 1)
		return ret;
	/* no data; whatever is supplied is ignored */
	mutex_lock(&dev->state_mutex);
	WRITE_ONCE(dev->precopy_v2, true);
	mutex_unlock(&dev->state_mutex);
	return 0;
}

/**
 * mst_mig_feature() - VFIO_DEVICE_FEATURE migration features the core leaves
 *	to the driver
 * @dev: the device.
 * @flags: the feature index and GET/SET/PROBE.
 * @arg: the payload.
 * @argsz: its size.
 *
 * Return: 0 or a negative errno; -ENOTTY for an unknown feature.
 */
int mst_mig_feature(struct mst_dev *dev, u32 flags, void __user *arg,
		    size_t argsz)
{
	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		return mst_feature_precopy_v2(dev, flags, arg, argsz);
	case VFIO_DEVICE_FEATURE_MIG_MULTISTREAM:
		return mst_v3_feature_multistream(dev, flags, arg, argsz);
	case VFIO_DEVICE_FEATURE_MIG_STREAM_FDS:
		return mst_v3_feature_stream_fds(dev, flags, arg, argsz);
	default:
		return -ENOTTY;
	}
}

/* ---- ioctls of the migration FDs ---- */

/**
 * mst_mig_precopy_ioctl() - VFIO_MIG_GET_PRECOPY_INFO on a data_fd
 * @s: v2's data_fd stream, or v3's critical stream.
 * @arg: struct vfio_precopy_info.
 *
 * Without the MIG_PRECOPY_INFOv2 opt-in, @flags is echoed back as every
 * driver did before Linux 7.1; with it, @flags is an output.
 */
long mst_mig_precopy_ioctl(struct mst_stream *s, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct mst_sess *sess = s->sess;
	struct mst_dev *dev = sess->dev;
	struct vfio_precopy_info info;
	bool optin, reinit = false;
	u64 initial = 0, dirty = 0;
	int ret = 0;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	/* an ended session's FD answers -ENODEV whatever the state, as reads */
	mutex_lock(&dev->state_mutex);
	if (!mst_sess_live(s)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (!mst_precopy_state(dev->mig_state)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	optin = dev->precopy_v2;

	mst_fw_precopy_info(s, optin, &reinit, &initial, &dirty);
	mutex_unlock(&dev->state_mutex);

	if (optin)
		info.flags = reinit ? VFIO_PRECOPY_INFO_REINIT : 0;
	info.initial_bytes = initial;
	info.dirty_bytes = dirty;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;

out_unlock:
	mutex_unlock(&dev->state_mutex);
	return ret;
}
