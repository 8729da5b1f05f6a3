/* SPDX-License-Identifier: MIT */
/*
 * pool_internal.h - the reader pool's shared state, seen by its front end
 * (pool.c) and its back ends (pool_uring.c: io_uring workers; pool_sync.c:
 * a thread per stream, or the caller's thread).
 *
 * Locking: pool->lock protects every stream's state and error, the pool's
 * event count, cancel_err and the lists of streams. Counters are written by
 * one I/O thread and read by others with relaxed atomics. Everything else in
 * a stream belongs to the thread that does its I/O.
 */
#ifndef MSTREAM_POOL_INTERNAL_H
#define MSTREAM_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "internal.h"
#include "xxh64.h"

struct worker;

/* Internal stream flag: the output is a socket (send with MSG_NOSIGNAL). */
#define STREAM_F_SOCKET (1u << 31)

/* One filled buffer waiting to be written, or being written. */
struct fifo_ent {
	unsigned int buf; /* buffer index in the worker */
	unsigned int len; /* bytes in it */
	unsigned int off; /* bytes already written */
};

struct mstream_stream {
	struct mstream_pool *pool;
	unsigned int index;	/* in the pool */
	char name[48];
	int in_fd, out_fd;
	int64_t out_off;	/* next write offset, or < 0 for a stream */
	unsigned int flags;
	void *user;

	/* Under pool->lock. */
	enum mstream_stream_state state;
	int error;
	bool error_on_write;
	bool drain;		/* read until EOF (also read atomically) */

	/* The I/O thread's own. */
	struct worker *w;
	unsigned int widx;	/* index in w->streams */
	bool eof;
	bool dead;		/* failed: only waiting for in-flight ops */
	bool read_busy, write_busy, poll_in_busy, poll_out_busy;
	bool read_drain;	/* the in-flight read was issued while draining */
	bool need_poll;		/* wait for POLLIN before taking a buffer */
	bool wait_out;		/* a write said EAGAIN: poll for POLLOUT first */
	bool cancel_sent;	/* dead: every in-flight op has had its cancel */
	unsigned int read_buf;
	unsigned int held;	/* buffers: in-flight read + fifo */
	struct fifo_ent *fifo;
	unsigned int fifo_head, fifo_len, fifo_cap;
	struct xxh64 hash;
	pthread_t thread;	/* THREADS back end */
	bool has_thread;

	/* Counters and times: one writer, any reader (relaxed atomics). */
	uint64_t bytes_read, bytes_written, bytes_drain;
	uint64_t t_first, t_drain, t_drain_first, t_end, t_progress;
	unsigned int parks;
	bool io_busy, io_write_busy;
	uint64_t checksum;
};

struct pool_ops {
	int (*start)(struct mstream_pool *pool);
	/* A stream was added after start. Called with pool->lock held. */
	int (*added)(struct mstream_pool *pool, struct mstream_stream *s);
	/* Something changed (arm, drain, cancel, close): wake the I/O side. */
	void (*kick)(struct mstream_pool *pool, struct mstream_stream *s);
	/* SERIAL: do I/O until an event or the deadline. NULL otherwise. */
	void (*run)(struct mstream_pool *pool, uint64_t deadline);
	void (*stop)(struct mstream_pool *pool); /* join every thread */
};

struct mstream_pool {
	struct mstream_pool_params p;
	const struct pool_ops *ops;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* events, and THREADS streams waiting for arm */
	unsigned int events;	/* state changes not yet reported by wait() */
	struct mstream_stream **streams;
	unsigned int nstreams, cap;
	bool started, closing;
	int cancel_err;
	int cancel_efd;		/* readable once cancelled (sync back ends) */

	struct worker *workers;
	unsigned int nworkers;
	char *sbuf;		/* SERIAL's one buffer */
	bool fixed;

	uint64_t in_use, peak, alloc; /* bytes of buffer memory */
	uint64_t bytes_read, bytes_written;
	uint64_t reads, writes, polls, eagains;
};

extern const struct pool_ops pool_uring_ops, pool_threads_ops, pool_serial_ops;

/* State changes, taking pool->lock; each wakes mstream_pool_wait(). */
void stream_park(struct mstream_stream *s);
void stream_done(struct mstream_stream *s);
/* Returns true if this call failed the stream (false: already terminal). */
bool stream_fail(struct mstream_stream *s, int err);
/* The same, for an error of the output side. */
bool stream_fail_write(struct mstream_stream *s, int err);
bool stream_terminal(struct mstream_stream *s);
enum mstream_stream_state stream_state(struct mstream_stream *s);

/* Accounting of buffer memory holding data. */
void pool_mem_get(struct mstream_pool *pool, uint64_t bytes);
void pool_mem_put(struct mstream_pool *pool, uint64_t bytes);

/* Bytes moved, times, checksum: called by the I/O side. */
void stream_account_read(struct mstream_stream *s, const void *buf, size_t n);
void stream_account_write(struct mstream_stream *s, size_t n);

#define ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

#endif
