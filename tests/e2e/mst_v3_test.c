// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_mstream: the v3 multi-stream protocol (issue 4, uapi/linux/vfio_mstream.h).
 *
 * - MIG_MULTISTREAM probe/GET/SET and its errnos (EBUSY in a saving or
 *   resuming state, ERANGE above max_dirty, EINVAL for reserved fields);
 * - MIG_STREAM_FDS errnos (ENOENT, ENOSPC with num_fds written back, EINVAL);
 * - VFIO_MIG_GET_STREAM_INFO size ABI and contents;
 * - v3 migrations with N = 1, 2, 4, 8, threads or a seeded random scheduler;
 * - REINIT in PRE_COPY and in STOP_COPY with a large unread dirty backlog:
 *   the new critical data comes first, the backlog is untouched;
 * - cancel from every saving/resuming state, FDs closed early, v2 users of
 *   the same and of another instance unaffected.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <liburing.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "mst_harness.h"

#define SMALL_STATE	(16 * MST_MIB)

static int fd_mode(int fd)
{
	return fcntl(fd, F_GETFL) & O_ACCMODE;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ------------------------------------------------------- feature ABI */

#include "mst_feature_abi.h"

FIXTURE_VARIANT_ADD(feature_abi, mig_multistream)
{
	.feature = VFIO_DEVICE_FEATURE_MIG_MULTISTREAM,
	.ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
	.minsz = sizeof(struct vfio_device_feature_mig_multistream),
};

FIXTURE_VARIANT_ADD(feature_abi, mig_stream_fds)
{
	.feature = VFIO_DEVICE_FEATURE_MIG_STREAM_FDS,
	.ops = VFIO_DEVICE_FEATURE_GET,
	.minsz = sizeof(struct vfio_device_feature_mig_stream_fds),
	.get_ret = -ENOENT,	/* no session in RUNNING */
};

/* ------------------------------------------------------ one device */

FIXTURE(v3_dev)
{
	struct mst_dev dev;
	uint32_t max_dirty;
};

FIXTURE_SETUP(v3_dev)
{
	struct vfio_device_feature_mig_multistream ms;
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = SMALL_STATE;
	cfg.backing = "memory";
	cfg.v2_mode = "single";
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
	ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
	self->max_dirty = ms.max_dirty;
}

FIXTURE_TEARDOWN(v3_dev)
{
	mst_dev_destroy(&self->dev);
}

TEST_F(v3_dev, multistream_default_is_v2)
{
	struct vfio_device_feature_mig_multistream ms;

	EXPECT_RET(0, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
				  VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
				  VFIO_DEVICE_FEATURE_MIG_MULTISTREAM, NULL, 0));
	memset(&ms, 0xa5, sizeof(ms));
	ASSERT_EQ(0, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_GET |
				 VFIO_DEVICE_FEATURE_MIG_MULTISTREAM, &ms, sizeof(ms)));
	EXPECT_EQ(0, ms.flags);
	EXPECT_EQ(0, ms.num_dirty);
	EXPECT_GE(ms.max_dirty, 8);
	EXPECT_LT(ms.max_dirty, MST_MAX_STREAMS);
	EXPECT_EQ(0, ms.reserved);
}

TEST_F(v3_dev, multistream_set_errnos)
{
	struct vfio_device_feature_mig_multistream ms;
	const uint32_t set = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_MULTISTREAM;

	ASSERT_RET(0, mst_ms_set(self->dev.fd, 2));
	/* Above the limit. */
	EXPECT_RET(-ERANGE, mst_ms_set(self->dev.fd, self->max_dirty + 1));
	EXPECT_RET(-ERANGE, mst_ms_set(self->dev.fd, UINT32_MAX));
	/* Reserved and output fields must be zero on SET. */
	ms = (struct vfio_device_feature_mig_multistream){ .flags = 1, .num_dirty = 1 };
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, set, &ms, sizeof(ms)));
	ms = (struct vfio_device_feature_mig_multistream){ .num_dirty = 1, .max_dirty = 1 };
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, set, &ms, sizeof(ms)));
	ms = (struct vfio_device_feature_mig_multistream){ .num_dirty = 1, .reserved = 1 };
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, set, &ms, sizeof(ms)));
	ms = (struct vfio_device_feature_mig_multistream){ .flags = 1U << 31, .num_dirty = 1 };
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, set, &ms, sizeof(ms)));
	/* None of the failures changed the selection. */
	ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
	EXPECT_EQ(2, ms.num_dirty);

	/* Every legal value round-trips, and 0 is v2 again. */
	for (uint32_t n = 0; n <= self->max_dirty; n++) {
		ASSERT_RET(0, mst_ms_set(self->dev.fd, n));
		ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
		EXPECT_EQ(n, ms.num_dirty);
		EXPECT_EQ(self->max_dirty, ms.max_dirty);
	}
	ASSERT_RET(0, mst_ms_set(self->dev.fd, 0));
}

TEST_F(v3_dev, multistream_busy_while_a_session_exists)
{
	static const uint32_t busy[] = {
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
	};
	static const uint32_t idle[] = {
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_RUNNING_P2P,
		VFIO_DEVICE_STATE_STOP,
	};
	struct vfio_device_feature_mig_multistream ms;

	for (unsigned int i = 0; i < MST_ARRAY_SIZE(busy); i++) {
		int fd = -1;

		ASSERT_EQ(0, mst_reset(self->dev.fd));
		ASSERT_RET(0, mst_ms_set(self->dev.fd, 2));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, busy[i], &fd));
		ASSERT_GE(fd, 0);
		TH_LOG("in %s", mst_state_name(busy[i]));
		EXPECT_RET(-EBUSY, mst_ms_set(self->dev.fd, 4));
		EXPECT_RET(-EBUSY, mst_ms_set(self->dev.fd, 0));
		EXPECT_RET(-EBUSY, mst_ms_set(self->dev.fd, 2));
		/* GET works in any state. */
		ASSERT_RET(0, mst_ms_get(self->dev.fd, &ms));
		EXPECT_EQ(2, ms.num_dirty);
		close(fd);
	}
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(idle); i++) {
		ASSERT_EQ(0, mst_reset(self->dev.fd));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, idle[i], NULL));
		EXPECT_RET(0, mst_ms_set(self->dev.fd, 3));
		ASSERT_RET(0, mst_ms_get(self->dev.fd, &ms));
		EXPECT_EQ(3, ms.num_dirty);
	}
}

TEST_F(v3_dev, multistream_persists_until_reset_or_close)
{
	struct vfio_device_feature_mig_multistream ms;
	struct mst_v3_sess s;
	char uuid[37];

	ASSERT_RET(0, mst_ms_set(self->dev.fd, 3));
	/* A session and its cancel keep the selection. */
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 3, VFIO_DEVICE_STATE_PRE_COPY, &s));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	mst_v3_close(&s);
	ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
	EXPECT_EQ(3, ms.num_dirty);
	/* Reset restores v2. */
	ASSERT_EQ(0, mst_reset(self->dev.fd));
	ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
	EXPECT_EQ(0, ms.num_dirty);
	/* So does closing the device. */
	ASSERT_RET(0, mst_ms_set(self->dev.fd, 3));
	memcpy(uuid, self->dev.uuid, sizeof(uuid));
	mst_dev_close(&self->dev);
	ASSERT_EQ(0, mst_dev_open(&self->dev, uuid));
	ASSERT_EQ(0, mst_ms_get(self->dev.fd, &ms));
	EXPECT_EQ(0, ms.num_dirty);
}

TEST_F(v3_dev, stream_fds_errnos)
{
	int fds[MST_MAX_STREAMS + 4], fds2[8];
	uint32_t num, flags;
	int crit = -1;
	struct {
		struct vfio_device_feature_mig_stream_fds s;
		int32_t fds[8];
	} raw;
	const uint32_t get = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_STREAM_FDS;

	/* v2 selected: no v3 session, in RUNNING or in a v2 session. */
	num = 8;
	EXPECT_RET(-ENOENT, mst_stream_fds(self->dev.fd, fds, &num, NULL));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &crit));
	num = 8;
	EXPECT_RET(-ENOENT, mst_stream_fds(self->dev.fd, fds, &num, NULL));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	close(crit);

	/* v3 selected, but no session yet. */
	ASSERT_RET(0, mst_ms_set(self->dev.fd, 4));
	num = 8;
	EXPECT_RET(-ENOENT, mst_stream_fds(self->dev.fd, fds, &num, NULL));

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &crit));
	ASSERT_GE(crit, 0);
	/* Too small: -ENOSPC and N written back. */
	for (uint32_t room = 0; room < 4; room++) {
		num = room;
		EXPECT_RET(-ENOSPC, mst_stream_fds(self->dev.fd, fds, &num, NULL));
		EXPECT_EQ(4, num);
	}
	/* Non-zero flags. */
	memset(&raw, 0, sizeof(raw));
	raw.s.num_fds = 8;
	raw.s.flags = VFIO_MIG_STREAM_FDS_RESUMING;
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, get, &raw, sizeof(raw)));
	raw.s.flags = 1U << 7;
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, get, &raw, sizeof(raw)));
	/* argsz that does not cover num_fds entries. */
	memset(&raw, 0, sizeof(raw));
	raw.s.num_fds = 8;
	EXPECT_RET(-EINVAL, mst_feature_argsz(self->dev.fd, get, &raw, sizeof(raw),
					      sizeof(struct vfio_device_feature) +
					      sizeof(raw.s) - 1));
	/* Room for more than N: N FDs, the rest untouched. */
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(fds); i++)
		fds[i] = -1;
	num = 6;
	flags = 0xff;
	ASSERT_RET(0, mst_stream_fds(self->dev.fd, fds, &num, &flags));
	EXPECT_EQ(4, num);
	EXPECT_EQ(0, flags);
	for (int i = 0; i < 4; i++) {
		ASSERT_GE(fds[i], 0);
		EXPECT_EQ(O_RDONLY, fd_mode(fds[i]));
		EXPECT_NE(crit, fds[i]);
		for (int j = 0; j < i; j++)
			EXPECT_NE(fds[j], fds[i]);
	}
	EXPECT_EQ(-1, fds[4]);
	EXPECT_EQ(-1, fds[5]);
	/* A second call installs new descriptors for the same streams. */
	num = 4;
	ASSERT_RET(0, mst_stream_fds(self->dev.fd, fds2, &num, NULL));
	for (int i = 0; i < 4; i++) {
		struct vfio_mig_stream_info a, b;

		EXPECT_NE(fds[i], fds2[i]);
		ASSERT_EQ(0, mst_stream_info(fds[i], &a));
		ASSERT_EQ(0, mst_stream_info(fds2[i], &b));
		EXPECT_EQ(i + 1, a.stream_id);
		EXPECT_EQ(i + 1, b.stream_id);
		close(fds2[i]);
	}
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	/* The session ended: no FDs any more. */
	num = 8;
	EXPECT_RET(-ENOENT, mst_stream_fds(self->dev.fd, fds2, &num, NULL));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	close(crit);

	/* Resuming: write-only FDs and the RESUMING flag. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RESUMING, &crit));
	EXPECT_EQ(O_WRONLY, fd_mode(crit));
	num = 4;
	ASSERT_RET(0, mst_stream_fds(self->dev.fd, fds, &num, &flags));
	EXPECT_EQ(VFIO_MIG_STREAM_FDS_RESUMING, flags);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(O_WRONLY, fd_mode(fds[i]));
		close(fds[i]);
	}
	close(crit);
	ASSERT_EQ(0, mst_reset(self->dev.fd));
}

struct fds_call {
	int dev_fd;
	struct vfio_device_feature *f;
	int ret;
};

static void *fds_call_run(void *arg)
{
	struct fds_call *c = arg;

	c->ret = ioctl(c->dev_fd, VFIO_DEVICE_FEATURE, c->f) ? -errno : 0;
	return NULL;
}

static void *get_state_run(void *arg)
{
	uint32_t *st = arg;

	mst_get_state((int)st[0], &st[1]);
	return NULL;
}

/*
 * GET MIG_STREAM_FDS copies the descriptors to userspace without holding
 * the device's state lock: a fault on the user buffer (here, one a
 * userfaultfd holds unresolved) stalls that call only, never the migration
 * arcs or GET of the device state.
 */
TEST_F_TIMEOUT(v3_dev, stream_fds_copied_outside_the_lock, 60)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {};
	struct uffdio_zeropage zp = {};
	struct vfio_device_feature_mig_stream_fds *h;
	struct uffd_msg msg;
	struct fds_call c = { .dev_fd = self->dev.fd };
	struct mst_v3_sess s;
	uint32_t st[2];
	pthread_t t, t2;
	uint8_t *mem;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	mem = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 0, pg);
	reg.range.start = (uintptr_t)mem + pg;
	reg.range.len = pg;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_PRE_COPY, &s));
	/* the headers end the first page; fds[] is on the missing one */
	c.f = (void *)(mem + pg - sizeof(*c.f) - sizeof(*h));
	c.f->argsz = sizeof(*c.f) + sizeof(*h) + 2 * sizeof(int32_t);
	c.f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_STREAM_FDS;
	h = (void *)c.f->data;
	h->num_fds = 2;
	ASSERT_EQ(0, pthread_create(&t, NULL, fds_call_run, &c));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* the copy is stalled: the device's state lock must be free */
	st[0] = self->dev.fd;
	st[1] = 0xff;
	ASSERT_EQ(0, pthread_create(&t2, NULL, get_state_run, st));
	pthread_join(t2, NULL);
	EXPECT_EQ(VFIO_DEVICE_STATE_PRE_COPY, st[1]);

	zp.range.start = reg.range.start;
	zp.range.len = pg;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp));
	pthread_join(t, NULL);
	ASSERT_EQ(0, c.ret);
	for (int i = 0; i < 2; i++) {
		struct vfio_mig_stream_info si;

		ASSERT_EQ(0, mst_stream_info(h->fds[i], &si));
		EXPECT_EQ(i + 1, si.stream_id);
		close(h->fds[i]);
	}
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	mst_v3_close(&s);
	munmap(mem, 2 * pg);
	close(uffd);
}

/* A memory cgroup for this process; its memory.current path in @cur. */
static int enter_memcg(char *cur, size_t len)
{
	const char *root = "/sys/fs/cgroup";
	char path[256], pid[32];

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
		mkdir("/tmp/mst-cgroup2", 0755);
		root = "/tmp/mst-cgroup2";
		snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
		if (access(path, F_OK) &&
		    mount("none", root, "cgroup2", 0, NULL))
			return -errno;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	if (file_write_str(path, "+memory"))
		return -EOPNOTSUPP;
	snprintf(path, sizeof(path), "%s/mst-e2e-%d", root, getpid());
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(cur, len, "%s/memory.current", path);
	snprintf(path, sizeof(path), "%s/mst-e2e-%d/cgroup.procs", root, getpid());
	snprintf(pid, sizeof(pid), "%d", getpid());
	return file_write_str(path, pid);
}

static uint64_t memcg_current(const char *cur)
{
	char buf[64] = "";

	file_read_str(cur, buf, sizeof(buf));
	return strtoull(buf, NULL, 10);
}

/*
 * What a saving session holds, its engines' chunks included, is charged to
 * the memory cgroup of the task that opened it (GFP_KERNEL_ACCOUNT, as
 * mlx5's migration buffers are): a cgroup's limit bounds it.
 */
TEST_F_TIMEOUT(v3_dev, session_memory_charged_to_opener, 120)
{
	struct vfio_mig_stream_info si;
	struct mst_v3_sess s;
	uint64_t before, after, queued = 0, prev = 0;
	char cur[512];
	int ret, still = 0;

	ret = enter_memcg(cur, sizeof(cur));
	if (ret)
		SKIP(return, "no memory cgroup: %s", strerror(-ret));
	before = memcg_current(cur);
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_STOP_COPY, &s));
	/*
	 * Until the engines stop (read-ahead full, or done): a count that
	 * holds still before 4 MiB are queued is a slow engine (KCSAN, TCG)
	 * still filling its first chunk, not a stop.
	 */
	for (int i = 0; i < 600 && still < 5; i++) {
		queued = 0;
		for (uint32_t k = 1; k <= 2; k++) {
			ASSERT_EQ(0, mst_stream_info(mst_v3_fd(&s, k), &si));
			queued += si.queued_bytes;
		}
		still = queued >= 4 * MST_MIB && queued == prev ? still + 1 : 0;
		prev = queued;
		mst_sleep_ms(50);
	}
	after = memcg_current(cur);
	TH_LOG("memory.current %llu -> %llu with %llu bytes queued",
	       (unsigned long long)before, (unsigned long long)after,
	       (unsigned long long)queued);
	ASSERT_GE(queued, 4 * MST_MIB);
	/* the chunk buffers holding them are the opener's */
	EXPECT_GE(after - before, queued);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	mst_v3_close(&s);
}

/* Tasks whose name starts with @prefix (the driver's threads). */
static int count_tasks(const char *prefix)
{
	char path[300], comm[64];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (!file_read_str(path, comm, sizeof(comm)) &&
		    !strncmp(comm, prefix, strlen(prefix)))
			n++;
	}
	closedir(d);
	return n;
}

/*
 * STOP -> STOP_COPY is inside the downtime: it creates no thread (the
 * engines run as work items of a workqueue made when the module loads).
 */
TEST_F(v3_dev, stop_copy_arc_spawns_no_thread)
{
	struct mst_v3_sess s;
	int before, during;

	before = count_tasks("mst-");
	ASSERT_GE(before, 0);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 8, VFIO_DEVICE_STATE_STOP_COPY, &s));
	during = count_tasks("mst-");
	TH_LOG("driver threads: %d before the arc, %d after it", before, during);
	EXPECT_EQ(before, during);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	mst_v3_close(&s);
}

TEST_F(v3_dev, stream_info)
{
	struct vfio_precopy_info pi;
	struct vfio_mig_stream_info si;
	struct {
		struct vfio_mig_stream_info si;
		uint64_t future;
	} big;
	struct mst_v3_sess s, d;
	uint64_t dirty_sum = 0;

	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_PRE_COPY, &s));
	for (uint32_t i = 0; i <= 2; i++) {
		int fd = mst_v3_fd(&s, i);

		/* Size ABI: argsz must cover up to queued_bytes. */
		memset(&si, 0, sizeof(si));
		si.argsz = offsetofend(struct vfio_mig_stream_info, queued_bytes) - 1;
		EXPECT_SYSERR(EINVAL, ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &si));
		si.argsz = offsetof(struct vfio_mig_stream_info, pending_bytes);
		EXPECT_SYSERR(EINVAL, ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &si));
		memset(&big, 0, sizeof(big));
		big.si.argsz = sizeof(big);
		EXPECT_EQ(0, ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &big));
		/* flags is an input that must be 0. */
		memset(&si, 0, sizeof(si));
		si.argsz = sizeof(si);
		si.flags = VFIO_MIG_STREAM_INFO_CRITICAL;
		EXPECT_SYSERR(EINVAL, ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &si));

		ASSERT_EQ(0, mst_stream_info(fd, &si));
		EXPECT_EQ(i, si.stream_id);
		EXPECT_EQ(3, si.num_streams);
		EXPECT_EQ(i == 0, !!(si.flags & VFIO_MIG_STREAM_INFO_CRITICAL));
		EXPECT_EQ(0, si.flags & VFIO_MIG_STREAM_INFO_REINIT);
		EXPECT_EQ(0, si.flags & VFIO_MIG_STREAM_INFO_END);
		EXPECT_LE(si.queued_bytes, si.pending_bytes);
		if (i == 0) {
			EXPECT_GT(si.pending_bytes, 0);
		} else {
			dirty_sum += si.pending_bytes;
		}
	}
	/* Each dirty stream has its half of the pages to send. */
	EXPECT_GE(dirty_sum, SMALL_STATE);
	/* The critical FD answers PRECOPY_INFO for v2 logic. */
	ASSERT_EQ(0, mst_stream_info(s.crit, &si));
	ASSERT_EQ(0, mst_precopy_info(s.crit, &pi));
	EXPECT_EQ(si.pending_bytes, pi.initial_bytes);
	EXPECT_EQ(dirty_sum, pi.dirty_bytes);

	/* Cancelled: every FD reports the session gone. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	for (uint32_t i = 0; i <= 2; i++)
		EXPECT_RET(-ENODEV, mst_stream_info(mst_v3_fd(&s, i), &si));
	mst_v3_close(&s);
	/* Resuming FDs: not a saving state. */
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_RESUMING, &d));
	for (uint32_t i = 0; i <= 2; i++)
		EXPECT_RET(-EINVAL, mst_stream_info(mst_v3_fd(&d, i), &si));
	mst_v3_close(&d);
	ASSERT_EQ(0, mst_reset(self->dev.fd));
}

/* Read rules per FD: ENOMSG + poll in PRE_COPY, 0 + END in STOP_COPY. */
TEST_F_TIMEOUT(v3_dev, stream_read_rules, 120)
{
	struct vfio_mig_stream_info si;
	struct mst_pipe p[3];
	struct mst_v3_sess s;
	char why[256];

	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_PRE_COPY, &s));
	for (uint32_t i = 0; i <= 2; i++) {
		int fd = mst_v3_fd(&s, i);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		EXPECT_SYSERR(EBADF, write(fd, "x", 1));
		mst_pipe_init(&p[i], fd, -1, i, i);
		set_nonblock(fd);
		for (;;) {
			n = mst_pipe_pump(&p[i], UINT64_MAX, NULL);
			if (n > 0)
				continue;
			if (n != -EAGAIN)
				break;
			ASSERT_EQ(1, poll(&pfd, 1, 10000));
		}
		/*
		 * The temporary end: ENOMSG, and poll waits (a poller, or
		 * io_uring's armed poll, must not spin on a parked stream).
		 */
		ASSERT_EQ(-ENOMSG, n) TH_LOG("stream %u: %zd", i, n);
		EXPECT_EQ(0, poll(&pfd, 1, 0));
		EXPECT_SYSERR(ENOMSG, read(fd, p[i].buf, 16));
		ASSERT_EQ(0, mst_stream_info(fd, &si));
		EXPECT_EQ(0, si.pending_bytes);
		EXPECT_EQ(0, si.queued_bytes);
	}
	EXPECT_GE(p[1].bytes + p[2].bytes, SMALL_STATE);
	EXPECT_LT(p[0].bytes, MST_REC_MAX_PAYLOAD + 4 * MST_REC_HDR_SIZE + MST_COMPAT_SIZE);

	/* STOP_COPY: exact counts, END flag, then 0 forever. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	for (uint32_t i = 0; i <= 2; i++) {
		int fd = mst_v3_fd(&s, i);
		uint64_t before = p[i].bytes;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ASSERT_EQ(0, mst_stream_info(fd, &si));
		for (;;) {
			n = mst_pipe_pump(&p[i], UINT64_MAX, NULL);
			if (n > 0)
				continue;
			if (n != -EAGAIN)
				break;
			ASSERT_EQ(1, poll(&pfd, 1, 10000));
		}
		ASSERT_EQ(0, n);
		ASSERT_TRUE(p[i].eof);
		/* pending_bytes in STOP_COPY was exact. */
		EXPECT_EQ(si.pending_bytes, p[i].bytes - before);
		ASSERT_EQ(0, mst_stream_info(fd, &si));
		EXPECT_TRUE(si.flags & VFIO_MIG_STREAM_INFO_END);
		EXPECT_EQ(0, si.pending_bytes);
		EXPECT_EQ(0, si.queued_bytes);
		EXPECT_EQ(0, read(fd, p[i].buf, 16));
		EXPECT_EQ(1, poll(&pfd, 1, 0));
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why)));
		if (!mst_pipe_check(&p[i], why, sizeof(why)))
			TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	mst_v3_close(&s);
}

/* Tiny reads (every size 1..97 in turn) split headers and payloads anywhere. */
TEST_F_TIMEOUT(v3_dev, small_reads, 300)
{
	struct mst_pipe p[3];
	struct mst_v3_sess s;
	char why[256];

	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_STOP_COPY, &s));
	/*
	 * One stream after the other, blocking: the dirty ones first, since the
	 * critical FD ends only once every dirty stream has ended.
	 */
	for (uint32_t j = 1; j <= 3; j++) {
		uint32_t i = j % 3;
		int fd = mst_v3_fd(&s, i);
		uint32_t k = 0;
		ssize_t n;

		mst_pipe_init(&p[i], fd, -1, i, i);
		for (;;) {
			n = read(fd, p[i].buf, 1 + k++ % 97);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			mst_mon_feed(&p[i].mon, p[i].buf, n);
			p[i].bytes += n;
		}
		ASSERT_EQ(0, n) TH_LOG("stream %u: read: %s after %llu bytes", i,
				       strerror(errno), (unsigned long long)p[i].bytes);
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why)));
		if (!mst_pipe_check(&p[i], why, sizeof(why)))
			TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	mst_v3_close(&s);
}

/* io_uring workers ("iou-wrk-*") of this process. */
static int count_iou_workers(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk", 7))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * RWF_NOWAIT (IOCB_NOWAIT) is honoured: -EAGAIN when nothing is ready, not
 * -EOPNOTSUPP (the files have FMODE_NOWAIT), on saving and resuming FDs.
 */
TEST_F_TIMEOUT(v3_dev, rwf_nowait, 120)
{
	struct mst_v3_sess s, d;
	uint8_t buf[65536];
	uint64_t got = 0, eagain = 0;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	ssize_t n;

	/* A slow engine: reads outrun it. */
	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "engine_bw", 4));
	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "chunk_size", MST_MIB));
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_STOP_COPY, &s));
	for (uint32_t i = 0; i <= 2; i++) {
		uint64_t t0 = mst_now_ns();

		/* Blocking FD, but RWF_NOWAIT per call. */
		while (mst_now_ns() - t0 < 3000000000ULL) {
			n = preadv2(mst_v3_fd(&s, i), &iov, 1, -1, RWF_NOWAIT);
			if (n > 0) {
				got += n;
				continue;
			}
			if (n == 0)
				break;
			ASSERT_EQ(EAGAIN, errno) TH_LOG("stream %u: preadv2(RWF_NOWAIT): %s",
							 i, strerror(errno));
			eagain++;
			if (i)		/* a dirty stream: once is enough */
				break;
			usleep(20000);
		}
	}
	TH_LOG("%llu bytes, %llu EAGAIN", (unsigned long long)got,
	       (unsigned long long)eagain);
	EXPECT_GT(eagain, 0);
	mst_v3_close(&s);
	ASSERT_EQ(0, mst_reset(self->dev.fd));

	/* Resuming FDs take RWF_NOWAIT writes. */
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, 2, VFIO_DEVICE_STATE_RESUMING, &d));
	n = pwritev2(d.crit, &(struct iovec){ .iov_base = buf, .iov_len = 16 }, 1, -1,
		     RWF_NOWAIT);
	/* 16 bytes of a header: kept for the next write, or EAGAIN. */
	EXPECT_TRUE(n == 16 || (n < 0 && errno == EAGAIN))
		TH_LOG("pwritev2(RWF_NOWAIT): %zd (%s)", n, n < 0 ? strerror(errno) : "");
	mst_v3_close(&d);
	ASSERT_EQ(0, mst_reset(self->dev.fd));
}

/*
 * io_uring reads of every stream of a slow device complete by poll, with no
 * io-wq worker thread: the read path honours IOCB_NOWAIT.
 */
TEST_F_TIMEOUT(v3_dev, io_uring_without_workers, 300)
{
	struct mst_pipe p[5];
	struct mst_v3_sess s;
	struct io_uring ring;
	uint32_t n = 4, live;
	int workers = -1;
	char why[256];

	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "engine_bw", 8));
	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "chunk_size", MST_MIB));
	ASSERT_EQ(0, io_uring_queue_init(16, &ring, 0));
	ASSERT_EQ(0, mst_v3_open(self->dev.fd, n, VFIO_DEVICE_STATE_STOP_COPY, &s));
	for (uint32_t i = 0; i <= n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		mst_pipe_init(&p[i], mst_v3_fd(&s, i), -1, i, i);
		io_uring_prep_read(sqe, p[i].src, p[i].buf, MST_PIPE_BUF, -1);
		io_uring_sqe_set_data64(sqe, i);
	}
	ASSERT_EQ(n + 1, io_uring_submit(&ring));
	live = n + 1;
	while (live) {
		struct io_uring_cqe *cqe;
		uint32_t i;
		int res;

		ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
		i = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (workers < 0 || count_iou_workers() > workers)
			workers = count_iou_workers();
		ASSERT_GE(res, 0) TH_LOG("stream %u: %s", i, strerror(-res));
		if (res == 0) {
			p[i].eof = true;
			live--;
			continue;
		}
		mst_mon_feed(&p[i].mon, p[i].buf, res);
		p[i].bytes += res;
		{
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_read(sqe, p[i].src, p[i].buf, MST_PIPE_BUF, -1);
			io_uring_sqe_set_data64(sqe, i);
			ASSERT_EQ(1, io_uring_submit(&ring));
		}
	}
	TH_LOG("io-wq workers seen: %d", workers);
	EXPECT_EQ(0, workers);
	for (uint32_t i = 0; i <= n; i++) {
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why)));
		if (!mst_pipe_check(&p[i], why, sizeof(why)))
			TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}
	io_uring_queue_exit(&ring);
	mst_v3_close(&s);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
}

/* A user that never opts in gets exactly a v2 stream. */
TEST_F(v3_dev, no_opt_in_is_v2)
{
	struct vfio_mig_stream_info si = {};
	struct mst_pipe p;
	char why[256];
	int fd = -1;
	ssize_t n;

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	mst_pipe_init(&p, fd, -1, 0, -1);
	do {
		n = mst_pipe_pump(&p, UINT64_MAX, NULL);
	} while (n > 0);
	ASSERT_EQ(0, n);
	ASSERT_TRUE(mst_pipe_check(&p, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(2, p.mon.geo.protocol);
	EXPECT_EQ(1, p.mon.geo.nstreams);
	EXPECT_EQ(SMALL_STATE, p.mon.geo.state_size);
	/* STREAM_INFO is not a v2 data_fd ioctl. */
	si.argsz = sizeof(si);
	EXPECT_EQ(-1, ioctl(fd, VFIO_MIG_GET_STREAM_INFO, &si));
	mst_pipe_free(&p);
	close(fd);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
}

/* ------------------------------------------------------ migrations */

FIXTURE(v3_mig)
{
	struct mst_dev src;
	struct mst_dev dst;
};

FIXTURE_VARIANT(v3_mig)
{
	uint32_t ndirty;
	enum mst_sched sched;
	bool random_speed;
	bool precopy;
	int64_t dirty_rate;
	uint64_t state_size;
	const char *backing;
};

#define V3_MIG(name, n, s, rs, pc, rate) \
	FIXTURE_VARIANT_ADD(v3_mig, name) \
	{ .ndirty = n, .sched = s, .random_speed = rs, .precopy = pc, \
	  .dirty_rate = rate, .state_size = 64 * MST_MIB, .backing = "memory" }

V3_MIG(n1_threads, 1, MST_SCHED_THREADS, false, true, 5000);
V3_MIG(n2_threads, 2, MST_SCHED_THREADS, false, true, 5000);
V3_MIG(n4_threads, 4, MST_SCHED_THREADS, false, true, 5000);
V3_MIG(n8_threads, 8, MST_SCHED_THREADS, false, true, 5000);
V3_MIG(n8_stop_copy_only, 8, MST_SCHED_THREADS, false, false, 0);
V3_MIG(n1_random_order, 1, MST_SCHED_RANDOM, false, true, 5000);
V3_MIG(n2_random_order, 2, MST_SCHED_RANDOM, false, true, 5000);
V3_MIG(n4_random_order, 4, MST_SCHED_RANDOM, false, true, 5000);
V3_MIG(n8_random_order, 8, MST_SCHED_RANDOM, false, true, 5000);
V3_MIG(n1_random_order_idle, 1, MST_SCHED_RANDOM, false, true, 0);
V3_MIG(n4_random_order_stop_copy_only, 4, MST_SCHED_RANDOM, false, false, 0);
V3_MIG(n4_threads_random_speed, 4, MST_SCHED_THREADS, true, true, 5000);
V3_MIG(n8_threads_random_speed, 8, MST_SCHED_THREADS, true, true, 5000);

FIXTURE_VARIANT_ADD(v3_mig, n8_pattern6g_stop_copy)
{
	.ndirty = 8, .sched = MST_SCHED_THREADS, .state_size = 6 * MST_GIB,
	.backing = "pattern",
};

FIXTURE_SETUP(v3_mig)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = variant->state_size;
	cfg.backing = variant->backing;
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
}

FIXTURE_TEARDOWN(v3_mig)
{
	mst_pair_destroy(&self->src, &self->dst);
}

TEST_F_TIMEOUT(v3_mig, migrate, 1800)
{
	struct mst_v3_opts o = {
		.ndirty = variant->ndirty,
		.sched = variant->sched,
		.seed = mst_seed(),
		.precopy = variant->precopy,
		.precopy_ms = 1000,
		.random_speed = variant->random_speed,
		.monitor = true,
	};
	struct mst_v3_result res;
	uint64_t s_src = 0, s_fresh = 0, t0;
	int ret;

	TH_LOG("seed %#llx (rerun with MST_SEED=%#llx)", (unsigned long long)o.seed,
	       (unsigned long long)o.seed);
	ASSERT_EQ(0, mst_checksum(self->dst.uuid, &s_fresh));
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 300, variant->dirty_rate));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &s_src));
	ASSERT_NE(s_fresh, s_src);

	t0 = mst_now_ns();
	ret = mst_migrate_v3(&self->src, &self->dst, &o, &res);
	TH_LOG("%.1f s, precopy %llu B; per stream: crit %llu, dirty 1 %llu, %u %llu",
	       (mst_now_ns() - t0) / 1e9, (unsigned long long)res.precopy_bytes,
	       (unsigned long long)res.bytes[0], (unsigned long long)res.bytes[1],
	       variant->ndirty, (unsigned long long)res.bytes[variant->ndirty]);
	ASSERT_EQ(0, ret) TH_LOG("%s (seed %#llx)", res.err, (unsigned long long)o.seed);
	ASSERT_STATE(self->src.fd, VFIO_DEVICE_STATE_STOP);
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_STOP);
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst))
		TH_LOG("seed %#llx", (unsigned long long)o.seed);
	/* Every shard had pages: every dirty stream carried some. */
	for (uint32_t i = 1; i <= variant->ndirty; i++)
		EXPECT_GT(res.bytes[i], MST_REC_HDR_SIZE * 2 + MST_COMPAT_SIZE);
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
}

/* ------------------------------------------------------- integrity */

/*
 * integrity=device models a device whose save and load commands check their
 * data themselves: the source puts no checksum on PAGES and CRIT payloads
 * (the monitor checks that those fields are 0) and the destination checks
 * none. A destination that checks refuses such a source at its COMPAT, and
 * the source goes back to RUNNING intact.
 */
FIXTURE(integrity)
{
	struct mst_dev src;
	struct mst_dev dst;
};

FIXTURE_VARIANT(integrity)
{
	uint32_t ndirty;	/* 0: v2 */
};

FIXTURE_VARIANT_ADD(integrity, v2) { .ndirty = 0 };
FIXTURE_VARIANT_ADD(integrity, v3_n4) { .ndirty = 4 };

FIXTURE_SETUP(integrity)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 16 * MST_MIB;
	cfg.backing = "memory";
	cfg.integrity = "device";
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 200, 0));
}

FIXTURE_TEARDOWN(integrity)
{
	mst_pair_destroy(&self->src, &self->dst);
}

/* A migration with the monitor on; @err receives its message. */
static int integrity_migrate(FIXTURE_DATA(integrity) *self, uint32_t ndirty,
			     char *err, size_t len)
{
	int ret;

	if (!ndirty) {
		struct mst_v2_opts o = { .precopy = true, .precopy_rounds = 3,
					 .monitor = true };
		struct mst_v2_result r;

		ret = mst_migrate_v2(&self->src, &self->dst, &o, &r);
		snprintf(err, len, "%s", r.err);
	} else {
		struct mst_v3_opts o = { .ndirty = ndirty,
					 .sched = MST_SCHED_THREADS,
					 .precopy = true, .monitor = true };
		struct mst_v3_result r;

		ret = mst_migrate_v3(&self->src, &self->dst, &o, &r);
		snprintf(err, len, "%s", r.err);
	}
	return ret;
}

TEST_F_TIMEOUT(integrity, device_checks_its_own_data, 300)
{
	char err[256];

	EXPECT_EQ(-EINVAL, mst_knob_write(self->src.uuid, "integrity", "sha1"));
	ASSERT_EQ(0, integrity_migrate(self, variant->ndirty, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
}

TEST_F_TIMEOUT(integrity, checking_destination_refuses_it, 300)
{
	uint64_t sum0 = 0, sum1 = 1;
	char err[256];
	int ret;

	ASSERT_EQ(0, mst_knob_write(self->dst.uuid, "integrity", "crc"));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum0));
	ret = integrity_migrate(self, variant->ndirty, err, sizeof(err));
	TH_LOG("%d: %s", ret, err);
	EXPECT_EQ(-EINVAL, ret);
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum1));
	EXPECT_EQ(sum0, sum1);
	EXPECT_EQ(0, mst_reset(self->dst.fd));
}

/* ---------------------------------------------------------- REINIT */

FIXTURE(v3_reinit)
{
	struct mst_dev src;
	struct mst_dev dst;
	uint64_t crit_size;
};

FIXTURE_VARIANT(v3_reinit)
{
	uint32_t state;		/* PRE_COPY or STOP_COPY */
};

FIXTURE_VARIANT_ADD(v3_reinit, in_pre_copy) { .state = VFIO_DEVICE_STATE_PRE_COPY };
FIXTURE_VARIANT_ADD(v3_reinit, in_stop_copy) { .state = VFIO_DEVICE_STATE_STOP_COPY };

#define REINIT_NDIRTY	4
#define REINIT_BW	8	/* MiB/s per engine */

FIXTURE_SETUP(v3_reinit)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 128 * MST_MIB;
	cfg.backing = "memory";
	ASSERT_EQ(0, mst_dev_create_open(&self->dst, &cfg));
	cfg.engine_bw = REINIT_BW;
	cfg.chunk_size = 2 * MST_MIB;
	cfg.read_ahead = 2;
	ASSERT_EQ(0, mst_dev_create_open(&self->src, &cfg));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_size", &self->crit_size));
}

FIXTURE_TEARDOWN(v3_reinit)
{
	mst_pair_destroy(&self->src, &self->dst);
}

TEST_F_TIMEOUT(v3_reinit, critical_first, 600)
{
	const uint32_t n = REINIT_NDIRTY;
	struct vfio_mig_stream_info si, si2, d0[REINIT_NDIRTY + 1], d1;
	struct mst_pipe p[REINIT_NDIRTY + 1];
	struct mst_v3_sess s, d;
	uint64_t crit_rec, gen = 0, pending, pos, t0, t_crit, dirty_pending = 0;
	uint64_t s_src = 0, s_dst = 0;
	struct pollfd pfd;
	char why[256];
	ssize_t r;

	crit_rec = MST_REC_HDR_SIZE + self->crit_size;
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 200, 0));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, n, VFIO_DEVICE_STATE_RESUMING, &d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, n, variant->state, &s));
	for (uint32_t i = 0; i <= n; i++) {
		mst_pipe_init(&p[i], mst_v3_fd(&s, i), mst_v3_fd(&d, i), i, i);
		set_nonblock(p[i].src);
	}

	if (variant->state == VFIO_DEVICE_STATE_PRE_COPY) {
		/* Drain the critical stream to its temporary end. */
		pfd = (struct pollfd){ .fd = s.crit, .events = POLLIN };
		do {
			r = mst_pipe_pump(&p[0], UINT64_MAX, NULL);
			if (r == -EAGAIN)
				ASSERT_EQ(1, poll(&pfd, 1, 10000));
		} while (r > 0 || r == -EAGAIN);
		ASSERT_EQ(-ENOMSG, r);
		ASSERT_EQ(0, mst_stream_info(s.crit, &si));
		EXPECT_EQ(0, si.pending_bytes);
		EXPECT_EQ(1, p[0].mon.ncrit);
	} else {
		/*
		 * Drain what the critical stream holds. With the dirty streams
		 * unread the save is in progress, so it must not reach its END:
		 * a REINIT may still come.
		 */
		pfd = (struct pollfd){ .fd = s.crit, .events = POLLIN };
		while ((r = mst_pipe_pump(&p[0], UINT64_MAX, NULL)) > 0)
			;
		ASSERT_EQ(-EAGAIN, r);
		EXPECT_EQ(0, poll(&pfd, 1, 300)) TH_LOG("critical FD readable with no data");
		EXPECT_FALSE(p[0].eof);
		EXPECT_EQ(1, p[0].mon.ncrit);
		ASSERT_EQ(0, mst_stream_info(s.crit, &si));
		EXPECT_EQ(0, si.flags & VFIO_MIG_STREAM_INFO_END);
	}

	/* Let every dirty stream queue a backlog nobody reads. */
	t0 = mst_now_ns();
	for (;;) {
		bool all = true;

		for (uint32_t i = 1; i <= n; i++) {
			ASSERT_EQ(0, mst_stream_info(mst_v3_fd(&s, i), &d0[i]));
			all &= d0[i].queued_bytes > 0;
		}
		if (all || mst_now_ns() - t0 > 10000000000ULL)
			break;
		mst_sleep_ms(100);
	}
	mst_sleep_ms(500);
	for (uint32_t i = 1; i <= n; i++) {
		ASSERT_EQ(0, mst_stream_info(mst_v3_fd(&s, i), &d0[i]));
		EXPECT_GT(d0[i].queued_bytes, 0);
		dirty_pending += d0[i].pending_bytes;
		TH_LOG("dirty %u: pending %llu queued %llu", i,
		       (unsigned long long)d0[i].pending_bytes,
		       (unsigned long long)d0[i].queued_bytes);
	}
	/* Large: seconds of work for the engines at REINIT_BW MiB/s. */
	EXPECT_GT(dirty_pending, 64 * MST_MIB);

	/* Reconfigure. */
	pos = p[0].bytes;
	ASSERT_EQ(0, mst_knob_write(self->src.uuid, "reinit", "1"));
	t0 = mst_now_ns();
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &gen));
	ASSERT_EQ(0, mst_stream_info(s.crit, &si));
	ASSERT_EQ(0, mst_stream_info(s.crit, &si2));
	TH_LOG("after REINIT: crit flags %#x pending %llu queued %llu; crit_gen %llu",
	       si.flags, (unsigned long long)si.pending_bytes,
	       (unsigned long long)si.queued_bytes, (unsigned long long)gen);
	EXPECT_TRUE(si.flags & VFIO_MIG_STREAM_INFO_REINIT);
	EXPECT_TRUE(si.flags & VFIO_MIG_STREAM_INFO_CRITICAL);
	EXPECT_EQ(0, si2.flags & VFIO_MIG_STREAM_INFO_REINIT);	/* once */
	EXPECT_GE(si.pending_bytes, crit_rec);
	if (variant->state == VFIO_DEVICE_STATE_PRE_COPY)
		/* Only the new critical record: no dirty byte counts. */
		EXPECT_LE(si.pending_bytes, crit_rec + MST_REC_HDR_SIZE);
	/* At most two critical regions, whatever the dirty backlog. */
	EXPECT_LE(si.pending_bytes, 2 * crit_rec + 4 * MST_REC_HDR_SIZE + MST_COMPAT_SIZE);
	pending = si.pending_bytes;

	/*
	 * The new critical data is readable now, with the dirty FDs unread. In
	 * STOP_COPY pending_bytes is exact up to EOF (the END record included),
	 * and the END comes only once the dirty streams have ended.
	 */
	pfd = (struct pollfd){ .fd = s.crit, .events = POLLIN };
	while (p[0].mon.last_crit_gen != gen || p[0].bytes < p[0].mon.last_crit_end) {
		r = mst_pipe_pump(&p[0], pos + pending - p[0].bytes, NULL);
		if (r == -EAGAIN) {
			ASSERT_EQ(1, poll(&pfd, 1, 5000))
				TH_LOG("critical FD not readable after a REINIT");
			continue;
		}
		ASSERT_GT(r, 0) TH_LOG("critical read: %zd", r);
	}
	t_crit = mst_now_ns() - t0;
	TH_LOG("new critical data read in %.3f s; dirty backlog %llu B would take %.1f s",
	       t_crit / 1e9, (unsigned long long)dirty_pending,
	       (double)dirty_pending / (REINIT_BW * MST_MIB * n));
	EXPECT_EQ(gen, p[0].mon.last_crit_gen);
	if (variant->state == VFIO_DEVICE_STATE_PRE_COPY) {
		EXPECT_EQ(pos + pending, p[0].mon.last_crit_end);
	} else {
		/* what is left is the END, owed once the dirty streams end */
		EXPECT_EQ(pos + pending, p[0].mon.last_crit_end + MST_REC_HDR_SIZE);
		EXPECT_EQ(-1, read(s.crit, p[0].buf, 16));
		EXPECT_EQ(EAGAIN, errno);
		ASSERT_EQ(0, mst_stream_info(s.crit, &si2));
		EXPECT_EQ(0, si2.flags & VFIO_MIG_STREAM_INFO_END);
		EXPECT_EQ(MST_REC_HDR_SIZE, si2.pending_bytes);
	}
	EXPECT_LT(t_crit, dirty_pending * 1000000000ULL / (2 * REINIT_BW * MST_MIB * n));
	ASSERT_EQ(0, mst_stream_info(s.crit, &si));
	EXPECT_EQ(0, si.flags & VFIO_MIG_STREAM_INFO_REINIT);
	if (variant->state == VFIO_DEVICE_STATE_PRE_COPY)
		EXPECT_EQ(0, si.pending_bytes);

	/* The dirty backlog was neither flushed nor promoted. */
	for (uint32_t i = 1; i <= n; i++) {
		ASSERT_EQ(0, mst_stream_info(mst_v3_fd(&s, i), &d1));
		EXPECT_EQ(0, p[i].bytes);
		EXPECT_GE(d1.queued_bytes, d0[i].queued_bytes);
		EXPECT_EQ(0, d1.flags & (VFIO_MIG_STREAM_INFO_REINIT |
					 VFIO_MIG_STREAM_INFO_CRITICAL));
	}

	/* Finish the migration; the destination ends with the new state. */
	mst_knob_write_u64(self->src.uuid, "engine_bw", 0);
	if (variant->state == VFIO_DEVICE_STATE_PRE_COPY)
		ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	ASSERT_EQ(0, mst_drain(p, n + 1, 300, why, sizeof(why))) TH_LOG("%s", why);
	for (uint32_t i = 0; i <= n; i++) {
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why)));
		if (!mst_pipe_check(&p[i], why, sizeof(why)))
			TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}

	/*
	 * The save is complete: a REINIT now could not reach the destination,
	 * so it is refused and the source keeps the generation it sent.
	 */
	EXPECT_EQ(-EBUSY, mst_knob_write(self->src.uuid, "reinit", "1"));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &s_src));
	EXPECT_EQ(gen, s_src);

	ASSERT_RET(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, mst_knob_read_u64(self->dst.uuid, "crit_gen", &s_dst));
	EXPECT_EQ(gen, s_dst);
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	mst_v3_close(&s);
	mst_v3_close(&d);
}

/* A quiet SMALL_STATE source and destination, the source's pages perturbed. */
static int small_pair(struct mst_dev *src, struct mst_dev *dst)
{
	struct mst_cfg cfg = MST_CFG_QUIET;
	int err;

	cfg.state_size = SMALL_STATE;
	cfg.backing = "memory";
	err = mst_pair_create_open(src, dst, &cfg);
	return err ? err : mst_perturb(src->uuid, 200, 0);
}

/* ---------------------------------------------------------- cancel */

FIXTURE(cancel)
{
	struct mst_dev src;
	struct mst_dev dst;
};

#define MAX_PATH_LEN 4

FIXTURE_VARIANT(cancel)
{
	uint32_t ndirty;		/* 0: v2 */
	bool resuming;			/* cancel the destination */
	uint32_t path[MAX_PATH_LEN];	/* arcs from RUNNING (resp. STOP) */
	uint32_t cancel_to;		/* 0 (ERROR): VFIO_DEVICE_RESET */
};

#define S(x) VFIO_DEVICE_STATE_##x
#define CANCEL(name, n, res, to, ...) \
	FIXTURE_VARIANT_ADD(cancel, name) \
	{ .ndirty = n, .resuming = res, .path = { __VA_ARGS__ }, .cancel_to = to }
#define CANCEL_BOTH(name, res, to, ...) \
	CANCEL(v2_##name, 0, res, to, __VA_ARGS__); \
	CANCEL(v3_##name, 4, res, to, __VA_ARGS__)

CANCEL_BOTH(pre_copy_to_running, false, S(RUNNING), S(PRE_COPY));
CANCEL_BOTH(pre_copy_to_stop, false, S(STOP), S(PRE_COPY));
CANCEL_BOTH(pre_copy_p2p_to_running_p2p, false, S(RUNNING_P2P), S(RUNNING_P2P), S(PRE_COPY_P2P));
CANCEL_BOTH(pre_copy_p2p_to_running, false, S(RUNNING), S(RUNNING_P2P), S(PRE_COPY_P2P));
CANCEL_BOTH(stop_copy_to_stop, false, S(STOP), S(STOP_COPY));
CANCEL_BOTH(stop_copy_to_running, false, S(RUNNING), S(STOP_COPY));
CANCEL_BOTH(pre_copy_stop_copy_to_running, false, S(RUNNING), S(PRE_COPY), S(STOP_COPY));
CANCEL_BOTH(stop_copy_reset, false, 0, S(STOP_COPY));
CANCEL_BOTH(pre_copy_reset, false, 0, S(PRE_COPY));
CANCEL_BOTH(resuming_to_stop_fails, true, S(STOP), S(RESUMING));
CANCEL_BOTH(resuming_to_running_fails, true, S(RUNNING), S(RESUMING));
CANCEL_BOTH(resuming_reset, true, 0, S(RESUMING));

FIXTURE_SETUP(cancel)
{
	MST_REQUIRE_DEVICE();
	ASSERT_EQ(0, small_pair(&self->src, &self->dst));
}

FIXTURE_TEARDOWN(cancel)
{
	mst_pair_destroy(&self->src, &self->dst);
}

/* Opens a session on @fd through @path; FDs into @fds (index 0 = data/crit). */
static int open_path(int fd, uint32_t ndirty, const uint32_t *path, int *fds,
		     uint32_t *nfds)
{
	uint32_t num = ndirty;
	int ret;

	*nfds = 0;
	if (ndirty && (ret = mst_ms_set(fd, ndirty)))
		return ret;
	for (int i = 0; i < MAX_PATH_LEN && path[i]; i++) {
		int dfd = -1;

		ret = mst_set_state(fd, path[i], &dfd);
		if (ret)
			return ret;
		if (dfd >= 0)
			fds[(*nfds)++] = dfd;
	}
	if (*nfds != 1)
		return -EPROTO;
	if (ndirty) {
		ret = mst_stream_fds(fd, fds + 1, &num, NULL);
		if (ret)
			return ret;
		*nfds += num;
	}
	return 0;
}

TEST_F_TIMEOUT(cancel, cancel, 300)
{
	int sfds[MST_MAX_STREAMS], dfds[MST_MAX_STREAMS];
	uint32_t ns = 0, nd = 0, last = 0;
	uint64_t sum0 = 0, sum1 = 0, s_dst = 0;
	uint8_t buf[64 * 1024];
	int ret;

	for (int i = 0; i < MAX_PATH_LEN && variant->path[i]; i++)
		last = variant->path[i];
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum0));

	if (!variant->resuming) {
		ASSERT_RET(0, open_path(self->src.fd, variant->ndirty, variant->path,
					sfds, &ns));
		ASSERT_STATE(self->src.fd, last);
		/* Read a little of every stream. */
		for (uint32_t i = 0; i < ns; i++) {
			set_nonblock(sfds[i]);
			ASSERT_NE(0, read(sfds[i], buf, sizeof(buf)));
		}
		if (variant->cancel_to)
			ASSERT_RET(0, mst_set_state(self->src.fd, variant->cancel_to, NULL));
		else
			ASSERT_RET(0, mst_reset(self->src.fd));
		ASSERT_STATE(self->src.fd, variant->cancel_to ?: S(RUNNING));
		for (uint32_t i = 0; i < ns; i++) {
			struct vfio_mig_stream_info si;

			EXPECT_SYSERR(ENODEV, read(sfds[i], buf, sizeof(buf)));
			if (variant->ndirty)
				EXPECT_RET(-ENODEV, mst_stream_info(sfds[i], &si));
			close(sfds[i]);
		}
		/* The source state is intact. */
		ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum1));
		EXPECT_EQ(sum0, sum1);
		if (variant->cancel_to != S(RUNNING) && variant->cancel_to)
			ASSERT_EQ(0, mst_set_state(self->src.fd, S(RUNNING), NULL));
	} else {
		/* A partial stream into the destination, then give up. */
		uint32_t path[MAX_PATH_LEN] = { S(STOP_COPY) };

		ASSERT_RET(0, open_path(self->src.fd, variant->ndirty, path, sfds, &ns));
		ASSERT_RET(0, open_path(self->dst.fd, variant->ndirty, variant->path,
					dfds, &nd));
		ASSERT_EQ(ns, nd);
		for (uint32_t i = 0; i < ns; i++) {
			ssize_t r = mst_read_full(sfds[i], buf, sizeof(buf));

			ASSERT_GT(r, 0);
			ASSERT_EQ(0, write_full(dfds[i], buf, r));
			close(sfds[i]);
		}
		ASSERT_EQ(0, mst_set_state(self->src.fd, S(RUNNING), NULL));
		if (variant->cancel_to) {
			/* Leaving RESUMING with incomplete streams fails ... */
			ret = mst_set_state(self->dst.fd, variant->cancel_to, NULL);
			EXPECT_EQ(-ENODATA, ret) TH_LOG("ret %d (%s)", ret, strerror(-ret));
			ASSERT_NE(0, ret);
			/* ... and latches ERROR until a reset. */
			ASSERT_STATE(self->dst.fd, S(ERROR));
			EXPECT_RET(-EINVAL, mst_set_state(self->dst.fd, S(RUNNING), NULL));
			EXPECT_RET(-EINVAL, mst_set_state(self->dst.fd, S(STOP), NULL));
			ASSERT_STATE(self->dst.fd, S(ERROR));
		}
		ASSERT_EQ(0, mst_reset(self->dst.fd));
		ASSERT_STATE(self->dst.fd, S(RUNNING));
		for (uint32_t i = 0; i < nd; i++) {
			EXPECT_SYSERR(ENODEV, write(dfds[i], buf, 48));
			close(dfds[i]);
		}
	}

	/* Both devices still migrate, in the protocol the variant tests. */
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum0));
	if (variant->ndirty) {
		struct mst_v3_opts o = { .ndirty = variant->ndirty, .seed = 1,
					 .monitor = true };
		struct mst_v3_result res;

		ret = mst_migrate_v3(&self->src, &self->dst, &o, &res);
		ASSERT_EQ(0, ret) TH_LOG("%s", res.err);
	} else {
		struct mst_v2_opts o = { .monitor = true };
		struct mst_v2_result res;

		ret = mst_migrate_v2(&self->src, &self->dst, &o, &res);
		ASSERT_EQ(0, ret) TH_LOG("%s", res.err);
	}
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum1));
	ASSERT_EQ(0, mst_checksum(self->dst.uuid, &s_dst));
	EXPECT_EQ(sum0, sum1);
	EXPECT_EQ(sum1, s_dst);
}

/* ------------------------------------------- the end of a STOP_COPY save */

FIXTURE(v3_end)
{
	struct mst_dev src;
	struct mst_dev dst;
};

/* A large critical region: at a low engine_bw one record takes 250 ms. */
FIXTURE_SETUP(v3_end)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 4 * MST_MIB;
	cfg.crit_size = 256 * 1024;
	cfg.backing = "memory";
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 200, 0));
}

FIXTURE_TEARDOWN(v3_end)
{
	mst_pair_destroy(&self->src, &self->dst);
}

/*
 * The end of a v3_end test: both streams' wire format checked, both devices to STOP,
 * the destination holding the source's state.
 */
static void v3_end_finish(struct __test_metadata *_metadata,
			  FIXTURE_DATA(v3_end) *self, struct mst_pipe *p,
			  struct mst_v3_sess *s, struct mst_v3_sess *d)
{
	char why[256];

	for (uint32_t i = 0; i <= 1; i++) {
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why))) TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}
	ASSERT_RET(0, mst_set_state(self->dst.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(STOP), NULL));
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	mst_v3_close(s);
	mst_v3_close(d);
}

/*
 * Once every dirty stream has produced its last byte the save is complete:
 * a REINIT is refused, and the critical FD reaches its end without waiting
 * for anything else (a poller with no timeout returns).
 */
TEST_F_TIMEOUT(v3_end, reinit_after_last_dirty_end, 120)
{
	struct vfio_mig_stream_info si;
	struct mst_v3_sess s, d;
	struct mst_pipe p[2];
	uint64_t gen0 = 0, gen1 = 0;

	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 1, S(RESUMING), &d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 1, S(STOP_COPY), &s));
	for (uint32_t i = 0; i <= 1; i++) {
		mst_pipe_init(&p[i], mst_v3_fd(&s, i), mst_v3_fd(&d, i), i, i);
		set_nonblock(p[i].src);
	}
	ASSERT_EQ(0, mst_pipe_pump_polling(&p[1]));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &gen0));
	EXPECT_EQ(-EBUSY, mst_knob_write(self->src.uuid, "reinit", "1"));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &gen1));
	EXPECT_EQ(gen0, gen1);
	ASSERT_EQ(0, mst_stream_info(s.crit, &si));
	EXPECT_TRUE(si.flags & VFIO_MIG_STREAM_INFO_END);
	EXPECT_EQ(0, si.flags & VFIO_MIG_STREAM_INFO_REINIT);
	ASSERT_EQ(0, mst_pipe_pump_polling(&p[0]));
	v3_end_finish(_metadata, self, p, &s, &d);
}

/*
 * On the source, closing every descriptor of a dirty stream abandons it:
 * its data is dropped and it no longer holds back the end of the critical
 * stream, so the other streams drain to their end; the destination, which
 * misses that stream, fails RESUMING -> STOP, and the source is intact.
 */
TEST_F_TIMEOUT(v3_end, source_dirty_stream_abandoned, 120)
{
	struct mst_v3_sess s, d;
	struct mst_pipe p[3];
	uint64_t sum0 = 0, sum1 = 1;
	uint32_t num = 2;
	int fds[2];
	char why[256];

	/* 2 MiB per dirty stream, far beyond one 64 KiB chunk of read-ahead */
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "read_ahead", 1));
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "chunk_size", 64 * 1024));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum0));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 2, S(RESUMING), &d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 2, S(STOP_COPY), &s));
	for (uint32_t i = 0; i <= 2; i++)
		mst_pipe_init(&p[i], mst_v3_fd(&s, i), mst_v3_fd(&d, i), i, i);
	close(s.fds[1]);
	s.fds[1] = -1;
	p[2].eof = true;
	ASSERT_EQ(0, mst_drain(p, 3, 60, why, sizeof(why))) TH_LOG("%s", why);
	/* the abandoned stream cannot be had again */
	EXPECT_RET(-ENODEV, mst_stream_fds(self->src.fd, fds, &num, NULL));
	for (uint32_t i = 0; i <= 2; i++)
		mst_pipe_free(&p[i]);
	EXPECT_RET(-ENODATA, mst_set_state(self->dst.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(RUNNING), NULL));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum1));
	EXPECT_EQ(sum0, sum1);
	mst_v3_close(&s);
	mst_v3_close(&d);
}

struct crit_reader {
	struct mst_pipe *p;
	ssize_t ret;
};

static void *crit_reader_run(void *arg)
{
	struct crit_reader *c = arg;

	c->ret = mst_pipe_pump_polling(c->p);
	return NULL;
}

/*
 * A REINIT just before the last dirty END, whose record the critical engine
 * finishes after it: that engine ends stream 0 itself, and a reader waiting
 * in poll() with no timeout sees the new record and then end of file.
 */
TEST_F_TIMEOUT(v3_end, reinit_before_last_dirty_end, 120)
{
	struct vfio_mig_stream_info si;
	struct crit_reader cr;
	struct mst_v3_sess s, d;
	struct mst_pipe p[2];
	uint64_t gen = 0;
	pthread_t t;

	/* 1 MiB/s: the dirty stream's last 64 KiB take 62 ms, a record 250 ms */
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "engine_bw", 1));
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "read_ahead", 1));
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "chunk_size", 64 * 1024));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 1, S(RESUMING), &d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 1, S(STOP_COPY), &s));
	for (uint32_t i = 0; i <= 1; i++) {
		mst_pipe_init(&p[i], mst_v3_fd(&s, i), mst_v3_fd(&d, i), i, i);
		set_nonblock(p[i].src);
	}
	cr.p = &p[0];
	ASSERT_EQ(0, pthread_create(&t, NULL, crit_reader_run, &cr));
	/* read the dirty stream until its last chunk and END are left */
	for (;;) {
		ASSERT_EQ(0, mst_stream_info(p[1].src, &si));
		if (si.pending_bytes <= 64 * 1024 + MST_REC_HDR_SIZE)
			break;
		if (mst_pipe_pump(&p[1], si.pending_bytes - 64 * 1024 -
				  MST_REC_HDR_SIZE, NULL) == -EAGAIN)
			mst_sleep_ms(5);
	}
	ASSERT_EQ(0, mst_knob_write(self->src.uuid, "reinit", "1"));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &gen));
	ASSERT_EQ(0, mst_pipe_pump_polling(&p[1]));
	pthread_join(t, NULL);
	ASSERT_EQ(0, cr.ret);
	EXPECT_EQ(gen, p[0].mon.last_crit_gen);
	v3_end_finish(_metadata, self, p, &s, &d);
}

struct reinit_storm {
	const char *uuid;
	volatile bool stop;
	unsigned int accepted;
	unsigned int refused;
	int other;
};

static void *reinit_storm_run(void *arg)
{
	struct reinit_storm *r = arg;

	while (!r->stop) {
		int ret = mst_knob_write(r->uuid, "reinit", "1");

		if (!ret)
			r->accepted++;
		else if (ret == -EBUSY)
			r->refused++;
		else
			r->other = ret;
		mst_sleep_ms(20);
	}
	return NULL;
}

/*
 * A REINIT every 20 ms for the whole STOP_COPY save, each taking the
 * critical engine longer than that to produce: the save still completes
 * once the dirty streams are read (the downtime does not depend on the
 * device's REINITs), later REINITs are refused, and the destination gets
 * the newest critical data that was accepted.
 */
TEST_F_TIMEOUT(v3_end, reinit_storm, 300)
{
	struct reinit_storm r = { .uuid = self->src.uuid };
	uint64_t g_src = 0, g_dst = 0;
	struct mst_v3_sess s, d;
	struct mst_pipe p[2];
	char why[256];
	pthread_t t;
	int ret;

	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "engine_bw", 1));
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "read_ahead", 1));
	ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "chunk_size", 256 * 1024));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 1, S(RESUMING), &d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 1, S(STOP_COPY), &s));
	for (uint32_t i = 0; i <= 1; i++)
		mst_pipe_init(&p[i], mst_v3_fd(&s, i), mst_v3_fd(&d, i), i, i);
	ASSERT_EQ(0, pthread_create(&t, NULL, reinit_storm_run, &r));
	ret = mst_drain(p, 2, 120, why, sizeof(why));
	/* the save is complete: the storm's REINITs are refused from now on */
	mst_sleep_ms(100);
	r.stop = true;
	pthread_join(t, NULL);
	TH_LOG("%u REINITs accepted, %u refused", r.accepted, r.refused);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	EXPECT_EQ(0, r.other);
	EXPECT_GT(r.accepted, 0);
	EXPECT_GT(r.refused, 0);
	for (uint32_t i = 0; i <= 1; i++) {
		EXPECT_TRUE(mst_pipe_check(&p[i], why, sizeof(why))) TH_LOG("%s", why);
		mst_pipe_free(&p[i]);
	}
	ASSERT_RET(0, mst_set_state(self->dst.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_gen", &g_src));
	ASSERT_EQ(0, mst_knob_read_u64(self->dst.uuid, "crit_gen", &g_dst));
	EXPECT_EQ(g_src, g_dst);
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(STOP), NULL));
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	mst_v3_close(&s);
	mst_v3_close(&d);
}

/* ---------------------------------------------- FDs closed early */

FIXTURE(early_close)
{
	struct mst_dev src;
	struct mst_dev dst;
	struct mst_v3_sess s, d;
	struct mst_pipe p[5];
	bool pipes;
};

FIXTURE_SETUP(early_close)
{
	MST_REQUIRE_DEVICE();
	ASSERT_EQ(0, small_pair(&self->src, &self->dst));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 4, S(RESUMING), &self->d));
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 4, S(STOP_COPY), &self->s));
	for (uint32_t i = 0; i <= 4; i++)
		mst_pipe_init(&self->p[i], mst_v3_fd(&self->s, i),
			      mst_v3_fd(&self->d, i), i, i);
	self->pipes = true;
}

FIXTURE_TEARDOWN(early_close)
{
	if (self->pipes)
		for (uint32_t i = 0; i <= 4; i++)
			mst_pipe_free(&self->p[i]);
	mst_v3_close(&self->s);
	mst_v3_close(&self->d);
	mst_pair_destroy(&self->src, &self->dst);
}

/* Closes FD @i of @sess (0 = critical) and marks the pipe done. */
static void close_stream(struct mst_v3_sess *sess, struct mst_pipe *p, uint32_t i)
{
	if (i)
		close(sess->fds[i - 1]), sess->fds[i - 1] = -1;
	else
		close(sess->crit), sess->crit = -1;
	p[i].eof = true;
}

static void expect_dst_fails_then_recovers(struct __test_metadata *_metadata,
					   FIXTURE_DATA(early_close) *self)
{
	uint64_t sum = 0, sum1 = 0;
	int ret;

	ret = mst_set_state(self->dst.fd, S(STOP), NULL);
	EXPECT_EQ(-ENODATA, ret) TH_LOG("RESUMING -> STOP: %d (%s)", ret, strerror(-ret));
	ASSERT_NE(0, ret);
	ASSERT_STATE(self->dst.fd, S(ERROR));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
	ASSERT_STATE(self->dst.fd, S(RUNNING));
	/* The source finishes normally and is intact. */
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(RUNNING), NULL));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &sum1));
	EXPECT_EQ(sum, sum1);
}

TEST_F_TIMEOUT(early_close, source_dirty_fd_closed, 120)
{
	char why[256];

	close_stream(&self->s, self->p, 2);
	ASSERT_EQ(0, mst_drain(self->p, 5, 60, why, sizeof(why))) TH_LOG("%s", why);
	expect_dst_fails_then_recovers(_metadata, self);
}

TEST_F_TIMEOUT(early_close, source_critical_fd_closed, 120)
{
	char why[256];

	close_stream(&self->s, self->p, 0);
	ASSERT_EQ(0, mst_drain(self->p, 5, 60, why, sizeof(why))) TH_LOG("%s", why);
	expect_dst_fails_then_recovers(_metadata, self);
}

TEST_F_TIMEOUT(early_close, destination_dirty_fd_closed, 120)
{
	char why[256];

	/* Its bytes have nowhere to go: read them, drop them. */
	close(self->d.fds[3]);
	self->d.fds[3] = -1;
	self->p[4].dst = -1;
	ASSERT_EQ(0, mst_drain(self->p, 5, 60, why, sizeof(why))) TH_LOG("%s", why);
	expect_dst_fails_then_recovers(_metadata, self);
}

TEST_F_TIMEOUT(early_close, first_fd_set_closed_second_used, 120)
{
	int fds[4];
	uint32_t num = 4;
	char why[256];

	/* New descriptors for the same streams; the first set goes away. */
	ASSERT_EQ(0, mst_stream_fds(self->src.fd, fds, &num, NULL));
	for (uint32_t i = 0; i < 4; i++) {
		close(self->s.fds[i]);
		self->s.fds[i] = fds[i];
		self->p[i + 1].src = fds[i];
	}
	ASSERT_EQ(0, mst_drain(self->p, 5, 60, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_RET(0, mst_set_state(self->dst.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(STOP), NULL));
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
}

TEST_F_TIMEOUT(early_close, everything_closed_then_new_session, 120)
{
	struct mst_v3_opts o = { .ndirty = 4, .seed = 2, .monitor = true };
	struct mst_v3_result res;
	uint8_t buf[4096];

	/* Half-read streams, all FDs closed, sessions cancelled. */
	for (uint32_t i = 0; i <= 4; i++)
		ASSERT_GT(read(mst_v3_fd(&self->s, i), buf, sizeof(buf)), 0);
	mst_v3_close(&self->s);
	mst_v3_close(&self->d);
	ASSERT_EQ(0, mst_set_state(self->src.fd, S(RUNNING), NULL));
	ASSERT_NE(0, mst_set_state(self->dst.fd, S(STOP), NULL));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
	/* No leak, no stuck state: a fresh migration works. */
	ASSERT_EQ(0, mst_migrate_v3(&self->src, &self->dst, &o, &res)) TH_LOG("%s", res.err);
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
}

/* ------------------------------------------------ v2 users unaffected */

FIXTURE(coexist)
{
	struct mst_dev a, b, c, d;
};

FIXTURE_SETUP(coexist)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 32 * MST_MIB;
	cfg.backing = "memory";
	cfg.v2_mode = "single";
	ASSERT_EQ(0, mst_dev_create_open(&self->a, &cfg));
	ASSERT_EQ(0, mst_dev_create_open(&self->b, &cfg));
	ASSERT_EQ(0, mst_dev_create_open(&self->c, &cfg));
	ASSERT_EQ(0, mst_dev_create_open(&self->d, &cfg));
	ASSERT_EQ(0, mst_perturb(self->a.uuid, 200, 3000));
	ASSERT_EQ(0, mst_perturb(self->c.uuid, 200, 3000));
}

FIXTURE_TEARDOWN(coexist)
{
	mst_dev_destroy(&self->a);
	mst_dev_destroy(&self->b);
	mst_dev_destroy(&self->c);
	mst_dev_destroy(&self->d);
}

struct v3_job {
	struct mst_dev *src, *dst;
	struct mst_v3_opts o;
	struct mst_v3_result res;
	int ret;
};

static void *v3_job_run(void *arg)
{
	struct v3_job *j = arg;

	j->ret = mst_migrate_v3(j->src, j->dst, &j->o, &j->res);
	return NULL;
}

TEST_F_TIMEOUT(coexist, v2_on_another_instance_during_v3, 600)
{
	struct v3_job j = { .src = &self->a, .dst = &self->b,
			    .o = { .ndirty = 4, .seed = mst_seed(), .precopy = true,
				   .precopy_ms = 500, .monitor = true } };
	struct mst_v2_opts o2 = { .precopy = true, .precopy_rounds = 2,
				  .precopy_ms = 500, .monitor = true };
	struct mst_v2_result r2;
	struct vfio_device_feature_mig_multistream ms;
	pthread_t t;
	int ret2;

	TH_LOG("seed %#llx", (unsigned long long)j.o.seed);
	ASSERT_EQ(0, pthread_create(&t, NULL, v3_job_run, &j));
	ret2 = mst_migrate_v2(&self->c, &self->d, &o2, &r2);
	pthread_join(t, NULL);
	ASSERT_EQ(0, j.ret) TH_LOG("v3: %s", j.res.err);
	ASSERT_EQ(0, ret2) TH_LOG("v2: %s", r2.err);
	EXPECT_EQ(1, mst_same_state(&self->a, &self->b));
	EXPECT_EQ(1, mst_same_state(&self->c, &self->d));
	/* The v2 pair never saw v3. */
	ASSERT_EQ(0, mst_ms_get(self->c.fd, &ms));
	EXPECT_EQ(0, ms.num_dirty);
}

/* Two v3 migrations at once, on four instances: no stream waits on another device's. */
TEST_F_TIMEOUT(coexist, two_v3_migrations_together, 600)
{
	struct v3_job j1 = { .src = &self->a, .dst = &self->b,
			     .o = { .ndirty = 2, .seed = mst_seed(), .precopy = true,
				    .precopy_ms = 500, .monitor = true } };
	struct v3_job j2 = { .src = &self->c, .dst = &self->d,
			     .o = { .ndirty = 2, .seed = j1.o.seed + 1, .precopy = true,
				    .precopy_ms = 500, .sched = MST_SCHED_RANDOM,
				    .monitor = true } };
	pthread_t t1, t2;

	TH_LOG("seed %#llx", (unsigned long long)j1.o.seed);
	ASSERT_EQ(0, pthread_create(&t1, NULL, v3_job_run, &j1));
	ASSERT_EQ(0, pthread_create(&t2, NULL, v3_job_run, &j2));
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ASSERT_EQ(0, j1.ret) TH_LOG("a -> b: %s", j1.res.err);
	ASSERT_EQ(0, j2.ret) TH_LOG("c -> d: %s", j2.res.err);
	EXPECT_EQ(1, mst_same_state(&self->a, &self->b));
	EXPECT_EQ(1, mst_same_state(&self->c, &self->d));
}

TEST_F_TIMEOUT(coexist, v2_on_the_same_device_after_v3, 600)
{
	struct mst_v3_opts o3 = { .ndirty = 8, .seed = mst_seed(), .monitor = true };
	struct mst_v2_opts o2 = { .monitor = true };
	struct mst_v3_result r3;
	struct mst_v2_result r2;

	ASSERT_EQ(0, mst_migrate_v3(&self->a, &self->b, &o3, &r3)) TH_LOG("%s", r3.err);
	EXPECT_EQ(1, mst_same_state(&self->a, &self->b));
	/* Back to v2 on the same pair, in the other direction. */
	ASSERT_EQ(0, mst_ms_set(self->a.fd, 0));
	ASSERT_EQ(0, mst_ms_set(self->b.fd, 0));
	ASSERT_EQ(0, mst_set_state(self->a.fd, S(RUNNING), NULL));
	ASSERT_EQ(0, mst_set_state(self->b.fd, S(RUNNING), NULL));
	ASSERT_EQ(0, mst_perturb(self->b.uuid, 200, 0));
	ASSERT_EQ(0, mst_migrate_v2(&self->b, &self->a, &o2, &r2)) TH_LOG("%s", r2.err);
	EXPECT_EQ(1, mst_same_state(&self->a, &self->b));
}

TEST_HARNESS_MAIN
