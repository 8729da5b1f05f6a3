// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the resume side: mst_rx.c.
 *
 * A test source builds migration streams record by record, exactly as the
 * wire format in mst_record.h describes them (or deliberately not), and a
 * fake device records every apply call and keeps the newest generation of
 * every page, as the real device must. The tests feed the streams to the
 * engine's parsers in whole writes, in pieces of every size, in any
 * interleaving of streams and from concurrent threads, and compare the fake
 * device's final state with the source's.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/crc32.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>

#include "../mst_rx.h"

KUNIT_DEFINE_ACTION_WRAPPER(t_vfree, vfree, const void *);

static void *t_vzalloc(struct kunit *test, size_t size)
{
	void *p = vzalloc(size);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_vfree, p), 0);
	return p;
}

/* Content of bulk page @page as captured by save pass @gen. */
static void t_fill_page(u8 *dst, u64 page, u64 gen)
{
	u32 x = (u32)(page * 2654435761U) ^ (u32)(gen * 40503U) ^ 0x9e3779b9U;
	int i;

	for (i = 0; i < MST_PAGE_SIZE; i += 4) {
		x = x * 1664525U + 1013904223U;
		memcpy(dst + i, &x, 4);
	}
}

/* ------------------------------------------------------------------ */
/* The fake device.                                                   */

enum t_call_kind { T_CALL_CRIT = 1, T_CALL_PAGES };

struct t_call {
	u8 kind;
	u64 offset;
	u64 gen;
	u32 len;
	u32 crc;	/* of the data, to compare call logs */
};

#define T_LOG_CAP	8192

struct t_fake {
	struct mutex lock;	/* protects everything below */
	struct t_call *log;
	unsigned int nlog;
	unsigned int applied;	/* calls that returned 0 */
	u8 *state;
	u64 *page_gen;
	u8 *crit;
	u64 crit_gen;
	bool has_crit;
	/* Fault injection: the apply_pages call number @fail_at fails. */
	unsigned int npages_calls;
	unsigned int fail_at;
	int fail_err;
	/* apply_crit would sleep: -EAGAIN when called with nowait */
	bool crit_busy;
};

static void t_fake_log(struct t_fake *f, u8 kind, u64 offset, u64 gen,
		       const void *data, u32 len)
{
	if (f->nlog < T_LOG_CAP) {
		struct t_call *c = &f->log[f->nlog];

		c->kind = kind;
		c->offset = offset;
		c->gen = gen;
		c->len = len;
		c->crc = __crc32c_le(0, data, len);
	}
	f->nlog++;
}

static int t_fake_apply_crit(void *priv, u64 gen, const void *data, u32 len,
			     bool nowait)
{
	struct t_fake *f = priv;

	mutex_lock(&f->lock);
	if (nowait && f->crit_busy) {
		mutex_unlock(&f->lock);
		return -EAGAIN;
	}
	t_fake_log(f, T_CALL_CRIT, 0, gen, data, len);
	if (!f->has_crit || gen >= f->crit_gen) {
		memcpy(f->crit, data, len);
		f->crit_gen = gen;
		f->has_crit = true;
	}
	f->applied++;
	mutex_unlock(&f->lock);
	return 0;
}

static int t_fake_apply_pages(void *priv, u64 offset, u64 gen,
			      const void *data, u32 len)
{
	struct t_fake *f = priv;
	u64 page = offset >> MST_PAGE_SHIFT;
	u32 i;
	int ret = 0;

	mutex_lock(&f->lock);
	t_fake_log(f, T_CALL_PAGES, offset, gen, data, len);
	if (++f->npages_calls == f->fail_at) {
		ret = f->fail_err;
		goto out;
	}
	for (i = 0; i < len >> MST_PAGE_SHIFT; i++) {
		if (gen >= f->page_gen[page + i]) {
			memcpy(f->state + ((page + i) << MST_PAGE_SHIFT),
			       data + ((size_t)i << MST_PAGE_SHIFT), MST_PAGE_SIZE);
			f->page_gen[page + i] = gen;
		}
	}
	f->applied++;
out:
	mutex_unlock(&f->lock);
	return ret;
}

static const struct mst_rx_ops t_fake_ops = {
	.apply_crit = t_fake_apply_crit,
	.apply_pages = t_fake_apply_pages,
};

/* ------------------------------------------------------------------ */
/* The test source: builds the streams of a session.                  */

#define T_MAX_RECS	2048

struct t_buf {
	u8 *data;
	size_t len;
	size_t cap;
	unsigned int nrec;
	size_t *rec_end;	/* end of each record in @data */
};

struct t_src {
	struct kunit *test;
	struct mst_geometry geo;	/* nstreams is the source's */
	u8 *state;			/* newest content sent of every page */
	u8 *crit;			/* newest critical region sent */
	u64 seq[MST_MAX_STREAMS];
	/* Per stream, or all in buf[0] when @one_fd (v2 on one FD). */
	struct t_buf buf[MST_MAX_STREAMS];
	bool one_fd;
	u32 rec_pages;			/* pages per PAGES record, at most */
	/* Where a malformed case put its bad record. */
	u32 bad_buf;
	size_t bad_off;
	u8 *scratch;			/* a payload's worth of bytes */
};

static const struct mst_geometry t_geo_v3 = {
	.type = "mstream",
	.protocol = 3,
	.nstreams = 3,
	.state_size = (2 * MST_SHARD_PAGES + 8) * MST_PAGE_SIZE,
	.crit_size = 1000,
	.backing = MST_BACKING_MEMORY,
};

/* Bytes stream @stream of a session of geometry @g may need: generous. */
static size_t t_stream_cap(const struct mst_geometry *g, bool one_fd,
			   u32 stream)
{
	u64 shard_bytes = (u64)MST_SHARD_PAGES * MST_PAGE_SIZE;
	u64 shards = DIV_ROUND_UP(g->state_size, shard_bytes), bytes;

	if (one_fd || g->nstreams == 1)
		bytes = g->state_size;
	else if (stream == 0)
		bytes = 0;
	else
		bytes = DIV_ROUND_UP(shards, g->nstreams - 1) * shard_bytes;
	/* Pass 1, pass 2 (a fraction), headers, critical data, bad records. */
	return 2 * bytes + (2 << 20) + 8 * g->crit_size;
}

static struct t_src *t_src_new(struct kunit *test,
			       const struct mst_geometry *geo, bool one_fd)
{
	struct t_src *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	u32 i, nbuf;

	KUNIT_ASSERT_NOT_NULL(test, s);
	s->test = test;
	s->geo = *geo;
	s->one_fd = one_fd;
	s->rec_pages = 64;
	s->bad_buf = U32_MAX;
	s->state = t_vzalloc(test, geo->state_size);
	s->crit = kunit_kzalloc(test, geo->crit_size ? geo->crit_size : 1,
				GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s->crit);
	s->scratch = t_vzalloc(test, MST_REC_MAX_PAYLOAD + MST_PAGE_SIZE);
	nbuf = one_fd ? 1 : geo->nstreams;
	for (i = 0; i < nbuf; i++) {
		s->buf[i].cap = t_stream_cap(geo, one_fd, i);
		s->buf[i].data = t_vzalloc(test, s->buf[i].cap);
		s->buf[i].rec_end = kunit_kcalloc(test, T_MAX_RECS,
						  sizeof(size_t), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, s->buf[i].rec_end);
	}
	return s;
}

static u32 t_buf_of(struct t_src *s, u32 stream)
{
	return s->one_fd ? 0 : stream;
}

/*
 * Appends one record, every field given, to buffer @bi; returns the offset
 * of its header there.
 */
static size_t t_put_rec(struct t_src *s, u32 bi, u32 stream,
			enum mst_rec_tag tag, u64 seq, u64 offset, u64 gen,
			const void *payload, u32 len)
{
	struct t_buf *b = &s->buf[bi];
	struct mst_rec_hdr h;
	size_t at = b->len;

	KUNIT_ASSERT_NOT_NULL(s->test, b->data);
	KUNIT_ASSERT_LE(s->test, b->len + sizeof(h) + len, b->cap);
	KUNIT_ASSERT_LT(s->test, b->nrec, T_MAX_RECS);
	/* as the driver's source: no payload checksum the device makes itself */
	mst_rec_encode(&h, tag, stream, seq, offset, gen,
		       tag == MST_TAG_COMPAT ||
		       s->geo.integrity == MST_INTEGRITY_CRC ? payload : NULL,
		       len);
	memcpy(b->data + b->len, &h, sizeof(h));
	memcpy(b->data + b->len + sizeof(h), payload, len);
	b->len += sizeof(h) + len;
	b->rec_end[b->nrec++] = b->len;
	return at;
}

static size_t t_emit_raw(struct t_src *s, u32 stream, enum mst_rec_tag tag,
			 u64 seq, u64 offset, u64 gen, const void *payload,
			 u32 len)
{
	return t_put_rec(s, t_buf_of(s, stream), stream, tag, seq, offset, gen,
			 payload, len);
}

static size_t t_emit(struct t_src *s, u32 stream, enum mst_rec_tag tag,
		     u64 offset, u64 gen, const void *payload, u32 len)
{
	return t_emit_raw(s, stream, tag, s->seq[stream]++, offset, gen,
			  payload, len);
}

/* Header edits, through a copy: headers in a stream need not be aligned. */
static void t_hdr_load(struct t_src *s, u32 stream, size_t at,
		       struct mst_rec_hdr *h)
{
	memcpy(h, s->buf[t_buf_of(s, stream)].data + at, sizeof(*h));
}

static void t_hdr_store(struct t_src *s, u32 stream, size_t at,
			const struct mst_rec_hdr *h)
{
	memcpy(s->buf[t_buf_of(s, stream)].data + at, h, sizeof(*h));
}

/* Marks the next record of @stream as the bad one of a malformed case. */
static void t_mark_bad(struct t_src *s, u32 stream)
{
	s->bad_buf = t_buf_of(s, stream);
	s->bad_off = s->buf[s->bad_buf].len;
}

static void t_compat(struct t_src *s, u32 stream)
{
	struct mst_compat c;

	mst_compat_encode(&c, &s->geo);
	t_emit(s, stream, MST_TAG_COMPAT, 0, 0, &c, sizeof(c));
}

static void t_compat_all(struct t_src *s)
{
	u32 i;

	for (i = 0; i < s->geo.nstreams; i++)
		t_compat(s, i);
}

static void t_crit(struct t_src *s, u64 gen)
{
	u32 i;

	for (i = 0; i < s->geo.crit_size; i++)
		s->crit[i] = (u8)(gen * 31 + i);
	t_emit(s, 0, MST_TAG_CRIT, 0, gen, s->crit, s->geo.crit_size);
}

/* PAGES records of pages [first, first + n) of pass @gen, sharded. */
static void t_pages(struct t_src *s, u64 first, u64 n, u64 gen)
{
	u64 p = first, end = first + n;

	while (p < end) {
		u64 run_end = min(end, (p / MST_SHARD_PAGES + 1) * MST_SHARD_PAGES);
		u32 cnt = min_t(u64, run_end - p, s->rec_pages), i;

		for (i = 0; i < cnt; i++) {
			u8 *pg = s->state + ((p + i) << MST_PAGE_SHIFT);

			t_fill_page(pg, p + i, gen);
		}
		t_emit(s, mst_stream_of_page(p, s->geo.nstreams), MST_TAG_PAGES,
		       p << MST_PAGE_SHIFT, gen,
		       s->state + (p << MST_PAGE_SHIFT), cnt << MST_PAGE_SHIFT);
		p += cnt;
	}
}

static void t_end_all(struct t_src *s)
{
	u32 i;

	for (i = 0; i < s->geo.nstreams; i++)
		t_emit(s, i, MST_TAG_END, 0, 0, NULL, 0);
}

static u64 t_npages(struct t_src *s)
{
	return s->geo.state_size >> MST_PAGE_SHIFT;
}

/*
 * A whole migration: every page in pass 1, a REINIT (critical data of
 * generation 2) in the middle of it, then pass 2 re-sends scattered pages.
 */
static void t_migration(struct t_src *s)
{
	u64 np = t_npages(s), p;

	t_compat_all(s);
	t_crit(s, 1);
	t_pages(s, 0, np / 2, 1);
	t_crit(s, 2);
	t_pages(s, np / 2, np - np / 2, 1);
	for (p = 3; p < np; p += 37)
		t_pages(s, p, min_t(u64, 5, np - p), 2);
	t_pages(s, np - 1, 1, 3);
	t_end_all(s);
}

/* A small one: a few pages of each shard, for feeding byte by byte. */
static void t_small_migration(struct t_src *s)
{
	u64 np = t_npages(s), p;

	t_compat_all(s);
	t_crit(s, 1);
	for (p = 0; p < np; p += MST_SHARD_PAGES)
		t_pages(s, p, min_t(u64, 3, np - p), 1);
	t_crit(s, 2);
	for (p = 1; p < np; p += MST_SHARD_PAGES)
		t_pages(s, p, 1, 2);
	t_end_all(s);
}

/* ------------------------------------------------------------------ */
/* The destination.                                                   */

struct t_dst {
	struct mst_rx_session sess;
	struct mst_rx_parser p[MST_MAX_STREAMS];
	u32 nparsers;
	bool stuck;		/* a writer thread may still use it: leak it */
	struct t_fake fake;
};

static void t_dst_free(void *arg)
{
	struct t_dst *d = arg;
	u32 i;

	if (d->stuck)
		return;
	for (i = 0; i < d->nparsers; i++)
		mst_rx_parser_destroy(&d->p[i]);
	vfree(d->fake.log);
	vfree(d->fake.state);
	vfree(d->fake.page_gen);
	kfree(d->fake.crit);
	kfree(d);
}

/*
 * A destination of geometry @geo, with one parser per stream or, when
 * @one_fd, a single parser bound to none. kunit_release_action(test,
 * t_dst_free, d) frees it before the test ends.
 */
static struct t_dst *t_dst_new(struct kunit *test,
			       const struct mst_geometry *geo, bool one_fd)
{
	struct t_dst *d = kzalloc(sizeof(*d), GFP_KERNEL);
	u32 i, n;

	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_dst_free, d), 0);
	mutex_init(&d->fake.lock);
	d->fake.log = vzalloc(T_LOG_CAP * sizeof(struct t_call));
	d->fake.state = vzalloc(geo->state_size);
	d->fake.page_gen = vzalloc((geo->state_size >> MST_PAGE_SHIFT) *
				   sizeof(u64));
	d->fake.crit = kzalloc(geo->crit_size ? geo->crit_size : 1, GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, d->fake.log && d->fake.state &&
			  d->fake.page_gen && d->fake.crit);

	mst_rx_session_init(&d->sess, &t_fake_ops, &d->fake, geo);
	n = one_fd ? 1 : geo->nstreams;
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test,
				mst_rx_parser_init(&d->p[i], &d->sess,
						   one_fd ? MST_RX_ANY_STREAM : i),
				0);
		d->nparsers = i + 1;
	}
	return d;
}

static ssize_t t_write(struct mst_rx_parser *p, const u8 *data, size_t len)
{
	struct kvec kv = { .iov_base = (void *)data, .iov_len = len };
	struct iov_iter it;

	iov_iter_kvec(&it, ITER_SOURCE, &kv, 1, len);
	return mst_rx_write(p, &it, false);
}

/* Feeds @len bytes in pieces of @piece; every piece must be consumed whole. */
static void t_feed(struct kunit *test, struct mst_rx_parser *p, const u8 *data,
		   size_t len, size_t piece)
{
	while (len) {
		size_t n = min(len, piece);

		KUNIT_ASSERT_EQ(test, t_write(p, data, n), (ssize_t)n);
		data += n;
		len -= n;
	}
}

/* The destination holds what the source sent, and nothing else. */
static void t_expect_same(struct kunit *test, struct t_src *s, struct t_dst *d)
{
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), 0);
	KUNIT_EXPECT_TRUE(test, d->fake.has_crit);
	KUNIT_EXPECT_EQ(test, d->fake.crit_gen, 2ULL);
	KUNIT_EXPECT_MEMEQ(test, d->fake.crit, s->crit, s->geo.crit_size);
	KUNIT_EXPECT_TRUE(test, !memcmp(d->fake.state, s->state,
					s->geo.state_size));
}

/* ------------------------------------------------------------------ */
/* Whole sessions.                                                    */

struct t_session_case {
	const char *name;
	u32 protocol;
	u32 nstreams;		/* the source's */
	bool learn;		/* v2 destination: nstreams from COMPAT */
	bool one_fd;
	u64 state_pages;
	u32 integrity;
};

static const struct t_session_case t_session_cases[] = {
	{ "v2_one_engine", 2, 1, true, true, 3 * MST_SHARD_PAGES + 8 },
	{ "v2_multiplexed_3", 2, 3, true, true, 3 * MST_SHARD_PAGES + 8 },
	{ "v2_multiplexed_9", 2, 9, true, true, 9 * MST_SHARD_PAGES },
	{ "v3_1_dirty", 3, 2, false, false, 2 * MST_SHARD_PAGES + 8 },
	{ "v3_2_dirty", 3, 3, false, false, 3 * MST_SHARD_PAGES + 8 },
	{ "v3_4_dirty", 3, 5, false, false, 5 * MST_SHARD_PAGES + 100 },
	{ "v3_8_dirty", 3, 9, false, false, 9 * MST_SHARD_PAGES + 1 },
	{ "v3_16_dirty", 3, 17, false, false, 16 * MST_SHARD_PAGES },
	{ "v3_fewer_shards", 3, 9, false, false, 3 * MST_SHARD_PAGES + 3 },
	/* PAGES and CRIT carry no checksum: the destination must not check */
	{ "v2_device_integrity", 2, 3, true, true, 3 * MST_SHARD_PAGES + 8,
	  MST_INTEGRITY_DEVICE },
	{ "v3_device_integrity", 3, 5, false, false, 5 * MST_SHARD_PAGES + 100,
	  MST_INTEGRITY_DEVICE },
};

static void t_session_desc(const struct t_session_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_session, t_session_cases, t_session_desc);

static void t_session_geo(const struct t_session_case *c,
			  struct mst_geometry *src, struct mst_geometry *dst)
{
	*src = t_geo_v3;
	src->protocol = c->protocol;
	src->nstreams = c->nstreams;
	src->state_size = c->state_pages * MST_PAGE_SIZE;
	src->integrity = c->integrity;
	*dst = *src;
	if (c->learn)
		dst->nstreams = 0;
}

/* Stream by stream, each in one write. */
static void mst_rx_session_whole(struct kunit *test)
{
	const struct t_session_case *c = test->param_value;
	struct mst_geometry sg, dg;
	struct t_src *s;
	struct t_dst *d;
	u32 i;

	t_session_geo(c, &sg, &dg);
	s = t_src_new(test, &sg, c->one_fd);
	d = t_dst_new(test, &dg, c->one_fd);
	t_migration(s);

	for (i = 0; i < d->nparsers; i++) {
		KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess),
				-ENODATA);
		t_feed(test, &d->p[i], s->buf[i].data, s->buf[i].len, SIZE_MAX);
	}
	t_expect_same(test, s, d);
	KUNIT_EXPECT_EQ(test, atomic_read(&d->sess.nended), (int)sg.nstreams);
	KUNIT_EXPECT_EQ(test, d->sess.geo.nstreams, sg.nstreams);
}

/*
 * Any interleaving of the streams, in pieces of any size, converges to the
 * same state. v3: the streams are fed to their FDs in a seeded random order;
 * v2 on one FD: the sub-streams' records are multiplexed in a seeded random
 * order (each sub-stream keeping its own order, as a source must).
 */
static void t_feed_interleaved(struct kunit *test, struct t_src *s,
			       struct t_dst *d, u32 seed)
{
	struct rnd_state rnd;
	size_t done[MST_MAX_STREAMS] = {};
	u32 left = d->nparsers;

	prandom_seed_state(&rnd, seed);
	while (left) {
		u32 i = prandom_u32_state(&rnd) % d->nparsers;
		u32 r = prandom_u32_state(&rnd);
		size_t piece, n;

		if (done[i] == s->buf[i].len)
			continue;
		/* Mostly small pieces, sometimes a header's worth, some large. */
		switch (r % 4) {
		case 0:
			piece = 1 + (r >> 8) % 64;
			break;
		case 1:
			piece = MST_REC_HDR_SIZE + (r >> 8) % 3 - 1;
			break;
		default:
			piece = 1 + (r >> 8) % 300000;
			break;
		}
		n = min(piece, s->buf[i].len - done[i]);
		KUNIT_ASSERT_EQ(test, t_write(&d->p[i], s->buf[i].data + done[i], n),
				(ssize_t)n);
		done[i] += n;
		if (done[i] == s->buf[i].len)
			left--;
	}
}

/* Multiplexes the per-stream buffers of @s into @out, record by record. */
static size_t t_mux(struct t_src *s, u8 *out, u32 seed)
{
	struct rnd_state rnd;
	unsigned int next[MST_MAX_STREAMS] = {};
	u32 n = s->geo.nstreams, left = n;
	size_t len = 0;

	prandom_seed_state(&rnd, seed);
	while (left) {
		u32 i = prandom_u32_state(&rnd) % n;
		struct t_buf *b = &s->buf[i];
		size_t start, end;

		if (next[i] == b->nrec)
			continue;
		start = next[i] ? b->rec_end[next[i] - 1] : 0;
		end = b->rec_end[next[i]];
		memcpy(out + len, b->data + start, end - start);
		len += end - start;
		if (++next[i] == b->nrec)
			left--;
	}
	return len;
}

static const u32 t_seeds[] = { 1, 2, 3, 0xdeadbeef, 20261121 };

static void mst_rx_session_interleaved(struct kunit *test)
{
	const struct t_session_case *c = test->param_value;
	struct mst_geometry sg, dg;
	struct t_src *s;
	size_t total = 0;
	u8 *mux = NULL;
	u32 i, k;

	t_session_geo(c, &sg, &dg);
	/* One source, one destination per seed. */
	s = t_src_new(test, &sg, false);
	t_migration(s);
	if (c->one_fd) {
		for (i = 0; i < sg.nstreams; i++)
			total += s->buf[i].len;
		mux = t_vzalloc(test, total);
	}

	for (k = 0; k < ARRAY_SIZE(t_seeds); k++) {
		struct t_dst *d = t_dst_new(test, &dg, c->one_fd);

		if (c->one_fd) {
			size_t len = t_mux(s, mux, t_seeds[k]), done = 0;
			struct rnd_state rnd;

			KUNIT_ASSERT_EQ(test, len, total);
			prandom_seed_state(&rnd, t_seeds[k]);
			while (done < len) {
				size_t n = min_t(size_t, len - done,
						 1 + prandom_u32_state(&rnd) % 70000);

				KUNIT_ASSERT_EQ(test, t_write(&d->p[0], mux + done, n),
						(ssize_t)n);
				done += n;
			}
		} else {
			t_feed_interleaved(test, s, d, t_seeds[k]);
		}
		if (mst_rx_session_complete(&d->sess) || d->fake.crit_gen != 2 ||
		    memcmp(d->fake.state, s->state, sg.state_size))
			kunit_info(test, "failed with seed %u", t_seeds[k]);
		t_expect_same(test, s, d);
		kunit_release_action(test, t_dst_free, d);
	}
}

/* Concurrent writers, one thread per stream FD (v3). */
struct t_writer {
	struct mst_rx_parser *p;
	u8 *data;		/* its own copy of the stream */
	size_t len;
	size_t piece;
	ssize_t err;
	struct completion done;
};

/*
 * The writers' contexts and data are their own allocation, not the test's,
 * as the destination is: a writer that never finishes fails the test and
 * both are leaked (it may still use them) instead of being waited for
 * without end or freed under it.
 */
struct t_writers {
	u32 n;
	bool stuck;
	struct t_writer w[] __counted_by(n);
};

static void t_writers_free(void *arg)
{
	struct t_writers *ws = arg;
	u32 i;

	if (ws->stuck)
		return;
	for (i = 0; i < ws->n; i++)
		kvfree(ws->w[i].data);
	kfree(ws);
}

static int t_writer_fn(void *arg)
{
	struct t_writer *w = arg;
	size_t off = 0;

	while (off < w->len) {
		size_t n = min(w->len - off, w->piece);
		ssize_t ret = t_write(w->p, w->data + off, n);

		if (ret != (ssize_t)n) {
			w->err = ret < 0 ? ret : -EIO;
			break;
		}
		off += n;
		cond_resched();
	}
	complete(&w->done);
	return 0;
}

static void mst_rx_session_threads(struct kunit *test)
{
	const struct t_session_case *c = test->param_value;
	struct mst_geometry sg, dg;
	struct t_writers *ws;
	struct t_writer *w;
	struct t_src *s;
	struct t_dst *d;
	u32 i, started = 0;

	/* v2 on one FD has one writer: it runs alone. */
	t_session_geo(c, &sg, &dg);
	s = t_src_new(test, &sg, c->one_fd);
	d = t_dst_new(test, &dg, c->one_fd);
	t_migration(s);
	ws = kzalloc(struct_size(ws, w, d->nparsers), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ws);
	ws->n = d->nparsers;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, t_writers_free, ws),
			0);
	w = ws->w;

	for (i = 0; i < d->nparsers; i++) {
		struct task_struct *t;

		w[i].p = &d->p[i];
		w[i].data = kvmemdup(s->buf[i].data, s->buf[i].len, GFP_KERNEL);
		if (!w[i].data && s->buf[i].len) {
			KUNIT_FAIL(test, "no copy of stream %u", i);
			break;
		}
		w[i].len = s->buf[i].len;
		w[i].piece = 4096 + 1000 * i + 1;
		init_completion(&w[i].done);
		t = kthread_run(t_writer_fn, &w[i], "mst_rx_w%u", i);
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		if (!wait_for_completion_timeout(&w[i].done, 60 * HZ)) {
			KUNIT_FAIL(test,
				   "writer %u did not finish in 60 s; leaking what it uses",
				   i);
			ws->stuck = true;
			d->stuck = true;
			return;
		}
	}
	for (i = 0; i < started; i++)
		KUNIT_EXPECT_EQ(test, w[i].err, 0);
	t_expect_same(test, s, d);
}

/* ------------------------------------------------------------------ */
/* Split writes: any split of a stream gives the same calls.          */

static const size_t t_pieces[] = {
	1, 2, 7, MST_REC_HDR_SIZE - 1, MST_REC_HDR_SIZE, MST_REC_HDR_SIZE + 1,
	1000, MST_PAGE_SIZE - 1, MST_PAGE_SIZE + MST_REC_HDR_SIZE, 65537,
};

static void t_piece_desc(const size_t *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "pieces_of_%zu", *p);
}

KUNIT_ARRAY_PARAM(t_piece, t_pieces, t_piece_desc);

static void t_run_split(struct kunit *test, bool one_fd, size_t piece)
{
	struct mst_geometry g = t_geo_v3;
	struct t_dst *whole, *split;
	struct t_src *s;
	u32 i;

	if (one_fd) {
		g.protocol = 2;
		g.nstreams = 1;
	}
	s = t_src_new(test, &g, one_fd);
	t_small_migration(s);
	whole = t_dst_new(test, &g, one_fd);
	split = t_dst_new(test, &g, one_fd);

	for (i = 0; i < whole->nparsers; i++) {
		t_feed(test, &whole->p[i], s->buf[i].data, s->buf[i].len,
		       SIZE_MAX);
		t_feed(test, &split->p[i], s->buf[i].data, s->buf[i].len, piece);
	}
	t_expect_same(test, s, whole);
	t_expect_same(test, s, split);
	KUNIT_ASSERT_EQ(test, split->fake.nlog, whole->fake.nlog);
	KUNIT_EXPECT_MEMEQ(test, split->fake.log, whole->fake.log,
			   whole->fake.nlog * sizeof(struct t_call));
}

static void mst_rx_split_writes_v3(struct kunit *test)
{
	t_run_split(test, false, *(const size_t *)test->param_value);
}

static void mst_rx_split_writes_v2(struct kunit *test)
{
	t_run_split(test, true, *(const size_t *)test->param_value);
}

/* A record split across writes is not applied before its last byte. */
static void mst_rx_partial_record_waits(struct kunit *test)
{
	struct mst_geometry g = t_geo_v3;
	struct t_src *s = t_src_new(test, &g, false);
	struct t_dst *d = t_dst_new(test, &g, false);
	size_t crit_end;

	t_compat(s, 0);
	t_crit(s, 1);
	crit_end = s->buf[0].len;

	t_feed(test, &d->p[0], s->buf[0].data, crit_end - 1, SIZE_MAX);
	KUNIT_EXPECT_EQ(test, d->fake.nlog, 0U);
	KUNIT_EXPECT_EQ(test, d->p[0].state, MST_RX_PAYLOAD);
	t_feed(test, &d->p[0], s->buf[0].data + crit_end - 1, 1, SIZE_MAX);
	KUNIT_EXPECT_EQ(test, d->fake.nlog, 1U);
	KUNIT_EXPECT_EQ(test, d->p[0].state, MST_RX_HDR);
	KUNIT_EXPECT_EQ(test, d->p[0].hdr_fill, 0U);
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), -ENODATA);
}

/*
 * A write that must not sleep (IOCB_NOWAIT) stops before the last byte of
 * a record whose apply would sleep: -EAGAIN, nothing latched, nothing lost;
 * the next write completes and applies it.
 */
static void mst_rx_nowait_apply(struct kunit *test)
{
	struct mst_geometry g = t_geo_v3;
	struct t_src *s = t_src_new(test, &g, false);
	struct t_dst *d = t_dst_new(test, &g, false);
	struct kvec kv;
	struct iov_iter it;
	size_t len;

	t_compat(s, 0);
	t_crit(s, 1);
	len = s->buf[0].len;
	d->fake.crit_busy = true;
	kv = (struct kvec){ .iov_base = s->buf[0].data, .iov_len = len };
	iov_iter_kvec(&it, ITER_SOURCE, &kv, 1, len);
	KUNIT_EXPECT_EQ(test, mst_rx_write(&d->p[0], &it, true), (ssize_t)len - 1);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), 1UL);
	KUNIT_EXPECT_FALSE(test, d->fake.has_crit);
	kv = (struct kvec){ .iov_base = s->buf[0].data + len - 1, .iov_len = 1 };
	iov_iter_kvec(&it, ITER_SOURCE, &kv, 1, 1);
	KUNIT_EXPECT_EQ(test, mst_rx_write(&d->p[0], &it, true), -EAGAIN);
	KUNIT_EXPECT_NE(test, d->p[0].state, MST_RX_ERROR);
	d->fake.crit_busy = false;
	iov_iter_kvec(&it, ITER_SOURCE, &kv, 1, 1);
	KUNIT_EXPECT_EQ(test, mst_rx_write(&d->p[0], &it, true), 1);
	KUNIT_EXPECT_TRUE(test, d->fake.has_crit);
	KUNIT_EXPECT_EQ(test, d->fake.crit_gen, 1ULL);
	KUNIT_EXPECT_MEMEQ(test, d->fake.crit, s->crit, g.crit_size);
}

/*
 * The end of a resuming FD: bytes after its END that never make a whole
 * record are data after the end (-EEXIST, latched for the session); a
 * record cut before the END leaves the stream incomplete (-ENODATA).
 */
static void mst_rx_trailing_bytes(struct kunit *test)
{
	struct mst_geometry g = t_geo_v3;
	struct t_src *s = t_src_new(test, &g, false);
	struct t_dst *d = t_dst_new(test, &g, false);
	u32 i;

	t_small_migration(s);
	for (i = 0; i < g.nstreams; i++) {
		t_feed(test, &d->p[i], s->buf[i].data, s->buf[i].len, SIZE_MAX);
		KUNIT_EXPECT_EQ(test, mst_rx_parser_finish(&d->p[i]), 0);
	}
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), 0);

	/* 20 bytes of a header after stream 1's END */
	t_feed(test, &d->p[1], s->buf[1].data, 20, SIZE_MAX);
	KUNIT_EXPECT_EQ(test, mst_rx_parser_finish(&d->p[1]), -EEXIST);
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), -EEXIST);
	KUNIT_EXPECT_EQ(test, t_write(&d->p[1], s->buf[1].data, 1), -EEXIST);
}

static void mst_rx_cut_before_end(struct kunit *test)
{
	struct mst_geometry g = t_geo_v3;
	struct t_src *s = t_src_new(test, &g, false);
	struct t_dst *d = t_dst_new(test, &g, false);

	t_small_migration(s);
	/* stream 0 without the last 20 bytes of its END */
	t_feed(test, &d->p[0], s->buf[0].data, s->buf[0].len - 20, SIZE_MAX);
	KUNIT_EXPECT_EQ(test, mst_rx_parser_finish(&d->p[0]), 0);
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), -ENODATA);
}

/* ------------------------------------------------------------------ */
/* Malformed input: every errno of mst_rx.h and mst_record.h.         */

/*
 * Each case builds a valid prefix and one bad record (marked), followed by
 * valid data. The test writes everything before the mark (accepted), then the
 * rest: the write fails with the case's errno, nothing of the bad record is
 * applied, the parser stays latched and the session reports the error.
 */
struct t_bad_case {
	const char *name;
	void (*build)(struct t_src *s);
	int err;
	u32 protocol;		/* 0: v3 geometry, 3 streams */
	u32 nstreams;
	bool one_fd;
	bool learn;
	unsigned int fail_at;	/* fake device: fail this apply_pages call */
};

static void t_reseal(struct mst_rec_hdr *h)
{
	h->hcsum = 0;
	h->hcsum = cpu_to_le32(__crc32c_le(~0U, (const u8 *)h, sizeof(*h)));
}

/* Valid prefix: COMPAT everywhere, CRIT, a PAGES record on stream 1. */
static void t_prefix(struct t_src *s)
{
	t_compat_all(s);
	t_crit(s, 1);
	t_pages(s, 0, 2, 1);
}

/* A valid tail on @stream, after the bad record. */
static void t_tail(struct t_src *s, u32 stream)
{
	t_emit(s, stream, MST_TAG_END, 0, 0, NULL, 0);
}

/* A valid PAGES record of page 4 (stream 1's), marked as the bad one. */
static size_t t_bad_pages(struct t_src *s, u32 stream)
{
	t_mark_bad(s, stream);
	t_fill_page(s->scratch, 4, 1);
	return t_emit(s, stream, MST_TAG_PAGES, 4 * MST_PAGE_SIZE, 1,
		      s->scratch, MST_PAGE_SIZE);
}

/* The bad PAGES record with one header field changed, resealed or not. */
enum t_field { T_MAGIC, T_VERSION, T_GEN, T_TAG, T_LEN };

static void t_bad_field(struct t_src *s, enum t_field f, u64 val, bool reseal)
{
	size_t at;
	struct mst_rec_hdr h;

	t_prefix(s);
	at = t_bad_pages(s, 1);
	t_hdr_load(s, 1, at, &h);
	switch (f) {
	case T_MAGIC:
		h.magic = cpu_to_le32(val);
		break;
	case T_VERSION:
		h.version = cpu_to_le16(val);
		break;
	case T_GEN:
		h.gen = cpu_to_le64(val);
		break;
	case T_TAG:
		h.tag = cpu_to_le16(val);
		break;
	case T_LEN:
		h.len = cpu_to_le32(val);
		break;
	}
	if (reseal)
		t_reseal(&h);
	t_hdr_store(s, 1, at, &h);
	t_tail(s, 1);
}

static void b_magic(struct t_src *s)
{
	t_bad_field(s, T_MAGIC, 0x4d535452, false);
}

static void b_version(struct t_src *s)
{
	t_bad_field(s, T_VERSION, MST_REC_VERSION + 1, true);
}

static void b_hcsum(struct t_src *s)
{
	t_bad_field(s, T_GEN, 2, false);
}

static void b_tag(struct t_src *s)
{
	t_bad_field(s, T_TAG, 9, true);
}

static void b_oversize(struct t_src *s)
{
	t_bad_field(s, T_LEN, MST_REC_MAX_PAYLOAD + MST_PAGE_SIZE, true);
}

static void b_payload_csum(struct t_src *s)
{
	t_prefix(s);
	t_bad_pages(s, 1);
	s->buf[1].data[s->buf[1].len - 1] ^= 1;	/* last payload byte */
	t_tail(s, 1);
}

static void b_crit_payload_csum(struct t_src *s)
{
	t_compat_all(s);
	t_mark_bad(s, 0);
	t_crit(s, 1);
	s->buf[0].data[s->bad_off + MST_REC_HDR_SIZE] ^= 0x10;
	t_tail(s, 0);
}

static void b_out_of_range(struct t_src *s)
{
	u64 last = t_npages(s);	/* one past the end, in shard 2 -> stream 1 */

	t_prefix(s);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_PAGES, last << MST_PAGE_SHIFT, 1, s->scratch,
	       MST_PAGE_SIZE);
	t_tail(s, 1);
}

static void b_straddles_end(struct t_src *s)
{
	u64 np = t_npages(s);	/* the last shard has 8 pages; send 9 */

	t_prefix(s);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_PAGES, (np - 8) << MST_PAGE_SHIFT, 1, s->scratch,
	       9 * MST_PAGE_SIZE);
	t_tail(s, 1);
}

static void b_wrong_shard(struct t_src *s)
{
	t_prefix(s);
	/* Page 256 is shard 1, stream 2's: not stream 1's. */
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_PAGES, 256ULL << MST_PAGE_SHIFT, 1, s->scratch,
	       MST_PAGE_SIZE);
	t_tail(s, 1);
}

static void b_crosses_shard(struct t_src *s)
{
	t_prefix(s);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_PAGES, 255ULL << MST_PAGE_SHIFT, 1, s->scratch,
	       2 * MST_PAGE_SIZE);
	t_tail(s, 1);
}

static void b_forged_stream(struct t_src *s)
{
	t_prefix(s);
	/* A valid record of stream 2 (its seq and shard), on stream 1's FD. */
	t_mark_bad(s, 1);
	t_put_rec(s, 1, 2, MST_TAG_PAGES, s->seq[2]++, 256ULL << MST_PAGE_SHIFT,
		  1, s->scratch, MST_PAGE_SIZE);
	t_tail(s, 1);
}

static void b_stream_beyond(struct t_src *s)
{
	/* v2 on one FD, 3 sub-streams: a record of stream 3. */
	t_prefix(s);
	t_mark_bad(s, 3);
	t_emit(s, 3, MST_TAG_END, 0, 0, NULL, 0);
	t_tail(s, 1);
}

static void b_crit_on_dirty(struct t_src *s)
{
	t_prefix(s);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_CRIT, 0, 2, s->crit, s->geo.crit_size);
	t_tail(s, 1);
}

static void b_pages_on_crit(struct t_src *s)
{
	t_prefix(s);
	t_mark_bad(s, 0);
	t_emit(s, 0, MST_TAG_PAGES, 0, 1, s->scratch, MST_PAGE_SIZE);
	t_tail(s, 0);
}

static void b_duplicate_end(struct t_src *s)
{
	t_prefix(s);
	t_emit(s, 1, MST_TAG_END, 0, 0, NULL, 0);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_END, 0, 0, NULL, 0);
}

static void b_replayed_end(struct t_src *s)
{
	t_prefix(s);
	t_emit(s, 1, MST_TAG_END, 0, 0, NULL, 0);
	s->seq[1]--;	/* the same bytes again */
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_END, 0, 0, NULL, 0);
}

static void b_data_after_end(struct t_src *s)
{
	t_prefix(s);
	t_emit(s, 1, MST_TAG_END, 0, 0, NULL, 0);
	t_bad_pages(s, 1);
}

static void b_seq_gap(struct t_src *s)
{
	t_prefix(s);
	s->seq[1]++;
	t_bad_pages(s, 1);
	t_tail(s, 1);
}

static void b_seq_replay(struct t_src *s)
{
	struct t_buf *b;
	size_t start, len;

	t_prefix(s);
	/* The last PAGES record of stream 1, once more. */
	b = &s->buf[1];
	start = b->rec_end[b->nrec - 2];
	len = b->len - start;
	t_mark_bad(s, 1);
	memcpy(b->data + b->len, b->data + start, len);
	b->len += len;
	b->rec_end[b->nrec++] = b->len;
	t_tail(s, 1);
}

static void b_seq_reorder(struct t_src *s)
{
	t_prefix(s);
	t_mark_bad(s, 1);
	t_emit_raw(s, 1, MST_TAG_END, s->seq[1] + 1, 0, 0, NULL, 0);
	t_fill_page(s->scratch, 4, 1);
	t_emit_raw(s, 1, MST_TAG_PAGES, s->seq[1], 4 * MST_PAGE_SIZE, 1,
		   s->scratch, MST_PAGE_SIZE);
}

static void b_first_not_compat(struct t_src *s)
{
	t_mark_bad(s, 0);
	t_crit(s, 1);
	t_tail(s, 0);
}

static void b_second_compat(struct t_src *s)
{
	t_prefix(s);
	t_mark_bad(s, 1);
	t_compat(s, 1);
	t_tail(s, 1);
}

static void b_compat_nstreams(struct t_src *s)
{
	s->geo.nstreams = 4;	/* the source has 3 dirty streams, we 2 */
	t_mark_bad(s, 0);
	t_compat(s, 0);
	s->geo.nstreams = 3;
	t_crit(s, 1);
}

static void b_compat_type(struct t_src *s)
{
	strscpy(s->geo.type, "mstream2", sizeof(s->geo.type));
	t_mark_bad(s, 2);
	t_compat(s, 2);
	t_tail(s, 2);
}

static void b_compat_reserved(struct t_src *s)
{
	struct mst_compat c;

	mst_compat_encode(&c, &s->geo);
	c.reserved = cpu_to_le32(1);
	t_mark_bad(s, 1);
	t_emit(s, 1, MST_TAG_COMPAT, 0, 0, &c, sizeof(c));
	t_tail(s, 1);
}

/* The source leaves the payloads to the device; the destination does not. */
static void b_compat_integrity(struct t_src *s)
{
	s->geo.integrity = MST_INTEGRITY_DEVICE;
	t_mark_bad(s, 1);
	t_compat(s, 1);
	s->geo.integrity = MST_INTEGRITY_CRC;
	t_tail(s, 1);
}

static void b_compat_learn_mismatch(struct t_src *s)
{
	/* v2 on one FD: stream 0 says 3 streams, stream 1 says 2. */
	t_compat(s, 0);
	s->geo.nstreams = 2;
	t_mark_bad(s, 1);
	t_compat(s, 1);
	s->geo.nstreams = 3;
}

static void b_compat_learn_beyond(struct t_src *s)
{
	/* v2 on one FD: the first COMPAT, on stream 2, says 2 streams. */
	s->geo.nstreams = 2;
	t_mark_bad(s, 2);
	t_compat(s, 2);
}

static void b_crit_len(struct t_src *s)
{
	t_compat_all(s);
	t_mark_bad(s, 0);
	t_emit(s, 0, MST_TAG_CRIT, 0, 1, s->crit, s->geo.crit_size - 1);
	t_tail(s, 0);
}

static void b_apply_fails(struct t_src *s)
{
	t_prefix(s);
	t_bad_pages(s, 1);	/* the fake device fails the 2nd apply_pages */
	t_tail(s, 1);
}

static const struct t_bad_case t_bad_cases[] = {
	{ "bad_magic", b_magic, -EINVAL },
	{ "bad_version", b_version, -EPROTONOSUPPORT },
	{ "bad_header_checksum", b_hcsum, -EINVAL },
	{ "unknown_tag", b_tag, -EINVAL },
	{ "oversize_length", b_oversize, -EMSGSIZE },
	{ "bad_payload_checksum", b_payload_csum, -EBADMSG },
	{ "bad_crit_checksum", b_crit_payload_csum, -EBADMSG },
	{ "offset_out_of_range", b_out_of_range, -ERANGE },
	{ "pages_past_the_end", b_straddles_end, -ERANGE },
	{ "wrong_shard", b_wrong_shard, -EXDEV },
	{ "record_crosses_shards", b_crosses_shard, -EXDEV },
	{ "forged_stream_id", b_forged_stream, -EXDEV },
	{ "stream_beyond_nstreams", b_stream_beyond, -EINVAL, 2, 3, true },
	{ "crit_on_dirty_stream", b_crit_on_dirty, -EXDEV },
	{ "pages_on_crit_stream", b_pages_on_crit, -EXDEV },
	{ "pages_on_crit_stream_v2_mux", b_pages_on_crit, -EXDEV, 2, 3, true,
	  true },
	{ "duplicate_end", b_duplicate_end, -EEXIST },
	{ "replayed_end", b_replayed_end, -EEXIST },
	{ "data_after_end", b_data_after_end, -EEXIST },
	{ "seq_gap", b_seq_gap, -EILSEQ },
	{ "seq_replay", b_seq_replay, -EILSEQ },
	{ "seq_reorder", b_seq_reorder, -EILSEQ },
	{ "first_record_not_compat", b_first_not_compat, -EILSEQ },
	{ "second_compat", b_second_compat, -EILSEQ },
	{ "compat_nstreams_mismatch", b_compat_nstreams, -EINVAL },
	{ "compat_type_mismatch", b_compat_type, -EINVAL },
	{ "compat_reserved", b_compat_reserved, -EPROTO },
	{ "compat_integrity_mismatch", b_compat_integrity, -EINVAL },
	{ "compat_learned_mismatch", b_compat_learn_mismatch, -EINVAL, 2, 3,
	  true, true },
	{ "compat_learned_too_few", b_compat_learn_beyond, -EINVAL, 2, 3, true,
	  true },
	{ "crit_len_not_crit_size", b_crit_len, -EINVAL },
	{ "apply_fails", b_apply_fails, -EIO, 0, 0, false, false, 2 },
};

static void t_bad_desc(const struct t_bad_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_bad, t_bad_cases, t_bad_desc);

static void t_run_malformed(struct kunit *test, bool bytewise)
{
	const struct t_bad_case *c = test->param_value;
	struct mst_geometry sg = t_geo_v3, dg;
	struct mst_rx_parser *p;
	unsigned int applied;
	struct t_buf *b;
	struct t_src *s;
	struct t_dst *d;
	ssize_t ret;
	u32 i;

	if (c->protocol) {
		sg.protocol = c->protocol;
		sg.nstreams = c->nstreams;
	}
	dg = sg;
	if (c->learn)
		dg.nstreams = 0;
	s = t_src_new(test, &sg, c->one_fd);
	d = t_dst_new(test, &dg, c->one_fd);
	d->fake.fail_at = c->fail_at;
	d->fake.fail_err = -EIO;
	c->build(s);
	KUNIT_ASSERT_NE(test, s->bad_buf, U32_MAX);

	/* Everything before the bad record is accepted. */
	for (i = 0; i < d->nparsers; i++) {
		b = &s->buf[i];
		t_feed(test, &d->p[i], b->data,
		       i == s->bad_buf ? s->bad_off : b->len, SIZE_MAX);
	}
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), -ENODATA);

	/* The bad record and what follows fails: nothing of it is applied. */
	applied = d->fake.applied;
	b = &s->buf[s->bad_buf];
	p = &d->p[s->bad_buf];
	if (bytewise) {
		size_t off;

		ret = 0;
		for (off = s->bad_off; off < b->len && ret >= 0; off++)
			ret = t_write(p, b->data + off, 1);
	} else {
		ret = t_write(p, b->data + s->bad_off, b->len - s->bad_off);
	}
	KUNIT_EXPECT_EQ(test, ret, (ssize_t)c->err);
	KUNIT_EXPECT_EQ(test, d->fake.applied, applied);
	KUNIT_EXPECT_EQ(test, p->state, MST_RX_ERROR);

	/* Latched: valid bytes do not revive the parser. */
	KUNIT_EXPECT_EQ(test, t_write(p, s->buf[0].data, MST_REC_HDR_SIZE),
			(ssize_t)c->err);
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), c->err);
	KUNIT_EXPECT_EQ(test, d->fake.applied, applied);
}

static void mst_rx_malformed_whole(struct kunit *test)
{
	t_run_malformed(test, false);
}

static void mst_rx_malformed_bytewise(struct kunit *test)
{
	t_run_malformed(test, true);
}

/* ------------------------------------------------------------------ */
/* Completeness.                                                      */

#define T_ALL	U32_MAX

struct t_complete_case {
	const char *name;
	u32 protocol;
	u32 nstreams;
	bool one_fd;
	u32 missing_end;	/* stream whose END is held back, or T_ALL */
	bool half_header;	/* ...and a partial header written instead */
	bool nothing;		/* no byte written at all */
	int err;
};

static const struct t_complete_case t_complete_cases[] = {
	{ "v3_all_ended", 3, 3, false, T_ALL, false, false, 0 },
	{ "v3_nothing_written", 3, 3, false, T_ALL, false, true, -ENODATA },
	{ "v3_crit_end_missing", 3, 3, false, 0, false, false, -ENODATA },
	{ "v3_dirty_end_missing", 3, 3, false, 2, false, false, -ENODATA },
	{ "v3_half_end_header", 3, 3, false, 1, true, false, -ENODATA },
	{ "v2_all_ended", 2, 1, true, T_ALL, false, false, 0 },
	{ "v2_nothing_written", 2, 1, true, T_ALL, false, true, -ENODATA },
	{ "v2_end_missing", 2, 1, true, 0, false, false, -ENODATA },
	{ "v2_mux_all_ended", 2, 3, true, T_ALL, false, false, 0 },
	{ "v2_mux_end_missing", 2, 3, true, 2, false, false, -ENODATA },
	{ "v2_mux_half_end_header", 2, 3, true, 2, true, false, -ENODATA },
};

static void t_complete_desc(const struct t_complete_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_complete, t_complete_cases, t_complete_desc);

static void mst_rx_completeness(struct kunit *test)
{
	const struct t_complete_case *c = test->param_value;
	struct mst_geometry sg = t_geo_v3, dg;
	struct mst_rec_hdr end;
	struct t_src *s;
	struct t_dst *d;
	u32 i;

	sg.protocol = c->protocol;
	sg.nstreams = c->nstreams;
	dg = sg;
	if (c->one_fd)
		dg.nstreams = 0;	/* v2 destinations learn it */
	s = t_src_new(test, &sg, c->one_fd);
	d = t_dst_new(test, &dg, c->one_fd);
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), -ENODATA);
	if (c->nothing)
		return;

	t_compat_all(s);
	t_crit(s, 1);
	t_pages(s, 0, 1, 1);
	t_crit(s, 2);
	for (i = 0; i < sg.nstreams; i++)
		if (i != c->missing_end)
			t_emit(s, i, MST_TAG_END, 0, 0, NULL, 0);
	for (i = 0; i < d->nparsers; i++)
		t_feed(test, &d->p[i], s->buf[i].data, s->buf[i].len, 100);
	if (c->missing_end != T_ALL && c->half_header) {
		mst_rec_encode(&end, MST_TAG_END, c->missing_end,
			       s->seq[c->missing_end], 0, 0, NULL, 0);
		t_feed(test, &d->p[c->one_fd ? 0 : c->missing_end], (u8 *)&end,
		       MST_REC_HDR_SIZE / 2, SIZE_MAX);
	}
	KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), c->err);

	/* The missing END completes the session. */
	if (c->missing_end != T_ALL) {
		u32 fd = c->one_fd ? 0 : c->missing_end;

		mst_rec_encode(&end, MST_TAG_END, c->missing_end,
			       s->seq[c->missing_end], 0, 0, NULL, 0);
		if (c->half_header)
			t_feed(test, &d->p[fd], (u8 *)&end + MST_REC_HDR_SIZE / 2,
			       MST_REC_HDR_SIZE / 2, SIZE_MAX);
		else
			t_feed(test, &d->p[fd], (u8 *)&end, sizeof(end), 1);
		KUNIT_EXPECT_EQ(test, mst_rx_session_complete(&d->sess), 0);
	}
}

/* Parser binding: a stream the session does not have is refused. */
struct t_bind_case {
	const char *name;
	u32 nstreams;		/* the destination's; 0 to learn */
	u32 stream;
	int err;
};

static const struct t_bind_case t_bind_cases[] = {
	{ "stream_0", 3, 0, 0 },
	{ "last_stream", 3, 2, 0 },
	{ "beyond_nstreams", 3, 3, -EINVAL },
	{ "any_stream", 3, MST_RX_ANY_STREAM, 0 },
	{ "learn_any", 0, MST_RX_ANY_STREAM, 0 },
	{ "learn_last_possible", 0, MST_MAX_STREAMS - 1, 0 },
	{ "learn_beyond_max", 0, MST_MAX_STREAMS, -EINVAL },
	{ "huge", 17, U32_MAX - 1, -EINVAL },
};

static void t_bind_desc(const struct t_bind_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(t_bind, t_bind_cases, t_bind_desc);

static void mst_rx_parser_binding(struct kunit *test)
{
	const struct t_bind_case *c = test->param_value;
	struct mst_geometry g = t_geo_v3;
	struct mst_rx_session *sess;
	struct mst_rx_parser p;
	struct t_fake fake = {};

	sess = kunit_kzalloc(test, sizeof(*sess), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sess);
	g.nstreams = c->nstreams;
	if (!c->nstreams)
		g.protocol = 2;
	mst_rx_session_init(sess, &t_fake_ops, &fake, &g);
	KUNIT_EXPECT_EQ(test, mst_rx_parser_init(&p, sess, c->stream), c->err);
	if (!c->err) {
		KUNIT_EXPECT_EQ(test, p.state, MST_RX_HDR);
		KUNIT_EXPECT_NOT_NULL(test, p.payload);
	}
	mst_rx_parser_destroy(&p);
}

static struct kunit_case mst_rx_cases[] = {
	KUNIT_CASE_PARAM(mst_rx_session_whole, t_session_gen_params),
	KUNIT_CASE_PARAM(mst_rx_session_interleaved, t_session_gen_params),
	KUNIT_CASE_PARAM(mst_rx_session_threads, t_session_gen_params),
	KUNIT_CASE_PARAM(mst_rx_split_writes_v3, t_piece_gen_params),
	KUNIT_CASE_PARAM(mst_rx_split_writes_v2, t_piece_gen_params),
	KUNIT_CASE(mst_rx_partial_record_waits),
	KUNIT_CASE(mst_rx_nowait_apply),
	KUNIT_CASE(mst_rx_trailing_bytes),
	KUNIT_CASE(mst_rx_cut_before_end),
	KUNIT_CASE_PARAM(mst_rx_malformed_whole, t_bad_gen_params),
	KUNIT_CASE_PARAM(mst_rx_malformed_bytewise, t_bad_gen_params),
	KUNIT_CASE_PARAM(mst_rx_completeness, t_complete_gen_params),
	KUNIT_CASE_PARAM(mst_rx_parser_binding, t_bind_gen_params),
	{}
};

static struct kunit_suite mst_rx_suite = {
	.name = "mst_rx",
	.test_cases = mst_rx_cases,
};

kunit_test_suite(mst_rx_suite);

MODULE_DESCRIPTION("KUnit tests of the vfio-mstream resume parser");
MODULE_LICENSE("GPL");
