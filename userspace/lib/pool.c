// SPDX-License-Identifier: MIT
/*
 * pool.c - the reader pool's front end: streams, their states, events for
 * the controlling thread, cancellation and statistics. The I/O itself is in
 * pool_uring.c (default) and pool_sync.c.
 *
 * A stream's life: ACTIVE (read, write what was read, in order) -> PARKED
 * when a read says ENOMSG (a precopy pass is over) -> ACTIVE again when the
 * controller arms it -> ... -> DONE at end of file once everything read is
 * written, or FAILED.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "pool_internal.h"

#define DEFAULT_QD 8
#define DEFAULT_BUF (1u << 20)
#define MAX_THREADS 64
/* A pool sized by itself: at most this many workers, each with its
 * queue_depth x buf_size of buffers. */
#define AUTO_MAX_THREADS 16

unsigned int pool_auto_threads(unsigned int streams)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int cpus = n > 0 ? n : 1;

	return MIN(MIN(cpus, MAX(streams, 1u)), AUTO_MAX_THREADS);
}

int mstream_pool_create(struct mstream_pool **poolp, const struct mstream_pool_params *params)
{
	struct mstream_pool_params p = params ? *params : (struct mstream_pool_params){ 0 };
	pthread_condattr_t ca;
	struct mstream_pool *pool;

	clear_error();
	if (CHECK_STRUCT("struct mstream_pool_params", &p, POOL_FLAGS))
		return -EINVAL;
	if (p.kind > MSTREAM_POOL_SERIAL)
		return fail(-EINVAL, "unknown pool kind %u", p.kind);
	/* 0: decided at start, from the streams there are then. */
	p.threads = MIN(p.threads, MAX_THREADS);
	if (!p.queue_depth)
		p.queue_depth = DEFAULT_QD;
	if (p.queue_depth > 4096)
		return fail(-EINVAL, "queue depth %u is above 4096", p.queue_depth);
	if (!p.buf_size)
		p.buf_size = DEFAULT_BUF;
	/* Reads and writes move at most INT_MAX bytes; keep buffers page sized. */
	if (p.buf_size > (1u << 30) || p.buf_size < 4096)
		return fail(-EINVAL, "buffer size %zu is outside 4 KiB..1 GiB", p.buf_size);

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->p = p;
	pool->ops = p.kind == MSTREAM_POOL_URING    ? &pool_uring_ops :
		    p.kind == MSTREAM_POOL_THREADS ? &pool_threads_ops :
						     &pool_serial_ops;
	pool->cancel_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool->cancel_efd < 0) {
		free(pool);
		return -errno;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cond, &ca);
	pthread_condattr_destroy(&ca);
	*poolp = pool;
	return 0;
}

int mstream_pool_add(struct mstream_pool *pool, const struct mstream_stream_params *sp,
		     struct mstream_stream **streamp)
{
	struct mstream_stream *s;
	int ret = 0;

	if (CHECK_STRUCT("struct mstream_stream_params", sp, STREAM_FLAGS))
		return -EINVAL;
	if (sp->in_fd < 0)
		return -EBADF;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pool = pool;
	s->in_fd = sp->in_fd;
	s->out_fd = sp->out_fd;
	s->out_off = sp->out_offset;
	s->flags = sp->flags;
	s->user = sp->user;
	s->state = sp->flags & MSTREAM_STREAM_PARKED_START ? MSTREAM_STREAM_PARKED :
							     MSTREAM_STREAM_ACTIVE;
	xxh64_init(&s->hash);

	pthread_mutex_lock(&pool->lock);
	if (pool->closing) {
		ret = -ESHUTDOWN;
		goto out;
	}
	if (pool->nstreams == pool->cap) {
		unsigned int cap = pool->cap ? 2 * pool->cap : 16;
		void *n = realloc(pool->streams, cap * sizeof(*pool->streams));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		pool->streams = n;
		pool->cap = cap;
	}
	s->index = pool->nstreams;
	snprintf(s->name, sizeof(s->name), "%s", sp->name ? sp->name : "");
	if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "stream%u", s->index);
	if (pool->cancel_err) {
		/* Added to a cancelled pool: it fails at once, like the others. */
		s->state = MSTREAM_STREAM_FAILED;
		s->error = pool->cancel_err;
		s->t_end = mstream_now_ns();
	}
	pool->streams[pool->nstreams++] = s;
	if (pool->started && pool->ops->added && s->state != MSTREAM_STREAM_FAILED)
		ret = pool->ops->added(pool, s);
	if (ret)
		pool->nstreams--;
out:
	pthread_mutex_unlock(&pool->lock);
	if (ret) {
		free(s->fifo);
		free(s);
		return ret;
	}
	if (streamp)
		*streamp = s;
	return 0;
}

int mstream_pool_start(struct mstream_pool *pool)
{
	int ret;

	if (pool->started)
		return -EALREADY;
	ret = pool->ops->start ? pool->ops->start(pool) : 0;
	if (!ret)
		pool->started = true;
	return ret;
}

static void wake_waiters(struct mstream_pool *pool)
{
	pool->events++;
	pthread_cond_broadcast(&pool->cond);
}

enum mstream_stream_state stream_state(struct mstream_stream *s)
{
	return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

bool stream_terminal(struct mstream_stream *s)
{
	enum mstream_stream_state st = stream_state(s);

	return st == MSTREAM_STREAM_DONE || st == MSTREAM_STREAM_FAILED;
}

void stream_park(struct mstream_stream *s)
{
	struct mstream_pool *pool = s->pool;

	pthread_mutex_lock(&pool->lock);
	if (s->state == MSTREAM_STREAM_ACTIVE) {
		__atomic_store_n(&s->state, MSTREAM_STREAM_PARKED, __ATOMIC_RELEASE);
		s->parks++;
		wake_waiters(pool);
	}
	pthread_mutex_unlock(&pool->lock);
}

void stream_done(struct mstream_stream *s)
{
	struct mstream_pool *pool = s->pool;

	pthread_mutex_lock(&pool->lock);
	if (s->state != MSTREAM_STREAM_FAILED && s->state != MSTREAM_STREAM_DONE) {
		ATOMIC_STORE(&s->t_end, mstream_now_ns());
		ATOMIC_STORE(&s->checksum, xxh64_digest(&s->hash));
		__atomic_store_n(&s->state, MSTREAM_STREAM_DONE, __ATOMIC_RELEASE);
		wake_waiters(pool);
	}
	pthread_mutex_unlock(&pool->lock);
}

static bool do_fail(struct mstream_stream *s, int err, bool on_write)
{
	struct mstream_pool *pool = s->pool;
	bool did = false;

	pthread_mutex_lock(&pool->lock);
	if (s->state != MSTREAM_STREAM_FAILED && s->state != MSTREAM_STREAM_DONE) {
		s->error = err < 0 ? err : -EIO;
		s->error_on_write = on_write;
		ATOMIC_STORE(&s->t_end, mstream_now_ns());
		__atomic_store_n(&s->state, MSTREAM_STREAM_FAILED, __ATOMIC_RELEASE);
		wake_waiters(pool);
		did = true;
	}
	pthread_mutex_unlock(&pool->lock);
	return did;
}

bool stream_fail(struct mstream_stream *s, int err)
{
	return do_fail(s, err, false);
}

bool stream_fail_write(struct mstream_stream *s, int err)
{
	return do_fail(s, err, true);
}

void pool_mem_get(struct mstream_pool *pool, uint64_t bytes)
{
	uint64_t now = __atomic_add_fetch(&pool->in_use, bytes, __ATOMIC_RELAXED);
	uint64_t peak = ATOMIC_LOAD(&pool->peak);

	while (now > peak &&
	       !__atomic_compare_exchange_n(&pool->peak, &peak, now, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

void pool_mem_put(struct mstream_pool *pool, uint64_t bytes)
{
	__atomic_sub_fetch(&pool->in_use, bytes, __ATOMIC_RELAXED);
}

void stream_account_read(struct mstream_stream *s, const void *buf, size_t n)
{
	uint64_t now = mstream_now_ns();

	if (!s->t_first)
		ATOMIC_STORE(&s->t_first, now);
	ATOMIC_STORE(&s->t_progress, now);
	ATOMIC_ADD(&s->bytes_read, n);
	ATOMIC_ADD(&s->pool->bytes_read, n);
	if (__atomic_load_n(&s->drain, __ATOMIC_ACQUIRE)) {
		if (!s->t_drain_first)
			ATOMIC_STORE(&s->t_drain_first, now);
		ATOMIC_ADD(&s->bytes_drain, n);
	}
	if (s->flags & MSTREAM_STREAM_CHECKSUM)
		xxh64_update(&s->hash, buf, n);
}

void stream_account_write(struct mstream_stream *s, size_t n)
{
	ATOMIC_STORE(&s->t_progress, mstream_now_ns());
	ATOMIC_ADD(&s->bytes_written, n);
	ATOMIC_ADD(&s->pool->bytes_written, n);
}

int mstream_stream_arm(struct mstream_stream *s)
{
	struct mstream_pool *pool = s->pool;
	int ret = 0;

	pthread_mutex_lock(&pool->lock);
	if (s->state == MSTREAM_STREAM_PARKED)
		__atomic_store_n(&s->state, MSTREAM_STREAM_ACTIVE, __ATOMIC_RELEASE);
	else if (s->state != MSTREAM_STREAM_ACTIVE)
		ret = s->state == MSTREAM_STREAM_FAILED ? s->error : -EALREADY;
	if (!ret && pool->started)
		pool->ops->kick(pool, s);
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return ret;
}

int mstream_stream_drain(struct mstream_stream *s)
{
	struct mstream_pool *pool = s->pool;
	int ret;

	pthread_mutex_lock(&pool->lock);
	if (!s->drain) {
		ATOMIC_STORE(&s->t_drain, mstream_now_ns());
		__atomic_store_n(&s->drain, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pool->lock);
	ret = mstream_stream_arm(s);
	return ret == -EALREADY ? 0 : ret; /* already DONE: nothing to drain */
}

static unsigned int pending_locked(struct mstream_pool *pool)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < pool->nstreams; i++)
		n += !stream_terminal(pool->streams[i]);
	return n;
}

int mstream_pool_wait(struct mstream_pool *pool, uint64_t timeout_ns)
{
	uint64_t deadline = mstream_now_ns() + timeout_ns;
	struct timespec ts = { .tv_sec = deadline / NSEC_PER_SEC,
			       .tv_nsec = deadline % NSEC_PER_SEC };
	int n;

	if (pool->ops->run && pool->started)
		pool->ops->run(pool, deadline);
	pthread_mutex_lock(&pool->lock);
	while (!pool->events && timeout_ns && pending_locked(pool)) {
		if (pthread_cond_timedwait(&pool->cond, &pool->lock, &ts) == ETIMEDOUT)
			break;
	}
	n = pool->events;
	pool->events = 0;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

unsigned int mstream_pool_pending(struct mstream_pool *pool)
{
	unsigned int n;

	pthread_mutex_lock(&pool->lock);
	n = pending_locked(pool);
	pthread_mutex_unlock(&pool->lock);
	return n;
}

int mstream_pool_cancel(struct mstream_pool *pool, int err)
{
	uint64_t one = 1;

	if (err >= 0)
		err = -ECANCELED;
	pthread_mutex_lock(&pool->lock);
	if (!pool->cancel_err) {
		pool->cancel_err = err;
		/* The sync back ends poll this FD next to the stream's. */
		if (write(pool->cancel_efd, &one, sizeof(one)) < 0)
			pool->cancel_err = err; /* a full counter is readable anyway */
		if (pool->started)
			pool->ops->kick(pool, NULL);
		/* Streams that never started (parked, or the pool not started)
		 * have no I/O to wait for: fail them here. */
		for (unsigned int i = 0; i < pool->nstreams; i++) {
			struct mstream_stream *s = pool->streams[i];

			if (!pool->started || s->state == MSTREAM_STREAM_PARKED) {
				if (s->state == MSTREAM_STREAM_DONE ||
				    s->state == MSTREAM_STREAM_FAILED)
					continue;
				s->error = err;
				ATOMIC_STORE(&s->t_end, mstream_now_ns());
				__atomic_store_n(&s->state, MSTREAM_STREAM_FAILED,
						 __ATOMIC_RELEASE);
			}
		}
		wake_waiters(pool);
	}
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

int mstream_pool_get_stats(struct mstream_pool *pool, struct mstream_pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->kind = pool->p.kind;
	pthread_mutex_lock(&pool->lock);
	st->threads = pool->p.kind == MSTREAM_POOL_URING   ? pool->p.threads :
		      pool->p.kind == MSTREAM_POOL_THREADS ? pool->nstreams :
							     0;
	st->streams = pool->nstreams;
	st->fixed_buffers = pool->fixed;
	pthread_mutex_unlock(&pool->lock);
	st->queue_depth = pool->p.queue_depth;
	st->buf_size = pool->p.buf_size;
	st->alloc_bytes = ATOMIC_LOAD(&pool->alloc);
	st->peak_bytes = ATOMIC_LOAD(&pool->peak);
	st->in_use_bytes = ATOMIC_LOAD(&pool->in_use);
	st->bytes_read = ATOMIC_LOAD(&pool->bytes_read);
	st->bytes_written = ATOMIC_LOAD(&pool->bytes_written);
	st->reads = ATOMIC_LOAD(&pool->reads);
	st->writes = ATOMIC_LOAD(&pool->writes);
	st->polls = ATOMIC_LOAD(&pool->polls);
	st->eagains = ATOMIC_LOAD(&pool->eagains);
	return 0;
}

int mstream_stream_get_stats(struct mstream_stream *s, struct mstream_stream_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->pool->lock);
	st->state = s->state;
	st->error = s->error;
	st->error_on_write = s->error_on_write;
	st->parks = s->parks;
	pthread_mutex_unlock(&s->pool->lock);
	st->critical = s->flags & MSTREAM_STREAM_CRITICAL;
	st->bytes_read = ATOMIC_LOAD(&s->bytes_read);
	st->bytes_written = ATOMIC_LOAD(&s->bytes_written);
	st->bytes_drain = ATOMIC_LOAD(&s->bytes_drain);
	st->t_first_ns = ATOMIC_LOAD(&s->t_first);
	st->t_drain_ns = ATOMIC_LOAD(&s->t_drain);
	st->t_drain_first_ns = ATOMIC_LOAD(&s->t_drain_first);
	st->t_end_ns = ATOMIC_LOAD(&s->t_end);
	st->t_progress_ns = ATOMIC_LOAD(&s->t_progress);
	st->busy = ATOMIC_LOAD(&s->io_busy);
	st->write_busy = ATOMIC_LOAD(&s->io_write_busy);
	st->has_checksum = st->state == MSTREAM_STREAM_DONE && (s->flags & MSTREAM_STREAM_CHECKSUM);
	st->checksum = st->has_checksum ? ATOMIC_LOAD(&s->checksum) : 0;
	return 0;
}

const char *mstream_stream_name(const struct mstream_stream *s)
{
	return s->name;
}

void *mstream_stream_user(const struct mstream_stream *s)
{
	return s->user;
}

void mstream_pool_destroy(struct mstream_pool *pool)
{
	if (!pool)
		return;
	if (mstream_pool_pending(pool))
		mstream_pool_cancel(pool, -ECANCELED);
	pthread_mutex_lock(&pool->lock);
	pool->closing = true;
	if (pool->started)
		pool->ops->kick(pool, NULL);
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	if (pool->started && pool->ops->stop)
		pool->ops->stop(pool);
	for (unsigned int i = 0; i < pool->nstreams; i++) {
		free(pool->streams[i]->fifo);
		free(pool->streams[i]);
	}
	free(pool->streams);
	free(pool->sbuf);
	close(pool->cancel_efd);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
