// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of critical-byte accounting and the REINIT rule: mst_acct.c.
 *
 * The REINIT tests run the arithmetic on real chunk queues: a backlog is
 * queued, a REINIT arms the accounting with the bytes ahead of the new
 * critical data, the new critical data is queued, and a reader drains the
 * stream. Critical bytes must then be exactly the distance, in the stream the
 * reader sees, from its position to the end of the new critical data:
 * - v2 (one ordered stream): that distance includes the dirty backlog;
 * - v3 (critical stream): the dirty backlog is on another queue.
 * Which bytes are ahead is the driver's policy (kernel/mst_fw.c); the guest
 * tests check it on the device (v2_reinit, v3_reinit).
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "../mst_acct.h"
#include "../mst_queue.h"

static void mst_acct_init_pending(struct kunit *test)
{
	struct mst_acct a;

	mst_acct_init(&a, 100);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 0), 100ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 40), 60ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 99), 1ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 100), 0ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 1 << 20), 0ULL);
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));

	mst_acct_init(&a, 0);	/* a stream without critical data */
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 0), 0ULL);
}

/* As the reader advances, critical bytes only go down, byte for byte. */
static void mst_acct_monotonic(struct kunit *test)
{
	struct mst_acct a;
	u64 pos = 0, prev, cur, step = 1;

	mst_acct_init(&a, 5000);
	prev = mst_acct_pending(&a, pos);
	while (pos < 6000) {
		pos += step;
		step = step * 3 % 97 + 1;
		cur = mst_acct_pending(&a, pos);
		KUNIT_ASSERT_LE(test, cur, prev);
		KUNIT_ASSERT_EQ(test, cur, pos < 5000 ? 5000 - pos : 0);
		prev = cur;
	}

	/* Only a REINIT raises them again. */
	mst_acct_reinit(&a, pos, 0, 300);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, pos), 300ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, pos + 299), 1ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, pos + 300), 0ULL);
}

/* The flag is reported once per REINIT, or once for several in a row. */
static void mst_acct_reinit_flag_once(struct kunit *test)
{
	struct mst_acct a;

	mst_acct_init(&a, 10);
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));
	mst_acct_reinit(&a, 0, 10, 10);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 0), 20ULL);

	mst_acct_reinit(&a, 5, 15, 10);
	mst_acct_reinit(&a, 8, 22, 10);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 8), 32ULL);
}

/*
 * v2's first image is initial data: a critical record inserted inside it
 * lengthens it, and the bytes before the record stay critical.
 */
static void mst_acct_reinit_inside_image(struct kunit *test)
{
	struct mst_acct a;

	mst_acct_init(&a, 1000);
	mst_acct_reinit(&a, 100, 200, 50);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 100), 950ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 1049), 1ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 1050), 0ULL);
	/* past the image: the record's end is the target */
	mst_acct_reinit(&a, 1050, 30, 50);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 1050), 80ULL);
}

/* A REINIT coalesced into a record not produced yet: flag only. */
static void mst_acct_flag_keeps_target(struct kunit *test)
{
	struct mst_acct a;

	mst_acct_init(&a, 0);
	mst_acct_reinit(&a, 0, 10, 20);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	mst_acct_flag(&a);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 0), 30ULL);
}

/* Arming never wraps: the target saturates. */
static void mst_acct_saturates(struct kunit *test)
{
	struct mst_acct a;

	mst_acct_init(&a, 0);
	mst_acct_reinit(&a, U64_MAX - 10, 8, 8);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, U64_MAX - 10), 10ULL);
	mst_acct_reinit(&a, 1, U64_MAX, 1);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, 0), U64_MAX);
}

/* The REINIT rule, on queues. */
struct t_reinit_case {
	const char *name;
	bool v3;
	u32 old_crit;		/* older critical bytes not yet read */
	u32 backlog;		/* dirty bytes queued when the REINIT comes */
	u32 inflight;		/* dirty bytes the job in progress still adds */
	u32 crit_len;		/* the new critical data */
	u32 read_size;
	u64 pending;		/* critical bytes right after the REINIT */
};

#define T_CHUNK	4096

static const struct t_reinit_case t_reinit_cases[] = {
	/* v2: the new critical data waits behind everything ahead of it. */
	{ "v2_backlog", false, 0, 3 * T_CHUNK, 0, 200, 333,
	  3 * T_CHUNK + 200 },
	{ "v2_backlog_and_job", false, 0, 2 * T_CHUNK, 1000, 200, 4096,
	  2 * T_CHUNK + 1000 + 200 },
	{ "v2_old_crit_backlog_job", false, 500, 3 * T_CHUNK, 17, 1200, 1,
	  500 + 3 * T_CHUNK + 17 + 1200 },
	{ "v2_no_backlog", false, 0, 0, 0, 64, 10, 64 },
	/* v3: the dirty backlog is elsewhere; only older critical data counts. */
	{ "v3_backlog", true, 0, 3 * T_CHUNK, 0, 200, 333, 200 },
	{ "v3_backlog_and_job", true, 0, 2 * T_CHUNK, 1000, 200, 4096, 200 },
	{ "v3_old_crit_backlog_job", true, 500, 3 * T_CHUNK, 17, 1200, 1,
	  500 + 1200 },
	{ "v3_no_backlog", true, 0, 0, 0, 64, 10, 64 },
};

static void t_reinit_desc(const struct t_reinit_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_reinit, t_reinit_cases, t_reinit_desc);

static void t_queue_destroy(void *q)
{
	mst_queue_destroy(q);
}

static struct mst_queue *t_queue(struct kunit *test)
{
	struct mst_queue *q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_ASSERT_EQ(test, mst_queue_init(q, 4, T_CHUNK), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_queue_destroy, q),
			0);
	return q;
}

static ssize_t t_read(struct mst_queue *q, void *buf, size_t len)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter it;

	iov_iter_kvec(&it, ITER_DEST, &kv, 1, len);
	return mst_queue_read(q, &it, true);
}

/* Publishes @len bytes of @byte as pool chunks, or one extra chunk. */
static void t_queue_bytes(struct kunit *test, struct mst_queue *q, u8 byte,
			  u32 len, bool extra)
{
	while (len) {
		u32 n = min_t(u32, len, T_CHUNK);
		struct mst_chunk *c;

		if (extra) {
			n = len;
			c = mst_chunk_alloc_extra(n);
			KUNIT_ASSERT_NOT_NULL(test, c);
		} else {
			c = mst_queue_get_free(q, true);
			KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
		}
		memset(c->buf, byte, n);
		c->len = n;
		if (extra)
			mst_queue_publish_extra(q, c);
		else
			mst_queue_publish(q, c);
		len -= n;
	}
}

static void mst_acct_reinit_rule(struct kunit *test)
{
	const struct t_reinit_case *c = test->param_value;
	struct mst_queue *crit_q = t_queue(test);
	/* v2: one stream for everything; v3: dirty data has its own. */
	struct mst_queue *dirty_q = c->v3 ? t_queue(test) : crit_q;
	u8 *buf = kunit_kmalloc(test, max_t(u32, c->read_size, 8), GFP_KERNEL);
	u64 pos, pos0, ahead, end_of_crit = 0, prev;
	u32 new_crit_read = 0;
	u64 wrong_zero_at = U64_MAX;	/* first read after which "0" lied */
	struct mst_acct a;
	struct mst_chunk *job = NULL;

	KUNIT_ASSERT_NOT_NULL(test, buf);

	/* Session start: a first critical record, read in small steps. */
	t_queue_bytes(test, crit_q, 'c', 100, true);
	mst_acct_init(&a, 100);
	for (pos = 0; pos < 100; pos += 7) {
		KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, pos), 100 - pos);
		KUNIT_ASSERT_EQ(test, t_read(crit_q, buf, min_t(u64, 7, 100 - pos)),
				(ssize_t)min_t(u64, 7, 100 - pos));
	}
	KUNIT_ASSERT_EQ(test, mst_acct_pending(&a, mst_queue_consumed(crit_q)),
			0ULL);

	/* State when the device is reconfigured. */
	if (c->old_crit)
		t_queue_bytes(test, crit_q, 'o', c->old_crit, true);
	if (c->backlog)
		t_queue_bytes(test, dirty_q, 'd', c->backlog, false);
	if (c->inflight) {
		/* The save engine is filling a chunk it has not published. */
		job = mst_queue_get_free(dirty_q, true);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(job));
		memset(job->buf, 'j', c->inflight);
		job->len = c->inflight;
	}

	/* The REINIT, with what the protocol says is ahead. */
	pos = mst_queue_consumed(crit_q);
	if (c->v3)
		ahead = mst_queue_unread(crit_q);
	else
		ahead = mst_queue_unread(crit_q) + c->inflight;
	mst_acct_reinit(&a, pos, ahead, c->crit_len);
	KUNIT_EXPECT_TRUE(test, mst_acct_take_reinit(&a));
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, pos), c->pending);

	/* The device queues the new critical data; v2's job finishes first. */
	if (job)
		mst_queue_publish(dirty_q, job);
	t_queue_bytes(test, crit_q, 'N', c->crit_len, true);
	mst_queue_end_stream(crit_q);

	/* The critical stream's reader drains it. */
	pos0 = pos;
	prev = mst_acct_pending(&a, pos);
	for (;;) {
		ssize_t n = t_read(crit_q, buf, c->read_size), k;
		bool all_read;
		u64 cur;

		KUNIT_ASSERT_GE(test, n, 0);
		if (!n)
			break;
		for (k = 0; k < n; k++) {
			if (buf[k] == 'N') {
				new_crit_read++;
				end_of_crit = pos + k + 1;
			}
		}
		pos += n;
		KUNIT_ASSERT_EQ(test, pos, mst_queue_consumed(crit_q));
		cur = mst_acct_pending(&a, pos);
		KUNIT_ASSERT_LE(test, cur, prev);
		prev = cur;
		/* Critical bytes are 0 exactly once the new data is read. */
		all_read = new_crit_read == c->crit_len;
		if (!cur != all_read && wrong_zero_at == U64_MAX)
			wrong_zero_at = pos;
	}
	KUNIT_EXPECT_EQ_MSG(test, wrong_zero_at, U64_MAX,
			    "critical bytes and the data read disagree from position %llu on",
			    wrong_zero_at);
	KUNIT_ASSERT_EQ(test, new_crit_read, c->crit_len);
	KUNIT_EXPECT_EQ(test, end_of_crit, pos);
	/* The armed target is where the new critical data really ends. */
	KUNIT_EXPECT_EQ(test, end_of_crit - pos0, c->pending);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, end_of_crit - 1), 1ULL);
	KUNIT_EXPECT_EQ(test, mst_acct_pending(&a, end_of_crit), 0ULL);
	KUNIT_EXPECT_FALSE(test, mst_acct_take_reinit(&a));
}

static struct kunit_case mst_acct_cases[] = {
	KUNIT_CASE(mst_acct_init_pending),
	KUNIT_CASE(mst_acct_monotonic),
	KUNIT_CASE(mst_acct_reinit_flag_once),
	KUNIT_CASE(mst_acct_reinit_inside_image),
	KUNIT_CASE(mst_acct_flag_keeps_target),
	KUNIT_CASE(mst_acct_saturates),
	KUNIT_CASE_PARAM(mst_acct_reinit_rule, t_reinit_gen_params),
	{}
};

static struct kunit_suite mst_acct_suite = {
	.name = "mst_acct",
	.test_cases = mst_acct_cases,
};

kunit_test_suite(mst_acct_suite);

MODULE_DESCRIPTION("KUnit tests of vfio-mstream critical-byte accounting");
MODULE_LICENSE("GPL");
