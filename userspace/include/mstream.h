/* SPDX-License-Identifier: MIT */
/*
 * mstream.h - libmstream: migrate VFIO devices with the v2 (one data_fd) or the
 * v3 (one critical FD plus N dirty FDs, <linux/vfio_mstream.h>) protocol.
 *
 * Conventions, as in liburing:
 *  - functions are named mstream_<object>_<verb>;
 *  - every function that can fail returns 0 (or a count) on success and a
 *    negative errno on failure; nothing sets errno for the caller;
 *  - objects are opaque and created by a _create/_open function that takes a
 *    pointer to the handle, and released by a _destroy/_close function that
 *    accepts NULL.
 *
 * Objects:
 *  - mstream_device:  one VFIO device (group + type1 container), its migration
 *                     FSM and its data FDs.
 *  - mstream_pool:    the reader pool: worker threads that copy every stream
 *                     from its input FD to its output FD, critical streams first.
 *  - mstream_stream:  one stream of a pool.
 *  - mstream_source:  where a session's streams come from (devices being saved,
 *                     save files, or TCP connections from a sending mstream).
 *  - mstream_sink:    where they go (devices resuming, save files, or TCP).
 *  - mstream_session: a whole migration: precopy, switchover, STOP_COPY of every
 *                     device together (or one after another), drain, load.
 *
 * Structs: each public struct ends in reserved space, which later versions
 * fill with new fields, so that its size and its fields' offsets never change
 * within LIBMSTREAM_0 (as liburing's io_uring_params). A struct the caller
 * passes in must be zeroed before its fields are set ({ 0 } or memset):
 * anything in its reserved space, or a flag bit this version does not know,
 * is refused with -EINVAL, so a program built against a newer header fails
 * on an older library instead of having a request silently ignored. A
 * struct the library fills has its reserved space zeroed.
 *
 * Times are CLOCK_MONOTONIC nanoseconds. Thread safety: a session, a device
 * and a pool are each driven by one thread; the pool's workers are internal.
 * mstream_pool_cancel() and the stats getters may be called from any thread.
 *
 * The man pages (mstream_device_open(3), mstream_pool_create(3),
 * mstream_session_run(3), mstream_source_create_files(3), mstream(1), ...)
 * describe each call in full.
 */
#ifndef MSTREAM_H
#define MSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MSTREAM_VERSION_MAJOR 0
#define MSTREAM_VERSION_MINOR 1

/* Library version, "MAJOR.MINOR"; lets a program check the .so it runs with. */
const char *mstream_version(void);

/* Human-readable text for a negative errno returned by the library. Adds the
 * library's own meanings (e.g. -EBADMSG on a save file: checksum mismatch). */
const char *mstream_strerror(int err);

/*
 * The explanation of the most recent failure in the calling thread, with the
 * detail an errno cannot carry ("d0-s2.bin: 4096 bytes, the manifest says
 * 8192"); "" if the failing call left none. Valid until the thread's next call.
 */
const char *mstream_last_error(void);

/* ------------------------------------------------------------------------ */
/* Migration states: the values of enum vfio_device_mig_state (Linux 6.2+). */

enum mstream_state {
	MSTREAM_STATE_ERROR = 0,
	MSTREAM_STATE_STOP = 1,
	MSTREAM_STATE_RUNNING = 2,
	MSTREAM_STATE_STOP_COPY = 3,
	MSTREAM_STATE_RESUMING = 4,
	MSTREAM_STATE_RUNNING_P2P = 5,
	MSTREAM_STATE_PRE_COPY = 6,
	MSTREAM_STATE_PRE_COPY_P2P = 7,
};

/* "RUNNING", "STOP_COPY", ...; "?" for an unknown value. */
const char *mstream_state_name(enum mstream_state state);

/* ------------------------------------------------------------------------ */
/* Device */

struct mstream_device;

/* What a device supports; filled by mstream_device_probe(). */
struct mstream_caps {
	uint64_t mig_flags;	   /* VFIO_MIGRATION_* as reported */
	bool migration;		   /* VFIO_DEVICE_FEATURE_MIGRATION answered */
	bool stop_copy;		   /* VFIO_MIGRATION_STOP_COPY */
	bool p2p;		   /* VFIO_MIGRATION_P2P */
	bool pre_copy;		   /* VFIO_MIGRATION_PRE_COPY */
	bool precopy_info_v2;	   /* MIG_PRECOPY_INFOv2 (REINIT) can be SET */
	bool multistream;	   /* v3: VFIO_DEVICE_FEATURE_MIG_MULTISTREAM */
	uint32_t max_dirty;	   /* v3: most dirty streams (0 without v3) */
	uint32_t num_dirty;	   /* v3: current selection (0 = v2) */
	bool data_size;		   /* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE answered */
	uint64_t stop_copy_length; /* its estimate, when data_size */
	enum mstream_state state;  /* current migration state */
	uint64_t reserved[8];	   /* zeroed */
};

/*
 * Open a VFIO device by name (an mdev UUID, a PCI address) or by its sysfs
 * directory (/sys/bus/mdev/devices/<uuid>, /sys/bus/pci/devices/<bdf>).
 * Opens the device's IOMMU group in a new type1v2 container of its own.
 * -ENOENT: no such device; -EBUSY: the group is in use (by another process,
 * or by another mstream_device of this process in the same group).
 */
int mstream_device_open(struct mstream_device **devp, const char *name);
/*
 * Use a VFIO device FD the caller opened itself (a VMM, through a group or
 * /dev/vfio/devices/vfioX). The FD stays the caller's: mstream_device_close()
 * leaves it open. name, optional, is resolved as by mstream_device_open()
 * for mstream_device_name() and mstream_device_sysfs_path(); without it the
 * device is named "fd N" and has no sysfs path (""). -EBADF: fd is not open;
 * -ENOTTY: it is not a VFIO device.
 */
int mstream_device_from_fd(struct mstream_device **devp, int fd, const char *name);
void mstream_device_close(struct mstream_device *dev);

const char *mstream_device_name(const struct mstream_device *dev);
/* The device's sysfs directory, resolved (no symlinks). */
const char *mstream_device_sysfs_path(const struct mstream_device *dev);
/* The VFIO device FD, for ioctls this library does not wrap. */
int mstream_device_fd(const struct mstream_device *dev);

/* Query every migration capability; never changes device state. */
int mstream_device_probe(struct mstream_device *dev, struct mstream_caps *caps);

int mstream_device_get_state(struct mstream_device *dev, enum mstream_state *state);
/*
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE SET. When the arc opens a data
 * transfer session the kernel returns its FD: *data_fd receives it (the
 * caller owns it), otherwise -1. data_fd may be NULL only for arcs that
 * return no FD (an FD returned anyway is closed).
 */
int mstream_device_set_state(struct mstream_device *dev, enum mstream_state state,
			     int *data_fd);
/* VFIO_DEVICE_RESET; leaves the device RUNNING (and out of ERROR). */
int mstream_device_reset(struct mstream_device *dev);

/* v3: select num_dirty dirty streams for the next session (0 = v2). */
int mstream_device_set_streams(struct mstream_device *dev, unsigned int num_dirty);
/*
 * v3: new FDs for the dirty streams 1..N of the current session, in order.
 * In: *num_fds = room in fds (at most 64). Out: *num_fds = N. When N is more
 * than the room: -ENOSPC, no FD opened, and *num_fds = N all the same.
 */
int mstream_device_get_stream_fds(struct mstream_device *dev, int *fds,
				  unsigned int *num_fds);
/* v2: opt into PRECOPY_INFOv2 (REINIT reported by PRECOPY_INFO). */
int mstream_device_enable_reinit(struct mstream_device *dev);

/* Per-stream progress, from VFIO_MIG_GET_STREAM_INFO (v3) or
 * VFIO_MIG_GET_PRECOPY_INFO (v2, mapped onto the same fields). */
struct mstream_stream_info {
	uint32_t flags;		/* MSTREAM_INFO_* */
	uint32_t stream_id;	/* v3: 0 = critical, 1..N dirty */
	uint32_t num_streams;	/* v3: N + 1 */
	uint64_t pending_bytes; /* v3: see the uAPI header */
	uint64_t queued_bytes;	/* v3 only */
	uint64_t initial_bytes; /* v2 only */
	uint64_t dirty_bytes;	/* v2 only */
	uint64_t reserved[8];	/* zeroed */
};
#define MSTREAM_INFO_REINIT (1u << 0)	/* critical data re-armed since last call */
#define MSTREAM_INFO_CRITICAL (1u << 1) /* v3: this is stream 0 */
#define MSTREAM_INFO_END (1u << 2)	/* v3: stream produced its last byte */

/* v3: VFIO_MIG_GET_STREAM_INFO on a stream FD (may start the next pass). */
int mstream_device_stream_info(struct mstream_device *dev, int fd,
			       struct mstream_stream_info *info);
/* v2: VFIO_MIG_GET_PRECOPY_INFO on the data_fd (may start the next pass). */
int mstream_device_precopy_info(struct mstream_device *dev, int fd,
				struct mstream_stream_info *info);

/*
 * A device's state checksum, for MSTREAM_SESSION_CHECKSUM to compare a
 * source with its destination. VFIO has no such query: a program that knows
 * its device type supplies one (libmstream-sample's mstream_sample_checksum()
 * for the sample device). fn returns 0 with *sum, or a negative errno
 * (-ENOENT: this device has none); it is called from the session's thread.
 * fn NULL: no checksum (the default).
 */
typedef int (*mstream_checksum_fn)(struct mstream_device *dev, uint64_t *sum, void *arg);
void mstream_device_set_checksum(struct mstream_device *dev, mstream_checksum_fn fn, void *arg);

/* ------------------------------------------------------------------------ */
/* Reader pool */

struct mstream_pool;
struct mstream_stream;

enum mstream_pool_kind {
	/* Worker threads, each with its own io_uring, registered buffers and a
	 * bounded queue depth. The default. */
	MSTREAM_POOL_URING = 0,
	/* One thread per stream doing blocking read()/write() of buf_size
	 * (QEMU's multifd model: a dedicated thread, 1 MiB at a time). */
	MSTREAM_POOL_THREADS = 1,
	/* No thread: mstream_pool_wait() reads each stream in turn in the
	 * caller's thread (today's VMM loop). */
	MSTREAM_POOL_SERIAL = 2,
};

struct mstream_pool_params {
	unsigned int kind;	  /* enum mstream_pool_kind */
	unsigned int threads;	  /* URING workers (max 64); 0 = one per stream,
				   * at most one per CPU and 16 */
	unsigned int queue_depth; /* URING buffers per worker; 0 = 8 */
	size_t buf_size;	  /* bytes per read; 0 = 1 MiB */
	unsigned int flags;	  /* MSTREAM_POOL_* */
	uint64_t reserved[8];	  /* must be zero */
};
/* Do not register buffers with io_uring (RLIMIT_MEMLOCK too low, tests). */
#define MSTREAM_POOL_NO_FIXED_BUFFERS (1u << 0)

enum mstream_stream_state {
	MSTREAM_STREAM_ACTIVE = 0, /* being read */
	MSTREAM_STREAM_PARKED = 1, /* read returned ENOMSG: no data for now */
	MSTREAM_STREAM_DONE = 2,   /* end of file read and all data written */
	MSTREAM_STREAM_FAILED = 3, /* stats.error says why */
};

struct mstream_stream_params {
	int in_fd;	    /* read from (not closed by the pool) */
	int out_fd;	    /* written to in order; -1 discards */
	int64_t out_offset; /* >= 0: pwrite from there (files); < 0: stream */
	unsigned int flags; /* MSTREAM_STREAM_* */
	const char *name;   /* for messages; copied */
	void *user;
	uint64_t reserved[8]; /* must be zero */
};
#define MSTREAM_STREAM_CRITICAL (1u << 0) /* served before the others */
#define MSTREAM_STREAM_CHECKSUM (1u << 1) /* compute xxh64 of the data */
#define MSTREAM_STREAM_PARKED_START (1u << 2) /* start parked (arm later) */

struct mstream_stream_stats {
	enum mstream_stream_state state;
	int error;		/* negative errno when FAILED */
	bool error_on_write;	/* ... and it came from the output side */
	bool critical;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t bytes_drain;	/* read after mstream_stream_drain() */
	unsigned int parks;	/* times the stream parked (precopy passes) */
	uint64_t t_first_ns;	/* first byte read (0: none yet) */
	uint64_t t_drain_ns;	/* mstream_stream_drain() called */
	uint64_t t_drain_first_ns; /* first byte read after that */
	uint64_t t_end_ns;	/* DONE or FAILED */
	uint64_t t_progress_ns; /* last byte moved */
	bool busy;		/* a read or write is in flight */
	bool write_busy;	/* a write is in flight */
	bool has_checksum;	/* DONE, with the CHECKSUM flag */
	uint64_t checksum;	/* xxh64 of the bytes read */
	uint64_t reserved[8];	/* zeroed */
};

struct mstream_pool_stats {
	unsigned int kind, threads, streams;
	unsigned int queue_depth;
	size_t buf_size;
	bool fixed_buffers;	/* io_uring registered buffers in use */
	uint64_t alloc_bytes;	/* buffer memory allocated: the bound */
	uint64_t peak_bytes;	/* most buffer memory holding data at once */
	uint64_t in_use_bytes;
	uint64_t bytes_read, bytes_written;
	/* What the readers asked the kernel for: reads and writes issued,
	 * polls issued, and reads that found nothing (EAGAIN). */
	uint64_t reads, writes, polls, eagains;
	uint64_t reserved[8];	/* zeroed */
};

int mstream_pool_create(struct mstream_pool **poolp, const struct mstream_pool_params *params);
/* Add a stream; allowed before and after mstream_pool_start(). */
int mstream_pool_add(struct mstream_pool *pool, const struct mstream_stream_params *params,
		     struct mstream_stream **streamp);
int mstream_pool_start(struct mstream_pool *pool);
/*
 * Wait until a stream parks, ends or fails, or timeout_ns passes (0: just
 * poll). Returns the number of events seen since the previous call (0 on
 * timeout). SERIAL pools do their reading here.
 */
int mstream_pool_wait(struct mstream_pool *pool, uint64_t timeout_ns);
/* Streams neither DONE nor FAILED. */
unsigned int mstream_pool_pending(struct mstream_pool *pool);
/* Stop every stream: in-flight I/O is cancelled, every stream that has not
 * ended FAILS with err (negative). Safe from any thread; idempotent. */
int mstream_pool_cancel(struct mstream_pool *pool, int err);
int mstream_pool_get_stats(struct mstream_pool *pool, struct mstream_pool_stats *stats);
/* Cancels what still runs, joins the workers, frees every stream. */
void mstream_pool_destroy(struct mstream_pool *pool);

/* PARKED -> ACTIVE: read again (after the stream info reported data). */
int mstream_stream_arm(struct mstream_stream *stream);
/* The source entered STOP_COPY: read until end of file; arms the stream. An
 * ENOMSG on a read issued after this call fails the stream with -EPROTO. */
int mstream_stream_drain(struct mstream_stream *stream);
int mstream_stream_get_stats(struct mstream_stream *stream, struct mstream_stream_stats *stats);
const char *mstream_stream_name(const struct mstream_stream *stream);
void *mstream_stream_user(const struct mstream_stream *stream);

/* ------------------------------------------------------------------------ */
/* Sources and sinks */

struct mstream_source;
struct mstream_sink;

/* TCP endpoint, for a sending sink or a receiving source. */
/*
 * TCP: one control connection plus one connection per stream, each opened
 * with a fixed 128-byte hello carrying the session token, which the receiver
 * compares in constant time before it reads anything else. The receiver
 * accepts exactly the connections the sender's layout announces and then
 * closes its listening socket. Both ends exchange heartbeats on the control
 * connection; a peer that goes silent, closes early or aborts fails the
 * session with a message instead of hanging it.
 */
struct mstream_tcp_params {
	const char *host;	/* address: sink connects, source binds;
				 * NULL = 127.0.0.1 (loopback) */
	uint16_t port;		/* source: 0 = any free port */
	const char *token;	/* session token, both ends; 16..64 bytes */
	uint64_t timeout_ns;	/* connect, hello, replies, and the longest
				 * silence on the control connection; 0 = 10 s */
	uint64_t accept_timeout_ns; /* source: wait for the sender; 0 = 60 s */
	unsigned int flags;	/* MSTREAM_TCP_* */
	/* Source: told about each rejected connection (NULL: silent). */
	void (*log)(const char *msg, void *arg);
	void *log_arg;
	/* The whole migration within this; 0 = 600 s. Source: from the
	 * sender's hello to its last END record (a sender that stalls,
	 * trickles or only heartbeats cannot keep the destination RESUMING);
	 * sink: until the receiver's confirmation and checksums (one that
	 * never confirms cannot keep the sources stopped). */
	uint64_t session_timeout_ns;
	/* Source: only peers with this address, or in this ADDRESS/PREFIX
	 * ("192.0.2.7", "10.0.0.0/8", "fd00::/8"); NULL: any. */
	const char *allow_from;
	uint64_t reserved[8];	/* must be zero */
};
#define MSTREAM_TCP_NO_CHECKSUM (1u << 0) /* do not xxh64 the streams */
/* No TLS: the device state and the token cross the network in clear, and
 * anyone who sees the token can replay it. Trusted networks only. Without
 * it (the default) every connection is TLS 1.3 keyed with the token. */
#define MSTREAM_TCP_PLAIN (1u << 1)

#define MSTREAM_TOKEN_MIN 16
#define MSTREAM_TOKEN_MAX 64

/* Save devices: they enter PRE_COPY / STOP_COPY during the session. */
int mstream_source_create_devices(struct mstream_source **srcp,
				  struct mstream_device *const *devs, unsigned int n);
/*
 * Load a save directory. Checks the manifest at once: a missing or corrupt
 * manifest, a missing or truncated stream file (-EBADMSG / -ENODATA ...)
 * fails here, with the reason in mstream_last_error(). Unless flags has
 * MSTREAM_FILES_NO_VERIFY, every file's xxh64 is checked too before a single
 * byte reaches a device.
 */
int mstream_source_create_files(struct mstream_source **srcp, const char *dir,
				unsigned int flags);
#define MSTREAM_FILES_NO_VERIFY (1u << 0)
/* Listen (host:port) for one sending mstream; connections are accepted when
 * the session runs. mstream_source_port() tells the port bound. */
int mstream_source_create_tcp(struct mstream_source **srcp, const struct mstream_tcp_params *p);
int mstream_source_port(struct mstream_source *src);
void mstream_source_destroy(struct mstream_source *src);

/* Resume into devices: they go STOP -> RESUMING, then STOP -> RUNNING. */
int mstream_sink_create_devices(struct mstream_sink **sinkp,
				struct mstream_device *const *devs, unsigned int n);
/* Save into dir (created if missing; must hold no earlier save): a file per
 * stream and a manifest with sizes and xxh64 checksums, written last. */
int mstream_sink_create_files(struct mstream_sink **sinkp, const char *dir);
/* Send to a receiving `mstream recv` (or mstream_source_create_tcp()). */
int mstream_sink_create_tcp(struct mstream_sink **sinkp, const struct mstream_tcp_params *p);
void mstream_sink_destroy(struct mstream_sink *sink);

/* ------------------------------------------------------------------------ */
/* Session */

struct mstream_session;

enum mstream_order {
	MSTREAM_ORDER_TOGETHER = 0, /* every device into STOP_COPY, drained together */
	MSTREAM_ORDER_SERIAL = 1,   /* STOP_COPY and drain device after device */
};

enum mstream_phase {
	MSTREAM_PHASE_SETUP = 0,
	MSTREAM_PHASE_PRECOPY,
	MSTREAM_PHASE_STOPCOPY,
	MSTREAM_PHASE_LOAD,	/* draining done; destination loading/starting */
	MSTREAM_PHASE_DONE,
	MSTREAM_PHASE_FAILED,
};
const char *mstream_phase_name(enum mstream_phase phase);

/*
 * Switchover policy. Precopy ends when every device has no critical bytes
 * pending and its dirty bytes are at most dirty_threshold, or when
 * max_iterations passes or max_precopy_ns have been spent. A REINIT seen on
 * any device re-arms its critical stream and restarts the evaluation.
 */
struct mstream_policy {
	bool no_precopy;	  /* go straight to STOP_COPY */
	uint64_t dirty_threshold; /* bytes per device; 0 = 1 MiB */
	unsigned int max_iterations; /* 0 = 30 */
	uint64_t max_precopy_ns;  /* 0 = 30 s */
	uint64_t tick_ns;	  /* how often info is polled; 0 = 10 ms */
	uint64_t reserved[4];	  /* must be zero */
};

struct mstream_session_params {
	unsigned int num_dirty;	  /* 0 = v2; 1..max_dirty = v3 with N dirty FDs */
	unsigned int order;	  /* enum mstream_order */
	unsigned int flags;	  /* MSTREAM_SESSION_* */
	struct mstream_policy policy;
	struct mstream_pool_params pool;
	uint64_t stall_timeout_ns; /* fail when no byte moves for this long while
				    * I/O is pending after switchover; 0 = 60 s */
	/* Called from the session's thread at most every tick. */
	void (*progress)(struct mstream_session *s, void *arg);
	void *progress_arg;
	/* Called once, from the session's thread, right after the first
	 * device (with ORDER_TOGETHER: every device) entered STOP_COPY and
	 * before its streams are drained: a benchmark's hook, e.g. to inject
	 * an event into a stopped device. */
	void (*stopped)(struct mstream_session *s, void *arg);
	void *stopped_arg;
	uint64_t reserved[8];	   /* must be zero */
};
#define MSTREAM_SESSION_REINIT (1u << 0)   /* v2: opt into PRECOPY_INFOv2 */
#define MSTREAM_SESSION_CHECKSUM (1u << 1) /* read device checksums */
#define MSTREAM_SESSION_SOURCE_RUNNING (1u << 2) /* leave a saved device
						  * RUNNING (default: STOP) */

struct mstream_session_stats {
	enum mstream_phase phase;
	int error;
	unsigned int devices, streams, num_dirty;
	uint64_t t_start_ns;
	uint64_t t_stop_ns;	  /* first source left RUNNING / PRE_COPY */
	uint64_t t_end_ns;	  /* last destination RUNNING */
	uint64_t downtime_ns;	  /* t_end - t_stop */
	uint64_t setup_ns;	  /* start -> precopy (or stop) begins */
	uint64_t precopy_ns;	  /* in PRE_COPY (0: no precopy) */
	uint64_t stopcopy_ns;	  /* t_stop -> every stream drained */
	uint64_t load_ns;	  /* drained -> destination RUNNING */
	unsigned int iterations;  /* precopy passes completed */
	unsigned int reinits;	  /* REINITs seen */
	bool forced_switchover;	  /* a limit, not convergence, ended precopy */
	uint64_t crit_pending_at_switchover;
	uint64_t bytes;		  /* all streams */
	uint64_t bytes_precopy;
	struct mstream_pool_stats pool;
	uint64_t reserved[8];	  /* zeroed */
};

struct mstream_device_stats {
	const char *source_name, *sink_name; /* may be "" */
	unsigned int num_dirty;
	unsigned int streams;	   /* 1 (v2) or N + 1 */
	uint64_t bytes;
	uint64_t t_stop_ns;	   /* this device was asked to enter STOP_COPY */
	uint64_t t_stopped_ns;	   /* ... and the arc returned */
	uint64_t t_drained_ns;	   /* its last stream ended */
	uint64_t t_loaded_ns;	   /* its destination accepted the data */
	bool has_src_checksum, has_dst_checksum;
	uint64_t src_checksum, dst_checksum;
	uint64_t reserved[8];	   /* zeroed */
};

int mstream_session_create(struct mstream_session **sp, const struct mstream_session_params *p);
/*
 * Run the whole migration from src to sink. On failure the sources return to
 * RUNNING with their state intact (devices) and the sink is rolled back
 * (destination devices reset, partial save files left without a manifest).
 * The message for the failure is in mstream_session_error().
 */
int mstream_session_run(struct mstream_session *s, struct mstream_source *src,
			struct mstream_sink *sink);
/* Ask a running session to fail with err, from any thread (signals). */
void mstream_session_abort(struct mstream_session *s, int err);
const char *mstream_session_error(struct mstream_session *s);
int mstream_session_get_stats(struct mstream_session *s, struct mstream_session_stats *st);
int mstream_session_get_device_stats(struct mstream_session *s, unsigned int dev,
				     struct mstream_device_stats *st);
/* Stream `stream` (0 = critical or v2's only stream) of device `dev`. */
int mstream_session_get_stream_stats(struct mstream_session *s, unsigned int dev,
				     unsigned int stream, struct mstream_stream_stats *st);
void mstream_session_destroy(struct mstream_session *s);

/* ------------------------------------------------------------------------ */
/* Utilities */

/* CLOCK_MONOTONIC in ns. */
uint64_t mstream_now_ns(void);
/* XXH64 (seed 0) of a buffer, the checksum save files and TCP streams use. */
uint64_t mstream_xxh64(const void *buf, size_t len);
/* Fill token (len+1 bytes) with len random hex characters; len 16..64. */
int mstream_token_generate(char *token, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MSTREAM_H */
