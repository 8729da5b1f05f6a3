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

/* A sink into /dev/null whose commit fails, like a destination that
 * refuses to run, and that closes its FDs in abort(), as devices do. */
struct null_sink {
	struct mstream_sink sink;
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
	return -EIO;
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
 * use them, so the pool has been joined (only this thread is left). */
TEST_F(session, abort_after_the_pool_is_joined)
{
	unsigned int base = thread_count();

	EXPECT_EQ(-EIO, mstream_session_run(self->s, self->src, &self->ns.sink));
	ASSERT_TRUE(self->ns.aborted);
	EXPECT_EQ(base, self->ns.threads_at_abort);
}

TEST_HARNESS_MAIN
