// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: what a driver that speaks v2 adds to speak v3, apart from
 * producing the streams, which is its firmware's job (mst_fw.c here): the
 * two device features, handing out the dirty streams' FDs, their
 * STREAM_INFO ioctl, and what a dirty stream's end, failure or abandonment
 * means for the critical stream.
 *
 * Nothing here knows how the device produces its records: a real driver
 * would keep this file nearly as it is and replace mst_fw.c.
 */

#include <linux/file.h>
#include <linux/uaccess.h>

#include "mst.h"

/* ---- device features ---- */

static bool mst_state_sessionless(enum vfio_device_mig_state state)
{
	return state == VFIO_DEVICE_STATE_RUNNING ||
	       state == VFIO_DEVICE_STATE_RUNNING_P2P ||
	       state == VFIO_DEVICE_STATE_STOP;
}

/**
 * mst_v3_feature_multistream() - VFIO_DEVICE_FEATURE_MIG_MULTISTREAM
 * @dev: the device.
 * @flags: GET, SET or PROBE.
 * @arg: struct vfio_device_feature_mig_multistream.
 * @argsz: its size.
 *
 * SET chooses the number of dirty streams of the next session; it is
 * refused while a session exists, which a state with a data FD implies.
 *
 * Return: 0 or a negative errno.
 */
int mst_v3_feature_multistream(struct mst_dev *dev, u32 flags,
			       void __user *arg, size_t argsz)
{
	struct vfio_device_feature_mig_multistream ms;
	int ret;

	ret = vfio_check_feature(flags, argsz,
				 VFIO_DEVICE_FEATURE_GET |
				 VFIO_DEVICE_FEATURE_SET, sizeof(ms));
	if (ret != 1)
		return ret;

	if (flags & VFIO_DEVICE_FEATURE_GET) {
		memset(&ms, 0, sizeof(ms));
		mutex_lock(&dev->state_mutex);
		ms.num_dirty = dev->num_dirty;
		mutex_unlock(&dev->state_mutex);
		ms.max_dirty = MST_MAX_DIRTY;
		return copy_to_user(arg, &ms, sizeof(ms)) ? -EFAULT : 0;
	}

	if (copy_from_user(&ms, arg, sizeof(ms)))
		return -EFAULT;
	if (ms.flags || ms.max_dirty || ms.reserved)
		return -EINVAL;
	if (ms.num_dirty > MST_MAX_DIRTY)
		return -ERANGE;
	mutex_lock(&dev->state_mutex);
	if (!mst_state_sessionless(dev->mig_state) || dev->sess)
		ret = -EBUSY;
	else
		WRITE_ONCE(dev->num_dirty, ms.num_dirty);
	mutex_unlock(&dev->state_mutex);
	return ret == 1 ? 0 : ret;
}

/*
 * state_mutex held: a reference to the file of each dirty stream. Once a
 * source's dirty stream was handed out (below), only its descriptors hold
 * its file: a reference is taken only while one of them is still open; once
 * every one was closed the stream was abandoned (mst_v3_abandon()) and the
 * call fails with -ENODEV.
 */
static int mst_stream_files_get(struct mst_sess *sess, struct file **files,
				u32 n)
{
	u32 i;

	lockdep_assert_held(&sess->dev->state_mutex);

	for (i = 0; i < n; i++) {
		struct mst_stream *s = &sess->s[i + 1];

		files[i] = s->handed ? get_file_active(&s->filp) :
				       get_file(s->filp);
		if (!files[i]) {
			while (i--)
				fput(files[i]);
			return -ENODEV;
		}
	}
	return 0;
}

/*
 * The descriptors of a source's dirty streams are installed: the session
 * drops its own reference to their files, so that closing the last
 * descriptor of a stream abandons it, which the file's release sees.
 */
static void mst_stream_files_hand_out(struct mst_dev *dev,
				      struct mst_sess *sess)
{
	bool live_save;
	u32 i;

	mutex_lock(&dev->state_mutex);
	/* a session that ended meanwhile already dropped its references */
	live_save = dev->sess == sess && sess->kind == MST_SESS_SAVE;
	for (i = 1; live_save && i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		if (s->handed)
			continue;
		s->handed = true;
		fput(s->filp);
	}
	mutex_unlock(&dev->state_mutex);
}

/**
 * mst_v3_feature_stream_fds() - VFIO_DEVICE_FEATURE_MIG_STREAM_FDS
 * @dev: the device.
 * @flags: GET or PROBE.
 * @arg: struct vfio_device_feature_mig_stream_fds and its fds[].
 * @argsz: their size.
 *
 * The files are taken under state_mutex, the user copies and the new
 * descriptors made after it (a fault on the user buffer stalls this call
 * only), and fd_install() comes last, once nothing can fail, as mlx5's
 * data_fd is installed by the core after the arc succeeded.
 */
int mst_v3_feature_stream_fds(struct mst_dev *dev, u32 flags,
			      void __user *arg, size_t argsz)
{
	struct vfio_device_feature_mig_stream_fds hdr;
	struct file *files[MST_MAX_DIRTY];
	s32 fds[MST_MAX_DIRTY];
	struct mst_sess *sess;
	u32 n, i, j;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(hdr));
	if (ret != 1)
		return ret;
	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.flags)
		return -EINVAL;

	mutex_lock(&dev->state_mutex);
	sess = dev->sess;
	if (!sess || sess->protocol != 3) {
		mutex_unlock(&dev->state_mutex);
		return -ENOENT;
	}
	n = sess->nfiles - 1;
	if (hdr.num_fds < n || argsz < sizeof(hdr) + (size_t)n * sizeof(s32)) {
		mutex_unlock(&dev->state_mutex);
		if (hdr.num_fds < n)
			return put_user(n, (u32 __user *)arg) ? -EFAULT : -ENOSPC;
		return -EINVAL;
	}
	ret = mst_stream_files_get(sess, files, n);
	if (!ret)
		kref_get(&sess->ref);
	hdr.flags = sess->kind == MST_SESS_RESUME ?
		    VFIO_MIG_STREAM_FDS_RESUMING : 0;
	mutex_unlock(&dev->state_mutex);
	if (ret)
		return ret;

	for (i = 0; i < n; i++) {
		fds[i] = get_unused_fd_flags(O_CLOEXEC);
		if (fds[i] < 0) {
			ret = fds[i];
			goto err_put_fds;
		}
	}
	hdr.num_fds = n;
	if (copy_to_user(arg, &hdr, sizeof(hdr)) ||
	    copy_to_user(arg + sizeof(hdr), fds, n * sizeof(s32))) {
		ret = -EFAULT;
		goto err_put_fds;
	}
	for (i = 0; i < n; i++)
		fd_install(fds[i], files[i]);
	mst_stream_files_hand_out(dev, sess);
	mst_sess_put(sess);
	return 0;

err_put_fds:
	for (j = 0; j < i; j++)
		put_unused_fd(fds[j]);
	for (i = 0; i < n; i++)
		fput(files[i]);
	mst_sess_put(sess);
	return ret;
}

/* ---- the stream FDs ---- */

/**
 * mst_v3_stream_info_ioctl() - VFIO_MIG_GET_STREAM_INFO on a v3 stream FD
 * @s: the stream.
 * @arg: struct vfio_mig_stream_info.
 */
long mst_v3_stream_info_ioctl(struct mst_stream *s, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_mig_stream_info,
					  queued_bytes);
	struct mst_sess *sess = s->sess;
	struct mst_dev *dev = sess->dev;
	struct vfio_mig_stream_info info;
	int ret = 0;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.flags)
		return -EINVAL;

	mutex_lock(&dev->state_mutex);
	if (!mst_sess_live(s))
		ret = -ENODEV;
	else if (sess->kind != MST_SESS_SAVE ||
		 !(mst_precopy_state(dev->mig_state) ||
		   dev->mig_state == VFIO_DEVICE_STATE_STOP_COPY))
		ret = -EINVAL;
	else
		ret = mst_fw_stream_info(s, &info);
	mutex_unlock(&dev->state_mutex);
	if (ret)
		return ret;

	info.stream_id = s->id;
	info.num_streams = sess->nfiles;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/**
 * mst_v3_dirty_done() - a dirty stream of a save will publish nothing more
 * @s: the dirty stream.
 * @err: 0 if it ended or was abandoned, or the errno it failed with.
 *
 * A failure fails the save: stream 0 returns the errno once its data is
 * read, instead of waiting for an END that cannot come. Otherwise the last
 * dirty stream to be done lets stream 0 end.
 */
void mst_v3_dirty_done(struct mst_stream *s, int err)
{
	struct mst_stream *s0 = &s->sess->s[0];

	if (err) {
		mst_queue_set_error(&s0->q, err);
		return;
	}
	mutex_lock(&s0->lock);
	if (!s->dirty_counted) {
		s->dirty_counted = true;
		s0->dirty_ended++;
		mst_fw_crit_maybe_end_locked(s0);
	}
	mutex_unlock(&s0->lock);
}

/**
 * mst_v3_abandon() - the last descriptor of a v3 source's dirty stream closed
 * @s: the stream, handed out by GET MIG_STREAM_FDS.
 *
 * Nobody can read the stream any more: its queue is closed (the engine
 * stops producing, its data is dropped) and it no longer holds back the end
 * of stream 0. The destination, which misses it, fails RESUMING -> STOP.
 *
 * Context: the file's release; may sleep.
 */
void mst_v3_abandon(struct mst_stream *s)
{
	WRITE_ONCE(s->filp, NULL);
	mst_queue_close(&s->q);
	mst_v3_dirty_done(s, 0);
}
