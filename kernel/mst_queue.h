/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Chunk queue: the produced-but-unread data of one migration stream.
 *
 * The firmware model's save engines produce a stream in chunks (8 MiB by
 * default, as mlx5's chunk mode), and may run ahead of the reader by a fixed
 * number of chunks (read-ahead, 2 by default). A queue owns exactly that many
 * chunk buffers, each allocated at its first use, so a stream's pool never
 * holds more than nchunks x chunk_size bytes: memory is bounded by
 * construction. Extra chunks (mst_queue_publish_extra()) come on top.
 *
 * Ownership instead of locking on the data: a chunk belongs either to the free
 * list, to a producer (after mst_queue_get_free(), while it fills it, with no
 * lock held), to the ready list, or to the one reader holding @read_lock that
 * copies out of the head of the ready list. So the byte copies run without the
 * spinlock, and nothing device-wide is taken on the read path.
 *
 * Several producers may share one queue (v2 with all engines multiplexed on
 * its one FD): get_free and publish are safe against each other, and chunks
 * are read in publish order.
 *
 * Read results, when no byte could be copied (a read that copied something
 * returns the count instead):
 *	error latched		that error
 *	closed			-ENODEV
 *	end of stream		0
 *	end of pass		-ENOMSG (PRE_COPY: no more data for now)
 *	nothing ready, nowait	-EAGAIN
 *	otherwise		sleeps (interruptible: -ERESTARTSYS)
 * The state flags only take effect once the ready list is empty: data
 * published before an end is always delivered first.
 */
#ifndef MST_QUEUE_H
#define MST_QUEUE_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>

/**
 * struct mst_chunk - one read-ahead buffer
 * @node: link in the queue's free or ready list.
 * @buf: the bytes.
 * @cap: size of @buf.
 * @len: bytes produced into @buf.
 * @rpos: bytes of @len already read.
 * @extra: not one of the pool's chunks (see mst_queue_publish_extra()); freed
 *	with kvfree() once read, instead of going back to the free list.
 * @urgent: published with mst_queue_publish_urgent().
 */
struct mst_chunk {
	struct list_head node;
	void *buf;
	u32 cap;
	u32 len;
	u32 rpos;
	bool extra;
	bool urgent;
};

/**
 * struct mst_queue - chunk queue of one stream
 * @lock: protects @free, @ready, @produced, @consumed and the state flags.
 * @free: chunks a producer may fill.
 * @ready: published chunks, oldest first.
 * @read_lock: serializes readers; held while copying out of the head chunk,
 *	which only the holder may retire.
 * @readq: readers and pollers wait here for data or a state change.
 * @freeq: producers wait here for a free chunk.
 * @chunks: the pool's chunk descriptors, for teardown.
 * @nchunks: number of chunks in the pool.
 * @chunk_size: size of a pool chunk's buffer, allocated at its first use.
 * @produced: bytes published since init or the last mst_queue_reset().
 * @consumed: bytes read since then.
 * @pass_end: the producer finished its current pass.
 * @stream_end: the producer finished the stream.
 * @closed: the queue was closed; every call now fails with -ENODEV.
 * @error: latched error, returned by reads once the ready list is empty.
 * @last_extra: the extra chunk published last, while it is in the ready list.
 * @reading: the chunk the @read_lock holder is copying from, if any.
 */
struct mst_queue {
	spinlock_t lock;	/* protects lists, counters, flags */
	struct list_head free;
	struct list_head ready;
	struct mutex read_lock;	/* protects the head chunk's copy-out */
	wait_queue_head_t readq;
	wait_queue_head_t freeq;
	struct mst_chunk *chunks;
	unsigned int nchunks;
	u32 chunk_size;
	u64 produced;
	u64 consumed;
	bool pass_end;
	bool stream_end;
	bool closed;
	int error;
	struct mst_chunk *last_extra;
	struct mst_chunk *reading;
};

/*
 * Sets up a pool of @nchunks chunks of @chunk_size bytes, whose buffers are
 * allocated at their first mst_queue_get_free(); 0 or -ENOMEM / -EINVAL.
 */
int mst_queue_init(struct mst_queue *q, unsigned int nchunks, u32 chunk_size);
/* Frees everything, including unread extra chunks. No caller may remain. */
void mst_queue_destroy(struct mst_queue *q);

/*
 * Producer side. mst_queue_get_free() sleeps until a chunk is free; it
 * returns ERR_PTR(-ENODEV) once the queue is closed and ERR_PTR(-EAGAIN)
 * without sleeping when @nowait. The chunk comes back with len = 0.
 * mst_queue_publish() appends a filled chunk (an empty one goes straight back
 * to the free list) and wakes readers. mst_queue_put_free() returns an unused
 * chunk. mst_queue_get_free() returns ERR_PTR(-EINTR) when a fatal signal
 * arrives while it sleeps, so that a task producing inline stays killable.
 */
struct mst_chunk *mst_queue_get_free(struct mst_queue *q, bool nowait);
void mst_queue_publish(struct mst_queue *q, struct mst_chunk *c);
void mst_queue_put_free(struct mst_queue *q, struct mst_chunk *c);
/*
 * Publishes a chunk that is not from the pool (kvmalloc'ed by the caller,
 * @extra set by this call); the queue kvfree()s it once read. Used for small
 * urgent data (a CRIT record) that must not wait for a pool chunk.
 * The queue also kvfree()s @buf when it is a separate allocation (@buf !=
 * @c + 1); mst_chunk_alloc_extra() makes both in one allocation.
 */
void mst_queue_publish_extra(struct mst_queue *q, struct mst_chunk *c);
/*
 * As mst_queue_publish_extra(), but @c is read next: ahead of every chunk
 * no read has started on, behind earlier urgent chunks. Returns the stream
 * position of @c's first byte.
 */
u64 mst_queue_publish_urgent(struct mst_queue *q, struct mst_chunk *c);
/*
 * Allocates an extra chunk and its @size-byte buffer in one kvzalloc()
 * (@buf = @c + 1, @cap = @size, @len = 0), charged to the caller's memory
 * cgroup; NULL on failure. May sleep.
 */
struct mst_chunk *mst_chunk_alloc_extra(u32 size);
/*
 * Runs @fn on the extra chunk published last if no byte of it was read yet,
 * with readers held off, and returns true; false (without waiting) when
 * there is no such chunk or a reader is copying. May sleep.
 */
bool mst_queue_rewrite_last_extra(struct mst_queue *q,
				  void (*fn)(struct mst_chunk *c, void *arg),
				  void *arg);

void mst_queue_end_pass(struct mst_queue *q);
void mst_queue_start_pass(struct mst_queue *q);	/* clears pass_end */
void mst_queue_end_stream(struct mst_queue *q);
void mst_queue_set_error(struct mst_queue *q, int err);
/* Wakes every waiter; later calls fail with -ENODEV. Idempotent. */
void mst_queue_close(struct mst_queue *q);
/* Back to empty and open, chunks to the free list: a new session. */
void mst_queue_reset(struct mst_queue *q);

/* Consumer side: see the table at the top of this file. */
ssize_t mst_queue_read(struct mst_queue *q, struct iov_iter *to, bool nowait);
__poll_t mst_queue_poll(struct mst_queue *q, struct file *filp,
			poll_table *wait);

/* Bytes published and not yet read. */
u64 mst_queue_unread(struct mst_queue *q);
/* Bytes read so far (the stream position of the reader). */
u64 mst_queue_consumed(struct mst_queue *q);
/* True once the stream ended and every byte of it was read. */
bool mst_queue_drained(struct mst_queue *q);

#endif /* MST_QUEUE_H */
