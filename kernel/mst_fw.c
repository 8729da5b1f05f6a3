// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: the firmware model of the saving side.
 *
 * Save engines are work items. Each produces the records of one sub-stream
 * into its stream's chunk queue, a chunk at a time, never more than the
 * queue's read-ahead ahead of the reader, at a paced bandwidth. An engine is
 * a pipeline, as device firmware is: the job it has started (a pass over its
 * shard, or a CRIT record) is finished before it emits anything else.
 *
 * Sessions:
 * - v2 single: one stream (the data_fd), one engine, sub-stream 0 carries
 *   COMPAT, CRIT, PAGES of every page, END. A REINIT's CRIT record goes out
 *   at the engine's next record boundary, behind what is in memory only.
 * - v2 mux: one stream, E engines, sub-stream 0 (critical: COMPAT, CRIT, END)
 *   and sub-streams 1..E (COMPAT, PAGES of shard i - 1, END) interleaved a
 *   chunk at a time. A REINIT's CRIT record is published at once as an extra
 *   chunk, ahead of everything the engines have not published yet.
 * - v2 mux-head: v2 mux, and that CRIT record is published urgent: ahead of
 *   every queued chunk no read has started on (mst_queue_publish_urgent()).
 * - v3: streams 0..N, each its own FD and queue. Stream 0 has a CRIT engine
 *   that publishes a CRIT record per REINIT; its END comes in STOP_COPY
 *   once every dirty stream has ended and that engine owes nothing, and
 *   REINITs are refused from then on. Streams 1..N have one PAGES engine
 *   each.
 *
 * Every stream starts with its header (COMPAT, plus CRIT on the critical
 * sub-stream), published synchronously when the session starts.
 *
 * Positions: a stream's @published counts the bytes published into its
 * queue; a job's bytes are known when it starts (a pass takes its dirty
 * bits first, then copies), so on a single-producer stream the position just
 * past the job in progress is exact, and so is, on v2 single's stream, the
 * place of the next record (mst_eng_reserve()). That is what v2's REINIT
 * accounting and v3's exact STOP_COPY counts rest on.
 */

#include <linux/bitmap.h>
#include <linux/error-injection.h>
#include <linux/hrtimer.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "mst.h"

enum mst_job_kind {
	MST_JOB_NONE,
	MST_JOB_PASS,
	MST_JOB_CRIT,
	MST_JOB_END,
};

struct mst_job {
	enum mst_job_kind kind;
	u64 gen;
};

static struct mst_dev *mst_s_dev(struct mst_stream *s)
{
	return s->sess->dev;
}

static u32 mst_crit_rec_size(struct mst_sess *sess)
{
	return MST_REC_HDR_SIZE + sess->crit_size;
}

u32 mst_fw_maxp(u32 chunk_size)
{
	return clamp_t(u32, (chunk_size - MST_REC_HDR_SIZE) / MST_PAGE_SIZE, 1,
		       MST_REC_MAX_PAGES);
}

/* Bytes of the PAGES records of the pages set in one run's bitmap. */
static u64 mst_run_bytes(const unsigned long *map, u32 maxp)
{
	unsigned int a = 0, b;
	u64 bytes = 0;

	while ((a = find_next_bit(map, MST_SHARD_PAGES, a)) < MST_SHARD_PAGES) {
		b = find_next_zero_bit(map, MST_SHARD_PAGES, a);
		bytes += (u64)(b - a) * MST_PAGE_SIZE +
			 (u64)DIV_ROUND_UP(b - a, maxp) * MST_REC_HDR_SIZE;
		a = b;
	}
	return bytes;
}

static u64 mst_full_run_bytes(u32 maxp)
{
	return (u64)MST_SHARD_PAGES * MST_PAGE_SIZE +
	       (u64)DIV_ROUND_UP(MST_SHARD_PAGES, maxp) * MST_REC_HDR_SIZE;
}

static unsigned long *mst_run_dirty(struct mst_dev *dev, u64 run)
{
	return dev->st.dirty + run * MST_RUN_WORDS;
}

/*
 * Bytes the engine's shard would produce now: every page when @all, else
 * the pages whose dirty bit is set (volatile while the workload runs).
 */
static u64 mst_shard_bytes(struct mst_engine *e, bool all)
{
	struct mst_dev *dev = mst_s_dev(e->s);
	u32 maxp = e->s->sess->maxp;
	u64 k, bytes = 0;

	if (all)
		return e->nruns * mst_full_run_bytes(maxp);
	for (k = 0; k < e->nruns; k++)
		bytes += mst_run_bytes(mst_run_dirty(dev, e->shard + k * e->nshards),
				       maxp);
	return bytes;
}

static bool mst_shard_dirty(struct mst_engine *e)
{
	struct mst_dev *dev = mst_s_dev(e->s);
	u64 k;
	u32 j;

	for (k = 0; k < e->nruns; k++) {
		unsigned long *g = mst_run_dirty(dev, e->shard + k * e->nshards);

		for (j = 0; j < MST_RUN_WORDS; j++)
			if (READ_ONCE(g[j]))
				return true;
	}
	return false;
}

/*
 * s->lock held: takes the shard's dirty bits into the job map (every page
 * on the first pass) and returns the bytes the pass will produce.
 */
static u64 mst_eng_snapshot_locked(struct mst_engine *e, bool all)
{
	struct mst_dev *dev = mst_s_dev(e->s);
	u32 maxp = e->s->sess->maxp;
	u64 k, bytes = 0;
	u32 j;

	lockdep_assert_held(&e->s->lock);

	for (k = 0; k < e->nruns; k++) {
		unsigned long *g = mst_run_dirty(dev, e->shard + k * e->nshards);
		unsigned long *l = e->job_map + k * MST_RUN_WORDS;

		for (j = 0; j < MST_RUN_WORDS; j++) {
			unsigned long w = xchg(&g[j], 0UL);

			l[j] = all ? ~0UL : w;
		}
		bytes += mst_run_bytes(l, maxp);
	}
	return bytes;
}

/* ---- chunk handling of one engine ---- */

/*
 * Publishes a chunk and advances the stream position, in one step; the
 * bytes leave the job of @e (if any) at the same time.
 */
static void mst_stream_publish_locked(struct mst_stream *s,
				      struct mst_chunk *c, bool extra,
				      struct mst_engine *e)
{
	/* once published, the chunk may be read and freed at any time */
	u32 len = c->len;

	lockdep_assert_held(&s->lock);

	if (extra)
		mst_queue_publish_extra(&s->q, c);
	else
		mst_queue_publish(&s->q, c);
	s->published += len;
	if (e)
		e->job_left -= min_t(u64, e->job_left, len);
}

static void mst_stream_publish(struct mst_stream *s, struct mst_chunk *c,
			       bool extra, struct mst_engine *e)
{
	mutex_lock(&s->lock);
	mst_stream_publish_locked(s, c, extra, e);
	mutex_unlock(&s->lock);
}

static void mst_eng_flush(struct mst_engine *e)
{
	struct mst_chunk *c = e->cur;

	if (!c)
		return;
	e->cur = NULL;
	if (!c->len) {
		mst_queue_put_free(&e->s->q, c);
		return;
	}
	mst_stream_publish(e->s, c, false, e);
}

/* A chunk with @need free bytes (@need fits an empty chunk), or ERR_PTR. */
static struct mst_chunk *mst_eng_room(struct mst_engine *e, u32 need)
{
	struct mst_chunk *c = e->cur;
	u64 t;

	if (c && c->cap - c->len >= need)
		return c;
	mst_eng_flush(e);

	t = ktime_get_ns();
	c = mst_queue_get_free(&e->s->q, false);
	e->blocked_ns += ktime_get_ns() - t;
	if (IS_ERR(c))
		return c;
	if (c->cap < need) {
		mst_queue_put_free(&e->s->q, c);
		return ERR_PTR(-EINVAL);
	}
	e->cur = c;
	return c;
}

/* Sleep-based pacing to the configured per-engine bandwidth. */
static void mst_eng_pace(struct mst_engine *e, u32 bytes)
{
	u32 bw = READ_ONCE(mst_s_dev(e->s)->cfg.engine_bw);
	u64 now = ktime_get_ns();

	if (!bw) {
		e->pace_next = 0;
		return;
	}
	if (e->pace_next < now)
		e->pace_next = now;
	e->pace_next += div64_u64((u64)bytes * NSEC_PER_SEC, (u64)bw << 20);

	while (!READ_ONCE(e->s->closed) &&
	       (now = ktime_get_ns()) < e->pace_next)
		wait_event_hrtimeout(e->paceq, READ_ONCE(e->s->closed),
				     ns_to_ktime(e->pace_next - now));
}

/*
 * Writes a record header in front of its payload, which is in place;
 * @csum false leaves the payload to the device's own check.
 */
static void mst_put_rec_csum(void *p, enum mst_rec_tag tag, u32 sub, u64 seq,
			     u64 offset, u64 gen, u32 len, bool csum)
{
	struct mst_rec_hdr hdr;

	mst_rec_encode(&hdr, tag, sub, seq, offset, gen,
		       csum ? p + MST_REC_HDR_SIZE : NULL, len);
	memcpy(p, &hdr, sizeof(hdr));
}

static void mst_put_rec(void *p, enum mst_rec_tag tag, u32 sub, u64 seq,
			u64 offset, u64 gen, u32 len)
{
	mst_put_rec_csum(p, tag, sub, seq, offset, gen, len, true);
}

static bool mst_host_csum(const struct mst_sess *sess)
{
	return sess->integrity == MST_INTEGRITY_CRC;
}

static void mst_put_compat(void *p, struct mst_sess *sess, u32 sub, u64 seq)
{
	struct mst_geometry geo;
	struct mst_compat c;

	mst_state_geometry(sess, &geo);
	mst_compat_encode(&c, &geo);
	memcpy(p + MST_REC_HDR_SIZE, &c, sizeof(c));
	mst_put_rec(p, MST_TAG_COMPAT, sub, seq, 0, 0, sizeof(c));
}

/* Returns the record size. */
static u32 mst_put_crit(void *p, struct mst_sess *sess, u32 sub, u64 seq)
{
	u64 gen = mst_state_copy_crit(sess->dev, p + MST_REC_HDR_SIZE);

	mst_put_rec_csum(p, MST_TAG_CRIT, sub, seq, 0, gen, sess->crit_size,
			 mst_host_csum(sess));
	return mst_crit_rec_size(sess);
}

/*
 * v2 single: the engine that carries the pages carries the critical data
 * too, and a REINIT's record goes out at its next record boundary, behind
 * only what is in memory (published, or in the chunk being filled), as
 * mlx5's firmware appends a new initial-data chunk to the data it saved.
 */
static bool mst_eng_carries_crit(struct mst_engine *e)
{
	return e->kind == MST_ENG_PAGES && e->sub == 0;
}

/*
 * Takes the place of the next record, of @len bytes, in the stream; false
 * when a CRIT record is owed first, whose place it took instead.
 */
static bool mst_eng_reserve(struct mst_engine *e, u32 len)
{
	struct mst_stream *s = e->s;
	u32 rec = mst_crit_rec_size(s->sess);
	bool crit;

	if (!mst_eng_carries_crit(e))
		return true;
	mutex_lock(&s->lock);
	crit = e->crit_pending;
	if (crit) {
		e->crit_pending = false;
		e->job_end += rec;
		e->wpos += rec;
	} else {
		e->wpos += len;
	}
	mutex_unlock(&s->lock);
	return !crit;
}

static int mst_eng_emit_crit(struct mst_engine *e);

/*
 * The save command of one run of pages. A real device's can fail, so it is
 * error-injectable: the tests make it fail with fail_function.
 */
static noinline int mst_eng_emit_pages(struct mst_engine *e, u64 page, u32 n,
				       u64 gen)
{
	struct mst_dev *dev = mst_s_dev(e->s);
	u32 len = n * MST_PAGE_SIZE, need = MST_REC_HDR_SIZE + len, i;
	struct mst_chunk *c;
	void *p;
	int ret;

	while (!mst_eng_reserve(e, need)) {
		ret = mst_eng_emit_crit(e);
		if (ret)
			return ret;
	}
	c = mst_eng_room(e, need);
	if (IS_ERR(c))
		return PTR_ERR(c);
	p = c->buf + c->len;
	for (i = 0; i < n; i++)
		mst_state_read_page(dev, page + i,
				    p + MST_REC_HDR_SIZE + (size_t)i * MST_PAGE_SIZE);
	mst_put_rec_csum(p, MST_TAG_PAGES, e->sub, e->seq++,
			 page << MST_PAGE_SHIFT, gen, len,
			 mst_host_csum(e->s->sess));
	c->len += need;
	mst_eng_pace(e, need);
	return 0;
}
ALLOW_ERROR_INJECTION(mst_eng_emit_pages, ERRNO);

static int mst_eng_emit_pass(struct mst_engine *e, u64 gen)
{
	u32 maxp = e->s->sess->maxp;
	u64 k;
	int ret;

	for (k = 0; k < e->nruns; k++) {
		const unsigned long *map = e->job_map + k * MST_RUN_WORDS;
		u64 base = (e->shard + k * e->nshards) * (u64)MST_SHARD_PAGES;
		unsigned int a = 0, b;

		while ((a = find_next_bit(map, MST_SHARD_PAGES, a)) <
		       MST_SHARD_PAGES) {
			b = find_next_zero_bit(map, MST_SHARD_PAGES, a);
			while (a < b) {
				u32 n = min_t(u32, b - a, maxp);

				ret = mst_eng_emit_pages(e, base + a, n, gen);
				if (ret)
					return ret;
				a += n;
			}
		}
		if (READ_ONCE(e->s->closed))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int mst_eng_emit_crit(struct mst_engine *e)
{
	struct mst_sess *sess = e->s->sess;
	u32 need = mst_crit_rec_size(sess);
	struct mst_chunk *c;

	if (need > e->s->q.chunk_size) {
		/*
		 * Bigger than a pool chunk: its own allocation, which the
		 * next REINIT rewrites while it is unread, so that a source
		 * that reconfigures faster than its FD is read holds one.
		 */
		mst_eng_flush(e);
		c = mst_chunk_alloc_extra(need);
		if (!c)
			return -ENOMEM;
		c->len = mst_put_crit(c->buf, sess, e->sub, e->seq);
		/* a REINIT sees the record and its seq together, or neither */
		mutex_lock(&e->s->lock);
		mst_stream_publish_locked(e->s, c, true, e);
		e->s->crit_extra_last = true;
		e->s->crit_extra_seq = e->seq++;
		mutex_unlock(&e->s->lock);
	} else {
		c = mst_eng_room(e, need);
		if (IS_ERR(c))
			return PTR_ERR(c);
		c->len += mst_put_crit(c->buf + c->len, sess, e->sub, e->seq++);
	}
	mst_eng_pace(e, need);
	return 0;
}

static int mst_eng_emit_end(struct mst_engine *e)
{
	struct mst_chunk *c;
	int ret;

	while (!mst_eng_reserve(e, MST_END_REC_SIZE)) {
		ret = mst_eng_emit_crit(e);
		if (ret)
			return ret;
	}
	c = mst_eng_room(e, MST_END_REC_SIZE);
	if (IS_ERR(c))
		return PTR_ERR(c);
	mst_put_rec(c->buf + c->len, MST_TAG_END, e->sub, e->seq++, 0, 0, 0);
	c->len += MST_END_REC_SIZE;
	return 0;
}

/* ---- job scheduling ---- */

/*
 * The engines are work items of one workqueue made when the module loads:
 * a session, whose STOP_COPY arc is inside the downtime, creates no thread.
 * Unbound: a job is a pass over a shard that waits for its reader.
 */
static struct workqueue_struct *mst_fw_wq;

int mst_fw_module_init(void)
{
	mst_fw_wq = alloc_workqueue("mst_fw", WQ_UNBOUND, 0);
	return mst_fw_wq ? 0 : -ENOMEM;
}

void mst_fw_module_exit(void)
{
	destroy_workqueue(mst_fw_wq);
}

static void mst_eng_kick_locked(struct mst_engine *e)
{
	lockdep_assert_held(&e->s->lock);
	if (!e->s->closed)
		queue_work(mst_fw_wq, &e->work);
}

static bool mst_eng_busy_locked(struct mst_engine *e)
{
	lockdep_assert_held(&e->s->lock);
	return e->job_active || e->want_pass || e->crit_pending;
}

/* s->lock held: no engine has work left in this pass: -ENOMSG for now. */
static void mst_stream_close_pass_locked(struct mst_stream *s)
{
	u32 i;

	lockdep_assert_held(&s->lock);

	if (!s->pass_open || s->stopcopy || s->closed)
		return;
	for (i = 0; i < s->neng; i++)
		if (mst_eng_busy_locked(&s->eng[i]))
			return;
	s->pass_open = false;
	mst_queue_end_pass(&s->q);
}

static void mst_stream_open_pass_locked(struct mst_stream *s)
{
	lockdep_assert_held(&s->lock);

	if (s->pass_open)
		return;
	s->pass_open = true;
	mst_queue_start_pass(&s->q);
}

/*
 * s->lock held: at the temporary end of a PRE_COPY stream (pass closed,
 * nothing unread) with dirty pages in its shards, start the next pass.
 */
static void mst_stream_next_pass_locked(struct mst_stream *s)
{
	bool dirty = false;
	u32 i;

	lockdep_assert_held(&s->lock);

	if (s->closed || s->pass_open || s->stopcopy ||
	    mst_queue_unread(&s->q))
		return;
	for (i = 0; i < s->neng; i++)
		if (s->eng[i].kind == MST_ENG_PAGES && mst_shard_dirty(&s->eng[i]))
			dirty = true;
	if (!dirty)
		return;
	mst_stream_open_pass_locked(s);
	for (i = 0; i < s->neng; i++) {
		if (s->eng[i].kind != MST_ENG_PAGES)
			continue;
		s->eng[i].want_pass = true;
		mst_eng_kick_locked(&s->eng[i]);
	}
}

/* s->lock held: the next job of @e, with its bytes accounted; or NONE. */
static enum mst_job_kind mst_eng_pick_locked(struct mst_engine *e,
					     struct mst_job *job)
{
	struct mst_stream *s = e->s;
	u64 bytes;

	lockdep_assert_held(&s->lock);

	job->kind = MST_JOB_NONE;
	if (s->closed)
		return MST_JOB_NONE;

	if (e->crit_pending) {
		e->crit_pending = false;
		job->kind = MST_JOB_CRIT;
		bytes = mst_crit_rec_size(s->sess);
		if (mst_eng_carries_crit(e))
			e->wpos += bytes;
	} else if (e->kind != MST_ENG_PAGES) {
		return MST_JOB_NONE;
	} else if (e->want_pass || (e->final && !e->final_snapped)) {
		/* In STOP_COPY a requested pass is the final one. */
		e->want_pass = false;
		if (e->final)
			e->final_snapped = true;
		job->kind = MST_JOB_PASS;
		job->gen = ++e->passes;
		bytes = mst_eng_snapshot_locked(e, e->passes == 1);
	} else if (e->final && !e->end_done) {
		e->end_done = true;
		job->kind = MST_JOB_END;
		bytes = MST_END_REC_SIZE;
	} else {
		return MST_JOB_NONE;
	}

	e->job_active = true;
	e->job_left = bytes;
	e->job_end = s->published + bytes;
	return job->kind;
}

/* s->lock held, mux: once every engine ended, end sub-stream 0 and the FD. */
static void mst_mux_maybe_end_locked(struct mst_stream *s)
{
	struct mst_chunk *c;
	u32 i;

	lockdep_assert_held(&s->lock);

	for (i = 0; i < s->neng; i++)
		if (!s->eng[i].end_done || s->eng[i].job_active)
			return;
	if (s->crit_ended || s->closed)
		return;

	c = s->end_chunk;
	s->end_chunk = NULL;
	mst_put_rec(c->buf, MST_TAG_END, 0, s->crit_seq++, 0, 0, 0);
	c->len = MST_END_REC_SIZE;
	mst_queue_publish_extra(&s->q, c);
	s->crit_extra_last = false;
	s->published += MST_END_REC_SIZE;
	s->crit_ended = true;
	WRITE_ONCE(s->end_done, true);
	mst_queue_end_stream(&s->q);
}

/*
 * s->lock held, v3 stream 0: once every dirty stream has ended, the save is
 * complete; the END goes out as soon as the critical engine owes nothing, by
 * whoever completes that condition (the last dirty END, the critical engine
 * finishing its job), so no reader has to notice it.
 */
void mst_fw_crit_maybe_end_locked(struct mst_stream *s)
{
	struct mst_engine *e = &s->eng[0];
	struct mst_chunk *c;

	lockdep_assert_held(&s->lock);

	if (!s->stopcopy || s->closed || s->crit_ended || e->crit_pending ||
	    e->job_active || s->dirty_ended < s->sess->nfiles - 1)
		return;
	c = s->end_chunk;
	s->end_chunk = NULL;
	/* the engine is idle: its sequence number is ours to use */
	mst_put_rec(c->buf, MST_TAG_END, 0, e->seq++, 0, 0, 0);
	c->len = MST_END_REC_SIZE;
	mst_queue_publish_extra(&s->q, c);
	s->crit_extra_last = false;
	s->published += MST_END_REC_SIZE;
	s->crit_ended = true;
	e->end_done = true;
	WRITE_ONCE(s->end_done, true);
	mst_queue_end_stream(&s->q);
}

static void mst_eng_done_locked(struct mst_engine *e, struct mst_job *job,
				int err)
{
	struct mst_stream *s = e->s;

	lockdep_assert_held(&s->lock);

	e->job_active = false;
	e->job_left = 0;
	if (err)
		return;

	if (job->kind == MST_JOB_END) {
		if (s->sess->mux) {
			mst_mux_maybe_end_locked(s);
		} else {
			WRITE_ONCE(s->end_done, true);
			mst_queue_end_stream(&s->q);
		}
		return;
	}
	if (e->kind == MST_ENG_CRIT)
		mst_fw_crit_maybe_end_locked(s);
	mst_stream_close_pass_locked(s);
}

static int mst_eng_run(struct mst_engine *e, struct mst_job *job)
{
	u64 t0 = ktime_get_ns(), busy;
	int ret = 0;

	e->blocked_ns = 0;
	switch (job->kind) {
	case MST_JOB_PASS:
		ret = mst_eng_emit_pass(e, job->gen);
		break;
	case MST_JOB_CRIT:
		ret = mst_eng_emit_crit(e);
		break;
	case MST_JOB_END:
		ret = mst_eng_emit_end(e);
		break;
	default:
		break;
	}
	if (!ret)
		mst_eng_flush(e);

	busy = ktime_get_ns() - t0;
	busy -= min(busy, e->blocked_ns);
	atomic64_add(busy, &mst_s_dev(e->s)->fw_busy_ns);
	return ret;
}

/*
 * Runs the engine's jobs until it has none; a kick while it runs queues it
 * again, so no job posted is missed.
 */
static void mst_eng_work(struct work_struct *work)
{
	struct mst_engine *e = container_of(work, struct mst_engine, work);
	struct mst_stream *s = e->s;
	struct mem_cgroup *old_memcg;
	enum mst_job_kind kind;
	struct mst_job job;
	int err;

	/* the chunks it allocates are charged to whoever opened the session */
	old_memcg = set_active_memcg(s->sess->memcg);
	while (!e->err) {
		mutex_lock(&s->lock);
		kind = mst_eng_pick_locked(e, &job);
		mutex_unlock(&s->lock);
		if (kind == MST_JOB_NONE)
			break;

		err = mst_eng_run(e, &job);
		mutex_lock(&s->lock);
		mst_eng_done_locked(e, &job, err);
		mutex_unlock(&s->lock);
		e->err = err;
		/* A closed queue is the session ending, not a failure. */
		if (err == -ENODEV || err == -EINTR)
			break;
		if (err)
			mst_queue_set_error(&s->q, err);
		if (s->id && s->sess->protocol == 3 &&
		    (err || job.kind == MST_JOB_END))
			mst_v3_dirty_done(s, err);
	}
	set_active_memcg(old_memcg);
}

/* ---- session start and end ---- */

/* Builds a header chunk: COMPAT (and CRIT) of sub-stream 0, COMPATs of @subs. */
static int mst_stream_header(struct mst_stream *s, bool crit, u32 first_sub,
			     u32 nsubs)
{
	struct mst_sess *sess = s->sess;
	u32 size = nsubs * MST_COMPAT_REC_SIZE, i;
	struct mst_chunk *c;
	u64 crit_end = 0;

	if (crit)
		size += MST_COMPAT_REC_SIZE + mst_crit_rec_size(sess);
	c = mst_chunk_alloc_extra(size);
	if (!c)
		return -ENOMEM;
	if (crit) {
		mst_put_compat(c->buf, sess, 0, 0);
		c->len = MST_COMPAT_REC_SIZE;
		c->len += mst_put_crit(c->buf + c->len, sess, 0, 1);
		crit_end = c->len;
	}
	for (i = 0; i < nsubs; i++) {
		mst_put_compat(c->buf + c->len, sess, first_sub + i, 0);
		c->len += MST_COMPAT_REC_SIZE;
	}
	/*
	 * v2: the first image, every page behind the header, is initial data,
	 * as vfio.h has it and mlx5 counts it; dirty bytes start at 0. v3's
	 * critical stream carries its critical record and nothing else.
	 */
	if (sess->protocol == 2)
		crit_end = c->len +
			   sess->dev->st.nruns * mst_full_run_bytes(sess->maxp);
	mst_acct_init(&s->acct, crit_end);
	if (sess->mux_head) {
		/*
		 * Urgent like the CRIT records that follow it on sub-stream
		 * 0, which must not overtake it. The queue is empty: it is
		 * read first either way.
		 */
		mutex_lock(&s->lock);
		mst_queue_publish_urgent(&s->q, c);
		s->published += size;
		mutex_unlock(&s->lock);
	} else {
		mst_stream_publish(s, c, true, NULL);
	}
	return 0;
}

static int mst_eng_init(struct mst_engine *e, struct mst_stream *s,
			enum mst_eng_kind kind, u32 idx, u32 sub, u32 shard,
			u32 nshards, u64 first_seq)
{
	struct mst_dev *dev = s->sess->dev;

	e->s = s;
	e->kind = kind;
	e->idx = idx;
	e->sub = sub;
	e->shard = shard;
	e->nshards = nshards;
	e->seq = first_seq;
	e->wpos = s->published;
	INIT_WORK(&e->work, mst_eng_work);
	init_waitqueue_head(&e->paceq);
	if (kind == MST_ENG_PAGES) {
		e->nruns = dev->st.nruns > shard ?
			   div_u64(dev->st.nruns - shard - 1, nshards) + 1 : 0;
		e->job_map = bitmap_zalloc(max_t(u64, e->nruns, 1) *
					   MST_SHARD_PAGES, GFP_KERNEL_ACCOUNT);
		if (!e->job_map)
			return -ENOMEM;
	}
	return 0;
}

/**
 * mst_fw_init_save() - set up the queues, headers and engines of a session
 * @sess: a saving session with its protocol, mux, nsub, nfiles and queue
 *	geometry set; its streams' locks initialized.
 *
 * The engine threads are created but not started (mst_fw_go()). On
 * failure, mst_fw_stop() and mst_fw_release() undo what was done.
 */
int mst_fw_init_save(struct mst_sess *sess)
{
	u32 i, nshards, nchunks = sess->read_ahead;
	int ret;

	/*
	 * Read-ahead is per producing engine: the mux stream's E engines share
	 * one queue, so it gets E times the chunks, the memory v3 gives its E
	 * dirty streams. With less they would take turns for free chunks and
	 * the single-FD design would be measured below its strength.
	 */
	if (sess->mux)
		nchunks *= sess->nsub - 1;
	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];
		u32 size = sess->chunk_size;

		/*
		 * v3's critical stream carries CRIT records only (its header
		 * and END are chunks of their own): chunks of one record keep
		 * its memory small and a REINIT from allocating a bulk chunk.
		 */
		if (sess->protocol == 3 && i == 0)
			size = PAGE_ALIGN(mst_crit_rec_size(sess));
		ret = mst_queue_init(&s->q, nchunks, size);
		if (ret)
			return ret;
		s->q_ready = true;
		s->pass_open = true;
	}

	if (sess->protocol == 3) {
		nshards = sess->nfiles - 1;
		sess->neng = sess->nfiles;	/* one per dirty stream + CRIT */
	} else if (sess->mux) {
		nshards = sess->nsub - 1;
		sess->neng = nshards;
	} else {
		nshards = 1;
		sess->neng = 1;
	}
	sess->eng = kcalloc(sess->neng, sizeof(*sess->eng), GFP_KERNEL_ACCOUNT);
	if (!sess->eng)
		return -ENOMEM;

	if (sess->protocol == 3) {
		struct mst_stream *s0 = &sess->s[0];

		s0->end_chunk = mst_chunk_alloc_extra(MST_END_REC_SIZE);
		if (!s0->end_chunk)
			return -ENOMEM;
		ret = mst_stream_header(s0, true, 0, 0);
		if (ret)
			return ret;
		s0->eng = &sess->eng[0];
		s0->neng = 1;
		ret = mst_eng_init(&sess->eng[0], s0, MST_ENG_CRIT, 0, 0, 0, 0, 2);
		if (ret)
			return ret;
		for (i = 1; i < sess->nfiles; i++) {
			struct mst_stream *s = &sess->s[i];

			ret = mst_stream_header(s, false, i, 1);
			if (ret)
				return ret;
			s->eng = &sess->eng[i];
			s->neng = 1;
			ret = mst_eng_init(&sess->eng[i], s, MST_ENG_PAGES, i, i,
					   i - 1, nshards, 1);
			if (ret)
				return ret;
		}
	} else if (sess->mux) {
		struct mst_stream *s = &sess->s[0];

		s->end_chunk = mst_chunk_alloc_extra(MST_END_REC_SIZE);
		if (!s->end_chunk)
			return -ENOMEM;
		ret = mst_stream_header(s, true, 1, nshards);
		if (ret)
			return ret;
		s->crit_seq = 2;
		s->eng = sess->eng;
		s->neng = sess->neng;
		for (i = 0; i < sess->neng; i++) {
			ret = mst_eng_init(&sess->eng[i], s, MST_ENG_PAGES, i,
					   i + 1, i, nshards, 1);
			if (ret)
				return ret;
		}
	} else {
		struct mst_stream *s = &sess->s[0];

		ret = mst_stream_header(s, true, 0, 0);
		if (ret)
			return ret;
		s->eng = sess->eng;
		s->neng = 1;
		ret = mst_eng_init(&sess->eng[0], s, MST_ENG_PAGES, 0, 0, 0, 1, 2);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * mst_fw_go() - start the engines of a new session
 * @sess: the session, set up by mst_fw_init_save().
 * @precopy: the session starts in PRE_COPY (else STOP_COPY).
 */
void mst_fw_go(struct mst_sess *sess, bool precopy)
{
	u32 i;

	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];
		u32 j;

		mutex_lock(&s->lock);
		s->stopcopy = !precopy;
		for (j = 0; j < s->neng; j++) {
			struct mst_engine *e = &s->eng[j];

			if (e->kind != MST_ENG_PAGES)
				continue;
			if (precopy)
				e->want_pass = true;
			else
				e->final = true;
			mst_eng_kick_locked(e);
		}
		/* the v3 critical stream is at its temporary end already */
		if (precopy)
			mst_stream_close_pass_locked(s);
		mutex_unlock(&s->lock);
	}
}

/**
 * mst_fw_stop() - cancel or finish a saving session
 * @sess: the session.
 *
 * Closes every queue (readers get -ENODEV, engines waiting for a chunk wake
 * up) and waits for the engines, which stop at their next record whatever
 * job they are in.
 */
void mst_fw_stop(struct mst_sess *sess)
{
	u32 i;

	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		if (!s->q_ready)
			continue;
		mutex_lock(&s->lock);
		WRITE_ONCE(s->closed, true);
		mutex_unlock(&s->lock);
		mst_queue_close(&s->q);
	}
	for (i = 0; sess->eng && i < sess->neng; i++) {
		struct mst_engine *e = &sess->eng[i];

		if (!e->s)
			continue;	/* never set up */
		wake_up_all(&e->paceq);
		cancel_work_sync(&e->work);
		if (e->cur) {
			mst_queue_put_free(&e->s->q, e->cur);
			e->cur = NULL;
		}
	}
}

/**
 * mst_fw_release() - free what mst_fw_init_save() allocated
 * @sess: the session, stopped, with no reader left.
 */
void mst_fw_release(struct mst_sess *sess)
{
	u32 i;

	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		if (s->q_ready)
			mst_queue_destroy(&s->q);
		s->q_ready = false;
		kvfree(s->end_chunk);
		s->end_chunk = NULL;
	}
	for (i = 0; sess->eng && i < sess->neng; i++)
		bitmap_free(sess->eng[i].job_map);
	kfree(sess->eng);
	sess->eng = NULL;
}

/**
 * mst_fw_stop_copy() - the device entered STOP_COPY
 * @sess: the saving session.
 *
 * Each PAGES engine finishes its job in progress, then makes its final pass
 * (the remaining dirty pages, or every page if it made none) and its END.
 * The v3 critical stream ends once every dirty stream has ended and its
 * engine owes nothing.
 */
void mst_fw_stop_copy(struct mst_sess *sess)
{
	u32 i, j;

	for (i = 0; i < sess->nfiles; i++) {
		struct mst_stream *s = &sess->s[i];

		mutex_lock(&s->lock);
		s->stopcopy = true;
		mst_stream_open_pass_locked(s);
		for (j = 0; j < s->neng; j++) {
			if (s->eng[j].kind != MST_ENG_PAGES)
				continue;
			s->eng[j].final = true;
			mst_eng_kick_locked(&s->eng[j]);
		}
		/* every dirty stream may have been abandoned already */
		if (sess->protocol == 3 && !s->id)
			mst_fw_crit_maybe_end_locked(s);
		mutex_unlock(&s->lock);
	}
}

/* Copies a CRIT record over one of the same seq that no one read yet. */
static void mst_crit_rewrite(struct mst_chunk *c, void *arg)
{
	const struct mst_chunk *src = arg;

	memcpy(c->buf, src->buf, src->len);
}

/*
 * s->lock held: if the extra chunk published last is a CRIT record no read
 * has started on, it takes the current critical data, built in @tmp (a
 * chunk of the record's size), under its own sequence number.
 */
static bool mst_crit_rewrite_unread_locked(struct mst_stream *s,
					   struct mst_chunk *tmp)
{
	lockdep_assert_held(&s->lock);

	if (!s->crit_extra_last)
		return false;
	tmp->len = mst_put_crit(tmp->buf, s->sess, 0, s->crit_extra_seq);
	return mst_queue_rewrite_last_extra(&s->q, mst_crit_rewrite, tmp);
}

/**
 * mst_fw_reinit() - new critical data: bump the generation and queue it
 * @sess: the saving session; dev->sess_lock held.
 *
 * The generation is bumped under the stream's lock, so a REINIT either
 * reaches the stream or is refused: the device never holds critical data
 * that the session it is saving through has stopped carrying.
 *
 * Return: 0, -EBUSY if the stream already sent its last critical data (the
 * save is complete), -ENOMEM.
 */
int mst_fw_reinit(struct mst_sess *sess)
{
	struct mst_dev *dev = sess->dev;
	struct mst_stream *s = &sess->s[0];
	u32 rec = mst_crit_rec_size(sess);
	bool acct = sess->protocol == 3 || READ_ONCE(dev->precopy_v2);
	struct mst_chunk *tmp = NULL;
	struct mst_engine *e;
	u64 pos;

	lockdep_assert_held(&dev->sess_lock);

	if (sess->mux) {
		/*
		 * At once, ahead of what the engines have not published; with
		 * mux-head, ahead of every queued chunk no read has started on.
		 */
		struct mst_chunk *c = mst_chunk_alloc_extra(rec);
		u64 start;

		if (!c)
			return -ENOMEM;
		mutex_lock(&s->lock);
		if (s->closed || s->crit_ended) {
			mutex_unlock(&s->lock);
			kvfree(c);
			return -EBUSY;
		}
		mst_state_bump_crit(&dev->st);
		/* an unread record takes the new content: REINITs do not pile up */
		if (mst_crit_rewrite_unread_locked(s, c)) {
			if (acct)
				mst_acct_flag(&s->acct);
			mutex_unlock(&s->lock);
			kvfree(c);
			return 0;
		}
		s->crit_extra_seq = s->crit_seq;
		c->len = mst_put_crit(c->buf, sess, 0, s->crit_seq++);
		if (sess->mux_head) {
			start = mst_queue_publish_urgent(&s->q, c);
		} else {
			/* s->lock orders every publish: this is exact */
			start = s->published;
			mst_queue_publish_extra(&s->q, c);
		}
		s->crit_extra_last = true;
		s->published += rec;
		/*
		 * The record's own position, not the reader's: the reader
		 * may have read it already.
		 */
		if (acct)
			mst_acct_reinit(&s->acct, start, 0, rec);
		mutex_unlock(&s->lock);
		return 0;
	}

	/*
	 * v2 single and v3: the engine owning sub-stream 0 owes a record. v3:
	 * once every dirty stream has ended the save is complete, and new
	 * critical data could only postpone stream 0's END: refused.
	 */
	if (rec > s->q.chunk_size) {
		tmp = mst_chunk_alloc_extra(rec);
		if (!tmp)
			return -ENOMEM;
	}
	e = &s->eng[0];
	mutex_lock(&s->lock);
	if (s->closed || s->crit_ended || e->end_done ||
	    (sess->protocol == 3 && s->dirty_ended == sess->nfiles - 1)) {
		mutex_unlock(&s->lock);
		kvfree(tmp);
		return -EBUSY;
	}
	mst_state_bump_crit(&dev->st);
	if (e->crit_pending || (tmp && mst_crit_rewrite_unread_locked(s, tmp))) {
		/* the record owed, or one no one read, takes the new content */
		if (acct)
			mst_acct_flag(&s->acct);
	} else {
		/* v2: at the next record boundary; v3: behind older CRIT only */
		if (mst_eng_carries_crit(e))
			e->crit_start = e->wpos;
		else
			e->crit_start = e->job_active ? e->job_end : s->published;
		e->crit_pending = true;
		if (acct) {
			pos = mst_queue_consumed(&s->q);
			mst_acct_reinit(&s->acct, pos, e->crit_start - pos, rec);
		}
	}
	mst_stream_open_pass_locked(s);
	mst_eng_kick_locked(e);
	mutex_unlock(&s->lock);
	kvfree(tmp);
	return 0;
}

/* ---- counts ---- */

/*
 * s->lock held: bytes the stream will have produced in all by its end (an
 * estimate while the workload runs, exact once it is quiesced).
 */
static u64 mst_stream_total_locked(struct mst_stream *s)
{
	struct mst_sess *sess = s->sess;
	u64 total = s->published;
	u32 i;

	lockdep_assert_held(&s->lock);

	if (sess->mux) {
		for (i = 0; i < s->neng; i++) {
			struct mst_engine *e = &s->eng[i];

			total += e->job_left;
			if (!e->final_snapped)
				total += mst_shard_bytes(e, !e->passes);
			if (!e->end_done)
				total += MST_END_REC_SIZE;
		}
		if (!s->crit_ended)
			total += MST_END_REC_SIZE;
		return total;
	}

	for (i = 0; i < s->neng; i++) {
		struct mst_engine *e = &s->eng[i];

		if (e->job_active)
			total = max(total, e->job_end);
		if (e->crit_pending)
			total += mst_crit_rec_size(sess);
		if (e->kind == MST_ENG_PAGES) {
			if (!e->final_snapped)
				total += mst_shard_bytes(e, !e->passes);
			if (!e->end_done)
				total += MST_END_REC_SIZE;
		} else if (!s->crit_ended) {
			total += MST_END_REC_SIZE;
		}
	}
	return total;
}

/**
 * mst_fw_remaining() - bytes a saving stream will still deliver until EOF
 * @s: the stream.
 */
u64 mst_fw_remaining(struct mst_stream *s)
{
	u64 total, pos;

	mutex_lock(&s->lock);
	total = mst_stream_total_locked(s);
	pos = mst_queue_consumed(&s->q);
	mutex_unlock(&s->lock);
	return total > pos ? total - pos : 0;
}

/**
 * mst_fw_full_size() - bytes of a complete save of the state as it is
 * @dev: the device; state_mutex held, state allocated.
 *
 * For the protocol the next session would use.
 */
u64 mst_fw_full_size(struct mst_dev *dev)
{
	u32 maxp = mst_fw_maxp(READ_ONCE(dev->cfg.chunk_size));
	u64 bytes = dev->st.nruns * mst_full_run_bytes(maxp);
	u32 nsub = 1;

	if (dev->num_dirty)
		nsub = dev->num_dirty + 1;
	else if (mst_v2_mode_muxed(READ_ONCE(dev->cfg.v2_mode)))
		nsub = READ_ONCE(dev->cfg.engines) + 1;
	return bytes + (u64)nsub * (MST_COMPAT_REC_SIZE + MST_END_REC_SIZE) +
	       MST_REC_HDR_SIZE + dev->st.crit_size;
}

/* PRE_COPY bytes a dirty stream can still deliver, its END left out. */
static u64 mst_dirty_pending(struct mst_stream *s)
{
	u64 pos, total;

	mutex_lock(&s->lock);
	pos = mst_queue_consumed(&s->q);
	total = mst_stream_total_locked(s);
	if (!s->stopcopy)
		total -= min_t(u64, total, MST_END_REC_SIZE);
	mutex_unlock(&s->lock);
	return total > pos ? total - pos : 0;
}

/**
 * mst_fw_precopy_info() - VFIO_MIG_GET_PRECOPY_INFO of a data_fd
 * @s: v2's stream, or v3's critical stream; the device in PRE_COPY or
 *	PRE_COPY_P2P.
 * @optin: MIG_PRECOPY_INFOv2 was opted into; only then is the REINIT flag
 *	taken and reported.
 * @reinit: out: report VFIO_PRECOPY_INFO_REINIT.
 * @initial: out: v2: what is left of the first image and of any critical
 *	record a REINIT added; v3: critical bytes still to read.
 * @dirty: out: v2: the other bytes the stream can deliver now (0 while
 *	@initial is not, as mlx5 reports); v3: the sum over the dirty streams.
 *
 * v2: starts the next pass at the temporary end of the stream when pages
 * are dirty, as mlx5 does.
 */
void mst_fw_precopy_info(struct mst_stream *s, bool optin, bool *reinit,
			 u64 *initial, u64 *dirty)
{
	struct mst_sess *sess = s->sess;
	u64 pos, total;
	u32 i;

	mutex_lock(&s->lock);
	pos = mst_queue_consumed(&s->q);
	*reinit = optin && mst_acct_take_reinit(&s->acct);
	*initial = mst_acct_pending(&s->acct, pos);
	*dirty = 0;
	if (sess->protocol == 3) {
		mutex_unlock(&s->lock);
		for (i = 1; i < sess->nfiles; i++)
			*dirty += mst_dirty_pending(&sess->s[i]);
		return;
	}
	if (!*reinit && !*initial) {
		mst_stream_next_pass_locked(s);
		total = mst_stream_total_locked(s);
		/* the END records are not dirty data */
		total -= min_t(u64, total, (u64)s->neng * MST_END_REC_SIZE +
				(sess->mux ? MST_END_REC_SIZE : 0));
		*dirty = total > pos ? total - pos : 0;
	}
	mutex_unlock(&s->lock);
}

/**
 * mst_fw_stream_info() - VFIO_MIG_GET_STREAM_INFO of a v3 saving stream
 * @s: the stream; the device in PRE_COPY, PRE_COPY_P2P or STOP_COPY.
 * @info: out: flags, pending_bytes, queued_bytes.
 *
 * Return: 0, or -ENODEV if the stream was torn down.
 */
int mst_fw_stream_info(struct mst_stream *s, struct vfio_mig_stream_info *info)
{
	u64 pos, total;

	mutex_lock(&s->lock);
	if (s->closed) {
		mutex_unlock(&s->lock);
		return -ENODEV;
	}
	if (!s->stopcopy && s->id)
		mst_stream_next_pass_locked(s);

	pos = mst_queue_consumed(&s->q);
	total = mst_stream_total_locked(s);
	if (!s->stopcopy)
		total -= min_t(u64, total, MST_END_REC_SIZE);

	info->flags = 0;
	if (s->id == 0) {
		info->flags |= VFIO_MIG_STREAM_INFO_CRITICAL;
		if (mst_acct_take_reinit(&s->acct))
			info->flags |= VFIO_MIG_STREAM_INFO_REINIT;
		if (!s->stopcopy)
			total = pos + mst_acct_pending(&s->acct, pos);
	}
	if (s->end_done)
		info->flags |= VFIO_MIG_STREAM_INFO_END;
	info->queued_bytes = mst_queue_unread(&s->q);
	info->pending_bytes = max(total > pos ? total - pos : 0,
				  info->queued_bytes);
	mutex_unlock(&s->lock);
	return 0;
}
