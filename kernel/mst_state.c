// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-mstream: the device state (bulk pages and critical region), its
 * checksum, the guest-workload simulator and the destination's apply
 * callbacks.
 *
 * Bulk state, per 4 KiB page p:
 * - memory backing: the bytes, in one vmalloc area;
 * - pattern backing: a 32-bit version ver[p]; the page content is
 *   mst_pattern_fill(p, ver[p]), so a state of many GiB needs 4 bytes of RAM
 *   per page, and the destination recovers ver[p] from the content.
 *
 * The workload writes a page, then sets its dirty bit (atomic, ordered after
 * the write). The saver clears the bit, then copies the page: a page written
 * during the copy has its bit set again and goes out with the next pass.
 */

#include <linux/bitmap.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/xxhash.h>

#include "mst.h"

#define MST_PAT_MAGIC		0x4d535450ULL	/* "MSTP", high word of word 1 */
#define MST_WL_TICK_MS		10

void mst_cfg_defaults(struct mst_cfg *cfg)
{
	cfg->state_size = MST_DEF_STATE_SIZE;
	cfg->backing = MST_BACKING_MEMORY;
	cfg->crit_size = MST_DEF_CRIT_SIZE;
	cfg->dirty_rate = 0;
	cfg->dirty_pattern = MST_DIRTY_UNIFORM;
	cfg->reinit_period_ms = 0;
	cfg->engines = MST_DEF_ENGINES;
	cfg->v2_mode = MST_V2_SINGLE;
	cfg->engine_bw = 0;
	cfg->chunk_size = MST_DEF_CHUNK_SIZE;
	cfg->read_ahead = MST_DEF_READ_AHEAD;
	cfg->integrity = MST_INTEGRITY_CRC;
}

static u64 mst_mix64(u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The content of a pattern page: (page, version) and a Weyl sequence. */
static void mst_pattern_fill(void *dst, u64 page, u32 ver)
{
	__le64 *w = dst;
	u64 x = mst_mix64(page ^ ((u64)ver << 40) ^ 0x6a09e667f3bcc909ULL);
	unsigned int i;

	w[0] = cpu_to_le64(page);
	w[1] = cpu_to_le64(MST_PAT_MAGIC << 32 | ver);
	for (i = 2; i < MST_PAGE_SIZE / sizeof(u64); i++) {
		x += 0x9e3779b97f4a7c15ULL;
		w[i] = cpu_to_le64(x);
	}
}

/* Recovers the version of a pattern page; -EINVAL if it is not one. */
static int mst_pattern_parse(const void *src, u64 page, u32 *ver)
{
	const __le64 *w = src;
	u64 w1 = le64_to_cpu(w[1]);

	if (le64_to_cpu(w[0]) != page || (w1 >> 32) != MST_PAT_MAGIC)
		return -EINVAL;
	*ver = (u32)w1;
	return 0;
}

static u32 mst_initial_ver(u64 seed, u64 page)
{
	return (u32)mst_mix64(seed ^ (page * 0x2545f4914f6cdd1dULL));
}

/* crit_lock held: the content of critical generation st->crit_gen. */
static void mst_crit_fill_locked(struct mst_state *st)
{
	u64 base = mst_mix64(st->seed ^ (st->crit_gen << 17) ^ 0xc2b2ae3d27d4eb4fULL);
	u32 i;

	lockdep_assert_held(&st->crit_lock);

	for (i = 0; i < st->crit_size; i += sizeof(u64)) {
		__le64 v = cpu_to_le64(mst_mix64(base + i));

		memcpy(st->crit + i, &v, min_t(u32, sizeof(v), st->crit_size - i));
	}
}

/**
 * mst_state_fresh() - give the device a fresh, random state
 * @dev: the device; state_mutex held, the workload quiesced, no session.
 */
void mst_state_fresh(struct mst_dev *dev)
{
	struct mst_state *st = &dev->st;
	u64 p;

	lockdep_assert_held(&dev->state_mutex);
	if (!st->ready)
		return;

	st->seed = st->next_seed;
	st->next_seed = get_random_u64();
	for (p = 0; p < st->npages; p++) {
		u32 ver = mst_initial_ver(st->seed, p);

		if (st->backing == MST_BACKING_MEMORY)
			mst_pattern_fill(st->mem + (p << MST_PAGE_SHIFT), p, ver);
		else
			st->ver[p] = ver;
		if (!(p % MST_SHARD_PAGES))
			cond_resched();
	}
	bitmap_zero(st->dirty, st->npages);

	mutex_lock(&st->crit_lock);
	st->crit_gen = 1;
	mst_crit_fill_locked(st);
	mutex_unlock(&st->crit_lock);
}

/**
 * mst_state_free() - free the state's buffers
 * @dev: the device; state_mutex held, not opened.
 */
void mst_state_free(struct mst_dev *dev)
{
	struct mst_state *st = &dev->st;

	vfree(st->mem);
	st->mem = NULL;
	vfree(st->ver);
	st->ver = NULL;
	vfree(st->dirty);
	st->dirty = NULL;
	kvfree(st->crit);
	st->crit = NULL;
	st->ready = false;
}

/**
 * mst_state_ensure() - allocate the state for the configured geometry
 * @dev: the device; state_mutex held.
 *
 * The state keeps its content across opens; it is allocated on first need
 * and freed when a geometry knob changes.
 *
 * Return: 0 or -ENOMEM.
 */
int mst_state_ensure(struct mst_dev *dev)
{
	struct mst_state *st = &dev->st;
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL;

	lockdep_assert_held(&dev->state_mutex);
	if (st->ready)
		return 0;

	st->size = dev->cfg.state_size;
	st->npages = st->size >> MST_PAGE_SHIFT;
	st->nruns = st->npages / MST_SHARD_PAGES;
	st->backing = dev->cfg.backing;
	st->crit_size = dev->cfg.crit_size;

	st->dirty = __vmalloc(BITS_TO_LONGS(st->npages) * sizeof(long),
			      gfp | __GFP_ZERO);
	if (!st->dirty)
		goto err_free_state;
	if (st->backing == MST_BACKING_MEMORY)
		st->mem = __vmalloc(st->size, gfp);
	else
		st->ver = __vmalloc(st->npages * sizeof(u32), gfp);
	if (!st->mem && !st->ver)
		goto err_free_state;
	st->crit = kvzalloc(st->crit_size, GFP_KERNEL);
	if (!st->crit)
		goto err_free_state;

	st->ready = true;
	mst_state_fresh(dev);
	return 0;

err_free_state:
	mst_state_free(dev);
	return -ENOMEM;
}

/**
 * mst_state_checksum() - hash of the bulk and critical state
 * @dev: the device; state_mutex held, state allocated, wl_lock held (the
 *	workload writes the pages hashed here).
 *
 * Pattern backing hashes the per-page versions, not the bytes they stand
 * for, so that a state of many GiB hashes fast; equal versions mean equal
 * bytes.
 */
u64 mst_state_checksum(struct mst_dev *dev)
{
	struct mst_state *st = &dev->st;
	struct xxh64_state xs;
	u64 h;

	lockdep_assert_held(&dev->state_mutex);
	lockdep_assert_held(&dev->wl_lock);

	xxh64_reset(&xs, st->backing);
	if (st->backing == MST_BACKING_MEMORY) {
		u64 off;

		for (off = 0; off < st->size; off += MST_REC_MAX_PAYLOAD) {
			xxh64_update(&xs, st->mem + off,
				     min_t(u64, MST_REC_MAX_PAYLOAD, st->size - off));
			cond_resched();
		}
	} else {
		xxh64_update(&xs, st->ver, st->npages * sizeof(u32));
	}
	h = xxh64_digest(&xs);

	mutex_lock(&st->crit_lock);
	h = xxh64(st->crit, st->crit_size, h);
	mutex_unlock(&st->crit_lock);
	return h;
}

/* Bytes buffered on the stack for the hash of a state not allocated. */
#define MST_SUM_WORDS	8

/**
 * mst_state_checksum_unallocated() - mst_state_checksum() of the state the
 *	first allocation will create, without allocating it
 * @dev: the device; state_mutex held, state not allocated.
 *
 * A fresh state is a function of its seed, chosen ahead (@next_seed): its
 * bytes (memory backing) or versions (pattern), then its critical region,
 * are generated and hashed a few words at a time, as mst_state_fresh() and
 * mst_state_checksum() would make and hash them.
 */
u64 mst_state_checksum_unallocated(struct mst_dev *dev)
{
	struct mst_state *st = &dev->st;
	u64 size = READ_ONCE(dev->cfg.state_size);
	u32 backing = READ_ONCE(dev->cfg.backing);
	u32 crit_size = READ_ONCE(dev->cfg.crit_size);
	u64 npages = size >> MST_PAGE_SHIFT, p, base, x, h;
	__le64 w[MST_SUM_WORDS];
	u32 v[MST_SUM_WORDS], i, n;
	struct xxh64_state xs;

	lockdep_assert_held(&dev->state_mutex);

	xxh64_reset(&xs, backing);
	for (p = 0; p < npages; p++) {
		u32 ver = mst_initial_ver(st->next_seed, p);

		if (backing == MST_BACKING_PATTERN) {
			v[p % MST_SUM_WORDS] = ver;
			if (p % MST_SUM_WORDS == MST_SUM_WORDS - 1 || p == npages - 1)
				xxh64_update(&xs, v, (p % MST_SUM_WORDS + 1) *
					     sizeof(u32));
			continue;
		}
		/* mst_pattern_fill(), a few words at a time */
		x = mst_mix64(p ^ ((u64)ver << 40) ^ 0x6a09e667f3bcc909ULL);
		w[0] = cpu_to_le64(p);
		w[1] = cpu_to_le64(MST_PAT_MAGIC << 32 | ver);
		for (i = 2; i < MST_PAGE_SIZE / sizeof(u64); i++) {
			x += 0x9e3779b97f4a7c15ULL;
			w[i % MST_SUM_WORDS] = cpu_to_le64(x);
			if (i % MST_SUM_WORDS == MST_SUM_WORDS - 1)
				xxh64_update(&xs, w, sizeof(w));
		}
		if (!(p % MST_SHARD_PAGES))
			cond_resched();
	}
	h = xxh64_digest(&xs);

	/* mst_crit_fill_locked() of generation 1 */
	base = mst_mix64(st->next_seed ^ (1ULL << 17) ^ 0xc2b2ae3d27d4eb4fULL);
	xxh64_reset(&xs, h);
	for (i = 0; i < crit_size; i += n) {
		n = min_t(u32, sizeof(w), crit_size - i);
		for (x = 0; x < MST_SUM_WORDS; x++)
			w[x] = cpu_to_le64(mst_mix64(base + i + x * sizeof(u64)));
		xxh64_update(&xs, w, n);
	}
	return xxh64_digest(&xs);
}

/**
 * mst_state_read_page() - the saver's copy of one bulk page
 * @dev: the device.
 * @page: page index.
 * @dst: 4 KiB.
 */
void mst_state_read_page(struct mst_dev *dev, u64 page, void *dst)
{
	struct mst_state *st = &dev->st;

	if (st->backing == MST_BACKING_MEMORY)
		memcpy(dst, st->mem + (page << MST_PAGE_SHIFT), MST_PAGE_SIZE);
	else
		mst_pattern_fill(dst, page, READ_ONCE(st->ver[page]));
}

/**
 * mst_state_copy_crit() - copy the critical region
 * @dev: the device.
 * @dst: crit_size bytes.
 *
 * Return: the generation copied.
 */
u64 mst_state_copy_crit(struct mst_dev *dev, void *dst)
{
	struct mst_state *st = &dev->st;
	u64 gen;

	mutex_lock(&st->crit_lock);
	memcpy(dst, st->crit, st->crit_size);
	gen = st->crit_gen;
	mutex_unlock(&st->crit_lock);
	return gen;
}

/* A new critical generation: the device was reconfigured. */
void mst_state_bump_crit(struct mst_state *st)
{
	mutex_lock(&st->crit_lock);
	st->crit_gen++;
	mst_crit_fill_locked(st);
	mutex_unlock(&st->crit_lock);
}

/**
 * mst_state_reinit() - the device was reconfigured: new critical state
 * @dev: the device, with its state allocated and kept so by the caller
 *	(state_mutex held, or the workload running on an opened device).
 *
 * Rewrites the critical region and bumps its generation; a saving session,
 * if any, queues the new CRIT record as its protocol says.
 *
 * Return: 0, or -EBUSY if the saving session already sent its last critical
 * data: the change is refused rather than lost on the way to the
 * destination.
 */
int mst_state_reinit(struct mst_dev *dev)
{
	int ret = 0;

	mutex_lock(&dev->sess_lock);
	if (dev->reinit_sess)
		ret = mst_fw_reinit(dev->reinit_sess);
	else
		mst_state_bump_crit(&dev->st);
	mutex_unlock(&dev->sess_lock);
	return ret;
}

/* What the session's COMPAT records say, or what they must say. */
void mst_state_geometry(struct mst_sess *sess, struct mst_geometry *geo)
{
	struct mst_dev *dev = sess->dev;

	memset(geo, 0, sizeof(*geo));
	strscpy_pad(geo->type, MST_NAME, sizeof(geo->type));
	geo->protocol = sess->protocol;
	geo->nstreams = sess->nsub;
	geo->state_size = dev->st.size;
	geo->crit_size = dev->st.crit_size;
	geo->backing = dev->st.backing;
	geo->integrity = sess->integrity;
}

/* ---- destination: apply callbacks of the resume parser ---- */

static int mst_apply_crit(void *priv, u64 gen, const void *data, u32 len,
			  bool nowait)
{
	struct mst_sess *sess = priv;
	struct mst_state *st = &sess->dev->st;

	if (len != st->crit_size)
		return -EINVAL;
	if (!nowait)
		mutex_lock(&st->crit_lock);
	else if (!mutex_trylock(&st->crit_lock))
		return -EAGAIN;
	if (!sess->crit_applied || gen >= sess->crit_gen) {
		memcpy(st->crit, data, len);
		st->crit_gen = gen;
		sess->crit_gen = gen;
		sess->crit_applied = true;
	}
	mutex_unlock(&st->crit_lock);
	return 0;
}

static int mst_apply_pages(void *priv, u64 offset, u64 gen, const void *data,
			   u32 len)
{
	struct mst_sess *sess = priv;
	struct mst_state *st = &sess->dev->st;
	u64 first = offset >> MST_PAGE_SHIFT;
	u32 g = (u32)min_t(u64, gen, U32_MAX - 1) + 1;
	u32 i, n = len >> MST_PAGE_SHIFT;

	u32 ver;
	int ret;

	/* The parser checked alignment and range; stay safe regardless. */
	if ((offset | len) & (MST_PAGE_SIZE - 1) || first + n > st->npages)
		return -ERANGE;

	/* the whole record is checked before any page of it is applied */
	for (i = 0; st->backing == MST_BACKING_PATTERN && i < n; i++) {
		ret = mst_pattern_parse(data + ((size_t)i << MST_PAGE_SHIFT),
					first + i, &ver);
		if (ret)
			return ret;
	}

	for (i = 0; i < n; i++) {
		const void *src = data + ((size_t)i << MST_PAGE_SHIFT);
		u64 p = first + i;

		if (g < sess->rx_gen[p])
			continue;	/* an older capture of a newer page */
		if (st->backing == MST_BACKING_MEMORY) {
			memcpy(st->mem + (p << MST_PAGE_SHIFT), src,
			       MST_PAGE_SIZE);
		} else {
			mst_pattern_parse(src, p, &ver);
			WRITE_ONCE(st->ver[p], ver);
		}
		sess->rx_gen[p] = g;
	}
	return 0;
}

const struct mst_rx_ops mst_rx_ops = {
	.apply_crit = mst_apply_crit,
	.apply_pages = mst_apply_pages,
};

/* ---- the guest-workload simulator ---- */

/* wl_lock held, workload active: dirty @n pages. */
static void mst_wl_dirty_locked(struct mst_dev *dev, u64 n)
{
	struct mst_state *st = &dev->st;
	bool hot = READ_ONCE(dev->cfg.dirty_pattern) == MST_DIRTY_HOT;
	u64 hot_groups = max_t(u64, st->npages / 16, 1);

	lockdep_assert_held(&dev->wl_lock);

	while (n--) {
		u64 p;

		if (hot)
			p = (u64)get_random_u32_below((u32)hot_groups) * 16;
		else
			p = get_random_u32_below((u32)st->npages);
		if (p >= st->npages)
			continue;

		if (st->backing == MST_BACKING_MEMORY)
			mst_pattern_fill(st->mem + (p << MST_PAGE_SHIFT), p,
					 ++st->wl_ver);
		else
			WRITE_ONCE(st->ver[p], READ_ONCE(st->ver[p]) + 1);
		/* the content before the bit: the saver clears, then copies */
		smp_mb__before_atomic();
		set_bit(p, st->dirty);
		if (!(n % 1024))
			cond_resched();
	}
}

static int mst_wl_thread(void *arg)
{
	struct mst_dev *dev = arg;
	u64 last = ktime_get_ns(), last_reinit = last, acc = 0;

	while (!kthread_should_stop()) {
		u64 rate = READ_ONCE(dev->cfg.dirty_rate);
		u32 period = READ_ONCE(dev->cfg.reinit_period_ms);
		u64 now, dt;

		if (!rate && !period) {
			wait_event_interruptible_timeout(dev->wl_wq,
				kthread_should_stop() || READ_ONCE(dev->wl_kick),
				HZ);
			WRITE_ONCE(dev->wl_kick, false);
			last = ktime_get_ns();
			last_reinit = last;
			acc = 0;
			continue;
		}

		schedule_timeout_interruptible(msecs_to_jiffies(MST_WL_TICK_MS));

		mutex_lock(&dev->wl_lock);
		/* the knobs as they are now: a store waits for this batch */
		rate = READ_ONCE(dev->cfg.dirty_rate);
		period = READ_ONCE(dev->cfg.reinit_period_ms);
		now = ktime_get_ns();
		dt = min_t(u64, now - last, NSEC_PER_SEC);
		last = now;
		if (dev->wl_active) {
			if (rate) {
				u64 n;

				/* pages owed, in units of 1/NSEC_PER_SEC page */
				acc += min_t(u64, rate, 1ULL << 32) * dt;
				n = div64_u64(acc, NSEC_PER_SEC);
				acc -= n * NSEC_PER_SEC;
				mst_wl_dirty_locked(dev,
						    min_t(u64, n, dev->st.npages));
			} else {
				acc = 0;
			}
			if (period && now - last_reinit >=
				      (u64)period * NSEC_PER_MSEC) {
				last_reinit = now;
				mst_state_reinit(dev);
			}
		} else {
			last_reinit = now;
			acc = 0;
		}
		mutex_unlock(&dev->wl_lock);
	}
	return 0;
}

/**
 * mst_wl_start() - start the workload thread of an opened device
 * @dev: the device; state_mutex held, state allocated.
 */
int mst_wl_start(struct mst_dev *dev)
{
	struct task_struct *t;

	lockdep_assert_held(&dev->state_mutex);

	dev->wl_active = false;
	t = kthread_run(mst_wl_thread, dev, "mst-wl/%s",
			dev_name(dev->vdev.dev));
	if (IS_ERR(t))
		return PTR_ERR(t);
	dev->wl_task = t;
	return 0;
}

/**
 * mst_wl_stop() - stop the workload thread
 * @dev: the device; state_mutex held.
 */
void mst_wl_stop(struct mst_dev *dev)
{
	lockdep_assert_held(&dev->state_mutex);

	if (!dev->wl_task)
		return;
	kthread_stop(dev->wl_task);
	dev->wl_task = NULL;
	dev->wl_active = false;
}

/**
 * mst_wl_set_active() - let the workload run, or quiesce it
 * @dev: the device; state_mutex held.
 * @active: the device is in RUNNING or PRE_COPY.
 *
 * Returns once the workload no longer writes the state when @active is
 * false.
 */
void mst_wl_set_active(struct mst_dev *dev, bool active)
{
	lockdep_assert_held(&dev->state_mutex);

	mutex_lock(&dev->wl_lock);
	dev->wl_active = active && dev->wl_task;
	mutex_unlock(&dev->wl_lock);
	if (active) {
		WRITE_ONCE(dev->wl_kick, true);
		wake_up_interruptible(&dev->wl_wq);
	}
}

/**
 * mst_wl_kick() - a workload knob changed
 * @dev: the device.
 *
 * Returns once a batch of the workload running with the old values is over,
 * so that, say, dirty_rate 0 means no page is written after the store.
 */
void mst_wl_kick(struct mst_dev *dev)
{
	mutex_lock(&dev->wl_lock);
	mutex_unlock(&dev->wl_lock);
	WRITE_ONCE(dev->wl_kick, true);
	wake_up_interruptible(&dev->wl_wq);
}
