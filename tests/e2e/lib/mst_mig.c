// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copy loops: one stream from a source FD into a destination FD, a whole v2
 * migration over data_fd, and a whole v3 migration over 1 + N FDs, with
 * threads or with a seeded random single-thread scheduler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mst.h"

ssize_t mst_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return got ? (ssize_t)got : -errno;
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

void mst_pipe_init(struct mst_pipe *p, int src, int dst, int id, int bound)
{
	memset(p, 0, sizeof(*p));
	p->buf = malloc(MST_PIPE_BUF);
	if (!p->buf)
		abort();
	p->src = src;
	p->dst = dst;
	p->id = id;
	mst_mon_init(&p->mon, bound);
	p->mon_on = true;
}

void mst_pipe_free(struct mst_pipe *p)
{
	free(p->buf);
	p->buf = NULL;
}

bool mst_pipe_check(const struct mst_pipe *p, char *why, size_t len)
{
	if (!p->mon_on)
		return true;
	return mst_mon_complete(&p->mon, why, len);
}

/* Random sizes with a bias to the interesting ones. */
static size_t rand_size(uint64_t *rng, size_t max)
{
	switch (mst_rand(rng) % 6) {
	case 0:
		return 1 + mst_rand(rng) % 64;		/* inside a header */
	case 1:
		return MST_REC_HDR_SIZE;
	case 2:
		return 1 + mst_rand(rng) % 8192;
	case 3:
		return MST_PAGE_SIZE + MST_REC_HDR_SIZE;
	default:
		return 1 + mst_rand(rng) % max;
	}
}

static int put_dst(struct mst_pipe *p, const uint8_t *b, size_t n,
		   uint64_t *rng)
{
	if (p->dst < 0)
		return 0;
	while (n) {
		size_t w = rng ? rand_size(rng, n) : n;
		int err;

		w = w < n ? w : n;
		err = write_full(p->dst, b, w);
		if (err)
			return err;
		b += w;
		n -= w;
	}
	return 0;
}

ssize_t mst_pipe_pump(struct mst_pipe *p, uint64_t max, uint64_t *rng)
{
	uint64_t moved = 0;

	while (moved < max && !p->eof) {
		size_t want = MST_PIPE_BUF;
		ssize_t n;

		if (rng)
			want = rand_size(rng, MST_PIPE_BUF);
		if (want > max - moved)
			want = max - moved;
		n = read(p->src, p->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			int err;

			if (p->mon_on)
				mst_mon_feed(&p->mon, p->buf, n);
			err = put_dst(p, p->buf, n, rng);
			if (err) {
				p->err = err;
				mst_log("stream %d: write to the destination: %s (after %llu bytes; source stream %s%s)",
					p->id, strerror(-err),
					(unsigned long long)p->bytes,
					!p->mon_on ? "not checked" :
					p->mon.err[0] ? "bad: " : "well-formed so far",
					p->mon.err);
				return err;
			}
			p->bytes += n;
			moved += n;
			continue;
		}
		if (n == 0) {
			p->eof = true;
			break;
		}
		if (errno == ENOMSG)
			p->nenomsg++;
		else if (errno == EAGAIN)
			p->neagain++;
		else {
			p->err = -errno;
			mst_log("stream %d: read from the source: %s (after %llu bytes)",
				p->id, strerror(errno),
				(unsigned long long)p->bytes);
		}
		return moved ? (ssize_t)moved : -errno;
	}
	return moved;
}

ssize_t mst_pipe_pump_polling(struct mst_pipe *p)
{
	struct pollfd pfd = { .fd = p->src, .events = POLLIN };
	ssize_t r;

	for (;;) {
		r = mst_pipe_pump(p, UINT64_MAX, NULL);
		if (r > 0)
			continue;
		if (r != -EAGAIN)
			return r;
		if (poll(&pfd, 1, -1) < 0)
			return -errno;
	}
}

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	mst_log("%s", err);
}

#define FAIL(res, e, ...) do { \
	set_err((res)->err, sizeof((res)->err), __VA_ARGS__); \
	ret = (e) ? (e) : -EIO; \
	goto out; \
} while (0)

static int wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, ms);

	return n < 0 ? -errno : n;
}

int mst_migrate_v2(struct mst_dev *src, struct mst_dev *dst,
		   const struct mst_v2_opts *o, struct mst_v2_result *res)
{
	int sfd = -1, dfd = -1, ret;
	struct mst_pipe p = {};
	uint64_t t0, rng = o->seed;
	uint64_t *r = o->seed ? &rng : NULL;
	char why[256];

	memset(res, 0, sizeof(*res));
	ret = mst_set_state(dst->fd, VFIO_DEVICE_STATE_RESUMING, &dfd);
	if (ret || dfd < 0)
		FAIL(res, ret, "destination -> RESUMING: %s, data_fd %d",
		     strerror(-ret), dfd);
	ret = mst_set_state(src->fd, o->precopy ? VFIO_DEVICE_STATE_PRE_COPY :
			    VFIO_DEVICE_STATE_STOP_COPY, &sfd);
	if (ret || sfd < 0)
		FAIL(res, ret, "source -> %s: %s, data_fd %d",
		     o->precopy ? "PRE_COPY" : "STOP_COPY", strerror(-ret), sfd);
	if (o->nonblock && fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) | O_NONBLOCK))
		FAIL(res, -errno, "O_NONBLOCK: %s", strerror(errno));
	mst_pipe_init(&p, sfd, dfd, 0, -1);
	p.mon_on = o->monitor;

	t0 = mst_now_ns();
	if (o->precopy) {
		int rounds = 0;

		for (;;) {
			struct vfio_precopy_info info;
			ssize_t n = mst_pipe_pump(&p, UINT64_MAX, r);

			if (n > 0)
				continue;
			if (n == -EAGAIN) {
				res->npoll++;
				ret = wait_readable(sfd, 1000);
				if (ret < 0)
					FAIL(res, ret, "poll: %s", strerror(-ret));
				continue;
			}
			if (n == 0)
				FAIL(res, -EPROTO, "data_fd returned 0 (EOF) in PRE_COPY");
			if (n != -ENOMSG)
				FAIL(res, n, "PRE_COPY read: %s", strerror(-n));
			ret = mst_precopy_info(sfd, &info);
			if (ret)
				FAIL(res, ret, "PRECOPY_INFO: %s", strerror(-ret));
			if (info.initial_bytes > res->max_initial)
				res->max_initial = info.initial_bytes;
			rounds++;
			if (rounds >= o->precopy_rounds &&
			    mst_now_ns() - t0 >= o->precopy_ms * 1000000ULL &&
			    !info.initial_bytes)
				break;
			if (!info.initial_bytes && !info.dirty_bytes)
				mst_sleep_ms(5);
			if (mst_now_ns() - t0 > 120 * 1000000000ULL)
				FAIL(res, -ETIMEDOUT, "PRE_COPY never converged: initial %llu dirty %llu",
				     (unsigned long long)info.initial_bytes,
				     (unsigned long long)info.dirty_bytes);
		}
		res->precopy_bytes = p.bytes;
		ret = mst_set_state(src->fd, VFIO_DEVICE_STATE_STOP_COPY, NULL);
		if (ret)
			FAIL(res, ret, "source PRE_COPY -> STOP_COPY: %s",
			     strerror(-ret));
	}
	for (;;) {
		ssize_t n = mst_pipe_pump(&p, UINT64_MAX, r);

		if (n > 0)
			continue;
		if (n == 0 && p.eof)
			break;
		if (n == -EAGAIN) {
			res->npoll++;
			ret = wait_readable(sfd, 1000);
			if (ret < 0)
				FAIL(res, ret, "poll: %s", strerror(-ret));
			continue;
		}
		if (n == -ENOMSG)
			FAIL(res, n, "read returned ENOMSG in STOP_COPY");
		FAIL(res, n, "STOP_COPY read: %s", strerror(-n));
	}
	res->stopcopy_bytes = p.bytes - res->precopy_bytes;
	res->nenomsg = p.nenomsg;
	res->neagain = p.neagain;
	if (!mst_pipe_check(&p, why, sizeof(why)))
		FAIL(res, -EPROTO, "source stream: %s", why);
	ret = mst_set_state(dst->fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		FAIL(res, ret, "destination RESUMING -> STOP: %s", strerror(-ret));
	ret = mst_set_state(src->fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		FAIL(res, ret, "source STOP_COPY -> STOP: %s", strerror(-ret));
out:
	mst_pipe_free(&p);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

/* ------------------------------------------------------------------ v3 */

struct v3_ctx {
	struct mst_pipe pipes[MST_MAX_STREAMS];
	pthread_t threads[MST_MAX_STREAMS];
	uint32_t n;			/* 1 + ndirty */
	const struct mst_v3_opts *o;
	int stop_copy;			/* set once the source is in STOP_COPY */
	int abort;
};

static void *v3_thread(void *arg)
{
	struct mst_pipe *p = arg;
	struct v3_ctx *c = (void *)((char *)(p - p->id) -
				    offsetof(struct v3_ctx, pipes));
	uint64_t rng = c->o->seed ^ (0x1000193ULL * (p->id + 1));
	uint64_t *r = c->o->random_speed ? &rng : NULL;

	while (!p->eof && !__atomic_load_n(&c->abort, __ATOMIC_RELAXED)) {
		ssize_t n = mst_pipe_pump(p, r ? 1 + mst_rand(r) % (4 * MST_MIB) :
					  UINT64_MAX, r);

		if (n > 0) {
			if (r && mst_rand(r) % 4 == 0)
				usleep(mst_rand(r) % 3000);
			continue;
		}
		if (n == 0)
			break;
		if (n == -ENOMSG) {
			struct vfio_mig_stream_info si;
			int err = mst_stream_info(p->src, &si);

			if (err) {
				p->err = err;
				mst_log("stream %d: STREAM_INFO at ENOMSG: %s",
					p->id, strerror(-err));
				break;
			}
			if (!si.pending_bytes)
				usleep(2000);
			continue;
		}
		if (n == -EAGAIN) {
			wait_readable(p->src, 100);
			continue;
		}
		break;	/* error, logged by the pump */
	}
	if (p->err)
		__atomic_store_n(&c->abort, 1, __ATOMIC_RELAXED);
	return NULL;
}

static bool all_eof(struct v3_ctx *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (!c->pipes[i].eof)
			return false;
	return true;
}

static int first_err(struct v3_ctx *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->pipes[i].err)
			return c->pipes[i].err;
	return 0;
}

/* One step of the random scheduler; returns true when it moved bytes. */
static bool v3_random_step(struct v3_ctx *c, uint64_t *rng)
{
	uint32_t i = mst_rand(rng) % c->n;
	struct mst_pipe *p = &c->pipes[i];
	ssize_t n;

	if (p->eof || p->err)
		return false;
	n = mst_pipe_pump(p, 1 + mst_rand(rng) % (2 * MST_MIB), rng);
	if (n == -ENOMSG) {
		struct vfio_mig_stream_info si;

		p->err = mst_stream_info(p->src, &si);
		if (p->err)
			mst_log("stream %d: STREAM_INFO at ENOMSG: %s", p->id,
				strerror(-p->err));
	}
	return n > 0;
}

static int crit_pending(int fd, uint64_t *pending)
{
	struct vfio_mig_stream_info si;
	int err = mst_stream_info(fd, &si);

	if (!err)
		*pending = si.pending_bytes;
	return err;
}

int mst_migrate_v3(struct mst_dev *src, struct mst_dev *dst,
		   const struct mst_v3_opts *o, struct mst_v3_result *res)
{
	int scrit = -1, dcrit = -1, sfds[MST_MAX_STREAMS], dfds[MST_MAX_STREAMS];
	struct v3_ctx *c = calloc(1, sizeof(*c));
	uint32_t num, flags, nthreads = 0;
	uint64_t rng = o->seed, t0;
	char why[256];
	int ret = 0;

	memset(res, 0, sizeof(*res));
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		sfds[i] = dfds[i] = -1;
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->n = o->ndirty + 1;
	if (o->ndirty < 1 || o->ndirty >= MST_MAX_STREAMS)
		FAIL(res, -EINVAL, "ndirty %u", o->ndirty);

	ret = mst_ms_set(src->fd, o->ndirty);
	if (ret)
		FAIL(res, ret, "source SET MIG_MULTISTREAM %u: %s", o->ndirty,
		     strerror(-ret));
	ret = mst_ms_set(dst->fd, o->ndirty);
	if (ret)
		FAIL(res, ret, "destination SET MIG_MULTISTREAM %u: %s",
		     o->ndirty, strerror(-ret));
	ret = mst_set_state(dst->fd, VFIO_DEVICE_STATE_RESUMING, &dcrit);
	if (ret || dcrit < 0)
		FAIL(res, ret, "destination -> RESUMING: %s, fd %d",
		     strerror(-ret), dcrit);
	num = o->ndirty;
	ret = mst_stream_fds(dst->fd, dfds, &num, &flags);
	if (ret || num != o->ndirty || !(flags & VFIO_MIG_STREAM_FDS_RESUMING))
		FAIL(res, ret, "destination STREAM_FDS: %s, num %u flags %#x",
		     strerror(-ret), num, flags);
	ret = mst_set_state(src->fd, o->precopy ? VFIO_DEVICE_STATE_PRE_COPY :
			    VFIO_DEVICE_STATE_STOP_COPY, &scrit);
	if (ret || scrit < 0)
		FAIL(res, ret, "source -> %s: %s, fd %d",
		     o->precopy ? "PRE_COPY" : "STOP_COPY", strerror(-ret), scrit);
	num = o->ndirty;
	ret = mst_stream_fds(src->fd, sfds, &num, &flags);
	if (ret || num != o->ndirty || (flags & VFIO_MIG_STREAM_FDS_RESUMING))
		FAIL(res, ret, "source STREAM_FDS: %s, num %u flags %#x",
		     strerror(-ret), num, flags);

	mst_pipe_init(&c->pipes[0], scrit, dcrit, 0, 0);
	for (uint32_t i = 1; i < c->n; i++)
		mst_pipe_init(&c->pipes[i], sfds[i - 1], dfds[i - 1], i, i);
	for (uint32_t i = 0; i < c->n; i++) {
		c->pipes[i].mon_on = o->monitor;
		if (o->sched == MST_SCHED_RANDOM &&
		    fcntl(c->pipes[i].src, F_SETFL,
			  fcntl(c->pipes[i].src, F_GETFL) | O_NONBLOCK))
			FAIL(res, -errno, "O_NONBLOCK: %s", strerror(errno));
	}

	if (o->sched == MST_SCHED_THREADS) {
		for (uint32_t i = 0; i < c->n; i++) {
			ret = -pthread_create(&c->threads[i], NULL, v3_thread,
					      &c->pipes[i]);
			if (ret)
				FAIL(res, ret, "pthread_create: %s", strerror(-ret));
			nthreads++;
		}
	}

	t0 = mst_now_ns();
	if (o->precopy) {
		uint64_t pending = 1;

		for (;;) {
			if (o->sched == MST_SCHED_RANDOM) {
				if (!v3_random_step(c, &rng) && mst_rand(&rng) % 8 == 0)
					usleep(500);
			} else {
				mst_sleep_ms(10);
			}
			if ((ret = first_err(c)))
				FAIL(res, ret, "a stream failed in PRE_COPY");
			if (mst_now_ns() - t0 < o->precopy_ms * 1000000ULL)
				continue;
			ret = crit_pending(scrit, &pending);
			if (ret)
				FAIL(res, ret, "critical STREAM_INFO: %s",
				     strerror(-ret));
			if (!pending)
				break;
			if (mst_now_ns() - t0 > (o->precopy_ms + 60000) * 1000000ULL)
				FAIL(res, -ETIMEDOUT, "critical stream never drained (%llu pending)",
				     (unsigned long long)pending);
		}
		for (uint32_t i = 0; i < c->n; i++)
			res->precopy_bytes += __atomic_load_n(&c->pipes[i].bytes,
							      __ATOMIC_RELAXED);
		ret = mst_set_state(src->fd, VFIO_DEVICE_STATE_STOP_COPY, NULL);
		if (ret)
			FAIL(res, ret, "source PRE_COPY -> STOP_COPY: %s",
			     strerror(-ret));
	}
	__atomic_store_n(&c->stop_copy, 1, __ATOMIC_RELAXED);

	if (o->sched == MST_SCHED_THREADS) {
		for (uint32_t i = 0; i < nthreads; i++)
			pthread_join(c->threads[i], NULL);
		nthreads = 0;
	} else {
		uint64_t idle = 0;

		while (!all_eof(c)) {
			if ((ret = first_err(c)))
				break;
			if (v3_random_step(c, &rng)) {
				idle = 0;
				continue;
			}
			if (++idle % 64 == 0) {
				struct pollfd pfd[MST_MAX_STREAMS];

				for (uint32_t i = 0; i < c->n; i++)
					pfd[i] = (struct pollfd){ .fd = c->pipes[i].eof ? -1 :
								  c->pipes[i].src,
								  .events = POLLIN };
				poll(pfd, c->n, 20);
			}
		}
	}
	if ((ret = first_err(c)))
		FAIL(res, ret, "a stream failed: %s", strerror(-ret));
	for (uint32_t i = 0; i < c->n; i++) {
		res->bytes[i] = c->pipes[i].bytes;
		if (!c->pipes[i].eof)
			FAIL(res, -EPROTO, "stream %u did not reach EOF", i);
		if (!mst_pipe_check(&c->pipes[i], why, sizeof(why)))
			FAIL(res, -EPROTO, "source stream %u: %s", i, why);
	}
	ret = mst_set_state(dst->fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		FAIL(res, ret, "destination RESUMING -> STOP: %s", strerror(-ret));
	ret = mst_set_state(src->fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		FAIL(res, ret, "source STOP_COPY -> STOP: %s", strerror(-ret));
out:
	if (nthreads) {
		__atomic_store_n(&c->abort, 1, __ATOMIC_RELAXED);
		/* Unblock readers: leave the saving state. */
		mst_set_state(src->fd, VFIO_DEVICE_STATE_RUNNING, NULL);
		for (uint32_t i = 0; i < nthreads; i++)
			pthread_join(c->threads[i], NULL);
	}
	for (uint32_t i = 0; i < c->n; i++)
		mst_pipe_free(&c->pipes[i]);
	for (int i = 0; i < MST_MAX_STREAMS; i++) {
		if (sfds[i] >= 0)
			close(sfds[i]);
		if (dfds[i] >= 0)
			close(dfds[i]);
	}
	if (scrit >= 0)
		close(scrit);
	if (dcrit >= 0)
		close(dcrit);
	free(c);
	return ret;
}

int mst_drain(struct mst_pipe *pipes, unsigned int n, unsigned int timeout_s,
	      char *err, size_t errlen)
{
	uint64_t t0 = mst_now_ns();

	err[0] = 0;
	for (unsigned int i = 0; i < n; i++)
		if (!pipes[i].eof && fcntl(pipes[i].src, F_SETFL,
			  fcntl(pipes[i].src, F_GETFL) | O_NONBLOCK)) {
			set_err(err, errlen, "O_NONBLOCK: %s", strerror(errno));
			return -errno;
		}
	for (;;) {
		struct pollfd pfd[MST_MAX_STREAMS];
		bool moved = false, done = true;

		for (unsigned int i = 0; i < n; i++) {
			struct mst_pipe *p = &pipes[i];
			ssize_t r;

			if (p->eof)
				continue;
			r = mst_pipe_pump(p, 4 * MST_MIB, NULL);
			if (r > 0)
				moved = true;
			else if (r == -ENOMSG) {
				set_err(err, errlen, "stream %d: ENOMSG in STOP_COPY", p->id);
				return -EPROTO;
			} else if (r < 0 && r != -EAGAIN) {
				set_err(err, errlen, "stream %d: %s", p->id,
					strerror((int)-r));
				return r;
			}
			if (!p->eof)
				done = false;
		}
		if (done)
			return 0;
		if (mst_now_ns() - t0 > timeout_s * 1000000000ULL) {
			set_err(err, errlen, "drain timed out after %u s", timeout_s);
			return -ETIMEDOUT;
		}
		if (moved)
			continue;
		for (unsigned int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = pipes[i].eof ? -1 : pipes[i].src,
						  .events = POLLIN };
		poll(pfd, n, 100);
	}
}

int mst_perturb(const char *uuid, unsigned int ms, int64_t restore_rate)
{
	int err = mst_knob_write_u64(uuid, "dirty_rate", 200000);

	if (err)
		return err;
	mst_sleep_ms(ms);
	err = mst_knob_write_u64(uuid, "dirty_rate",
				 restore_rate < 0 ? 0 : restore_rate);
	if (err)
		return err;
	return mst_knob_write(uuid, "reinit", "1");
}

int mst_v3_open(int dev_fd, uint32_t ndirty, uint32_t state,
		struct mst_v3_sess *s)
{
	uint32_t num = ndirty, flags = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	s->crit = -1;
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		s->fds[i] = -1;
	s->ndirty = ndirty;
	ret = mst_ms_set(dev_fd, ndirty);
	if (ret) {
		mst_log("SET MIG_MULTISTREAM %u: %s", ndirty, strerror(-ret));
		return ret;
	}
	ret = mst_set_state(dev_fd, state, &s->crit);
	if (ret || s->crit < 0) {
		mst_log("-> %s: %s, fd %d", mst_state_name(state),
			strerror(-ret), s->crit);
		return ret ? ret : -EPROTO;
	}
	ret = mst_stream_fds(dev_fd, s->fds, &num, &flags);
	if (ret || num != ndirty) {
		mst_log("GET MIG_STREAM_FDS: %s, num %u", strerror(-ret), num);
		return ret ? ret : -EPROTO;
	}
	return 0;
}

void mst_v3_close(struct mst_v3_sess *s)
{
	if (s->crit >= 0)
		close(s->crit);
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	s->crit = -1;
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		s->fds[i] = -1;
}
