// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: the migration FDs, v2's data_fd and v3's stream FDs.
 *
 * One struct file per stream, created when the session starts; the session
 * keeps a reference until it ends, and every FD installed for it (the
 * data_fd of an arc, each MIG_STREAM_FDS call) takes another. A file holds a
 * reference on its session, which pins the device's memory, so an FD closed
 * after the device (or after the instance was removed) is harmless: its
 * queue is closed or its parser dead, and it answers -ENODEV.
 *
 * The read path takes only the stream's queue locks; the write path only the
 * stream's wlock. read_iter/write_iter honour IOCB_NOWAIT (and O_NONBLOCK),
 * and the files carry FMODE_NOWAIT, so io_uring completes them inline or
 * arms poll instead of punting them to a worker thread.
 */

#include <linux/anon_inodes.h>
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/uio.h>

#include "mst.h"

static bool mst_iocb_nowait(struct kiocb *iocb)
{
	return (iocb->ki_flags & IOCB_NOWAIT) ||
	       (iocb->ki_filp->f_flags & O_NONBLOCK);
}

static ssize_t mst_save_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct mst_stream *s = iocb->ki_filp->private_data;
	bool nowait = mst_iocb_nowait(iocb);
	ssize_t ret;

	ret = mst_queue_read(&s->q, to, nowait);
	if (ret > 0)
		atomic64_add(ret, &s->xfer);
	return ret;
}

static __poll_t mst_save_poll(struct file *filp, poll_table *wait)
{
	struct mst_stream *s = filp->private_data;

	return mst_queue_poll(&s->q, filp, wait);
}

static long mst_save_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	struct mst_stream *s = filp->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_MIG_GET_PRECOPY_INFO:
		/* v2's data_fd, and v3's critical FD for v2 logic */
		if (s->id != 0)
			return -ENOTTY;
		return mst_mig_precopy_ioctl(s, uarg);
	case VFIO_MIG_GET_STREAM_INFO:
		if (s->sess->protocol != 3)
			return -ENOTTY;
		return mst_v3_stream_info_ioctl(s, uarg);
	default:
		return -ENOTTY;
	}
}

static ssize_t mst_resume_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mst_stream *s = iocb->ki_filp->private_data;
	bool nowait = mst_iocb_nowait(iocb);
	ssize_t ret;

	if (nowait) {
		if (!mutex_trylock(&s->wlock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&s->wlock)) {
		return -ERESTARTSYS;
	}
	if (s->dead)
		ret = -ENODEV;
	else
		ret = mst_rx_write(&s->rx, from, nowait);
	mutex_unlock(&s->wlock);
	if (ret > 0)
		atomic64_add(ret, &s->xfer);
	return ret;
}

static __poll_t mst_resume_poll(struct file *filp, poll_table *wait)
{
	struct mst_stream *s = filp->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	/* Writes never wait for the device; a dead stream fails at once. */
	if (READ_ONCE(s->dead))
		mask |= EPOLLERR;
	return mask;
}

static long mst_resume_ioctl(struct file *filp, unsigned int cmd,
			     unsigned long arg)
{
	struct mst_stream *s = filp->private_data;

	if (cmd == VFIO_MIG_GET_STREAM_INFO && s->sess->protocol == 3)
		return mst_v3_stream_info_ioctl(s, (void __user *)arg);
	return -ENOTTY;
}

static int mst_file_release(struct inode *inode, struct file *filp)
{
	struct mst_stream *s = filp->private_data;

	/* only a handed-out dirty stream's file is released in a session */
	if (s->sess->kind == MST_SESS_SAVE && READ_ONCE(s->filp) == filp)
		mst_v3_abandon(s);
	mst_sess_put(s->sess);
	return 0;
}

static const struct file_operations mst_save_fops = {
	.owner = THIS_MODULE,
	.read_iter = mst_save_read_iter,
	.poll = mst_save_poll,
	.unlocked_ioctl = mst_save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = mst_file_release,
};

static const struct file_operations mst_resume_fops = {
	.owner = THIS_MODULE,
	.write_iter = mst_resume_write_iter,
	.poll = mst_resume_poll,
	.unlocked_ioctl = mst_resume_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = mst_file_release,
};

/**
 * mst_file_open() - create the file of a stream
 * @s: the stream; its session's kind decides the direction.
 *
 * The file takes a reference on the session, dropped at release.
 *
 * Return: the file (one reference, the session's) or ERR_PTR.
 */
struct file *mst_file_open(struct mst_stream *s)
{
	bool save = s->sess->kind == MST_SESS_SAVE;
	struct file *filp;

	filp = anon_inode_getfile(save ? "[vfio_mstream_save]" :
					 "[vfio_mstream_resume]",
				  save ? &mst_save_fops : &mst_resume_fops, s,
				  save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(filp))
		return filp;
	kref_get(&s->sess->ref);
	stream_open(filp->f_inode, filp);
	filp->f_mode |= FMODE_NOWAIT;
	return filp;
}
