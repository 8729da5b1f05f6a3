// SPDX-License-Identifier: MIT
/*
 * pool_sync.c - the two reference readers the benchmark compares with:
 *
 *  THREADS: one thread per stream, blocking read() of buf_size then write()
 *	     of it: QEMU's multifd model, where a dedicated thread reads a
 *	     device's data_fd 1 MiB at a time.
 *  SERIAL:  no thread at all; mstream_pool_wait() reads the streams one after
 *	     the other in the caller's thread: today's VMM loop.
 *
 * Both share the pool's stream semantics (ENOMSG parks, 0 ends, in-order
 * writes) so that a benchmark changes the reader and nothing else. A poll()
 * with the pool's cancel eventfd precedes each read and each retried write,
 * so cancelling never waits for a peer; a write already in the kernel waits
 * until it moves (or the peer's FD is shut down).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pool_internal.h"

/* 0 when fd is ready (or in error: the next call reports it), -ECANCELED
 * once the pool is cancelled, -ETIMEDOUT at the deadline (0: none). */
static int wait_fd(struct mstream_pool *pool, int fd, short ev, uint64_t deadline)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = ev },
				 { .fd = pool->cancel_efd, .events = POLLIN } };

	for (;;) {
		int ms = -1, r;

		if (deadline) {
			uint64_t now = mstream_now_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			ms = (deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		}
		r = poll(pfd, 2, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (pfd[1].revents)
			return -ECANCELED;
		if (pfd[0].revents)
			return 0;
	}
}

static int cancel_err(struct mstream_pool *pool)
{
	int err;

	pthread_mutex_lock(&pool->lock);
	err = pool->cancel_err;
	pthread_mutex_unlock(&pool->lock);
	return err;
}

static int write_out(struct mstream_pool *pool, struct mstream_stream *s, const char *buf,
		     size_t n)
{
	size_t off = 0;

	if (s->out_fd < 0) {
		stream_account_write(s, n);
		return 0;
	}
	while (off < n) {
		ssize_t w;

		ATOMIC_ADD(&pool->writes, 1);
		if (s->flags & STREAM_F_SOCKET)
			w = send(s->out_fd, buf + off, n - off, MSG_NOSIGNAL);
		else if (s->out_off >= 0)
			w = pwrite(s->out_fd, buf + off, n - off, s->out_off);
		else
			w = write(s->out_fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			int ret = wait_fd(pool, s->out_fd, POLLOUT, 0);

			if (ret)
				return ret == -ECANCELED ? cancel_err(pool) : ret;
			continue;
		}
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += w;
		if (s->out_off >= 0)
			s->out_off += w;
		stream_account_write(s, w);
	}
	return 0;
}

/*
 * One read and the writes of what it returned. Returns 1 when the stream may
 * go on, 0 when it parked, ended or failed, or -ETIMEDOUT at the deadline.
 */
static int step(struct mstream_pool *pool, struct mstream_stream *s, char *buf, uint64_t deadline)
{
	bool drain = __atomic_load_n(&s->drain, __ATOMIC_ACQUIRE);
	ssize_t n;
	int ret;

	ret = wait_fd(pool, s->in_fd, POLLIN, deadline);
	if (ret == -ETIMEDOUT)
		return ret;
	if (ret) {
		stream_fail(s, ret == -ECANCELED ? cancel_err(pool) : ret);
		return 0;
	}
	ATOMIC_STORE(&s->io_busy, true);
	pool_mem_get(pool, pool->p.buf_size);
	ATOMIC_ADD(&pool->polls, 1);
	ATOMIC_ADD(&pool->reads, 1);
	n = read(s->in_fd, buf, pool->p.buf_size);
	if (n < 0 && errno == EAGAIN)
		ATOMIC_ADD(&pool->eagains, 1);
	if (n > 0) {
		stream_account_read(s, buf, n);
		ATOMIC_STORE(&s->io_write_busy, true);
		ret = write_out(pool, s, buf, n);
		ATOMIC_STORE(&s->io_write_busy, false);
	} else {
		ret = n < 0 ? -errno : 0;
	}
	pool_mem_put(pool, pool->p.buf_size);
	ATOMIC_STORE(&s->io_busy, false);

	if (n > 0 && !ret)
		return 1;
	if (n > 0) {
		stream_fail_write(s, ret);
		return 0;
	}
	if (n == 0) {
		stream_done(s);
		return 0;
	}
	switch (ret) {
	case -EAGAIN:
	case -EINTR:
		return 1;
	case -ENOMSG:
		if (drain) {
			stream_fail(s, -EPROTO); /* ENOMSG in STOP_COPY */
			return 0;
		}
		if (__atomic_load_n(&s->drain, __ATOMIC_ACQUIRE))
			return 1; /* stale: read before the switchover */
		stream_park(s);
		return 0;
	default:
		stream_fail(s, ret);
		return 0;
	}
}

/* ---- THREADS ---- */

static void *stream_thread(void *arg)
{
	struct mstream_stream *s = arg;
	struct mstream_pool *pool = s->pool;
	char *buf = malloc(pool->p.buf_size);

	if (!buf) {
		stream_fail(s, -ENOMEM);
		return NULL;
	}
	for (;;) {
		enum mstream_stream_state st;
		int cancel;

		pthread_mutex_lock(&pool->lock);
		while (s->state == MSTREAM_STREAM_PARKED && !pool->cancel_err && !pool->closing)
			pthread_cond_wait(&pool->cond, &pool->lock);
		st = s->state;
		cancel = pool->cancel_err;
		pthread_mutex_unlock(&pool->lock);
		if (st == MSTREAM_STREAM_DONE || st == MSTREAM_STREAM_FAILED)
			break;
		if (cancel) {
			stream_fail(s, cancel);
			break;
		}
		step(pool, s, buf, 0);
	}
	free(buf);
	return NULL;
}

static int spawn(struct mstream_pool *pool, struct mstream_stream *s)
{
	if (s->out_fd >= 0) {
		int type;
		socklen_t len = sizeof(type);

		if (!getsockopt(s->out_fd, SOL_SOCKET, SO_TYPE, &type, &len))
			s->flags |= STREAM_F_SOCKET;
	}
	if (pthread_create(&s->thread, NULL, stream_thread, s))
		return fail(-EAGAIN, "reader pool: cannot start a stream thread");
	pthread_setname_np(s->thread, "mstream-rd");
	s->has_thread = true;
	ATOMIC_ADD(&pool->alloc, pool->p.buf_size);
	return 0;
}

static int threads_start(struct mstream_pool *pool)
{
	int ret = 0;

	pthread_mutex_lock(&pool->lock);
	for (unsigned int i = 0; i < pool->nstreams && !ret; i++)
		if (!stream_terminal(pool->streams[i]))
			ret = spawn(pool, pool->streams[i]);
	if (ret) {
		pool->closing = true;
		if (!pool->cancel_err)
			pool->cancel_err = ret;
		pthread_cond_broadcast(&pool->cond);
	}
	pthread_mutex_unlock(&pool->lock);
	if (ret) {
		uint64_t one = 1;

		if (write(pool->cancel_efd, &one, sizeof(one)) < 0) {
			/* saturated: already readable */
		}
		for (unsigned int i = 0; i < pool->nstreams; i++)
			if (pool->streams[i]->has_thread)
				pthread_join(pool->streams[i]->thread, NULL);
	}
	return ret;
}

static int threads_added(struct mstream_pool *pool, struct mstream_stream *s)
{
	return spawn(pool, s); /* pool->lock held: spawn only creates */
}

static void threads_kick(struct mstream_pool *pool, struct mstream_stream *s)
{
	(void)s;
	pthread_cond_broadcast(&pool->cond); /* pool->lock held */
}

static void threads_stop(struct mstream_pool *pool)
{
	for (unsigned int i = 0; i < pool->nstreams; i++)
		if (pool->streams[i]->has_thread)
			pthread_join(pool->streams[i]->thread, NULL);
}

const struct pool_ops pool_threads_ops = {
	.start = threads_start,
	.added = threads_added,
	.kick = threads_kick,
	.stop = threads_stop,
};

/* ---- SERIAL ---- */

/*
 * The next stream to read: one that is readable now, critical ones first,
 * the others in turn after the last one served. Waits for one until the
 * deadline: a serial loop must not sit in the read of a silent stream while
 * another has data.
 */
static struct mstream_stream *pick(struct mstream_pool *pool, uint64_t deadline)
{
	static __thread unsigned int next;
	struct mstream_stream *found = NULL, **cand;
	struct pollfd *pfd;
	unsigned int n = 0;

	pthread_mutex_lock(&pool->lock);
	cand = calloc(pool->nstreams + 1, sizeof(*cand));
	pfd = calloc(pool->nstreams + 1, sizeof(*pfd));
	for (unsigned int i = 0; cand && pfd && i < pool->nstreams; i++) {
		struct mstream_stream *s = pool->streams[(next + i) % pool->nstreams];

		if (s->state != MSTREAM_STREAM_ACTIVE)
			continue;
		pfd[n] = (struct pollfd){ .fd = s->in_fd, .events = POLLIN };
		cand[n++] = s;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!n || !cand || !pfd)
		goto out;
	pfd[n] = (struct pollfd){ .fd = pool->cancel_efd, .events = POLLIN };
	for (;;) {
		uint64_t now = mstream_now_ns();
		int ms = now >= deadline ? 0 : (deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		int r = poll(pfd, n + 1, ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || pfd[n].revents)
			goto out;
		break;
	}
	for (unsigned int i = 0; i < n && !found; i++)
		if (pfd[i].revents && (cand[i]->flags & MSTREAM_STREAM_CRITICAL))
			found = cand[i];
	for (unsigned int i = 0; i < n && !found; i++)
		if (pfd[i].revents)
			found = cand[i];
	if (found)
		next = found->index + 1;
out:
	free(cand);
	free(pfd);
	return found;
}

static bool readable_now(struct mstream_stream *s)
{
	struct pollfd p = { .fd = s->in_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void serial_run(struct mstream_pool *pool, uint64_t deadline)
{
	struct mstream_stream *s;
	int cancel = cancel_err(pool);
	char *buf;

	if (cancel) {
		for (unsigned int i = 0; i < pool->nstreams; i++)
			stream_fail(pool->streams[i], cancel);
		return;
	}
	/* One buffer: there is only ever one read in flight. */
	if (!pool->sbuf) {
		pool->sbuf = malloc(pool->p.buf_size);
		if (!pool->sbuf)
			return;
		ATOMIC_STORE(&pool->alloc, pool->p.buf_size);
	}
	buf = pool->sbuf;
	while ((s = pick(pool, deadline))) {
		if (s->out_fd >= 0 && !(s->flags & STREAM_F_SOCKET)) {
			int type;
			socklen_t len = sizeof(type);

			if (!getsockopt(s->out_fd, SOL_SOCKET, SO_TYPE, &type, &len))
				s->flags |= STREAM_F_SOCKET;
		}
		/* Like a VMM's loop: stay on the stream while it has data. */
		while (step(pool, s, buf, deadline) == 1 && mstream_now_ns() < deadline &&
		       readable_now(s))
			;
		if (mstream_now_ns() >= deadline)
			break;
	}
}

static void serial_kick(struct mstream_pool *pool, struct mstream_stream *s)
{
	(void)pool;
	(void)s;
}

const struct pool_ops pool_serial_ops = {
	.kick = serial_kick,
	.run = serial_run,
};
