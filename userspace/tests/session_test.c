// SPDX-License-Identifier: MIT
/*
 * session_test.c - the session's contract with its endpoints, with a sink
 * written here: what the session guarantees an endpoint when it fails, and
 * what stays valid for the threads that watch it.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "kselftest_harness.h"

#include "endpoint.h"
#include "savegen.h"

/* A sink into /dev/null whose commit may fail, like a destination that
 * refuses to run, and that closes its FDs in abort(), as devices do. */
struct null_sink {
	struct mstream_sink sink;
	int commit_err;
	unsigned int threads_at_abort;
	bool aborted;
};

static int ns_open(struct mstream_sink *sink, const struct ep_dev *src, unsigned int ndev)
{
	sink->dev = ep_devs_alloc(ndev);
	if (!sink->dev)
		return -ENOMEM;
	sink->ndev = ndev;
	for (unsigned int d = 0; d < ndev; d++) {
		sink->dev[d].lay = src[d].lay;
		for (unsigned int k = 0; k < src[d].lay.nstreams; k++)
			sink->dev[d].fds[k] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	return 0;
}

static int ns_device_done(struct mstream_sink *sink, unsigned int d,
			  const struct stream_result *res, const uint64_t *src_sum)
{
	return 0;
}

static int ns_commit(struct mstream_sink *sink)
{
	return ((struct null_sink *)sink)->commit_err;
}

static void ns_abort(struct mstream_sink *sink, int err, const char *msg)
{
	struct null_sink *ns = (struct null_sink *)sink;

	ns->aborted = true;
	ns->threads_at_abort = thread_count();
	ep_devs_close(sink->dev, sink->ndev);
}

static void ns_destroy(struct mstream_sink *sink)
{
	ep_devs_close(sink->dev, sink->ndev);
	free(sink->dev);
}

static const struct sink_ops null_sink_ops = {
	.kind = "null",
	.open = ns_open,
	.device_done = ns_device_done,
	.commit = ns_commit,
	.abort = ns_abort,
	.destroy = ns_destroy,
};

FIXTURE(session) {
	char dir[48];
	struct manifest m;
	struct mstream_source *src;
	struct null_sink ns;
	struct mstream_session *s;
};

FIXTURE_SETUP(session)
{
	struct mstream_session_params sp = { .pool = { .threads = 2, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };

	snprintf(self->dir, sizeof(self->dir), "/tmp/mstream-session-%d", getpid());
	make_save(self->dir, &self->m);
	ASSERT_EQ(0, mstream_source_create_files(&self->src, self->dir, 0));
	self->ns.sink.ops = &null_sink_ops;
	ASSERT_EQ(0, mstream_session_create(&self->s, &sp));
}

FIXTURE_TEARDOWN(session)
{
	char cmd[96];

	mstream_session_destroy(self->s);
	mstream_source_destroy(self->src);
	self->ns.sink.ops->destroy(&self->ns.sink);
	manifest_free(&self->m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cleanup failed");
}

/* The sink may close its FDs in abort(): by then no pool thread may still
 * use them, so the pool has been joined. */
TEST_F(session, abort_after_the_pool_is_joined)
{
	self->ns.commit_err = -EIO;
	EXPECT_EQ(-EIO, mstream_session_run(self->s, self->src, &self->ns.sink));
	ASSERT_TRUE(self->ns.aborted);
	EXPECT_EQ(0, self->ns.threads_at_abort);
}

/* Another thread reads every statistic while the session runs, ends and
 * frees its pool (ThreadSanitizer and ASan check the accesses). */
struct reader {
	struct mstream_session *s;
	pthread_t thread;
	bool stop;
	unsigned long rounds;
};

static void *read_stats(void *arg)
{
	struct reader *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct mstream_session_stats st;
		struct mstream_device_stats ds;
		struct mstream_stream_stats ss;

		mstream_session_get_stats(r->s, &st);
		for (unsigned int d = 0; d < 2; d++) {
			mstream_session_get_device_stats(r->s, d, &ds);
			for (unsigned int k = 0; k < NSTREAMS; k++)
				mstream_session_get_stream_stats(r->s, d, k, &ss);
		}
		__atomic_fetch_add(&r->rounds, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F(session, stats_from_another_thread)
{
	struct reader r = { .s = self->s };
	struct mstream_session_stats st;
	unsigned long rounds;
	uint64_t total = 0;

	pthread_create(&r.thread, NULL, read_stats, &r);
	ASSERT_EQ(0, mstream_session_run(self->s, self->src, &self->ns.sink))
		TH_LOG("%s", mstream_session_error(self->s));
	/* And after the pool is gone: two more rounds, one wholly after. */
	rounds = __atomic_load_n(&r.rounds, __ATOMIC_ACQUIRE);
	while (__atomic_load_n(&r.rounds, __ATOMIC_ACQUIRE) < rounds + 2)
		msleep(1);
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	pthread_join(r.thread, NULL);
	ASSERT_EQ(0, mstream_session_get_stats(self->s, &st));
	for (unsigned int d = 0; d < self->m.ndev; d++)
		for (unsigned int k = 0; k < self->m.dev[d].nstreams; k++)
			total += self->m.dev[d].s[k].bytes;
	EXPECT_EQ(total, st.bytes);
	EXPECT_EQ(MSTREAM_PHASE_DONE, st.phase);
}

TEST_HARNESS_MAIN
