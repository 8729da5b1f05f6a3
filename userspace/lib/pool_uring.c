// SPDX-License-Identifier: MIT
/*
 * pool_uring.c - the default reader pool: a fixed set of worker threads,
 * each with its own io_uring and its own registered buffers.
 *
 * Modelled on liburing's examples/io_uring-cp.c: a fixed number of buffer
 * slots per worker bounds both the queue depth and the memory; a read that
 * comes back short or with EAGAIN is requeued rather than treated as an
 * error. What differs is that the inputs are streams, not files:
 *
 *  - At most one read per stream is in flight. Two reads on one stream FD
 *    could complete in either order (a read that waits for poll is retried
 *    after a later one may have run), and a stream has no offsets to put the
 *    bytes back in order. So the pool's parallelism is across streams, and
 *    per stream it overlaps one read with the writes of earlier buffers.
 *  - Writes of one stream are issued one at a time, in read order, for the
 *    same reason on the output side (a socket, a device's resume FD).
 *  - Critical streams (v3's stream 0) are offered free buffers first, and one
 *    buffer per worker is held back for them while they have not ended, so a
 *    REINIT's new critical data never waits behind dirty data for a slot.
 *  - ENOMSG parks a stream (precopy pass over); 0 ends it.
 *  - A stream that may have nothing to read (first read, after a short one,
 *    after EAGAIN or a park) is polled before a buffer is given to it: a
 *    read waiting for data would hold its buffer for as long as the device
 *    stays silent, and enough such streams (devices still in PRE_COPY while
 *    others drain) would starve the ones that have data.
 *
 * Each worker owns the streams assigned to it (critical ones spread first),
 * so the I/O path takes no lock except to publish a state change.
 *
 * The ring is never asked for more than it can hold: every SQE yields one
 * CQE, and a worker keeps the CQEs it may still receive below its CQ size
 * (sized from its streams at start), so completions are never dropped nor
 * parked on the kernel's overflow list however many streams it gets; what
 * cannot be issued now is issued by the next schedule(). A worker whose
 * ring failed takes no more streams.
 */
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "pool_internal.h"

enum { OP_READ = 1, OP_WRITE, OP_POLL_IN, OP_POLL_OUT, OP_EFD, OP_CANCEL };

#define UD(op, idx, extra) (((uint64_t)(op) << 60) | ((uint64_t)(idx) << 32) | (uint32_t)(extra))
#define UD_OP(ud) ((unsigned int)((ud) >> 60))
#define UD_IDX(ud) ((unsigned int)(((ud) >> 32) & 0x0fffffff))
#define UD_EXTRA(ud) ((uint32_t)(ud))

#define RING_ENTRIES 256
#define CQ_MIN 1024
#define CQ_MAX 65536
/* CQ slots kept for cancels and the eventfd's read. */
#define CQ_RESERVE 64

struct worker {
	struct mstream_pool *pool;
	unsigned int id;
	pthread_t thread;
	bool thread_ok;
	int efd;		/* kicks: arm, drain, cancel, new stream, close */
	uint64_t efd_val;
	struct io_uring ring;

	char *mem;		/* nbufs buffers of buf_size, one mapping */
	size_t mem_len;
	unsigned int nbufs;
	unsigned int *free_stack, nfree;
	bool fixed;

	struct mstream_stream **streams; /* the worker's own */
	unsigned int nstreams, cap;
	struct mstream_stream **incoming; /* under pool->lock */
	unsigned int nincoming, incap;
	unsigned int assigned;	/* under pool->lock, for balancing */

	unsigned int inflight;	/* reads, writes, polls */
	unsigned int cqes;	/* SQEs whose CQE has not been reaped yet */
	unsigned int cq_size;
	bool efd_posted, efd_broken;
	int ring_err;		/* submit failed: the ring is unusable */
	bool dead;		/* under pool->lock: the worker is gone */
	unsigned int rr;	/* where the next read scan starts */
	bool setup_done;	/* under pool->lock: worker_setup() returned */
	int setup_err;
};

static inline void *buf_addr(struct worker *w, unsigned int b)
{
	return w->mem + (size_t)b * w->pool->p.buf_size;
}

static unsigned int buf_get(struct worker *w)
{
	pool_mem_get(w->pool, w->pool->p.buf_size);
	return w->free_stack[--w->nfree];
}

static void buf_put(struct worker *w, unsigned int b)
{
	pool_mem_put(w->pool, w->pool->p.buf_size);
	w->free_stack[w->nfree++] = b;
}

/* An SQE, unless its CQE might not fit (reserve: slots to leave free) or
 * the ring cannot take more now: NULL, and the caller tries again later. */
static struct io_uring_sqe *get_sqe(struct worker *w, unsigned int reserve)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (w->ring_err || w->cqes + reserve >= w->cq_size)
		return NULL;
	sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) {
		/* SQ full: hand what is queued to the kernel, once. */
		ret = io_uring_submit(&w->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			w->ring_err = ret;
		sqe = ret >= 0 ? io_uring_get_sqe(&w->ring) : NULL;
	}
	if (sqe)
		w->cqes++;
	return sqe;
}

static bool is_socket(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISSOCK(st.st_mode);
}

static void post_efd(struct worker *w)
{
	struct io_uring_sqe *sqe;

	if (w->efd_posted || w->efd_broken || !(sqe = get_sqe(w, 0)))
		return;
	io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
	io_uring_sqe_set_data64(sqe, UD(OP_EFD, 0, 0));
	w->efd_posted = true;
}

static bool issue_read(struct worker *w, struct mstream_stream *s)
{
	struct io_uring_sqe *sqe = get_sqe(w, CQ_RESERVE);
	size_t bs = w->pool->p.buf_size;
	unsigned int b;

	if (!sqe)
		return false;
	b = buf_get(w);

	/* Offset -1: the file position; ignored by stream FDs (pipes,
	 * sockets, VFIO data FDs), advanced for a save file being loaded. */
	if (w->fixed)
		io_uring_prep_read_fixed(sqe, s->in_fd, buf_addr(w, b), bs, -1, b);
	else
		io_uring_prep_read(sqe, s->in_fd, buf_addr(w, b), bs, -1);
	io_uring_sqe_set_data64(sqe, UD(OP_READ, s->widx, b));
	ATOMIC_ADD(&w->pool->reads, 1);
	s->read_busy = true;
	s->read_buf = b;
	s->read_drain = __atomic_load_n(&s->drain, __ATOMIC_ACQUIRE);
	s->held++;
	w->inflight++;
	ATOMIC_STORE(&s->io_busy, true);
	return true;
}

static void issue_write(struct worker *w, struct mstream_stream *s)
{
	struct fifo_ent *e = &s->fifo[s->fifo_head];
	struct io_uring_sqe *sqe = get_sqe(w, CQ_RESERVE);
	char *p = (char *)buf_addr(w, e->buf) + e->off;
	unsigned int len = e->len - e->off;

	if (!sqe)
		return;
	if (s->flags & STREAM_F_SOCKET) {
		/* A socket: send() with MSG_NOSIGNAL, so a peer that went away
		 * is an EPIPE for this stream, not a SIGPIPE for the process. */
		io_uring_prep_send(sqe, s->out_fd, p, len, MSG_NOSIGNAL);
	} else if (w->fixed) {
		io_uring_prep_write_fixed(sqe, s->out_fd, p, len, s->out_off >= 0 ? s->out_off : -1,
					  e->buf);
	} else {
		io_uring_prep_write(sqe, s->out_fd, p, len, s->out_off >= 0 ? s->out_off : -1);
	}
	io_uring_sqe_set_data64(sqe, UD(OP_WRITE, s->widx, e->buf));
	ATOMIC_ADD(&w->pool->writes, 1);
	s->write_busy = true;
	w->inflight++;
	ATOMIC_STORE(&s->io_busy, true);
	ATOMIC_STORE(&s->io_write_busy, true);
}

static void issue_poll(struct worker *w, struct mstream_stream *s, bool out)
{
	struct io_uring_sqe *sqe = get_sqe(w, CQ_RESERVE);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, out ? s->out_fd : s->in_fd, out ? POLLOUT : POLLIN);
	io_uring_sqe_set_data64(sqe, UD(out ? OP_POLL_OUT : OP_POLL_IN, s->widx, 0));
	ATOMIC_ADD(&w->pool->polls, 1);
	if (out)
		s->poll_out_busy = true;
	else
		s->poll_in_busy = true;
	w->inflight++;
}

static bool cancel_op(struct worker *w, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(w, 0);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, UD(OP_CANCEL, 0, 0));
	return true;
}

/* A dead stream's operations still in flight are cancelled (again, if a
 * cancel could not be issued before: a second one is harmless). */
static void send_cancels(struct worker *w, struct mstream_stream *s)
{
	bool ok = true;

	if (s->read_busy)
		ok &= cancel_op(w, UD(OP_READ, s->widx, s->read_buf));
	if (s->write_busy)
		ok &= cancel_op(w, UD(OP_WRITE, s->widx, s->fifo[s->fifo_head].buf));
	if (s->poll_in_busy)
		ok &= cancel_op(w, UD(OP_POLL_IN, s->widx, 0));
	if (s->poll_out_busy)
		ok &= cancel_op(w, UD(OP_POLL_OUT, s->widx, 0));
	s->cancel_sent = ok;
}

static void fifo_pop_free(struct worker *w, struct mstream_stream *s)
{
	buf_put(w, s->fifo[s->fifo_head].buf);
	s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
	s->fifo_len--;
	s->held--;
}

/* The stream failed: give back its buffers and cancel what is in flight;
 * the completions of those ops return the rest. */
static void make_dead(struct worker *w, struct mstream_stream *s)
{
	if (s->dead)
		return;
	s->dead = true;
	while (s->fifo_len > (s->write_busy ? 1u : 0u)) {
		/* Drop from the tail; the head may be in the kernel's hands. */
		unsigned int tail = (s->fifo_head + s->fifo_len - 1) % s->fifo_cap;

		buf_put(w, s->fifo[tail].buf);
		s->fifo_len--;
		s->held--;
	}
	send_cancels(w, s);
}

static void fail_stream(struct worker *w, struct mstream_stream *s, int err)
{
	stream_fail(s, err);
	make_dead(w, s);
}

static void fail_stream_write(struct worker *w, struct mstream_stream *s, int err)
{
	stream_fail_write(s, err);
	make_dead(w, s);
}

static void on_read(struct worker *w, struct mstream_stream *s, unsigned int b, int res)
{
	s->read_busy = false;
	if (s->dead) {
		buf_put(w, b);
		s->held--;
		return;
	}
	if (res > 0) {
		/* A full buffer says more is likely there: read again at once. */
		s->need_poll = (size_t)res < w->pool->p.buf_size;
		stream_account_read(s, buf_addr(w, b), res);
		if (s->out_fd < 0) {
			stream_account_write(s, res);
			buf_put(w, b);
			s->held--;
			return;
		}
		s->fifo[(s->fifo_head + s->fifo_len) % s->fifo_cap] =
			(struct fifo_ent){ .buf = b, .len = res };
		s->fifo_len++;
		return;
	}
	buf_put(w, b);
	s->held--;
	switch (res) {
	case 0:
		s->eof = true;
		break;
	case -EAGAIN:
		ATOMIC_ADD(&w->pool->eagains, 1);
		s->need_poll = true;
		break;
	case -EINTR:
	case -ECANCELED:
		break; /* requeued by the next schedule() */
	case -ENOMSG:
		s->need_poll = true;
		if (s->read_drain)
			fail_stream(w, s, -EPROTO); /* ENOMSG in STOP_COPY */
		else if (!__atomic_load_n(&s->drain, __ATOMIC_ACQUIRE))
			stream_park(s);
		/* else: issued before the switchover, stale; read again */
		break;
	default:
		fail_stream(w, s, res);
	}
}

static void on_write(struct worker *w, struct mstream_stream *s, int res)
{
	struct fifo_ent *e = &s->fifo[s->fifo_head];

	s->write_busy = false;
	ATOMIC_STORE(&s->io_write_busy, false);
	if (s->dead) {
		fifo_pop_free(w, s);
		return;
	}
	if (res > 0) {
		e->off += res;
		if (s->out_off >= 0)
			s->out_off += res;
		stream_account_write(s, res);
		if (e->off == e->len)
			fifo_pop_free(w, s);
		return;
	}
	switch (res) {
	case -EAGAIN:
		s->wait_out = true; /* schedule() polls for room first */
		break;
	case -EINTR:
	case -ECANCELED:
		break;
	case 0:
		fail_stream_write(w, s, -EIO); /* a write that moves nothing */
		break;
	default:
		fail_stream_write(w, s, res);
	}
}

static void reap(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		unsigned int op = UD_OP(ud);
		struct mstream_stream *s = NULL;

		n++;
		w->cqes--;
		if (op == OP_EFD) {
			/* Keep one read on the eventfd posted, unless it broke. */
			w->efd_posted = false;
			w->efd_broken = cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN;
			continue;
		}
		if (op == OP_CANCEL)
			continue;
		w->inflight--;
		s = w->streams[UD_IDX(ud)];
		switch (op) {
		case OP_READ:
			on_read(w, s, UD_EXTRA(ud), cqe->res);
			break;
		case OP_WRITE:
			on_write(w, s, cqe->res);
			break;
		case OP_POLL_IN:
			/* Readable, or in a state the read will report. */
			s->poll_in_busy = false;
			s->need_poll = false;
			break;
		case OP_POLL_OUT:
			s->poll_out_busy = false;
			s->wait_out = false;
			break;
		}
		if (!s->read_busy && !s->write_busy)
			ATOMIC_STORE(&s->io_busy, false);
	}
	io_uring_cq_advance(&w->ring, n);
}

/* Take streams added since the last look, and see cancel and close. */
static bool sync_ctl(struct worker *w)
{
	struct mstream_pool *pool = w->pool;
	bool closing;
	int cancel;

	pthread_mutex_lock(&pool->lock);
	for (unsigned int i = 0; i < w->nincoming; i++) {
		struct mstream_stream *s = w->incoming[i];

		if (w->nstreams == w->cap) {
			unsigned int cap = w->cap ? 2 * w->cap : 8;
			void *n = realloc(w->streams, cap * sizeof(*w->streams));

			if (!n) {
				/* Cannot own it: fail it rather than lose it. */
				s->error = -ENOMEM;
				__atomic_store_n(&s->state, MSTREAM_STREAM_FAILED, __ATOMIC_RELEASE);
				pool->events++;
				continue;
			}
			w->streams = n;
			w->cap = cap;
		}
		s->widx = w->nstreams;
		w->streams[w->nstreams++] = s;
	}
	w->nincoming = 0;
	cancel = pool->cancel_err;
	closing = pool->closing;
	pthread_mutex_unlock(&pool->lock);

	for (unsigned int i = 0; i < w->nstreams; i++) {
		struct mstream_stream *s = w->streams[i];

		if (cancel && !stream_terminal(s))
			stream_fail(s, cancel);
		if (stream_state(s) == MSTREAM_STREAM_FAILED)
			make_dead(w, s);
	}
	return closing;
}

static void schedule(struct worker *w)
{
	unsigned int n = w->nstreams, active = 0;
	bool crit_live = false;

	post_efd(w);
	for (unsigned int i = 0; i < n; i++) {
		struct mstream_stream *s = w->streams[i];

		if (s->dead) {
			if (!s->cancel_sent)
				send_cancels(w, s);
			continue;
		}
		if (s->wait_out && !s->poll_out_busy)
			issue_poll(w, s, true);
		else if (s->fifo_len && !s->write_busy && !s->wait_out)
			issue_write(w, s);
		if (!s->eof && stream_state(s) == MSTREAM_STREAM_ACTIVE)
			active++;
		if ((s->flags & MSTREAM_STREAM_CRITICAL) && !s->eof)
			crit_live = true;
	}

	/* Pass 0 serves critical streams, pass 1 the others, round robin. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int k = 0; k < n; k++) {
			struct mstream_stream *s = w->streams[(w->rr + k) % n];
			bool crit = s->flags & MSTREAM_STREAM_CRITICAL;
			unsigned int cap = MAX(2u, w->nbufs / MAX(active, 1u));
			unsigned int reserve = !crit && crit_live && w->nbufs > 1;

			if (crit != (pass == 0) || s->dead || s->eof || s->read_busy ||
			    s->poll_in_busy || stream_state(s) != MSTREAM_STREAM_ACTIVE)
				continue;
			if (s->need_poll) {
				issue_poll(w, s, false); /* costs no buffer */
				continue;
			}
			if (!crit && s->held >= cap)
				continue;
			if (w->nfree <= reserve)
				continue;
			if (!issue_read(w, s))
				break; /* no room in the rings: later */
		}
	}
	w->rr++;

	for (unsigned int i = 0; i < n; i++) {
		struct mstream_stream *s = w->streams[i];

		if (!s->dead && s->eof && !s->fifo_len && !s->write_busy && !stream_terminal(s))
			stream_done(s);
	}
}

static int worker_setup(struct worker *w)
{
	struct mstream_pool *pool = w->pool;
	struct io_uring_params p = { 0 };
	unsigned int cq = CQ_MIN;
	struct iovec *iov;
	int ret;

	/* Room for each stream's read, write and two polls, and their cancels;
	 * streams added later share what is left (see get_sqe()). */
	pthread_mutex_lock(&pool->lock);
	while (cq < CQ_MAX && cq < 8 * w->assigned + CQ_RESERVE)
		cq <<= 1;
	pthread_mutex_unlock(&pool->lock);
	/* Completions are only ever reaped by this thread: let the kernel run
	 * their task work when we wait, not by interrupting us. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = cq;
	ret = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
	}
	if (ret)
		return ret;
	w->cq_size = w->ring.cq.ring_entries;

	if (pool->p.flags & MSTREAM_POOL_NO_FIXED_BUFFERS)
		return 0;
	iov = calloc(w->nbufs, sizeof(*iov));
	if (!iov)
		return 0;
	for (unsigned int b = 0; b < w->nbufs; b++)
		iov[b] = (struct iovec){ buf_addr(w, b), pool->p.buf_size };
	/* Registration pins the pages and counts against RLIMIT_MEMLOCK;
	 * when that is too low, plain reads into the same buffers work. */
	w->fixed = !io_uring_register_buffers(&w->ring, iov, w->nbufs);
	free(iov);
	return 0;
}

/* The ring itself failed: nothing on it can complete. Its streams fail,
 * and so do those handed to it meanwhile; it takes no new ones. */
static void worker_died(struct worker *w, int err)
{
	struct mstream_pool *pool = w->pool;

	for (unsigned int i = 0; i < w->nstreams; i++)
		stream_fail(w->streams[i], err);
	pthread_mutex_lock(&pool->lock);
	w->dead = true;
	for (unsigned int i = 0; i < w->nincoming; i++) {
		struct mstream_stream *s = w->incoming[i];

		if (s->state == MSTREAM_STREAM_FAILED || s->state == MSTREAM_STREAM_DONE)
			continue;
		s->error = err;
		__atomic_store_n(&s->state, MSTREAM_STREAM_FAILED, __ATOMIC_RELEASE);
		pool->events++;
	}
	w->nincoming = 0;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bool closing = false;
	int ret;

	/* The ring is created here: SINGLE_ISSUER ties it to its creator. */
	ret = worker_setup(w);
	pthread_mutex_lock(&w->pool->lock);
	w->setup_done = true;
	w->setup_err = ret;
	pthread_cond_broadcast(&w->pool->cond);
	pthread_mutex_unlock(&w->pool->lock);
	if (ret)
		return NULL;

	for (;;) {
		int ret;

		closing = sync_ctl(w);
		schedule(w);
		if (closing && !w->inflight)
			break;
		ret = w->ring_err ? w->ring_err : io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			worker_died(w, ret);
			break;
		}
		reap(w);
	}
	io_uring_queue_exit(&w->ring);
	return NULL;
}

/* The least loaded live worker; under pool->lock. */
static int assign(struct mstream_pool *pool, struct mstream_stream *s)
{
	struct worker *best = NULL;

	for (unsigned int i = 0; i < pool->nworkers; i++)
		if (!pool->workers[i].dead &&
		    (!best || pool->workers[i].assigned < best->assigned))
			best = &pool->workers[i];
	if (!best)
		return -EIO;
	best->assigned++;
	s->w = best;
	if (is_socket(s->out_fd))
		s->flags |= STREAM_F_SOCKET;
	return 0;
}

static int incoming_push(struct worker *w, struct mstream_stream *s)
{
	if (w->nincoming == w->incap) {
		unsigned int cap = w->incap ? 2 * w->incap : 8;
		void *n = realloc(w->incoming, cap * sizeof(*w->incoming));

		if (!n)
			return -ENOMEM;
		w->incoming = n;
		w->incap = cap;
	}
	w->incoming[w->nincoming++] = s;
	return 0;
}

static int stream_init_fifo(struct mstream_pool *pool, struct mstream_stream *s)
{
	s->need_poll = true;
	s->fifo_cap = pool->p.queue_depth + 1;
	s->fifo = calloc(s->fifo_cap, sizeof(*s->fifo));
	return s->fifo ? 0 : -ENOMEM;
}

static void kick_worker(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so a wake-up is pending. */
	}
}

static int uring_added(struct mstream_pool *pool, struct mstream_stream *s)
{
	int ret = stream_init_fifo(pool, s);

	if (!ret)
		ret = assign(pool, s);
	if (ret)
		return ret;
	ret = incoming_push(s->w, s);
	if (ret)
		return ret;
	kick_worker(s->w);
	return 0;
}

static void uring_kick(struct mstream_pool *pool, struct mstream_stream *s)
{
	if (s && s->w) {
		kick_worker(s->w);
		return;
	}
	for (unsigned int i = 0; i < pool->nworkers; i++)
		kick_worker(&pool->workers[i]);
}

static void uring_stop(struct mstream_pool *pool)
{
	for (unsigned int i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];

		if (w->thread_ok)
			pthread_join(w->thread, NULL);
		if (w->mem)
			munmap(w->mem, w->mem_len);
		close_fd(&w->efd);
		free(w->free_stack);
		free(w->streams);
		free(w->incoming);
	}
	free(pool->workers);
	pool->workers = NULL;
	pool->nworkers = 0;
}

static int uring_start(struct mstream_pool *pool)
{
	unsigned int nw, i;
	struct mstream_stream **order;
	int ret = 0;

	pthread_mutex_lock(&pool->lock);
	if (!pool->p.threads)
		pool->p.threads = pool_auto_threads(pool->nstreams);
	nw = pool->p.threads;
	pthread_mutex_unlock(&pool->lock);
	pool->workers = calloc(nw, sizeof(*pool->workers));
	order = calloc(pool->nstreams + 1, sizeof(*order));
	if (!pool->workers || !order) {
		free(order);
		free(pool->workers);
		pool->workers = NULL;
		return -ENOMEM;
	}
	pool->nworkers = nw;
	for (i = 0; i < nw; i++) {
		struct worker *w = &pool->workers[i];

		w->pool = pool;
		w->id = i;
		w->nbufs = pool->p.queue_depth;
		w->mem_len = (size_t)w->nbufs * pool->p.buf_size;
		/* Blocking: io_uring would fail, not poll, a read on an
		 * O_NONBLOCK eventfd. Writers never block on it in practice
		 * (the counter would have to reach 2^64 - 1). */
		w->efd = eventfd(0, EFD_CLOEXEC);
		w->mem = mmap(NULL, w->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
		w->free_stack = calloc(w->nbufs, sizeof(*w->free_stack));
		if (w->mem == MAP_FAILED)
			w->mem = NULL;
		if (w->efd < 0 || !w->mem || !w->free_stack) {
			ret = fail(-ENOMEM, "reader pool: cannot allocate %zu bytes of buffers",
				   w->mem_len);
			break;
		}
		for (unsigned int b = 0; b < w->nbufs; b++)
			w->free_stack[w->nfree++] = w->nbufs - 1 - b;
		ATOMIC_ADD(&pool->alloc, w->mem_len);
	}

	/* Critical streams first, so that they land on different workers. */
	pthread_mutex_lock(&pool->lock);
	if (!ret) {
		unsigned int k = 0;

		for (i = 0; i < pool->nstreams; i++)
			if (pool->streams[i]->flags & MSTREAM_STREAM_CRITICAL)
				order[k++] = pool->streams[i];
		for (i = 0; i < pool->nstreams; i++)
			if (!(pool->streams[i]->flags & MSTREAM_STREAM_CRITICAL))
				order[k++] = pool->streams[i];
		for (i = 0; i < k && !ret; i++) {
			if (stream_terminal(order[i]))
				continue;
			ret = stream_init_fifo(pool, order[i]);
			if (!ret)
				ret = assign(pool, order[i]);
			if (!ret)
				ret = incoming_push(order[i]->w, order[i]);
		}
	}
	pthread_mutex_unlock(&pool->lock);
	free(order);

	for (i = 0; i < nw && !ret; i++) {
		struct worker *w = &pool->workers[i];

		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			ret = fail(-EAGAIN, "reader pool: cannot start a worker thread");
			break;
		}
		pthread_setname_np(w->thread, "mstream-io");
		w->thread_ok = true;
	}

	/* Wait for every ring: a pool that cannot do I/O fails here, with a
	 * message, rather than later as failed streams. */
	pthread_mutex_lock(&pool->lock);
	pool->fixed = true;
	for (i = 0; i < nw; i++) {
		struct worker *w = &pool->workers[i];

		while (w->thread_ok && !w->setup_done)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (w->thread_ok && w->setup_err && !ret)
			ret = fail(w->setup_err, "io_uring setup: %s%s", strerror(-w->setup_err),
				   w->setup_err == -EPERM ? " (io_uring disabled by sysctl?)" : "");
		pool->fixed &= w->fixed;
	}
	if (ret)
		pool->closing = true;
	pthread_mutex_unlock(&pool->lock);
	if (ret) {
		uring_kick(pool, NULL);
		uring_stop(pool);
	}
	return ret;
}

const struct pool_ops pool_uring_ops = {
	.start = uring_start,
	.added = uring_added,
	.kick = uring_kick,
	.stop = uring_stop,
};
