// SPDX-License-Identifier: GPL-2.0-only
/*
 * Chunk queue of one migration stream. See mst_queue.h for the ownership
 * rules that let the byte copies run without the spinlock.
 *
 * Locking:
 * - q->lock (spinlock) protects the lists, the byte counters and the state
 *   flags; it is never held across a copy or a sleep.
 * - q->read_lock (mutex) is held by the one reader copying out of the head
 *   of the ready list, and by mst_queue_reset(). Only its holder removes the
 *   head chunk from the ready list, so the head stays valid while it copies
 *   without q->lock. A reader waits for data without holding it.
 */

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "mst_queue.h"

static void mst_chunk_free_extra(struct mst_chunk *c)
{
	if (c->buf != (void *)(c + 1))
		kvfree(c->buf);
	kvfree(c);
}

/**
 * mst_chunk_alloc_extra() - allocate a chunk for mst_queue_publish_extra()
 * @size: capacity of its buffer.
 *
 * One allocation holding the descriptor and the buffer (@buf points just
 * past the descriptor). Callers may also build an extra chunk themselves:
 * see mst_queue_publish_extra().
 *
 * Context: may sleep.
 * Return: the chunk with @cap = @size and @len = 0, or NULL.
 */
struct mst_chunk *mst_chunk_alloc_extra(u32 size)
{
	struct mst_chunk *c;

	c = kvzalloc(sizeof(*c) + (size_t)size, GFP_KERNEL_ACCOUNT);
	if (!c)
		return NULL;
	INIT_LIST_HEAD(&c->node);
	c->buf = c + 1;
	c->cap = size;
	c->extra = true;
	return c;
}

/**
 * mst_queue_init() - set up a queue and its chunk pool
 * @q: the queue.
 * @nchunks: read-ahead, in chunks; at least 1.
 * @chunk_size: bytes per chunk; at least 1.
 *
 * Context: may sleep.
 * Return: 0, -EINVAL for a zero @nchunks or @chunk_size, or -ENOMEM. On
 * failure nothing is left allocated, and mst_queue_destroy() is harmless.
 */
int mst_queue_init(struct mst_queue *q, unsigned int nchunks, u32 chunk_size)
{
	unsigned int i;

	memset(q, 0, sizeof(*q));
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->free);
	INIT_LIST_HEAD(&q->ready);
	mutex_init(&q->read_lock);
	init_waitqueue_head(&q->readq);
	init_waitqueue_head(&q->freeq);

	if (!nchunks || !chunk_size)
		return -EINVAL;

	q->chunks = kvcalloc(nchunks, sizeof(*q->chunks), GFP_KERNEL);
	if (!q->chunks)
		return -ENOMEM;
	for (i = 0; i < nchunks; i++)
		list_add_tail(&q->chunks[i].node, &q->free);
	q->nchunks = nchunks;
	q->chunk_size = chunk_size;
	return 0;
}

/* Takes every chunk off the ready list: pool chunks to @q->free, extras to @extras. */
static void mst_queue_drop_ready_locked(struct mst_queue *q,
					struct list_head *extras)
{
	struct mst_chunk *c, *tmp;

	lockdep_assert_held(&q->lock);

	q->last_extra = NULL;
	list_for_each_entry_safe(c, tmp, &q->ready, node) {
		list_del(&c->node);
		if (c->extra) {
			list_add_tail(&c->node, extras);
		} else {
			c->len = 0;
			c->rpos = 0;
			list_add_tail(&c->node, &q->free);
		}
	}
}

static void mst_queue_free_extras(struct list_head *extras)
{
	struct mst_chunk *c, *tmp;

	list_for_each_entry_safe(c, tmp, extras, node) {
		list_del(&c->node);
		mst_chunk_free_extra(c);
	}
}

/**
 * mst_queue_destroy() - free a queue's chunks
 * @q: the queue.
 *
 * Frees the pool and any unread extra chunk. No producer, reader or poller
 * may remain (a chunk a producer still holds is freed with the pool).
 */
void mst_queue_destroy(struct mst_queue *q)
{
	LIST_HEAD(extras);
	unsigned int i;

	spin_lock(&q->lock);
	mst_queue_drop_ready_locked(q, &extras);
	INIT_LIST_HEAD(&q->free);
	spin_unlock(&q->lock);
	mst_queue_free_extras(&extras);

	for (i = 0; i < q->nchunks; i++)
		kvfree(q->chunks[i].buf);
	kvfree(q->chunks);
	q->chunks = NULL;
	q->nchunks = 0;
	mutex_destroy(&q->read_lock);
}

static struct mst_chunk *mst_queue_take_free_locked(struct mst_queue *q)
{
	struct mst_chunk *c;

	lockdep_assert_held(&q->lock);

	c = list_first_entry_or_null(&q->free, struct mst_chunk, node);
	if (c) {
		list_del_init(&c->node);
		c->len = 0;
		c->rpos = 0;
	}
	return c;
}

/*
 * A pool chunk gets its buffer at its first use, from its producer, not in
 * mst_queue_init(): a saving session sets its queues up in the arc that
 * starts it (for STOP_COPY, inside the downtime), where allocating and
 * zeroing every chunk of every stream at once cost more than filling the
 * first chunks. On failure the chunk goes back to the free list.
 */
static struct mst_chunk *mst_queue_alloc_buf(struct mst_queue *q,
					     struct mst_chunk *c, bool nowait)
{
	c->buf = kvmalloc(q->chunk_size, nowait ?
			  GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT :
			  GFP_KERNEL_ACCOUNT);
	if (c->buf) {
		c->cap = q->chunk_size;
		return c;
	}
	mst_queue_put_free(q, c);
	return ERR_PTR(-ENOMEM);
}

/**
 * mst_queue_get_free() - take a free chunk to fill
 * @q: the queue.
 * @nowait: fail with -EAGAIN instead of sleeping.
 *
 * The chunk belongs to the caller until it gives it back with
 * mst_queue_publish() or mst_queue_put_free().
 *
 * Context: may sleep unless @nowait; no spinlock held.
 * Return: a chunk with @len = 0, ERR_PTR(-ENODEV) once the queue is closed,
 * ERR_PTR(-EAGAIN) when none is free and @nowait, ERR_PTR(-ENOMEM) when
 * the chunk's buffer (allocated at its first use) cannot be had, or
 * ERR_PTR(-EINTR) when a fatal signal arrived while sleeping.
 */
struct mst_chunk *mst_queue_get_free(struct mst_queue *q, bool nowait)
{
	struct mst_chunk *c;
	int ret;

	for (;;) {
		spin_lock(&q->lock);
		if (q->closed) {
			c = ERR_PTR(-ENODEV);
		} else {
			c = mst_queue_take_free_locked(q);
			if (!c && nowait)
				c = ERR_PTR(-EAGAIN);
		}
		spin_unlock(&q->lock);
		if (!IS_ERR_OR_NULL(c) && !c->buf)
			c = mst_queue_alloc_buf(q, c, nowait);
		if (c)
			return c;

		ret = wait_event_killable(q->freeq,
					  READ_ONCE(q->closed) ||
					  !list_empty_careful(&q->free));
		if (ret)
			return ERR_PTR(-EINTR);
	}
}

/* Gives a pool chunk back to the free list, or drops an extra one. */
static bool mst_queue_release_locked(struct mst_queue *q, struct mst_chunk *c)
{
	lockdep_assert_held(&q->lock);

	if (c->extra)
		return true;	/* the caller frees it, outside the lock */
	c->len = 0;
	c->rpos = 0;
	list_add(&c->node, &q->free);
	return false;
}

/*
 * Where an urgent chunk goes: behind the chunk being read or partly read
 * (its remaining bytes must follow the ones already read, or a record would
 * be cut) and behind earlier urgent chunks (they keep their order). Sets
 * @ahead to the unread bytes before that place.
 */
static struct list_head *mst_queue_urgent_place_locked(struct mst_queue *q,
						       u64 *ahead)
{
	struct list_head *after = &q->ready;
	struct mst_chunk *it;

	lockdep_assert_held(&q->lock);

	*ahead = 0;
	list_for_each_entry(it, &q->ready, node) {
		if (!it->urgent && !it->rpos && it != q->reading)
			break;
		*ahead += it->len - it->rpos;
		after = &it->node;
	}
	return after;
}

/* Returns the stream position of @c's first byte (meaningless if dropped). */
static u64 mst_queue_append(struct mst_queue *q, struct mst_chunk *c)
{
	bool appended = false, drop = false;
	u64 pos, ahead;

	spin_lock(&q->lock);
	pos = q->produced;
	if (c->len && !q->closed) {
		c->rpos = 0;
		if (c->urgent) {
			list_add(&c->node, mst_queue_urgent_place_locked(q, &ahead));
			pos = q->consumed + ahead;
		} else {
			list_add_tail(&c->node, &q->ready);
		}
		q->produced += c->len;
		if (c->extra)
			q->last_extra = c;
		appended = true;
	} else {
		drop = mst_queue_release_locked(q, c);
	}
	spin_unlock(&q->lock);

	if (appended)
		wake_up_interruptible_poll(&q->readq, EPOLLIN | EPOLLRDNORM);
	else if (drop)
		mst_chunk_free_extra(c);
	else
		wake_up(&q->freeq);
	return pos;
}

/**
 * mst_queue_publish() - append a filled chunk for the reader
 * @q: the queue.
 * @c: a chunk from mst_queue_get_free() with @len bytes produced.
 *
 * An empty chunk goes straight back to the free list. Once the queue is
 * closed, the chunk goes back to the free list and its data is dropped.
 * Chunks are read in the order they were published, whatever producer
 * published them.
 *
 * Context: any context that may take a spinlock; never sleeps.
 */
void mst_queue_publish(struct mst_queue *q, struct mst_chunk *c)
{
	c->extra = false;
	c->urgent = false;
	mst_queue_append(q, c);
}

/**
 * mst_queue_publish_extra() - append a chunk that is not from the pool
 * @q: the queue.
 * @c: a chunk allocated by the caller, with @buf and @len set.
 *
 * Sets @c->extra. The queue owns @c from now on and frees it with kvfree()
 * once it was read (or on mst_queue_reset() or mst_queue_destroy()), together
 * with its buffer when that is a separate allocation (@buf != @c + 1, as
 * opposed to mst_chunk_alloc_extra()'s single allocation); so @c and @buf
 * must each come from kmalloc() or kvmalloc(). An empty chunk, or one
 * published after mst_queue_close(), is freed at once.
 *
 * Context: process context. Sleeps only when it frees @c at once, since
 * kvfree() of vmalloc()ed memory may; otherwise as mst_queue_publish().
 */
void mst_queue_publish_extra(struct mst_queue *q, struct mst_chunk *c)
{
	c->extra = true;
	c->urgent = false;
	mst_queue_append(q, c);
}

/**
 * mst_queue_publish_urgent() - publish an extra chunk to be read next
 * @q: the queue.
 * @c: as for mst_queue_publish_extra().
 *
 * @c goes ahead of every ready chunk that no read has started on, and
 * behind the chunk a reader is copying from or has partly read, and behind
 * urgent chunks published before it. Chunks must hold whole records, as
 * every producer of this queue's users makes them: @c then lands on a
 * record boundary.
 *
 * Context: as mst_queue_publish_extra().
 * Return: the stream position of @c's first byte, i.e. the bytes read so
 * far plus the unread bytes ahead of @c.
 */
u64 mst_queue_publish_urgent(struct mst_queue *q, struct mst_chunk *c)
{
	c->extra = true;
	c->urgent = true;
	return mst_queue_append(q, c);
}

/**
 * mst_queue_rewrite_last_extra() - update an extra chunk no one read yet
 * @q: the queue.
 * @fn: rewrites the chunk's bytes in place, @len unchanged.
 * @arg: argument of @fn.
 *
 * Only the holder of @q->read_lock copies from or retires a ready chunk, so
 * while this holds it the chunk stays in place and unread. A reader that
 * holds it (it may be stalled in a fault on its buffer) is not waited for.
 *
 * Context: may sleep (@fn may).
 * Return: true if @fn ran.
 */
bool mst_queue_rewrite_last_extra(struct mst_queue *q,
				  void (*fn)(struct mst_chunk *c, void *arg),
				  void *arg)
{
	struct mst_chunk *c;

	if (!mutex_trylock(&q->read_lock))
		return false;
	spin_lock(&q->lock);
	c = q->last_extra;
	if (c && (c->rpos || q->closed))
		c = NULL;
	spin_unlock(&q->lock);
	if (c)
		fn(c, arg);
	mutex_unlock(&q->read_lock);
	return c;
}

/**
 * mst_queue_put_free() - give back an unused chunk
 * @q: the queue.
 * @c: a chunk from mst_queue_get_free().
 *
 * Context: any context that may take a spinlock; never sleeps.
 */
void mst_queue_put_free(struct mst_queue *q, struct mst_chunk *c)
{
	bool drop;

	spin_lock(&q->lock);
	drop = mst_queue_release_locked(q, c);
	spin_unlock(&q->lock);
	if (drop)
		mst_chunk_free_extra(c);
	wake_up(&q->freeq);
}

static void mst_queue_set_flag(struct mst_queue *q, bool *flag, bool val)
{
	spin_lock(&q->lock);
	*flag = val;
	spin_unlock(&q->lock);
	wake_up_interruptible_poll(&q->readq, EPOLLIN | EPOLLRDNORM);
}

/**
 * mst_queue_end_pass() - the producer finished its current pass
 * @q: the queue.
 *
 * Once the ready list is empty, reads return -ENOMSG until
 * mst_queue_start_pass().
 */
void mst_queue_end_pass(struct mst_queue *q)
{
	mst_queue_set_flag(q, &q->pass_end, true);
}

/**
 * mst_queue_start_pass() - the producer starts a new pass
 * @q: the queue.
 */
void mst_queue_start_pass(struct mst_queue *q)
{
	spin_lock(&q->lock);
	q->pass_end = false;
	spin_unlock(&q->lock);
}

/**
 * mst_queue_end_stream() - the producer finished the stream
 * @q: the queue.
 *
 * Once the ready list is empty, reads return 0 (end of file).
 */
void mst_queue_end_stream(struct mst_queue *q)
{
	mst_queue_set_flag(q, &q->stream_end, true);
}

/**
 * mst_queue_set_error() - latch an error for the reader
 * @q: the queue.
 * @err: a negative errno; anything else is ignored.
 *
 * The first error sticks. Once the ready list is empty, reads return it.
 */
void mst_queue_set_error(struct mst_queue *q, int err)
{
	if (err >= 0)
		return;
	spin_lock(&q->lock);
	if (!q->error)
		q->error = err;
	spin_unlock(&q->lock);
	wake_up_interruptible_poll(&q->readq, EPOLLIN | EPOLLRDNORM);
}

/**
 * mst_queue_close() - cancel the stream
 * @q: the queue.
 *
 * Wakes every reader, poller and producer. From now on reads fail with
 * -ENODEV (or the latched error), mst_queue_get_free() with -ENODEV, and
 * published chunks are dropped. Idempotent.
 */
void mst_queue_close(struct mst_queue *q)
{
	spin_lock(&q->lock);
	WRITE_ONCE(q->closed, true);
	spin_unlock(&q->lock);
	wake_up_all(&q->freeq);
	wake_up_interruptible_poll(&q->readq, EPOLLIN | EPOLLRDNORM | EPOLLHUP);
}

/**
 * mst_queue_reset() - empty and reopen a queue for a new session
 * @q: the queue.
 *
 * Unread pool chunks go back to the free list, unread extra chunks are freed,
 * the counters and state flags are cleared. Waits for a reader that is
 * copying. Chunks that producers still hold stay theirs: producers of the old
 * session must be stopped first, or their data lands in the new one.
 *
 * Context: may sleep.
 */
void mst_queue_reset(struct mst_queue *q)
{
	LIST_HEAD(extras);

	mutex_lock(&q->read_lock);
	spin_lock(&q->lock);
	mst_queue_drop_ready_locked(q, &extras);
	q->produced = 0;
	q->consumed = 0;
	q->pass_end = false;
	q->stream_end = false;
	WRITE_ONCE(q->closed, false);
	q->error = 0;
	spin_unlock(&q->lock);
	mutex_unlock(&q->read_lock);

	mst_queue_free_extras(&extras);
	wake_up_all(&q->freeq);
}

/* Internal read statuses, beside the results of mst_queue.h's table. */
#define MST_Q_COPY	1	/* a chunk is ready to copy from */
#define MST_Q_WAIT	2	/* nothing to report: the reader has to wait */

/* What a read finds, in the order of mst_queue.h's table. */
static int mst_queue_read_status_locked(struct mst_queue *q)
{
	lockdep_assert_held(&q->lock);

	if (!q->closed && !list_empty(&q->ready))
		return MST_Q_COPY;
	if (q->error)
		return q->error;
	if (q->closed)
		return -ENODEV;
	if (q->stream_end)
		return 0;
	if (q->pass_end)
		return -ENOMSG;
	return MST_Q_WAIT;
}

static bool mst_queue_readable(struct mst_queue *q)
{
	int st;

	spin_lock(&q->lock);
	st = mst_queue_read_status_locked(q);
	spin_unlock(&q->lock);
	return st != MST_Q_WAIT;
}

/*
 * Copies out of the ready list while @to has room; called with
 * q->read_lock held. Returns the bytes copied, or -EFAULT if nothing could
 * be copied because @to faulted.
 */
static ssize_t mst_queue_copy_out(struct mst_queue *q, struct iov_iter *to)
{
	ssize_t copied = 0;

	lockdep_assert_held(&q->read_lock);

	while (iov_iter_count(to)) {
		struct mst_chunk *c;
		bool retired = false, extra;
		size_t want, n;

		spin_lock(&q->lock);
		c = q->closed ? NULL :
			list_first_entry_or_null(&q->ready, struct mst_chunk, node);
		q->reading = c;
		spin_unlock(&q->lock);
		if (!c)
			break;

		/*
		 * c stays at the head of the ready list until we retire it:
		 * only the read_lock holder does, and urgent chunks go behind
		 * @reading. Copy without q->lock.
		 */
		want = min_t(size_t, c->len - c->rpos, iov_iter_count(to));
		n = copy_to_iter(c->buf + c->rpos, want, to);
		copied += n;

		spin_lock(&q->lock);
		q->reading = NULL;
		c->rpos += n;
		q->consumed += n;
		extra = c->extra;
		if (c->rpos == c->len) {
			list_del_init(&c->node);
			if (c == q->last_extra)
				q->last_extra = NULL;
			retired = true;
			if (!extra) {
				c->len = 0;
				c->rpos = 0;
				list_add_tail(&c->node, &q->free);
			}
		}
		spin_unlock(&q->lock);

		if (retired) {
			/* An extra chunk left every list: it is ours to free. */
			if (extra)
				mst_chunk_free_extra(c);
			else
				wake_up(&q->freeq);
		}
		if (n < want)
			return copied ? copied : -EFAULT;
	}
	return copied;
}

/**
 * mst_queue_read() - read the stream
 * @q: the queue.
 * @to: destination.
 * @nowait: never sleep: -EAGAIN when another reader holds the queue or no
 *	data is ready.
 *
 * Copies as much as is ready, up to iov_iter_count(@to), and returns without
 * waiting once something was copied. Chunks are retired to the free list as
 * they are read, which wakes a waiting producer.
 *
 * Context: process context; may sleep unless @nowait.
 * Return: the bytes copied, or when none could be: the latched error,
 * -ENODEV when closed, 0 at the end of the stream, -ENOMSG at the end of a
 * pass, -EAGAIN when @nowait, -ERESTARTSYS when a signal interrupted the
 * wait, -EFAULT when @to faulted. 0 too when @to is empty.
 */
ssize_t mst_queue_read(struct mst_queue *q, struct iov_iter *to, bool nowait)
{
	ssize_t copied;
	int st;

	if (!iov_iter_count(to))
		return 0;

	for (;;) {
		if (nowait) {
			if (!mutex_trylock(&q->read_lock))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&q->read_lock)) {
			return -ERESTARTSYS;
		}

		for (;;) {
			copied = mst_queue_copy_out(q, to);
			if (copied)
				break;
			spin_lock(&q->lock);
			st = mst_queue_read_status_locked(q);
			spin_unlock(&q->lock);
			/* MST_Q_COPY: a chunk came after the copy loop looked. */
			if (st != MST_Q_COPY)
				break;
		}
		mutex_unlock(&q->read_lock);

		if (copied)
			return copied;
		if (st != MST_Q_WAIT)
			return st;
		if (nowait)
			return -EAGAIN;
		if (wait_event_interruptible(q->readq, mst_queue_readable(q)))
			return -ERESTARTSYS;
	}
}

/**
 * mst_queue_poll() - poll the stream
 * @q: the queue.
 * @filp: the file polled.
 * @wait: the poll table.
 *
 * At the end of a pass there is nothing to read until the producer starts
 * the next one: the stream is not readable, as mlx5vf_save_poll() reports
 * it, so that a poller waits for data instead of spinning on -ENOMSG.
 *
 * Return: EPOLLIN | EPOLLRDNORM when data is ready or a read would return
 * the latched error, -ENODEV or 0; otherwise 0.
 */
__poll_t mst_queue_poll(struct mst_queue *q, struct file *filp,
			poll_table *wait)
{
	int st;

	poll_wait(filp, &q->readq, wait);
	spin_lock(&q->lock);
	st = mst_queue_read_status_locked(q);
	spin_unlock(&q->lock);
	return st == MST_Q_WAIT || st == -ENOMSG ? 0 : EPOLLIN | EPOLLRDNORM;
}

/**
 * mst_queue_unread() - bytes published and not yet read
 * @q: the queue.
 *
 * Return: the bytes a reader could read now without waiting.
 */
u64 mst_queue_unread(struct mst_queue *q)
{
	u64 n;

	spin_lock(&q->lock);
	n = q->produced - q->consumed;
	spin_unlock(&q->lock);
	return n;
}

/**
 * mst_queue_consumed() - the stream position of the reader
 * @q: the queue.
 *
 * Return: bytes read since mst_queue_init() or mst_queue_reset().
 */
u64 mst_queue_consumed(struct mst_queue *q)
{
	u64 n;

	spin_lock(&q->lock);
	n = q->consumed;
	spin_unlock(&q->lock);
	return n;
}

/**
 * mst_queue_drained() - whether the whole stream was read
 * @q: the queue.
 *
 * Return: true once mst_queue_end_stream() was called and every byte
 * published before it was read.
 */
bool mst_queue_drained(struct mst_queue *q)
{
	bool ret;

	spin_lock(&q->lock);
	ret = q->stream_end && list_empty(&q->ready);
	spin_unlock(&q->lock);
	return ret;
}
