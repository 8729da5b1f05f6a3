// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allocation failures inside every step of a migration, on the debug guest kernel.
 *
 * A migration of a quiet source into a destination is cut into stages (each
 * migration arc, GET MIG_STREAM_FDS, the stream read and write loops). For each
 * stage, and for n = 1, 2, ..., the n-th fault-injection site that the test's own
 * thread reaches inside that stage fails (/proc/thread-self/fail-nth, with failslab
 * and fail_page_alloc set to fail sleeping allocations too, but not the test's own
 * page faults), until a run of the stage reaches fewer than n sites: then every site
 * of that stage has failed once.
 *
 * Each injected failure must give a clean errno (or be absorbed, and the migration
 * then still completes with equal state); afterwards the source goes back to RUNNING
 * with its checksum unchanged and the destination can be reset. The debug kernel
 * checks the rest (KASAN, lockdep, kmemleak: scripts/guest-run fails the run on any
 * report). Finally a full migration of the same instances succeeds.
 *
 * Sites reached by the driver's own threads (the engines) are not in the test's
 * thread and are not counted here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mst.h"

#define FAULT_DEBUGFS	"/sys/kernel/debug"
/* Far more sites than any stage reaches; a stage that has more fails the test. */
#define FAULT_MAX_NTH	400

enum stage {
	ST_SRC_SET_STREAMS,	/* v3: SET MIG_MULTISTREAM on the source */
	ST_SRC_PRE_COPY,	/* RUNNING -> PRE_COPY */
	ST_SRC_STREAM_FDS,	/* v3: GET MIG_STREAM_FDS on the source */
	ST_DST_SET_STREAMS,
	ST_DST_STOP,		/* RUNNING -> STOP */
	ST_DST_RESUMING,	/* STOP -> RESUMING */
	ST_DST_STREAM_FDS,
	ST_PRE_COPY_IO,		/* read the source, write the destination, until ENOMSG */
	ST_SRC_STOP_COPY,	/* PRE_COPY -> STOP_COPY */
	ST_STOP_COPY_IO,	/* until every stream's EOF */
	ST_DST_STOP_LOAD,	/* RESUMING -> STOP: the load completes */
	ST_SRC_STOP,		/* STOP_COPY -> STOP */
	ST_COUNT,
};

static const char *const stage_name[ST_COUNT] = {
	[ST_SRC_SET_STREAMS] = "source SET MIG_MULTISTREAM",
	[ST_SRC_PRE_COPY] = "source RUNNING->PRE_COPY",
	[ST_SRC_STREAM_FDS] = "source GET MIG_STREAM_FDS",
	[ST_DST_SET_STREAMS] = "destination SET MIG_MULTISTREAM",
	[ST_DST_STOP] = "destination RUNNING->STOP",
	[ST_DST_RESUMING] = "destination STOP->RESUMING",
	[ST_DST_STREAM_FDS] = "destination GET MIG_STREAM_FDS",
	[ST_PRE_COPY_IO] = "PRE_COPY read/write",
	[ST_SRC_STOP_COPY] = "source PRE_COPY->STOP_COPY",
	[ST_STOP_COPY_IO] = "STOP_COPY read/write",
	[ST_DST_STOP_LOAD] = "destination RESUMING->STOP",
	[ST_SRC_STOP] = "source STOP_COPY->STOP",
};

static bool stage_is_v3_only(enum stage s)
{
	return s == ST_SRC_SET_STREAMS || s == ST_SRC_STREAM_FDS ||
	       s == ST_DST_SET_STREAMS || s == ST_DST_STREAM_FDS;
}

static int debugfs_write(const char *rel, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), FAULT_DEBUGFS "/%s", rel);
	return file_write_str(path, val);
}

/* Writes each { file, value } pair in order; stops at the first failure. */
static int debugfs_write_all(const char *const knobs[][2], size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = debugfs_write(knobs[i][0], knobs[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Sleeping and order-0 allocations fail too: they are what the driver makes.
 * Highmem pages do not: those are the pages of the test's own page faults
 * (GFP_HIGHUSER), whose number depends on malloc's and THP's layout of its
 * buffers, not on the driver. The driver's vmalloc() pages are highmem too;
 * its vmalloc() error paths are still reached through the allocations of the
 * area and of its page array, which are not.
 */
static int fault_configure(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "Y" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};

	return debugfs_write_all(knobs, MST_ARRAY_SIZE(knobs));
}

/* One migration attempt, with a fault armed around one stage. */
struct attempt {
	struct mst_dev *src, *dst;
	uint32_t ndirty;	/* 0: v2 */
	int nth_fd;		/* /proc/thread-self/fail-nth, opened once */
	int src_fds[MST_MAX_STREAMS];
	int dst_fds[MST_MAX_STREAMS];
	struct mst_pipe pipes[MST_MAX_STREAMS];
	unsigned int npipes;
	bool injected;
	enum stage failed_stage;
	int err;
	char why[256];
};

static int nth_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* The sites left before the armed one fails: 0 once it has failed. */
static int nth_left(int fd)
{
	char buf[16] = {};

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -errno;
	return atoi(buf);
}

static unsigned int nstreams(const struct attempt *a)
{
	return a->ndirty ? a->ndirty + 1 : 1;
}

/* Pump every pipe until each one returns ENOMSG (PRE_COPY) or EOF (STOP_COPY). */
static int pump_all(struct attempt *a, bool to_eof)
{
	unsigned int i;

	if (to_eof)
		return mst_drain(a->pipes, a->npipes, 120, a->why, sizeof(a->why));
	for (i = 0; i < a->npipes; i++) {
		ssize_t n;

		do
			n = mst_pipe_pump(&a->pipes[i], UINT64_MAX, NULL);
		while (n > 0);
		if (n == -ENOMSG || n == -EAGAIN)
			continue;
		snprintf(a->why, sizeof(a->why), "stream %u: %s", i,
			 n ? strerror((int)-n) : "EOF in PRE_COPY");
		return n ? (int)n : -EPROTO;
	}
	return 0;
}

static int stream_fds(int dev_fd, uint32_t ndirty, int *fds)
{
	uint32_t num = ndirty;

	return mst_stream_fds(dev_fd, fds, &num, NULL);
}

static int run_stage(struct attempt *a, enum stage s)
{
	switch (s) {
	case ST_SRC_SET_STREAMS:
		return mst_ms_set(a->src->fd, a->ndirty);
	case ST_SRC_PRE_COPY:
		return mst_set_state(a->src->fd, VFIO_DEVICE_STATE_PRE_COPY,
				     &a->src_fds[0]);
	case ST_SRC_STREAM_FDS:
		return stream_fds(a->src->fd, a->ndirty, &a->src_fds[1]);
	case ST_DST_SET_STREAMS:
		return mst_ms_set(a->dst->fd, a->ndirty);
	case ST_DST_STOP:
		return mst_set_state(a->dst->fd, VFIO_DEVICE_STATE_STOP, NULL);
	case ST_DST_RESUMING:
		return mst_set_state(a->dst->fd, VFIO_DEVICE_STATE_RESUMING,
				     &a->dst_fds[0]);
	case ST_DST_STREAM_FDS:
		return stream_fds(a->dst->fd, a->ndirty, &a->dst_fds[1]);
	case ST_PRE_COPY_IO:
		return pump_all(a, false);
	case ST_SRC_STOP_COPY:
		return mst_set_state(a->src->fd, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	case ST_STOP_COPY_IO:
		return pump_all(a, true);
	case ST_DST_STOP_LOAD:
		return mst_set_state(a->dst->fd, VFIO_DEVICE_STATE_STOP, NULL);
	case ST_SRC_STOP:
		return mst_set_state(a->src->fd, VFIO_DEVICE_STATE_STOP, NULL);
	case ST_COUNT:
		break;
	}
	return -EINVAL;
}

/*
 * Runs every stage in order, the fault armed with @nth around @armed only. Stops at
 * the first stage that fails. Returns 0 when the migration completed.
 */
static int attempt_run(struct attempt *a, enum stage armed, unsigned int nth)
{
	enum stage s;
	unsigned int i;
	int ret = 0, left;

	for (i = 0; i < MST_MAX_STREAMS; i++)
		a->src_fds[i] = a->dst_fds[i] = -1;
	a->npipes = 0;
	a->injected = false;
	a->why[0] = 0;
	for (s = 0; s < ST_COUNT; s++) {
		if (!a->ndirty && stage_is_v3_only(s))
			continue;
		if (s == ST_PRE_COPY_IO) {
			/*
			 * Non-blocking: a quiet device's parked v3 stream has
			 * no data until STOP_COPY, and a blocking read of it
			 * would wait until then.
			 */
			for (i = 0; i < nstreams(a); i++) {
				int fl = fcntl(a->src_fds[i], F_GETFL);

				if (fl < 0 || fcntl(a->src_fds[i], F_SETFL,
						    fl | O_NONBLOCK))
					return -errno;
				mst_pipe_init(&a->pipes[i], a->src_fds[i],
					      a->dst_fds[i], i,
					      a->ndirty ? (int)i : -1);
			}
			a->npipes = nstreams(a);
		}
		if (s == armed && nth_arm(a->nth_fd, nth))
			return -errno;
		ret = run_stage(a, s);
		if (s == armed) {
			left = nth_left(a->nth_fd);
			nth_arm(a->nth_fd, 0);
			a->injected = left == 0;
		}
		if (ret) {
			a->failed_stage = s;
			a->err = ret;
			return ret;
		}
	}
	return 0;
}

/* Closes what the attempt opened; the devices stay as the attempt left them. */
static void attempt_close(struct attempt *a)
{
	unsigned int i;

	for (i = 0; i < a->npipes; i++)
		mst_pipe_free(&a->pipes[i]);
	a->npipes = 0;
	for (i = 0; i < MST_MAX_STREAMS; i++) {
		if (a->src_fds[i] >= 0)
			close(a->src_fds[i]);
		if (a->dst_fds[i] >= 0)
			close(a->dst_fds[i]);
		a->src_fds[i] = a->dst_fds[i] = -1;
	}
}

/* What an injected allocation failure may surface as. */
static bool clean_errno(int err)
{
	return err == -ENOMEM || err == -EIO || err == -EINTR ||
	       err == -EAGAIN || err == -ENOSPC || err == -EFAULT;
}

FIXTURE(fault) {
	struct mst_dev src, dst;
	uint64_t sum0;
	int nth_fd;
};

FIXTURE_VARIANT(fault) {
	uint32_t ndirty;
};

FIXTURE_VARIANT_ADD(fault, v2) { .ndirty = 0 };
FIXTURE_VARIANT_ADD(fault, v3_n2) { .ndirty = 2 };

FIXTURE_SETUP(fault)
{
	struct mst_cfg cfg = MST_CFG_QUIET;
	const char *skip = mst_skip_reason();

	self->src.fd = self->dst.fd = -1;
	self->nth_fd = -1;
	if (skip)
		SKIP(return, "%s", skip);
	if (access(FAULT_DEBUGFS "/failslab", F_OK))
		SKIP(return, "no failslab in debugfs: not the debug guest kernel");
	ASSERT_EQ(0, fault_configure());
	self->nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_LE(0, self->nth_fd);
	cfg.state_size = 2 * MST_MIB;
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &self->sum0));
}

FIXTURE_TEARDOWN(fault)
{
	if (self->nth_fd >= 0)
		close(self->nth_fd);
	mst_pair_destroy(&self->src, &self->dst);
}

/* Both devices back to RUNNING for the next attempt: the source as it was. */
static int recover(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	uint32_t state;
	uint64_t sum;

	EXPECT_EQ(0, mst_get_state(self->src.fd, &state));
	EXPECT_NE(VFIO_DEVICE_STATE_ERROR, state);
	EXPECT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_EQ(0, mst_checksum(self->src.uuid, &sum));
	EXPECT_EQ(self->sum0, sum);
	/* The destination may have taken part of a load: a reset discards it. */
	EXPECT_EQ(0, mst_reset(self->dst.fd));
	EXPECT_EQ(0, mst_get_state(self->dst.fd, &state));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, state);
	return _metadata->exit_code ? -1 : 0;
}

TEST_F_TIMEOUT(fault, every_site_of_every_stage, 1500)
{
	struct attempt a = {
		.src = &self->src, .dst = &self->dst,
		.ndirty = variant->ndirty, .nth_fd = self->nth_fd,
	};
	unsigned int total = 0, stages = 0;
	enum stage s;

	for (s = 0; s < ST_COUNT; s++) {
		unsigned int nth;

		if (!a.ndirty && stage_is_v3_only(s))
			continue;
		for (nth = 1; nth <= FAULT_MAX_NTH; nth++) {
			int ret = attempt_run(&a, s, nth);

			if (!a.injected) {
				/* Fewer than nth sites: the run was clean and must succeed. */
				EXPECT_EQ(0, ret)
					TH_LOG("%s: uninjected run failed at %s: %s %s",
					       stage_name[s], stage_name[a.failed_stage],
					       strerror(-ret), a.why);
			} else if (ret) {
				EXPECT_TRUE(clean_errno(ret))
					TH_LOG("%s, site %u: failed at %s with %d (%s) %s",
					       stage_name[s], nth, stage_name[a.failed_stage],
					       ret, strerror(-ret), a.why);
			} else {
				/* Absorbed: then the state must have arrived whole. */
				EXPECT_EQ(1, mst_same_state(&self->src, &self->dst))
					TH_LOG("%s, site %u: absorbed, but the states differ",
					       stage_name[s], nth);
			}
			attempt_close(&a);
			ASSERT_EQ(0, recover(_metadata, self))
				TH_LOG("after %s, site %u", stage_name[s], nth);
			if (!a.injected)
				break;
		}
		ASSERT_GT(FAULT_MAX_NTH, nth) TH_LOG("%s: more sites than the test allows",
						     stage_name[s]);
		TH_LOG("%s: %u injection sites", stage_name[s], nth - 1);
		total += nth - 1;
		stages++;
	}
	/* The summary line the fault suite's closing report quotes. */
	printf("# fault-injection: %s: %u sites in %u stages, each failed once\n",
	       variant->ndirty ? "v3" : "v2", total, stages);

	/* And the same instances still migrate. */
	ASSERT_EQ(0, attempt_run(&a, ST_COUNT, 0)) TH_LOG("%s", a.why);
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	attempt_close(&a);
}

/*
 * Makes the driver's page save command fail with -EIO, in whatever task, once:
 * or, rarely, once per engine, as should_fail() reads "times" before it
 * decrements it and the engines run at the same time. Each failure it forces
 * is logged (verbose = 1, no stack dump), so that the test counts them.
 */
static int engine_fail_arm(void)
{
	static const char *const knobs[][2] = {
		{ "fail_function/inject", " " },	/* spaces: remove every point */
		{ "fail_function/inject", "mst_eng_emit_pages" },
		/* the unsigned long -EIO, which the ERRNO check compares */
		{ "fail_function/mst_eng_emit_pages/retval", "0xfffffffffffffffb" },
		{ "fail_function/task-filter", "N" },
		{ "fail_function/probability", "100" },
		{ "fail_function/interval", "1" },
		{ "fail_function/verbose", "1" },
		{ "fail_function/times", "1" },
	};

	return debugfs_write_all(knobs, MST_ARRAY_SIZE(knobs));
}

/* What fail_dump() logs for each failure it forces. */
#define FAULT_FORCED_MSG	"FAULT_INJECTION: forcing a failure"

/* /dev/kmsg, positioned after the last record logged so far. */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* How many records logged since kmsg_open_at_end() hold @needle, or -errno. */
static int kmsg_count(int fd, const char *needle)
{
	char rec[8192];
	ssize_t len;
	int n = 0;

	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EAGAIN)
			return n;
		if (len < 0 && errno == EPIPE)	/* overwritten: go on at the oldest */
			continue;
		if (len < 0)
			return -errno;
		rec[len] = '\0';
		if (strstr(rec, needle))
			n++;
	}
}

/*
 * A save engine fails (its page save command, in a driver's work item, out of
 * the reach of fail-nth): its stream's reader gets the errno, and so, in v3,
 * does the critical FD's reader, which would otherwise wait for an END that
 * cannot come; the other dirty streams end normally. In v3 each dirty stream
 * has its own engine, so as many dirty streams fail as failures were forced.
 * The source then goes back to RUNNING with its state intact, and the same
 * instances still migrate.
 */
TEST_F_TIMEOUT(fault, engine_failure_reaches_the_readers, 120)
{
	struct attempt a = {
		.src = &self->src, .dst = &self->dst,
		.ndirty = variant->ndirty, .nth_fd = self->nth_fd,
	};
	struct mst_pipe p[MST_MAX_STREAMS];
	struct mst_v3_sess s = { .crit = -1 };
	unsigned int i, n = variant->ndirty + 1, failed = 0;
	ssize_t ret[MST_MAX_STREAMS];
	int kmsg, forced;

	if (access(FAULT_DEBUGFS "/fail_function/inject", F_OK))
		SKIP(return, "no fail_function in debugfs");
	kmsg = kmsg_open_at_end();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	ASSERT_EQ(0, engine_fail_arm());
	if (variant->ndirty) {
		ASSERT_EQ(0, mst_v3_open(self->src.fd, variant->ndirty,
					 VFIO_DEVICE_STATE_STOP_COPY, &s));
	} else {
		ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP_COPY,
					   &s.crit));
	}
	/* the dirty streams first: the critical FD ends after them */
	for (i = n; i-- > 0;) {
		int fd = mst_v3_fd(&s, i);

		ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
		mst_pipe_init(&p[i], fd, -1, i, variant->ndirty ? (int)i : -1);
		ret[i] = mst_pipe_pump_polling(&p[i]);
		TH_LOG("stream %u: %s after %llu bytes", i,
		       ret[i] ? strerror((int)-ret[i]) : "EOF",
		       (unsigned long long)p[i].bytes);
		mst_pipe_free(&p[i]);
		if (i && ret[i]) {
			EXPECT_EQ(-EIO, ret[i]);
			failed++;
		} else if (i) {
			EXPECT_EQ(0, ret[i]);
		}
	}
	debugfs_write("fail_function/inject", " ");
	forced = kmsg_count(kmsg, FAULT_FORCED_MSG);
	close(kmsg);
	ASSERT_LE(1, forced) TH_LOG("the save command never failed (%d)", forced);
	TH_LOG("%d forced failure(s), %u dirty stream(s) failed", forced, failed);
	EXPECT_EQ(-EIO, ret[0]);
	if (variant->ndirty)
		EXPECT_EQ((unsigned int)forced, failed);
	mst_v3_close(&s);

	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, recover(_metadata, self));
	ASSERT_EQ(0, attempt_run(&a, ST_COUNT, 0)) TH_LOG("%s", a.why);
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	attempt_close(&a);
}

TEST_HARNESS_MAIN
