// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_mstream: the errno of every migration ioctl, read and write, on every
 * FD, in every state, as a table.
 *
 * Each row of errno_rows[] is one call: the FD it is made on (the device FD
 * or one of the stream FDs), the operation (read, write, an FD ioctl, a
 * VFIO_DEVICE_FEATURE of the v3 features, each with a malformed argument
 * where one can be) and the condition of the device or session it is made
 * in, with the errno uapi/linux/vfio_mstream.h documents for it (0: the call
 * succeeds). Rows of one condition are consecutive: the condition is set up
 * from a reset device once and shared by its rows, so the rows of one
 * condition run in table order. A failure prints the row.
 *
 * The size ABI is probed as tools/testing/selftests/iommu/iommufd.c does: an
 * argsz one byte short is -EINVAL, and a larger one with a non-zero tail is
 * accepted with the tail neither read nor written (VFIO's rule, stated in
 * the header). Where several errors apply, the header's order decides: the
 * rows marked "(order)" have two that apply.
 */
#include "mst_harness.h"

#define STATE_SIZE	(16 * MST_MIB)
#define NDIRTY		2
#define TAIL_BYTE	0xa5
/* Answer of an operation whose output broke the header (tail written...). */
#define BAD_OUTPUT	(-EBADE)
/* An ioctl number of VFIO's type no FD defines. */
#define UNKNOWN_IOCTL	_IO(VFIO_TYPE, VFIO_BASE + 65)
#define UNKNOWN_FEATURE	(VFIO_DEVICE_FEATURE_MIG_STREAM_FDS + 1)

enum cond {
	C_RUNNING,		/* v2 selected, no session */
	C_V2_PRE_COPY,		/* v2 session: data_fd */
	C_PRE_COPY,		/* v3 source session, data ready */
	C_PRE_COPY_END,		/* v3 source, every stream read to -ENOMSG */
	C_ABANDONED,		/* v3 source, dirty stream 1's FDs all closed */
	C_STOP_COPY,		/* v3 source session in STOP_COPY */
	C_CANCELLED,		/* v3 source, PRE_COPY -> RUNNING */
	C_RESET,		/* v3 source, PRE_COPY then VFIO_DEVICE_RESET */
	C_RESUMING,		/* v3 destination session */
	C_RESUMING_RESET,	/* v3 destination, then VFIO_DEVICE_RESET */
	C_ERROR,		/* v3 destination, RESUMING -> STOP with no data */
};

static const char *const cond_name[] = {
	[C_RUNNING] = "RUNNING",
	[C_V2_PRE_COPY] = "v2 PRE_COPY",
	[C_PRE_COPY] = "PRE_COPY",
	[C_PRE_COPY_END] = "PRE_COPY at -ENOMSG",
	[C_ABANDONED] = "PRE_COPY, stream 1 abandoned",
	[C_STOP_COPY] = "STOP_COPY",
	[C_CANCELLED] = "cancelled (PRE_COPY -> RUNNING)",
	[C_RESET] = "PRE_COPY, then VFIO_DEVICE_RESET",
	[C_RESUMING] = "RESUMING",
	[C_RESUMING_RESET] = "RESUMING, then VFIO_DEVICE_RESET",
	[C_ERROR] = "ERROR (RESUMING -> STOP failed)",
};

enum fdk { F_DEV, F_V2_SRC, F_CRIT_SRC, F_DIRTY_SRC, F_CRIT_DST, F_DIRTY_DST };

static const char *const fdk_name[] = {
	[F_DEV] = "device FD", [F_V2_SRC] = "v2 data_fd",
	[F_CRIT_SRC] = "critical source FD", [F_DIRTY_SRC] = "dirty source FD",
	[F_CRIT_DST] = "critical destination FD",
	[F_DIRTY_DST] = "dirty destination FD",
};

enum op {
	OP_READ, OP_READ_NB, OP_WRITE,
	OP_PRECOPY, OP_PRECOPY_SHORT, OP_PRECOPY_BIG,
	OP_SINFO, OP_SINFO_SHORT, OP_SINFO_FLAGS, OP_SINFO_BIG,
	OP_PRECOPY_NULL, OP_SINFO_NULL,
	OP_UNKNOWN_IOCTL,
	OP_MS_GET, OP_MS_GET_SHORT, OP_MS_GET_FLAGS, OP_MS_PROBE,
	OP_MS_SET, OP_MS_SET_BIG, OP_MS_SET_SHORT, OP_MS_SET_FLAGS,
	OP_MS_SET_MAX, OP_MS_SET_RESERVED, OP_MS_SET_RANGE,
	OP_FDS, OP_FDS_SHORT, OP_FDS_NUM, OP_FDS_ROOM, OP_FDS_FLAGS,
	OP_FDS_SET, OP_FDS_PROBE_SET,
	OP_UNKNOWN_FEATURE, OP_SET_RUNNING,
};

static const char *const op_name[] = {
	[OP_READ] = "read()",
	[OP_READ_NB] = "read() O_NONBLOCK",
	[OP_WRITE] = "write()",
	[OP_PRECOPY] = "GET_PRECOPY_INFO",
	[OP_PRECOPY_SHORT] = "GET_PRECOPY_INFO argsz - 1",
	[OP_PRECOPY_BIG] = "GET_PRECOPY_INFO argsz + 8, tail set",
	[OP_SINFO] = "GET_STREAM_INFO",
	[OP_SINFO_SHORT] = "GET_STREAM_INFO argsz - 1",
	[OP_SINFO_FLAGS] = "GET_STREAM_INFO flags = 1",
	[OP_SINFO_BIG] = "GET_STREAM_INFO argsz + 8, tail set",
	[OP_PRECOPY_NULL] = "GET_PRECOPY_INFO of NULL",
	[OP_SINFO_NULL] = "GET_STREAM_INFO of NULL",
	[OP_UNKNOWN_IOCTL] = "unknown ioctl",
	[OP_MS_GET] = "GET MULTISTREAM",
	[OP_MS_GET_SHORT] = "GET MULTISTREAM argsz - 1",
	[OP_MS_GET_FLAGS] = "GET MULTISTREAM flags = reserved = 1 in",
	[OP_MS_PROBE] = "PROBE|GET|SET MULTISTREAM",
	[OP_MS_SET] = "SET MULTISTREAM num_dirty = 2",
	[OP_MS_SET_BIG] = "SET MULTISTREAM argsz + 8, tail set",
	[OP_MS_SET_SHORT] = "SET MULTISTREAM argsz - 1",
	[OP_MS_SET_FLAGS] = "SET MULTISTREAM flags = 1",
	[OP_MS_SET_MAX] = "SET MULTISTREAM max_dirty = 1",
	[OP_MS_SET_RESERVED] = "SET MULTISTREAM reserved = 1",
	[OP_MS_SET_RANGE] = "SET MULTISTREAM num_dirty = max_dirty + 1",
	[OP_FDS] = "GET STREAM_FDS",
	[OP_FDS_SHORT] = "GET STREAM_FDS argsz below the header",
	[OP_FDS_NUM] = "GET STREAM_FDS num_fds = N - 1",
	[OP_FDS_ROOM] = "GET STREAM_FDS argsz room for N - 1 FDs",
	[OP_FDS_FLAGS] = "GET STREAM_FDS flags = 1",
	[OP_FDS_SET] = "SET STREAM_FDS",
	[OP_FDS_PROBE_SET] = "PROBE|SET STREAM_FDS",
	[OP_UNKNOWN_FEATURE] = "GET of an unknown feature",
	[OP_SET_RUNNING] = "SET MIG_DEVICE_STATE RUNNING",
};

struct errno_row {
	enum cond cond;
	enum fdk fd;
	enum op op;
	int err;		/* 0 or the errno the header documents */
};

static const struct errno_row errno_rows[] = {
	/* No session: the device FD's features. */
	{ C_RUNNING, F_DEV, OP_MS_GET, 0 },
	{ C_RUNNING, F_DEV, OP_MS_GET_SHORT, EINVAL },
	{ C_RUNNING, F_DEV, OP_MS_GET_FLAGS, 0 },	/* output only */
	{ C_RUNNING, F_DEV, OP_MS_PROBE, 0 },
	{ C_RUNNING, F_DEV, OP_MS_SET_SHORT, EINVAL },
	{ C_RUNNING, F_DEV, OP_MS_SET_FLAGS, EINVAL },
	{ C_RUNNING, F_DEV, OP_MS_SET_MAX, EINVAL },
	{ C_RUNNING, F_DEV, OP_MS_SET_RESERVED, EINVAL },
	{ C_RUNNING, F_DEV, OP_MS_SET_RANGE, ERANGE },
	{ C_RUNNING, F_DEV, OP_MS_SET_BIG, 0 },
	{ C_RUNNING, F_DEV, OP_MS_SET, 0 },
	{ C_RUNNING, F_DEV, OP_FDS, ENOENT },
	{ C_RUNNING, F_DEV, OP_FDS_SHORT, EINVAL },
	{ C_RUNNING, F_DEV, OP_FDS_FLAGS, EINVAL },	/* (order) and ENOENT */
	{ C_RUNNING, F_DEV, OP_FDS_SET, EINVAL },
	{ C_RUNNING, F_DEV, OP_FDS_PROBE_SET, EINVAL },
	{ C_RUNNING, F_DEV, OP_UNKNOWN_FEATURE, ENOTTY },

	/* v2: the data_fd answers v2's ioctl only. */
	{ C_V2_PRE_COPY, F_DEV, OP_FDS, ENOENT },
	{ C_V2_PRE_COPY, F_DEV, OP_MS_SET, EBUSY },
	{ C_V2_PRE_COPY, F_V2_SRC, OP_PRECOPY, 0 },
	{ C_V2_PRE_COPY, F_V2_SRC, OP_SINFO, ENOTTY },
	{ C_V2_PRE_COPY, F_V2_SRC, OP_UNKNOWN_IOCTL, ENOTTY },

	/* A v3 source in PRE_COPY. */
	{ C_PRE_COPY, F_DEV, OP_MS_GET, 0 },
	{ C_PRE_COPY, F_DEV, OP_MS_SET, EBUSY },
	{ C_PRE_COPY, F_DEV, OP_MS_SET_RANGE, ERANGE },	/* (order) and EBUSY */
	{ C_PRE_COPY, F_DEV, OP_MS_SET_FLAGS, EINVAL },	/* (order) and EBUSY */
	{ C_PRE_COPY, F_DEV, OP_FDS, 0 },
	{ C_PRE_COPY, F_DEV, OP_FDS_NUM, ENOSPC },
	{ C_PRE_COPY, F_DEV, OP_FDS_ROOM, EINVAL },
	{ C_PRE_COPY, F_DEV, OP_FDS_SHORT, EINVAL },
	{ C_PRE_COPY, F_DEV, OP_FDS_FLAGS, EINVAL },
	{ C_PRE_COPY, F_CRIT_SRC, OP_READ, 0 },
	{ C_PRE_COPY, F_CRIT_SRC, OP_WRITE, EBADF },
	{ C_PRE_COPY, F_CRIT_SRC, OP_PRECOPY, 0 },
	{ C_PRE_COPY, F_CRIT_SRC, OP_PRECOPY_SHORT, EINVAL },
	{ C_PRE_COPY, F_CRIT_SRC, OP_PRECOPY_BIG, 0 },
	{ C_PRE_COPY, F_CRIT_SRC, OP_SINFO, 0 },
	{ C_PRE_COPY, F_CRIT_SRC, OP_SINFO_SHORT, EINVAL },
	{ C_PRE_COPY, F_CRIT_SRC, OP_SINFO_FLAGS, EINVAL },
	{ C_PRE_COPY, F_CRIT_SRC, OP_SINFO_BIG, 0 },
	{ C_PRE_COPY, F_CRIT_SRC, OP_PRECOPY_NULL, EFAULT },
	{ C_PRE_COPY, F_CRIT_SRC, OP_SINFO_NULL, EFAULT },
	{ C_PRE_COPY, F_CRIT_SRC, OP_UNKNOWN_IOCTL, ENOTTY },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_READ, 0 },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_WRITE, EBADF },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_PRECOPY, ENOTTY },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_SINFO, 0 },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_SINFO_SHORT, EINVAL },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_SINFO_FLAGS, EINVAL },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_SINFO_BIG, 0 },
	{ C_PRE_COPY, F_DIRTY_SRC, OP_UNKNOWN_IOCTL, ENOTTY },

	/* At the temporary end: -ENOMSG comes before -EAGAIN. */
	{ C_PRE_COPY_END, F_CRIT_SRC, OP_READ_NB, ENOMSG },	/* (order) */
	{ C_PRE_COPY_END, F_DIRTY_SRC, OP_READ_NB, ENOMSG },	/* (order) */
	{ C_PRE_COPY_END, F_CRIT_SRC, OP_READ, ENOMSG },
	{ C_PRE_COPY_END, F_DIRTY_SRC, OP_READ, ENOMSG },

	/* Every FD of dirty stream 1 closed. */
	{ C_ABANDONED, F_DEV, OP_FDS, ENODEV },
	{ C_ABANDONED, F_DEV, OP_FDS_NUM, ENOSPC },		/* (order) */

	/* STOP_COPY */
	{ C_STOP_COPY, F_DEV, OP_MS_SET, EBUSY },
	{ C_STOP_COPY, F_DEV, OP_FDS, 0 },
	{ C_STOP_COPY, F_CRIT_SRC, OP_READ, 0 },
	{ C_STOP_COPY, F_CRIT_SRC, OP_PRECOPY, EINVAL },
	{ C_STOP_COPY, F_CRIT_SRC, OP_PRECOPY_SHORT, EINVAL },
	{ C_STOP_COPY, F_CRIT_SRC, OP_SINFO, 0 },
	{ C_STOP_COPY, F_DIRTY_SRC, OP_READ, 0 },
	{ C_STOP_COPY, F_DIRTY_SRC, OP_PRECOPY, ENOTTY },
	{ C_STOP_COPY, F_DIRTY_SRC, OP_SINFO, 0 },

	/* Cancelled: -ENODEV, except for a malformed argument. */
	{ C_CANCELLED, F_DEV, OP_FDS, ENOENT },
	{ C_CANCELLED, F_DEV, OP_MS_SET, 0 },
	{ C_CANCELLED, F_CRIT_SRC, OP_READ, ENODEV },
	{ C_CANCELLED, F_CRIT_SRC, OP_READ_NB, ENODEV },
	{ C_CANCELLED, F_CRIT_SRC, OP_WRITE, EBADF },
	{ C_CANCELLED, F_CRIT_SRC, OP_PRECOPY, ENODEV },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_PRECOPY_SHORT, EINVAL },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_SINFO, ENODEV },		/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_SINFO_SHORT, EINVAL },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_SINFO_FLAGS, EINVAL },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_PRECOPY_NULL, EFAULT },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_SINFO_NULL, EFAULT },	/* (order) */
	{ C_CANCELLED, F_CRIT_SRC, OP_UNKNOWN_IOCTL, ENOTTY },
	{ C_CANCELLED, F_DIRTY_SRC, OP_READ, ENODEV },
	{ C_CANCELLED, F_DIRTY_SRC, OP_PRECOPY, ENOTTY },
	{ C_CANCELLED, F_DIRTY_SRC, OP_SINFO, ENODEV },

	/* Reset ends the session as a cancel does. */
	{ C_RESET, F_DEV, OP_FDS, ENOENT },
	{ C_RESET, F_DEV, OP_MS_GET, 0 },
	{ C_RESET, F_CRIT_SRC, OP_READ, ENODEV },
	{ C_RESET, F_CRIT_SRC, OP_PRECOPY, ENODEV },
	{ C_RESET, F_CRIT_SRC, OP_SINFO, ENODEV },
	{ C_RESET, F_DIRTY_SRC, OP_READ, ENODEV },
	{ C_RESET, F_DIRTY_SRC, OP_SINFO, ENODEV },

	/* A v3 destination. */
	{ C_RESUMING, F_DEV, OP_MS_SET, EBUSY },
	{ C_RESUMING, F_DEV, OP_FDS, 0 },
	{ C_RESUMING, F_DEV, OP_FDS_NUM, ENOSPC },
	{ C_RESUMING, F_CRIT_DST, OP_READ, EBADF },
	{ C_RESUMING, F_CRIT_DST, OP_PRECOPY, ENOTTY },
	{ C_RESUMING, F_CRIT_DST, OP_SINFO, EINVAL },
	{ C_RESUMING, F_CRIT_DST, OP_SINFO_SHORT, EINVAL },
	{ C_RESUMING, F_CRIT_DST, OP_UNKNOWN_IOCTL, ENOTTY },
	{ C_RESUMING, F_DIRTY_DST, OP_READ, EBADF },
	{ C_RESUMING, F_DIRTY_DST, OP_PRECOPY, ENOTTY },
	{ C_RESUMING, F_DIRTY_DST, OP_SINFO, EINVAL },
	{ C_RESUMING, F_DIRTY_DST, OP_UNKNOWN_IOCTL, ENOTTY },

	{ C_RESUMING_RESET, F_DEV, OP_FDS, ENOENT },
	{ C_RESUMING_RESET, F_CRIT_DST, OP_WRITE, ENODEV },
	{ C_RESUMING_RESET, F_DIRTY_DST, OP_WRITE, ENODEV },
	{ C_RESUMING_RESET, F_CRIT_DST, OP_SINFO, ENODEV },	/* (order) */
	{ C_RESUMING_RESET, F_DIRTY_DST, OP_READ, EBADF },

	{ C_ERROR, F_DEV, OP_SET_RUNNING, EINVAL },
	{ C_ERROR, F_DEV, OP_FDS, ENOENT },
	{ C_ERROR, F_DEV, OP_MS_SET, EBUSY },
	{ C_ERROR, F_CRIT_DST, OP_WRITE, ENODEV },
	{ C_ERROR, F_DIRTY_DST, OP_SINFO, ENODEV },
};

/* The FDs of the condition being tested. */
struct errno_ctx {
	int dev;
	int v2;
	struct mst_v3_sess s;
	uint32_t max_dirty;
};

static void ctx_close(struct errno_ctx *c)
{
	if (c->v2 >= 0)
		close(c->v2);
	c->v2 = -1;
	mst_v3_close(&c->s);
}

/* Reads @fd until -ENOMSG; 0 or why not. */
static int read_to_enomsg(int fd)
{
	static uint8_t buf[256 * 1024];
	uint64_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			return errno == ENOMSG ? 0 : -errno;
		if (n == 0)
			return -EPIPE;
		total += n;
		/* A quiet device's pass is about its state size. */
		if (total > 4 * STATE_SIZE)
			return -EFBIG;
	}
}

static int cond_setup(struct errno_ctx *c, enum cond cond)
{
	uint32_t st = 0;
	int ret;

	ctx_close(c);
	ret = mst_reset(c->dev);
	if (ret)
		return ret;

	switch (cond) {
	case C_RUNNING:
		return 0;
	case C_V2_PRE_COPY:
		return mst_set_state(c->dev, VFIO_DEVICE_STATE_PRE_COPY, &c->v2);
	case C_PRE_COPY:
	case C_PRE_COPY_END:
	case C_ABANDONED:
	case C_CANCELLED:
	case C_RESET:
		ret = mst_v3_open(c->dev, NDIRTY, VFIO_DEVICE_STATE_PRE_COPY,
				  &c->s);
		break;
	case C_STOP_COPY:
		return mst_v3_open(c->dev, NDIRTY, VFIO_DEVICE_STATE_STOP_COPY,
				   &c->s);
	case C_RESUMING:
	case C_RESUMING_RESET:
	case C_ERROR:
		ret = mst_v3_open(c->dev, NDIRTY, VFIO_DEVICE_STATE_RESUMING,
				  &c->s);
		break;
	}
	if (ret)
		return ret;

	switch (cond) {
	case C_PRE_COPY_END:
		for (uint32_t i = 0; i <= NDIRTY && !ret; i++)
			ret = read_to_enomsg(mst_v3_fd(&c->s, i));
		return ret;
	case C_ABANDONED:
		close(c->s.fds[0]);
		c->s.fds[0] = -1;
		return 0;
	case C_CANCELLED:
		return mst_set_state(c->dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	case C_RESET:
	case C_RESUMING_RESET:
		return mst_reset(c->dev);
	case C_ERROR:
		/* No stream ended: the arc fails, into ERROR. */
		if (!mst_set_state(c->dev, VFIO_DEVICE_STATE_STOP, NULL))
			return -EPROTO;
		ret = mst_get_state(c->dev, &st);
		return ret ? ret : st == VFIO_DEVICE_STATE_ERROR ? 0 : -EPROTO;
	default:
		return 0;
	}
}

static int row_fd(const struct errno_ctx *c, enum fdk k)
{
	switch (k) {
	case F_DEV:
		return c->dev;
	case F_V2_SRC:
		return c->v2;
	case F_CRIT_SRC:
	case F_CRIT_DST:
		return c->s.crit;
	case F_DIRTY_SRC:
	case F_DIRTY_DST:
		return c->s.fds[0];
	}
	return -1;
}

static bool tail_intact(const uint8_t *tail, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (tail[i] != TAIL_BYTE)
			return false;
	return true;
}

static int sys_ret(long r)
{
	return r < 0 ? -errno : 0;
}

static int op_precopy(int fd, int argsz_adj)
{
	struct {
		struct vfio_precopy_info info;
		uint8_t tail[8];
	} a;
	int ret;

	memset(&a, 0, sizeof(a));
	memset(a.tail, TAIL_BYTE, sizeof(a.tail));
	a.info.argsz = sizeof(a.info) + argsz_adj;
	ret = sys_ret(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &a));
	if (!ret && !tail_intact(a.tail, sizeof(a.tail)))
		return BAD_OUTPUT;
	return ret;
}

static int op_stream_info(int fd, int argsz_adj, uint32_t flags)
{
	struct {
		struct vfio_mig_stream_info si;
		uint8_t tail[8];
	} a;
	int ret;

	memset(&a, 0, sizeof(a));
	memset(a.tail, TAIL_BYTE, sizeof(a.tail));
	a.si.argsz = sizeof(a.si) + argsz_adj;
	a.si.flags = flags;
	ret = sys_ret(ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &a));
	if (!ret && !tail_intact(a.tail, sizeof(a.tail)))
		return BAD_OUTPUT;
	return ret;
}

/* A GET's output has @flags and @reserved 0 whatever the input held. */
static int op_ms(int fd, uint32_t op, struct vfio_device_feature_mig_multistream ms,
		 int argsz_adj)
{
	struct {
		struct vfio_device_feature_mig_multistream ms;
		uint8_t tail[8];
	} a;
	int ret;

	memset(a.tail, TAIL_BYTE, sizeof(a.tail));
	a.ms = ms;
	ret = mst_feature_argsz(fd, op | VFIO_DEVICE_FEATURE_MIG_MULTISTREAM,
				&a, sizeof(a),
				sizeof(struct vfio_device_feature) + sizeof(ms) +
				argsz_adj);
	if (ret || op != VFIO_DEVICE_FEATURE_GET)
		return ret;
	if (a.ms.flags || a.ms.reserved || !a.ms.max_dirty ||
	    !tail_intact(a.tail, sizeof(a.tail)))
		return BAD_OUTPUT;
	return 0;
}

/*
 * GET MIG_STREAM_FDS offering @num entries in @room bytes of FDs; installed
 * FDs are closed. On -ENOSPC the header says N is written to num_fds.
 */
static int op_fds(int fd, uint32_t op, uint32_t num, uint32_t flags, size_t room,
		  int argsz_adj)
{
	struct {
		struct vfio_device_feature_mig_stream_fds h;
		int32_t fds[MST_MAX_STREAMS];
	} a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.h.num_fds = num;
	a.h.flags = flags;
	ret = mst_feature_argsz(fd, op | VFIO_DEVICE_FEATURE_MIG_STREAM_FDS,
				&a, sizeof(a),
				sizeof(struct vfio_device_feature) + sizeof(a.h) +
				room + argsz_adj);
	if (!ret) {
		for (uint32_t i = 0; i < a.h.num_fds && i < MST_MAX_STREAMS; i++)
			close(a.fds[i]);
		if (a.h.num_fds != NDIRTY)
			return BAD_OUTPUT;
	}
	if (ret == -ENOSPC && a.h.num_fds != NDIRTY)
		return BAD_OUTPUT;
	return ret;
}

static int row_run(struct errno_ctx *c, const struct errno_row *r)
{
	struct vfio_device_feature_mig_multistream ms = {};
	uint32_t get = VFIO_DEVICE_FEATURE_GET, set = VFIO_DEVICE_FEATURE_SET;
	int fd = row_fd(c, r->fd);
	uint8_t buf[MST_REC_HDR_SIZE] = {};
	int fl, ret;

	switch (r->op) {
	case OP_READ:
		return sys_ret(read(fd, buf, sizeof(buf)));
	case OP_READ_NB:
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
			return BAD_OUTPUT;
		ret = sys_ret(read(fd, buf, sizeof(buf)));
		fcntl(fd, F_SETFL, fl);
		return ret;
	case OP_WRITE:
		return sys_ret(write(fd, buf, sizeof(buf)));
	case OP_PRECOPY:
		return op_precopy(fd, 0);
	case OP_PRECOPY_SHORT:
		return op_precopy(fd, -1);
	case OP_PRECOPY_BIG:
		return op_precopy(fd, 8);
	case OP_SINFO:
		return op_stream_info(fd, 0, 0);
	case OP_SINFO_SHORT:
		return op_stream_info(fd, -1, 0);
	case OP_SINFO_FLAGS:
		return op_stream_info(fd, 0, 1);
	case OP_SINFO_BIG:
		return op_stream_info(fd, 8, 0);
	case OP_PRECOPY_NULL:
		return sys_ret(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, NULL));
	case OP_SINFO_NULL:
		return sys_ret(ioctl(fd, VFIO_MIG_GET_STREAM_INFO, NULL));
	case OP_UNKNOWN_IOCTL:
		return sys_ret(ioctl(fd, UNKNOWN_IOCTL, buf));
	case OP_MS_GET:
		return op_ms(fd, get, ms, 0);
	case OP_MS_GET_SHORT:
		return op_ms(fd, get, ms, -1);
	case OP_MS_GET_FLAGS:
		ms.flags = 1;
		ms.reserved = 1;
		return op_ms(fd, get, ms, 0);
	case OP_MS_PROBE:
		return op_ms(fd, VFIO_DEVICE_FEATURE_PROBE | get | set, ms, 0);
	case OP_MS_SET:
		ms.num_dirty = NDIRTY;
		return op_ms(fd, set, ms, 0);
	case OP_MS_SET_BIG:
		return op_ms(fd, set, ms, 8);
	case OP_MS_SET_SHORT:
		return op_ms(fd, set, ms, -1);
	case OP_MS_SET_FLAGS:
		ms.flags = 1;
		return op_ms(fd, set, ms, 0);
	case OP_MS_SET_MAX:
		ms.max_dirty = 1;
		return op_ms(fd, set, ms, 0);
	case OP_MS_SET_RESERVED:
		ms.reserved = 1;
		return op_ms(fd, set, ms, 0);
	case OP_MS_SET_RANGE:
		ms.num_dirty = c->max_dirty + 1;
		return op_ms(fd, set, ms, 0);
	case OP_FDS:
		return op_fds(fd, get, MST_MAX_STREAMS, 0,
			      MST_MAX_STREAMS * sizeof(int32_t), 0);
	case OP_FDS_SHORT:
		return op_fds(fd, get, MST_MAX_STREAMS, 0, 0, -1);
	case OP_FDS_NUM:
		return op_fds(fd, get, NDIRTY - 1, 0,
			      MST_MAX_STREAMS * sizeof(int32_t), 0);
	case OP_FDS_ROOM:
		return op_fds(fd, get, NDIRTY, 0,
			      (NDIRTY - 1) * sizeof(int32_t), 0);
	case OP_FDS_FLAGS:
		return op_fds(fd, get, MST_MAX_STREAMS, 1,
			      MST_MAX_STREAMS * sizeof(int32_t), 0);
	case OP_FDS_SET:
		return op_fds(fd, set, MST_MAX_STREAMS, 0,
			      MST_MAX_STREAMS * sizeof(int32_t), 0);
	case OP_FDS_PROBE_SET:
		return op_fds(fd, VFIO_DEVICE_FEATURE_PROBE | set, 0, 0, 0, 0);
	case OP_UNKNOWN_FEATURE:
		return mst_feature(fd, get | UNKNOWN_FEATURE, buf, sizeof(buf));
	case OP_SET_RUNNING:
		return mst_set_state(fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	}
	return BAD_OUTPUT;
}

FIXTURE(errno_table)
{
	struct mst_dev dev;
};

FIXTURE_SETUP(errno_table)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = STATE_SIZE;
	cfg.backing = "memory";
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
}

FIXTURE_TEARDOWN(errno_table)
{
	mst_dev_destroy(&self->dev);
}

TEST_F_TIMEOUT(errno_table, every_row, 300)
{
	struct vfio_device_feature_mig_multistream ms;
	struct errno_ctx c = { .dev = self->dev.fd, .v2 = -1 };
	unsigned int nfail = 0;
	int cur = -1;

	c.s.crit = -1;
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(c.s.fds); i++)
		c.s.fds[i] = -1;
	ASSERT_RET(0, mst_ms_get(c.dev, &ms));
	c.max_dirty = ms.max_dirty;

	for (unsigned int i = 0; i < MST_ARRAY_SIZE(errno_rows); i++) {
		const struct errno_row *r = &errno_rows[i];
		int got;

		if ((int)r->cond != cur) {
			int ret = cond_setup(&c, r->cond);

			if (ret)
				TH_LOG("setting up %s: %s", cond_name[r->cond],
				       strerror(-ret));
			ASSERT_EQ(0, ret);
			cur = r->cond;
		}
		got = row_run(&c, r);
		if (got == -r->err)
			continue;
		nfail++;
		TH_LOG("row %u: %s on the %s in %s: %d (%s), header says %d (%s)",
		       i, op_name[r->op], fdk_name[r->fd], cond_name[r->cond],
		       got, got == BAD_OUTPUT ? "output breaks the header" :
		       strerror(-got), -r->err, strerror(r->err));
	}
	ctx_close(&c);
	EXPECT_EQ(0, mst_reset(c.dev));
	EXPECT_EQ(0, nfail);
}

TEST_HARNESS_MAIN
