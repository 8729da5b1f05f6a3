// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the chunk queue: mst_queue.c.
 *
 * Single-threaded tests pin the read-result table, the accounting and the
 * memory bound; kthread tests run real producers and readers against each
 * other, which is where lockdep, KASAN and DEBUG_ATOMIC_SLEEP look for
 * trouble. Threads never touch the struct kunit: they record what they saw
 * and the test thread checks it after joining them.
 */

#include <kunit/test.h>
#include <linux/sched/signal.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "../mst_queue.h"

#define T_JOIN_TIMEOUT	(20 * HZ)

static void t_queue_destroy(void *q)
{
	mst_queue_destroy(q);
}

static struct mst_queue *t_queue(struct kunit *test, unsigned int nchunks,
				 u32 chunk_size)
{
	struct mst_queue *q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_ASSERT_EQ(test, mst_queue_init(q, nchunks, chunk_size), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_queue_destroy, q),
			0);
	return q;
}

static ssize_t t_read(struct mst_queue *q, void *buf, size_t len, bool nowait)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter it;

	iov_iter_kvec(&it, ITER_DEST, &kv, 1, len);
	return mst_queue_read(q, &it, nowait);
}

/* Fills a pool chunk with @len bytes of @byte and publishes it. */
static void t_put(struct kunit *test, struct mst_queue *q, u8 byte, u32 len)
{
	struct mst_chunk *c = mst_queue_get_free(q, true);

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
	KUNIT_ASSERT_LE(test, len, c->cap);
	KUNIT_ASSERT_EQ(test, c->len, 0U);
	memset(c->buf, byte, len);
	c->len = len;
	mst_queue_publish(q, c);
}

/* Poll masks as plain numbers, for KUNIT_EXPECT_EQ. */
static unsigned int t_poll(struct mst_queue *q)
{
	return (__force unsigned int)mst_queue_poll(q, NULL, NULL);
}

static bool t_all(const u8 *buf, size_t len, u8 byte)
{
	return !memchr_inv(buf, byte, len);
}

/* mst_queue_init() arguments. */
struct t_init_case {
	const char *name;
	unsigned int nchunks;
	u32 chunk_size;
	int err;
};

static const struct t_init_case t_init_cases[] = {
	{ "no_chunks", 0, 4096, -EINVAL },
	{ "empty_chunks", 2, 0, -EINVAL },
	{ "one_byte", 1, 1, 0 },
	{ "default_8m_x2", 2, 8 << 20, 0 },
	{ "many_small", 64, 512, 0 },
};

static void t_init_desc(const struct t_init_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_init, t_init_cases, t_init_desc);

static void mst_queue_init_args(struct kunit *test)
{
	const struct t_init_case *c = test->param_value;
	struct mst_queue q;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, mst_queue_init(&q, c->nchunks, c->chunk_size),
			c->err);
	if (!c->err) {
		KUNIT_EXPECT_EQ(test, q.nchunks, c->nchunks);
		/* no buffer until a producer takes the chunk */
		for (i = 0; i < q.nchunks; i++)
			KUNIT_EXPECT_NULL(test, q.chunks[i].buf);
		for (i = 0; i < q.nchunks; i++) {
			struct mst_chunk *got = mst_queue_get_free(&q, false);

			KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(got));
			KUNIT_EXPECT_NOT_NULL(test, got->buf);
			KUNIT_EXPECT_EQ(test, got->cap, c->chunk_size);
			KUNIT_EXPECT_EQ(test, got->len, 0U);
		}
		KUNIT_EXPECT_EQ(test, mst_queue_unread(&q), 0ULL);
	}
	mst_queue_destroy(&q);	/* harmless after a failed init too */
}

/* No more than nchunks chunks exist; reading one frees one. */
static void mst_queue_bounded_memory(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 3, 1024);
	struct mst_chunk *c[3], *more;
	u8 buf[1024];
	int i, j;

	for (i = 0; i < 3; i++) {
		c[i] = mst_queue_get_free(q, true);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c[i]));
		KUNIT_EXPECT_TRUE(test, c[i] >= q->chunks && c[i] < q->chunks + 3);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_PTR_NE(test, c[i], c[j]);
	}
	more = mst_queue_get_free(q, true);
	KUNIT_EXPECT_EQ(test, PTR_ERR(more), -EAGAIN);

	for (i = 0; i < 3; i++) {
		memset(c[i]->buf, 'a' + i, 1024);
		c[i]->len = 1024;
		mst_queue_publish(q, c[i]);
	}
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 3 * 1024ULL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), -EAGAIN);

	/* A partial read does not free the chunk; the rest of it does. */
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 1000, true), 1000);
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 24, true), 24);
	more = mst_queue_get_free(q, true);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(more));
	KUNIT_EXPECT_PTR_EQ(test, more, c[0]);
	mst_queue_put_free(q, more);
}

/* Chunks are read in publish order, whoever got them first. */
static void mst_queue_publish_order(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 4, 100);
	struct mst_chunk *a, *b, *c;
	u8 buf[400];

	a = mst_queue_get_free(q, true);	/* producer A */
	b = mst_queue_get_free(q, true);	/* producer B */
	c = mst_queue_get_free(q, true);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(a) || IS_ERR_OR_NULL(b) ||
			   IS_ERR_OR_NULL(c));
	memset(a->buf, 'A', 100);
	a->len = 100;
	memset(b->buf, 'B', 50);
	b->len = 50;
	memset(c->buf, 'C', 70);
	c->len = 70;

	mst_queue_publish(q, b);
	mst_queue_publish(q, c);
	mst_queue_publish(q, a);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 220ULL);

	/* One read spans all three chunks, in publish order. */
	KUNIT_ASSERT_EQ(test, t_read(q, buf, sizeof(buf), true), 220);
	KUNIT_EXPECT_TRUE(test, t_all(buf, 50, 'B'));
	KUNIT_EXPECT_TRUE(test, t_all(buf + 50, 70, 'C'));
	KUNIT_EXPECT_TRUE(test, t_all(buf + 120, 100, 'A'));
	KUNIT_EXPECT_EQ(test, mst_queue_consumed(q), 220ULL);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 0ULL);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, sizeof(buf), true), -EAGAIN);
}

/*
 * The read-result table of mst_queue.h: what a nowait read returns first and
 * then, from a given state. Data published before an end is delivered first;
 * a closed queue delivers nothing.
 */
enum {
	S_DATA		= 1 << 0,
	S_PASS_END	= 1 << 1,
	S_STREAM_END	= 1 << 2,
	S_ERROR		= 1 << 3,
	S_CLOSED	= 1 << 4,
	S_ERROR_LATER	= 1 << 5,	/* a second error that must not stick */
};

struct t_result_case {
	const char *name;
	unsigned int state;
	ssize_t first;
	ssize_t second;
	unsigned int poll;
};

#define T_DATA_LEN	300
#define T_IN		((__force unsigned int)(EPOLLIN | EPOLLRDNORM))

static const struct t_result_case t_result_cases[] = {
	{ "empty", 0, -EAGAIN, -EAGAIN, 0 },
	{ "data", S_DATA, T_DATA_LEN, -EAGAIN, T_IN },
	{ "pass_end", S_PASS_END, -ENOMSG, -ENOMSG, 0 },
	{ "stream_end", S_STREAM_END, 0, 0, T_IN },
	{ "error", S_ERROR, -EIO, -EIO, T_IN },
	{ "first_error_sticks", S_ERROR | S_ERROR_LATER, -EIO, -EIO, T_IN },
	{ "closed", S_CLOSED, -ENODEV, -ENODEV, T_IN },
	{ "data_then_pass_end", S_DATA | S_PASS_END, T_DATA_LEN, -ENOMSG, T_IN },
	{ "data_then_eof", S_DATA | S_STREAM_END, T_DATA_LEN, 0, T_IN },
	{ "data_then_error", S_DATA | S_ERROR, T_DATA_LEN, -EIO, T_IN },
	{ "closed_drops_data", S_DATA | S_CLOSED, -ENODEV, -ENODEV, T_IN },
	{ "error_before_closed", S_ERROR | S_CLOSED, -EIO, -EIO, T_IN },
	{ "closed_before_eof", S_CLOSED | S_STREAM_END, -ENODEV, -ENODEV, T_IN },
	{ "eof_before_pass_end", S_STREAM_END | S_PASS_END, 0, 0, T_IN },
	{ "error_before_eof", S_ERROR | S_STREAM_END, -EIO, -EIO, T_IN },
};

static void t_result_desc(const struct t_result_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_result, t_result_cases, t_result_desc);

static void mst_queue_read_results(struct kunit *test)
{
	const struct t_result_case *c = test->param_value;
	struct mst_queue *q = t_queue(test, 2, 4096);
	u8 *buf = kunit_kzalloc(test, 4096, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	if (c->state & S_DATA)
		t_put(test, q, 0x5a, T_DATA_LEN);
	if (c->state & S_PASS_END)
		mst_queue_end_pass(q);
	if (c->state & S_STREAM_END)
		mst_queue_end_stream(q);
	if (c->state & S_ERROR)
		mst_queue_set_error(q, -EIO);
	if (c->state & S_ERROR_LATER)
		mst_queue_set_error(q, -ENOSPC);
	if (c->state & S_CLOSED)
		mst_queue_close(q);

	KUNIT_EXPECT_EQ(test, t_poll(q), c->poll);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 4096, true), c->first);
	if (c->first > 0)
		KUNIT_EXPECT_TRUE(test, t_all(buf, c->first, 0x5a));
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 4096, true), c->second);
	/* A blocking read gives the same answer when it has one. */
	if (c->second != -EAGAIN)
		KUNIT_EXPECT_EQ(test, t_read(q, buf, 4096, false), c->second);
	/* Every byte that will ever be read was read: drained iff ended. */
	KUNIT_EXPECT_EQ(test, mst_queue_drained(q), !!(c->state & S_STREAM_END));
}

/* Reads of any size see the bytes once, in order, and account for them. */
static void mst_queue_partial_reads(struct kunit *test)
{
	/* 1 and 2 byte reads, chunk ends hit exactly and straddled. */
	static const u32 sizes[] = { 1, 2, 10, 100, 880, 12, 9, 986 };
	struct mst_queue *q = t_queue(test, 2, 1000);
	u8 buf[1000];
	u64 pos = 0;
	int i, k;

	for (k = 0; k < 2; k++) {
		struct mst_chunk *c = mst_queue_get_free(q, true);

		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
		for (i = 0; i < 1000; i++)
			((u8 *)c->buf)[i] = (u8)(k * 1000 + i);
		c->len = 1000;
		mst_queue_publish(q, c);
	}
	mst_queue_end_stream(q);

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ssize_t n = t_read(q, buf, sizes[i], true);

		KUNIT_ASSERT_GT(test, n, 0);
		KUNIT_EXPECT_EQ(test, (u64)n, min_t(u64, sizes[i], 2000 - pos));
		for (k = 0; k < n; k++)
			KUNIT_ASSERT_EQ(test, buf[k], (u8)(pos + k));
		pos += n;
		KUNIT_EXPECT_EQ(test, mst_queue_consumed(q), pos);
		KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 2000 - pos);
		KUNIT_EXPECT_EQ(test, mst_queue_drained(q), pos == 2000);
	}
	KUNIT_EXPECT_EQ(test, pos, 2000ULL);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 1, true), 0);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 0, true), 0);
}

/* Extra chunks: in publish order, freed once read or at teardown. */
static void mst_queue_extra_chunks(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 1, 64);
	struct mst_chunk *e1, *e2, *e3;
	u8 buf[256];

	t_put(test, q, 'p', 64);
	/* The pool is exhausted: urgent data does not need it. */
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), -EAGAIN);

	e1 = mst_chunk_alloc_extra(32);
	KUNIT_ASSERT_NOT_NULL(test, e1);
	KUNIT_EXPECT_EQ(test, e1->cap, 32U);
	KUNIT_EXPECT_EQ(test, e1->len, 0U);
	memset(e1->buf, 'x', 32);
	e1->len = 32;
	mst_queue_publish_extra(q, e1);

	/* A descriptor and a buffer allocated separately are freed too. */
	e2 = kzalloc(sizeof(*e2), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e2);
	e2->buf = kvmalloc(16, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e2->buf);
	memset(e2->buf, 'y', 16);
	e2->cap = 16;
	e2->len = 16;
	mst_queue_publish_extra(q, e2);
	KUNIT_EXPECT_TRUE(test, e2->extra);

	/* An empty extra chunk is freed at once. */
	e3 = mst_chunk_alloc_extra(8);
	KUNIT_ASSERT_NOT_NULL(test, e3);
	mst_queue_publish_extra(q, e3);

	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 112ULL);
	KUNIT_ASSERT_EQ(test, t_read(q, buf, 80, true), 80);
	KUNIT_EXPECT_TRUE(test, t_all(buf, 64, 'p'));
	KUNIT_EXPECT_TRUE(test, t_all(buf + 64, 16, 'x'));
	KUNIT_ASSERT_EQ(test, t_read(q, buf, 256, true), 32);
	KUNIT_EXPECT_TRUE(test, t_all(buf, 16, 'x'));
	KUNIT_EXPECT_TRUE(test, t_all(buf + 16, 16, 'y'));

	/* Unread extras die with the queue (KASAN/kmemleak watch this). */
	e1 = mst_chunk_alloc_extra(4096);
	KUNIT_ASSERT_NOT_NULL(test, e1);
	e1->len = 4096;
	mst_queue_publish_extra(q, e1);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 4096ULL);
}

/* Empty chunks go back to the pool without reaching the reader. */
static void mst_queue_empty_publish(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 1, 64);
	struct mst_chunk *c = mst_queue_get_free(q, true);
	u8 buf[8];

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
	mst_queue_publish(q, c);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 0ULL);
	KUNIT_EXPECT_EQ(test, t_poll(q), 0U);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 8, true), -EAGAIN);

	c = mst_queue_get_free(q, true);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
	mst_queue_put_free(q, c);
	c = mst_queue_get_free(q, true);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c));
	mst_queue_put_free(q, c);
}

/* After close every call fails with -ENODEV; close is idempotent. */
static void mst_queue_closed(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 2, 64);
	struct mst_chunk *held = mst_queue_get_free(q, true), *e;
	u8 buf[64];

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(held));
	mst_queue_close(q);
	mst_queue_close(q);

	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), -ENODEV);
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, false)), -ENODEV);

	/* What a producer still held is dropped when it publishes. */
	memset(held->buf, 1, 64);
	held->len = 64;
	mst_queue_publish(q, held);
	e = mst_chunk_alloc_extra(16);
	KUNIT_ASSERT_NOT_NULL(test, e);
	e->len = 16;
	mst_queue_publish_extra(q, e);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 0ULL);

	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), -ENODEV);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, false), -ENODEV);
	KUNIT_EXPECT_EQ(test, t_poll(q), T_IN);
}

/* Reset: a new session starts empty and open, with the whole pool. */
static void mst_queue_reset_session(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 3, 128);
	struct mst_chunk *c[3], *e;
	u8 buf[128];
	int i;

	t_put(test, q, 1, 128);
	t_put(test, q, 2, 100);
	e = mst_chunk_alloc_extra(10);
	KUNIT_ASSERT_NOT_NULL(test, e);
	e->len = 10;
	mst_queue_publish_extra(q, e);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 28, true), 28);
	mst_queue_end_pass(q);
	mst_queue_end_stream(q);
	mst_queue_set_error(q, -EIO);
	mst_queue_close(q);

	mst_queue_reset(q);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 0ULL);
	KUNIT_EXPECT_EQ(test, mst_queue_consumed(q), 0ULL);
	KUNIT_EXPECT_FALSE(test, mst_queue_drained(q));
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 128, true), -EAGAIN);
	for (i = 0; i < 3; i++) {
		c[i] = mst_queue_get_free(q, true);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(c[i]));
		KUNIT_EXPECT_EQ(test, c[i]->len, 0U);
	}
	for (i = 0; i < 3; i++)
		mst_queue_put_free(q, c[i]);
	t_put(test, q, 3, 5);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 128, true), 5);
	KUNIT_EXPECT_EQ(test, mst_queue_consumed(q), 5ULL);
}

/* A pass ends and restarts; only the state at an empty list is reported. */
static void mst_queue_passes(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 2, 64);
	u8 buf[64];

	t_put(test, q, 7, 64);
	mst_queue_end_pass(q);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), 64);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), -ENOMSG);
	mst_queue_start_pass(q);
	KUNIT_EXPECT_EQ(test, t_poll(q), 0U);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), -EAGAIN);
	t_put(test, q, 8, 10);
	KUNIT_EXPECT_EQ(test, t_poll(q), T_IN);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), 10);
	mst_queue_end_stream(q);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, false), 0);
	KUNIT_EXPECT_TRUE(test, mst_queue_drained(q));
}

/* A nowait read never waits for another reader: trylock, -EAGAIN. */
static void mst_queue_nowait_busy_reader(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 2, 64);
	u8 buf[64];

	t_put(test, q, 9, 64);
	mutex_lock(&q->read_lock);	/* another reader is copying */
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), -EAGAIN);
	mutex_unlock(&q->read_lock);
	KUNIT_EXPECT_EQ(test, t_read(q, buf, 64, true), 64);
}

/*
 * Threads. A stream of u32 counters flows from producers to one reader in
 * deliberately odd read sizes, through a queue too small to hold it, so both
 * sides sleep: producers on the pool, the reader on data.
 */
struct t_prod {
	struct mst_queue *q;
	struct completion done;
	u32 id;			/* stored in the top byte of every item */
	u32 items;		/* items to produce */
	u32 per_chunk;		/* items per chunk */
	atomic_t *live;		/* producers left; the last ends the stream */
	u64 max_unread;		/* most bytes ever unread after a publish */
	int err;
};

struct t_reader {
	struct mst_queue *q;
	struct completion done;
	u32 nprod;
	u32 next[4];		/* next item expected per producer */
	u32 read_size;
	u64 bytes;
	int err;		/* first inconsistency or read error */
	ssize_t last;		/* result that ended the loop */
};

static int t_producer_fn(void *arg)
{
	struct t_prod *p = arg;
	u32 i = 0;

	while (i < p->items) {
		struct mst_chunk *c = mst_queue_get_free(p->q, false);
		u32 *w, k;
		u64 unread;

		if (IS_ERR(c)) {
			p->err = PTR_ERR(c);
			break;
		}
		w = c->buf;
		for (k = 0; k < p->per_chunk && i < p->items; k++, i++)
			w[k] = (p->id << 24) | i;
		c->len = k * sizeof(u32);
		mst_queue_publish(p->q, c);
		unread = mst_queue_unread(p->q);
		if (unread > p->max_unread)
			p->max_unread = unread;
		if (!(i % 7))
			cond_resched();
	}
	if (atomic_dec_and_test(p->live))
		mst_queue_end_stream(p->q);
	complete(&p->done);
	return 0;
}

static int t_reader_fn(void *arg)
{
	struct t_reader *r = arg;
	u32 *buf = kmalloc(r->read_size + sizeof(u32), GFP_KERNEL);
	u8 partial[sizeof(u32)];
	size_t have = 0;	/* bytes of a split item in @partial */

	if (!buf) {
		r->err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = t_read(r->q, buf, r->read_size, false);
		u8 *b = (u8 *)buf;
		ssize_t k;

		if (n <= 0) {
			r->last = n;
			break;
		}
		r->bytes += n;
		for (k = 0; k < n; k++) {
			u32 item, id;

			partial[have++] = b[k];
			if (have < sizeof(u32))
				continue;
			have = 0;
			memcpy(&item, partial, sizeof(item));
			id = item >> 24;
			if (id >= r->nprod || (item & 0xffffff) != r->next[id]) {
				if (!r->err)
					r->err = -EILSEQ;
			} else {
				r->next[id]++;
			}
		}
	}
	if (have && !r->err)
		r->err = -EPIPE;
	kfree(buf);
out:
	complete(&r->done);
	return 0;
}

/*
 * What the threads of a test share: the queue, their contexts and the count
 * of live producers. It is its own allocation, not the test's resource, so
 * that a thread that never finishes, even once the queue is closed, fails
 * the test and leaks it (the thread may still use it) instead of being
 * waited for without end or having it freed under it.
 */
struct t_arena {
	struct mst_queue q;
	atomic_t live;
	bool stuck;		/* a thread may still use it: leak it */
	struct t_reader r;
	struct t_prod prod[4];
};

static void t_arena_free(void *arg)
{
	struct t_arena *a = arg;

	if (a->stuck)
		return;
	mst_queue_destroy(&a->q);
	kfree(a);
}

static struct t_arena *t_arena(struct kunit *test, unsigned int nchunks,
			       u32 chunk_size)
{
	struct t_arena *a = kzalloc(sizeof(*a), GFP_KERNEL);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, a);
	ret = mst_queue_init(&a->q, nchunks, chunk_size);
	if (ret)
		kfree(a);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_arena_free, a),
			0);
	return a;
}

/* Waits for a thread of @a, closing the queue if it takes too long. */
static void t_join(struct kunit *test, struct t_arena *a,
		   struct completion *done, const char *what)
{
	if (wait_for_completion_timeout(done, T_JOIN_TIMEOUT))
		return;
	KUNIT_FAIL(test, "%s did not finish; closing the queue", what);
	mst_queue_close(&a->q);
	if (wait_for_completion_timeout(done, T_JOIN_TIMEOUT))
		return;
	KUNIT_FAIL(test, "%s ignores the close too; leaking what it uses", what);
	a->stuck = true;
}

struct t_threads_case {
	const char *name;
	u32 nprod;
	u32 nchunks;
	u32 per_chunk;
	u32 items;		/* per producer */
	u32 read_size;
};

static const struct t_threads_case t_threads_cases[] = {
	{ "one_producer_small_reads", 1, 2, 256, 20000, 777 },
	{ "one_producer_big_reads", 1, 2, 1024, 50000, 65536 },
	{ "two_producers", 2, 2, 128, 20000, 1001 },
	{ "two_producers_one_chunk", 2, 1, 64, 5000, 3 },
	{ "four_producers", 4, 3, 300, 10000, 4096 },
};

static void t_threads_desc(const struct t_threads_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_threads, t_threads_cases, t_threads_desc);

static void mst_queue_threads(struct kunit *test)
{
	const struct t_threads_case *c = test->param_value;
	u32 chunk_size = c->per_chunk * sizeof(u32);
	struct t_arena *a = t_arena(test, c->nchunks, chunk_size);
	struct mst_queue *q = &a->q;
	struct t_prod *prod = a->prod;
	struct t_reader *r = &a->r;
	struct task_struct *t;
	u32 i;

	KUNIT_ASSERT_LE(test, c->nprod, ARRAY_SIZE(a->prod));
	atomic_set(&a->live, c->nprod);

	r->q = q;
	r->nprod = c->nprod;
	r->read_size = c->read_size;
	init_completion(&r->done);
	t = kthread_run(t_reader_fn, r, "mst_q_reader");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));

	for (i = 0; i < c->nprod; i++) {
		prod[i].q = q;
		prod[i].id = i;
		prod[i].items = c->items;
		prod[i].per_chunk = c->per_chunk;
		prod[i].live = &a->live;
		init_completion(&prod[i].done);
		t = kthread_run(t_producer_fn, &prod[i], "mst_q_prod%u", i);
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			mst_queue_close(q);
			while (i--)
				t_join(test, a, &prod[i].done, "producer");
			t_join(test, a, &r->done, "reader");
			return;
		}
	}

	for (i = 0; i < c->nprod; i++)
		t_join(test, a, &prod[i].done, "producer");
	t_join(test, a, &r->done, "reader");

	for (i = 0; i < c->nprod; i++) {
		KUNIT_EXPECT_EQ(test, prod[i].err, 0);
		KUNIT_EXPECT_LE(test, prod[i].max_unread,
				(u64)c->nchunks * chunk_size);
		KUNIT_EXPECT_EQ(test, r->next[i], c->items);
	}
	KUNIT_EXPECT_EQ(test, r->err, 0);
	KUNIT_EXPECT_EQ(test, r->last, 0);
	KUNIT_EXPECT_EQ(test, r->bytes, (u64)c->nprod * c->items * sizeof(u32));
	KUNIT_EXPECT_TRUE(test, mst_queue_drained(q));
	KUNIT_EXPECT_EQ(test, mst_queue_consumed(q), r->bytes);
}

/* Close wakes a reader sleeping on data and a producer sleeping on the pool. */
static void mst_queue_close_wakes_sleepers(struct kunit *test)
{
	struct t_arena *a = t_arena(test, 1, 64);
	struct mst_queue *q = &a->q;
	struct t_reader *r = &a->r;
	struct t_prod *p = &a->prod[0];
	struct mst_chunk *held;

	held = mst_queue_get_free(q, true);	/* the pool is now empty */
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(held));

	r->q = q;
	r->nprod = 1;
	r->read_size = 64;
	init_completion(&r->done);
	KUNIT_ASSERT_FALSE(test, IS_ERR(kthread_run(t_reader_fn, r, "mst_q_r")));

	atomic_set(&a->live, 2);	/* this producer must not end the stream */
	p->q = q;
	p->items = 1;
	p->per_chunk = 1;
	p->live = &a->live;
	init_completion(&p->done);
	if (IS_ERR(kthread_run(t_producer_fn, p, "mst_q_p"))) {
		KUNIT_FAIL(test, "kthread_run failed");
		mst_queue_close(q);
		t_join(test, a, &r->done, "reader");
		return;
	}

	/* Both are asleep (or about to be): nothing can wake them but close. */
	msleep(50);
	KUNIT_EXPECT_FALSE(test, completion_done(&r->done));
	KUNIT_EXPECT_FALSE(test, completion_done(&p->done));
	mst_queue_close(q);
	t_join(test, a, &r->done, "reader");
	t_join(test, a, &p->done, "producer");
	KUNIT_EXPECT_EQ(test, r->last, -ENODEV);
	KUNIT_EXPECT_EQ(test, p->err, -ENODEV);
	mst_queue_put_free(q, held);
}

/* A sleeping reader is woken by each kind of event it must report. */
struct t_wake_case {
	const char *name;
	unsigned int event;
	ssize_t result;
};

static const struct t_wake_case t_wake_cases[] = {
	{ "data", S_DATA, 4 },
	{ "pass_end", S_PASS_END, -ENOMSG },
	{ "stream_end", S_STREAM_END, 0 },
	{ "error", S_ERROR, -EIO },
	{ "close", S_CLOSED, -ENODEV },
};

static void t_wake_desc(const struct t_wake_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_wake, t_wake_cases, t_wake_desc);

static void mst_queue_wakes_reader(struct kunit *test)
{
	const struct t_wake_case *c = test->param_value;
	struct t_arena *a = t_arena(test, 1, 64);
	struct mst_queue *q = &a->q;
	struct t_reader *r = &a->r;
	int i;

	r->q = q;
	r->nprod = 1;
	r->read_size = 64;
	init_completion(&r->done);
	KUNIT_ASSERT_FALSE(test, IS_ERR(kthread_run(t_reader_fn, r, "mst_q_r")));
	msleep(20);
	KUNIT_EXPECT_FALSE(test, completion_done(&r->done));

	switch (c->event) {
	case S_DATA: {
		struct mst_chunk *ch = mst_queue_get_free(q, true);
		u32 item = 0;	/* producer 0, item 0 */

		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(ch));
		memcpy(ch->buf, &item, sizeof(item));
		ch->len = sizeof(item);
		mst_queue_publish(q, ch);
		/* The reader returns the 4 bytes, then sleeps again: end it. */
		for (i = 0; i < 100 && READ_ONCE(r->bytes) != 4; i++)
			msleep(20);
		KUNIT_EXPECT_EQ(test, READ_ONCE(r->bytes), 4ULL);
		KUNIT_EXPECT_FALSE(test, completion_done(&r->done));
		mst_queue_end_stream(q);
		break;
	}
	case S_PASS_END:
		mst_queue_end_pass(q);
		break;
	case S_STREAM_END:
		mst_queue_end_stream(q);
		break;
	case S_ERROR:
		mst_queue_set_error(q, -EIO);
		break;
	case S_CLOSED:
		mst_queue_close(q);
		break;
	}
	t_join(test, a, &r->done, "reader");
	if (c->event == S_DATA) {
		KUNIT_EXPECT_EQ(test, r->bytes, 4ULL);
		KUNIT_EXPECT_EQ(test, r->last, 0);
	} else {
		KUNIT_EXPECT_EQ(test, r->last, c->result);
	}
	KUNIT_EXPECT_EQ(test, r->err, 0);
}

/*
 * The killed producer's context, its queue included, is not a resource of
 * the test: should the producer never return, even once the queue is
 * closed, the test fails and leaks it rather than wait without end or free
 * it under the sleeping thread.
 */
struct t_killed {
	struct mst_queue q;
	struct mst_chunk *got;
	struct completion started;
	struct completion done;
};

static int t_killed_fn(void *arg)
{
	struct t_killed *k = arg;

	/* a kthread ignores every signal until it allows one */
	allow_signal(SIGKILL);
	complete(&k->started);
	k->got = mst_queue_get_free(&k->q, false);
	complete(&k->done);
	return 0;
}

/* True once the producer returned; false if it is stuck (@k is leaked). */
static bool t_killed_join(struct kunit *test, struct t_killed *k)
{
	if (wait_for_completion_timeout(&k->done, T_JOIN_TIMEOUT))
		return true;
	KUNIT_FAIL(test, "the producer did not return; closing the queue");
	mst_queue_close(&k->q);
	if (wait_for_completion_timeout(&k->done, T_JOIN_TIMEOUT))
		return true;
	KUNIT_FAIL(test, "the producer ignores the close too; leaking its queue");
	return false;
}

/* A producer asleep for a free chunk returns -EINTR on a fatal signal. */
static void mst_queue_get_free_killed(struct kunit *test)
{
	struct t_killed *k = kzalloc(sizeof(*k), GFP_KERNEL);
	struct task_struct *t;
	struct mst_chunk *c;

	KUNIT_ASSERT_NOT_NULL(test, k);
	init_completion(&k->started);
	init_completion(&k->done);
	if (mst_queue_init(&k->q, 1, 4096)) {
		KUNIT_FAIL(test, "mst_queue_init failed");
		goto out_free;
	}
	c = mst_queue_get_free(&k->q, true);	/* the pool is now empty */
	if (IS_ERR_OR_NULL(c)) {
		KUNIT_FAIL(test, "no first chunk: %ld", PTR_ERR(c));
		goto out_destroy;
	}
	t = kthread_run(t_killed_fn, k, "mst_q_killed");
	if (IS_ERR(t)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		goto out_put;
	}
	/* A signal sent before allow_signal() would be dropped. */
	if (!wait_for_completion_timeout(&k->started, T_JOIN_TIMEOUT)) {
		KUNIT_FAIL(test, "the producer did not start; closing the queue");
		mst_queue_close(&k->q);
		if (!t_killed_join(test, k))
			return;
		goto out_put;
	}
	send_sig(SIGKILL, t, 1);
	if (!t_killed_join(test, k))
		return;
	KUNIT_EXPECT_EQ(test, PTR_ERR(k->got), -EINTR);
out_put:
	mst_queue_put_free(&k->q, c);
out_destroy:
	mst_queue_destroy(&k->q);
out_free:
	kfree(k);
}

/*
 * What mst_queue_get_free(q, true) answers when it cannot hand out a chunk.
 * A chunk_size above INT_MAX makes the buffer allocation of a chunk's first
 * use fail for certain (kvmalloc() refuses it, and with @nowait it neither
 * warns nor falls back to vmalloc), which is the path a real shortage
 * takes; the sleeping call is not tried with it, since kvmalloc() warns on
 * such a size without __GFP_NOWARN.
 */
struct t_get_free_case {
	const char *name;
	u32 chunk_size;
	bool empty;		/* the only chunk is held */
	bool closed;
	int err;
};

static const struct t_get_free_case t_get_free_cases[] = {
	{ "pool_empty", 64, true, false, -EAGAIN },
	{ "closed", 64, false, true, -ENODEV },
	/* both apply: a closed queue says so first */
	{ "closed_pool_empty", 64, true, true, -ENODEV },
	{ "buffer_unallocatable", U32_MAX, false, false, -ENOMEM },
	{ "closed_buffer_unallocatable", U32_MAX, false, true, -ENODEV },
};

static void t_get_free_desc(const struct t_get_free_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_get_free, t_get_free_cases, t_get_free_desc);

static void mst_queue_get_free_errors(struct kunit *test)
{
	const struct t_get_free_case *c = test->param_value;
	struct mst_queue *q = t_queue(test, 1, c->chunk_size);
	struct mst_chunk *held = NULL;

	if (c->empty) {
		held = mst_queue_get_free(q, true);
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(held));
	}
	if (c->closed)
		mst_queue_close(q);
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), c->err);
	/* A failed allocation gives the chunk back: the next call fails alike. */
	KUNIT_EXPECT_EQ(test, PTR_ERR(mst_queue_get_free(q, true)), c->err);
	if (held)
		mst_queue_put_free(q, held);
	KUNIT_EXPECT_EQ(test, mst_queue_unread(q), 0ULL);
}

static void t_fill_b(struct mst_chunk *c, void *arg)
{
	memset(c->buf, *(u8 *)arg, c->len);
}

/*
 * The extra chunk published last can be rewritten while no byte of it was
 * read, never once a reader started on it or after it was retired.
 */
static void mst_queue_rewrite_extra(struct kunit *test)
{
	struct mst_queue *q = t_queue(test, 2, 4096);
	struct mst_chunk *c = mst_chunk_alloc_extra(64);
	u8 b = 'b', c2 = 'c', buf[64];

	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_EXPECT_FALSE(test, mst_queue_rewrite_last_extra(q, t_fill_b, &b));
	memset(c->buf, 'a', 64);
	c->len = 64;
	t_put(test, q, 'p', 16);
	mst_queue_publish_extra(q, c);
	t_put(test, q, 'q', 16);	/* pool chunks do not count */
	KUNIT_EXPECT_TRUE(test, mst_queue_rewrite_last_extra(q, t_fill_b, &b));
	KUNIT_ASSERT_EQ(test, t_read(q, buf, 17, true), 17);
	KUNIT_EXPECT_EQ(test, buf[16], 'b');
	/* a byte of it was read: no more rewriting */
	KUNIT_EXPECT_FALSE(test, mst_queue_rewrite_last_extra(q, t_fill_b, &c2));
	KUNIT_ASSERT_EQ(test, t_read(q, buf, 63, true), 63);
	KUNIT_EXPECT_EQ(test, buf[62], 'b');
	/* retired */
	KUNIT_EXPECT_FALSE(test, mst_queue_rewrite_last_extra(q, t_fill_b, &c2));
}

/*
 * Urgent chunks (mux-head's critical records): read next, but never ahead
 * of bytes a reader has started on, and in the order they were published.
 * Every chunk is 4 bytes of one letter; the ops run in order, then the test
 * reads everything and expects @rest.
 */
enum t_op_kind { T_END, T_PUT, T_URGENT, T_READ, T_HOLD };

struct t_op {
	enum t_op_kind kind;
	u8 byte;	/* T_PUT, T_URGENT */
	u32 n;		/* T_READ: bytes; T_URGENT: expected stream position */
};

struct t_urgent_case {
	const char *name;
	struct t_op ops[6];
	const char *rest;
};

#define T_P(b)		{ T_PUT, b, 0 }
#define T_U(b, pos)	{ T_URGENT, b, pos }
#define T_R(n)		{ T_READ, 0, n }

static const struct t_urgent_case t_urgent_cases[] = {
	{ "empty_queue", { T_U('u', 0) }, "uuuu" },
	{ "ahead_of_unread", { T_P('a'), T_P('b'), T_U('u', 0) },
	  "uuuuaaaabbbb" },
	{ "behind_a_partly_read_chunk", { T_P('a'), T_P('b'), T_R(1), T_U('u', 4) },
	  "aaauuuubbbb" },
	{ "behind_the_chunk_being_read",
	  { T_P('a'), T_P('b'), { T_HOLD }, T_U('u', 4) }, "aaaauuuubbbb" },
	{ "in_publish_order", { T_P('a'), T_U('u', 0), T_U('v', 4) },
	  "uuuuvvvvaaaa" },
	{ "after_what_was_read", { T_P('a'), T_R(4), T_P('b'), T_U('u', 4) },
	  "uuuubbbb" },
};

static void t_urgent_desc(const struct t_urgent_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_urgent, t_urgent_cases, t_urgent_desc);

static void mst_queue_urgent_order(struct kunit *test)
{
	const struct t_urgent_case *tc = test->param_value;
	struct mst_queue *q = t_queue(test, 4, 64);
	size_t want = strlen(tc->rest);
	const struct t_op *op;
	u8 buf[64];

	for (op = tc->ops; op < tc->ops + ARRAY_SIZE(tc->ops) && op->kind; op++) {
		struct mst_chunk *c;

		switch (op->kind) {
		case T_PUT:
			t_put(test, q, op->byte, 4);
			break;
		case T_URGENT:
			c = mst_chunk_alloc_extra(4);
			KUNIT_ASSERT_NOT_NULL(test, c);
			memset(c->buf, op->byte, 4);
			c->len = 4;
			KUNIT_EXPECT_EQ(test, mst_queue_publish_urgent(q, c),
					(u64)op->n);
			break;
		case T_READ:
			KUNIT_ASSERT_EQ(test, t_read(q, buf, op->n, true),
					(ssize_t)op->n);
			break;
		case T_HOLD:
			/* what mst_queue_copy_out() marks while it copies */
			spin_lock(&q->lock);
			q->reading = list_first_entry(&q->ready,
						      struct mst_chunk, node);
			spin_unlock(&q->lock);
			break;
		default:
			break;
		}
	}
	spin_lock(&q->lock);
	q->reading = NULL;
	spin_unlock(&q->lock);
	KUNIT_ASSERT_EQ(test, t_read(q, buf, sizeof(buf), true), (ssize_t)want);
	KUNIT_EXPECT_MEMEQ(test, buf, tc->rest, want);
}

static struct kunit_case mst_queue_cases[] = {
	KUNIT_CASE_PARAM(mst_queue_init_args, t_init_gen_params),
	KUNIT_CASE(mst_queue_bounded_memory),
	KUNIT_CASE(mst_queue_publish_order),
	KUNIT_CASE(mst_queue_rewrite_extra),
	KUNIT_CASE_PARAM(mst_queue_urgent_order, t_urgent_gen_params),
	KUNIT_CASE(mst_queue_get_free_killed),
	KUNIT_CASE_PARAM(mst_queue_get_free_errors, t_get_free_gen_params),
	KUNIT_CASE_PARAM(mst_queue_read_results, t_result_gen_params),
	KUNIT_CASE(mst_queue_partial_reads),
	KUNIT_CASE(mst_queue_extra_chunks),
	KUNIT_CASE(mst_queue_empty_publish),
	KUNIT_CASE(mst_queue_closed),
	KUNIT_CASE(mst_queue_reset_session),
	KUNIT_CASE(mst_queue_passes),
	KUNIT_CASE(mst_queue_nowait_busy_reader),
	KUNIT_CASE_PARAM(mst_queue_threads, t_threads_gen_params),
	KUNIT_CASE(mst_queue_close_wakes_sleepers),
	KUNIT_CASE_PARAM(mst_queue_wakes_reader, t_wake_gen_params),
	{}
};

static struct kunit_suite mst_queue_suite = {
	.name = "mst_queue",
	.test_cases = mst_queue_cases,
};

kunit_test_suite(mst_queue_suite);

MODULE_DESCRIPTION("KUnit tests of the vfio-mstream chunk queue");
MODULE_LICENSE("GPL");
