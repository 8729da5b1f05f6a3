/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared helpers of the vfio-mstream guest end-to-end tests.
 *
 * Nothing here includes kselftest_harness.h (it defines non-static symbols and
 * may be included by one translation unit only): helpers return 0 or a
 * negative errno and the tests assert on that. Diagnostics go to stderr as
 * "# ..." lines so they stay TAP comments.
 */
#ifndef MST_E2E_H
#define MST_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/vfio.h>
#include <linux/vfio_mstream.h>

#include "crc32c.h"

#define MST_KIB		(1024ULL)
#define MST_MIB		(1024ULL * 1024)
#define MST_GIB		(1024ULL * 1024 * 1024)

#define MST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef offsetofend
#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#endif

void mst_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------ sysfs */

#define MST_MDEV_TYPE_DIR "/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev"
#define MST_MDEV_DEVICES "/sys/bus/mdev/devices"
/* Every instance the tests create has a UUID starting with this. */
#define MST_UUID_PREFIX "e2e0"

/* NULL when the mdev type exists, else why the tests must SKIP. */
const char *mst_skip_reason(void);

/* Creates an instance with a fresh UUID (MST_UUID_PREFIX...) into @uuid. */
int mst_mdev_create(char uuid[37]);
int mst_mdev_remove(const char *uuid);
/* Removes every instance whose UUID starts with MST_UUID_PREFIX. */
int mst_mdev_remove_stale(void);

/* One-line sysfs files and whole writes, libmstream's own (fileio.h). */
#include "fileio.h"

int mst_knob_write(const char *uuid, const char *knob, const char *val);
int mst_knob_write_u64(const char *uuid, const char *knob, uint64_t val);
int mst_knob_read(const char *uuid, const char *knob, char *buf, size_t len);
/* Decimal (or 0x hex) knob. */
int mst_knob_read_u64(const char *uuid, const char *knob, uint64_t *val);
/* The hex checksum knob. */
int mst_checksum(const char *uuid, uint64_t *sum);

/* ----------------------------------------------------------------- device */

struct mst_dev {
	char uuid[37];
	int container;
	int group;
	int fd;
};

/*
 * 1 if @a and @b hold the same state (their checksum knobs), 0 if not (both
 * sums are logged), -errno if one cannot be read.
 */
int mst_same_state(const struct mst_dev *a, const struct mst_dev *b);

/* Opens the instance @uuid the classic way (group, container, type1v2). */
int mst_dev_open(struct mst_dev *d, const char *uuid);
void mst_dev_close(struct mst_dev *d);

/* -------------------------------------------------------- feature ioctls */

/*
 * VFIO_DEVICE_FEATURE with @flags (feature index | GET/SET/PROBE) and a
 * payload of @len bytes at @payload (copied in and out). @argsz_adj is added
 * to the natural argsz (negative to test short buffers).
 */
int mst_feature(int fd, uint32_t flags, void *payload, size_t len);
int mst_feature_argsz(int fd, uint32_t flags, void *payload, size_t len,
		      uint32_t argsz);

int mst_mig_flags(int fd, uint64_t *flags);
int mst_get_state(int fd, uint32_t *state);
/*
 * SET MIG_DEVICE_STATE. @data_fd (may be NULL) receives the returned FD or
 * -1; a returned FD is closed when @data_fd is NULL.
 */
int mst_set_state(int fd, uint32_t state, int *data_fd);
int mst_data_size(int fd, uint64_t *len);
int mst_precopy_info(int data_fd, struct vfio_precopy_info *info);
int mst_precopy_v2_optin(int fd);
int mst_reset(int fd);

int mst_ms_get(int fd, struct vfio_device_feature_mig_multistream *ms);
int mst_ms_set(int fd, uint32_t num_dirty);
/*
 * GET MIG_STREAM_FDS with room for @*num entries; on success @*num is N and
 * @fds[0..N-1] the dirty FDs; on -ENOSPC @*num is what the driver wrote.
 * @rflags (may be NULL) receives the output flags.
 */
int mst_stream_fds(int fd, int *fds, uint32_t *num, uint32_t *rflags);
int mst_stream_info(int sfd, struct vfio_mig_stream_info *si);

const char *mst_state_name(uint32_t state);
/* Userspace copy of vfio_mig_get_next_state(); 0 or -EINVAL. */
int mst_next_state(uint64_t mig_flags, uint32_t cur, uint32_t target,
		   uint32_t *next);
/* True when the single arc @from -> @to creates a data transfer FD. */
bool mst_arc_opens_fd(uint32_t from, uint32_t to);

/* ---------------------------------------------------------- wire format */

#define MST_REC_MAGIC		0x5254534dU
#define MST_REC_VERSION		1
#define MST_REC_HDR_SIZE	48
#define MST_PAGE_SIZE		4096U
#define MST_SHARD_PAGES		256U
#define MST_REC_MAX_PAYLOAD	(MST_SHARD_PAGES * MST_PAGE_SIZE)
#define MST_MAX_STREAMS		17
#define MST_COMPAT_SIZE		56
#define MST_COMPAT_TYPE_LEN	16

enum { MST_TAG_COMPAT = 1, MST_TAG_CRIT = 2, MST_TAG_PAGES = 3, MST_TAG_END = 4 };

/* A record header in host order. */
struct mst_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t tag;
	uint32_t stream;
	uint32_t len;
	uint64_t offset;
	uint64_t gen;
	uint64_t seq;
	uint32_t csum;
	uint32_t hcsum;
};

struct mst_compat {
	char type[MST_COMPAT_TYPE_LEN];
	uint32_t protocol;
	uint32_t nstreams;
	uint32_t page_size;
	uint32_t shard_pages;
	uint64_t state_size;
	uint32_t crit_size;
	uint32_t backing;
	uint32_t integrity;	/* 0: crc32c on the host; 1: the device's own */
	uint32_t reserved;
};

void mst_hdr_pack(uint8_t out[MST_REC_HDR_SIZE], const struct mst_hdr *h);
void mst_hdr_unpack(struct mst_hdr *h, const uint8_t in[MST_REC_HDR_SIZE]);
/* crc32c of the packed header with hcsum zero (seed ~0). */
uint32_t mst_hdr_csum(const struct mst_hdr *h);
uint32_t mst_payload_csum(const void *p, size_t len);
void mst_compat_pack(uint8_t out[MST_COMPAT_SIZE], const struct mst_compat *c);
void mst_compat_unpack(struct mst_compat *c, const uint8_t in[MST_COMPAT_SIZE]);

static inline uint32_t mst_stream_of_page(uint64_t page, uint32_t nstreams)
{
	return nstreams == 1 ? 0 :
	       1 + (uint32_t)((page / MST_SHARD_PAGES) % (nstreams - 1));
}

/* A growable byte buffer. */
struct mst_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

void mst_buf_free(struct mst_buf *b);
void mst_buf_put(struct mst_buf *b, const void *p, size_t len);

/*
 * Appends one record (header with correct checksums, then payload) and
 * returns the offset of its header in @b. @h's magic, version, csum and hcsum
 * are filled in unless the corresponding MST_RAW_* flag is given (to forge
 * bad records: the caller's value is kept).
 */
#define MST_RAW_MAGIC	(1 << 0)
#define MST_RAW_VERSION	(1 << 1)
#define MST_RAW_CSUM	(1 << 2)
#define MST_RAW_HCSUM	(1 << 3)
size_t mst_rec_put(struct mst_buf *b, struct mst_hdr *h, const void *payload,
		   unsigned int raw);

/* ------------------------------------------------------- stream monitor */

/*
 * Incremental checker of what a source FD emits, fed the bytes in read
 * order. @bound is the sub-stream this FD carries (v3), or -1 for a v2 FD
 * (any sub-stream). It checks what mst_record.h documents: magic, version,
 * header and payload checksums, per sub-stream seq from 0 without gaps,
 * COMPAT first and once, END last and once, CRIT only on stream 0 with
 * crit_size bytes, PAGES aligned, in range and on the right shard, nothing
 * after END. The first violation is kept in @err (a message).
 */
struct mst_mon_sub {
	uint64_t next_seq;
	bool compat;
	bool ended;
};

struct mst_mon {
	int bound;
	uint64_t pos;			/* bytes consumed */
	uint8_t hbuf[MST_REC_HDR_SIZE];
	uint32_t hfill;
	struct mst_hdr hdr;
	uint32_t pfill;
	uint32_t pcrc;
	uint8_t cbuf[MST_COMPAT_SIZE];	/* COMPAT payload being read */
	bool have_geo;
	struct mst_compat geo;		/* from the first COMPAT */
	struct mst_mon_sub sub[MST_MAX_STREAMS];
	uint32_t nended;
	/* statistics */
	uint64_t records;
	uint64_t pages_bytes;
	uint64_t ncrit;
	uint64_t last_crit_end;		/* stream position after the last CRIT */
	uint64_t last_crit_gen;
	uint64_t nrecs_by_tag[5];
	char err[256];
};

void mst_mon_init(struct mst_mon *m, int bound);
/* Returns false once a violation was found. */
bool mst_mon_feed(struct mst_mon *m, const void *data, size_t len);
/* True when every sub-stream seen has ended and nothing is partial. */
bool mst_mon_complete(const struct mst_mon *m, char *why, size_t len);

/* ------------------------------------------------------------ migration */

/* Parameters of a test instance, written before it is opened. */
struct mst_cfg {
	uint64_t state_size;		/* 0: leave the default */
	const char *backing;		/* NULL: default */
	const char *integrity;		/* NULL: default */
	uint64_t crit_size;		/* 0: default */
	int64_t dirty_rate;		/* -1: default */
	const char *dirty_pattern;
	int64_t engines;		/* -1: default */
	const char *v2_mode;
	int64_t engine_bw;		/* -1: default */
	int64_t chunk_size;		/* -1: default */
	int64_t read_ahead;		/* -1: default */
	int64_t reinit_period_ms;	/* -1: default */
};

#define MST_CFG_DEFAULT { .dirty_rate = -1, .engines = -1, .engine_bw = -1, \
			  .chunk_size = -1, .read_ahead = -1, \
			  .reinit_period_ms = -1 }
/* The default, with the workload quiet: no page dirtied, no periodic REINIT. */
#define MST_CFG_QUIET { .dirty_rate = 0, .engines = -1, .engine_bw = -1, \
			.chunk_size = -1, .read_ahead = -1, \
			.reinit_period_ms = 0 }

/* Writes every set field of @cfg into the instance's knobs. */
int mst_cfg_apply(const char *uuid, const struct mst_cfg *cfg);
/* Creates an instance, applies @cfg and opens it. */
int mst_dev_create_open(struct mst_dev *d, const struct mst_cfg *cfg);
/* Closes and removes. */
void mst_dev_destroy(struct mst_dev *d);
/* A source and a destination instance with the same @cfg; and their removal. */
int mst_pair_create_open(struct mst_dev *src, struct mst_dev *dst,
			 const struct mst_cfg *cfg);
void mst_pair_destroy(struct mst_dev *src, struct mst_dev *dst);

/* read() until @len bytes, EOF or an error (-errno). */
ssize_t mst_read_full(int fd, void *buf, size_t len);

/* One stream of a transfer: source FD to destination FD. */
struct mst_pipe {
	uint8_t *buf;		/* read buffer, MST_PIPE_BUF bytes */
	int src;
	int dst;
	int id;			/* stream id (0 = critical / v2) */
	uint64_t bytes;		/* copied so far */
	bool eof;
	int err;		/* first -errno other than ENOMSG/EAGAIN */
	uint64_t nenomsg;
	uint64_t neagain;
	struct mst_mon mon;	/* checks the source's bytes */
	bool mon_on;
};

#define MST_PIPE_BUF	(1024 * 1024)

/* @bound: sub-stream the source FD carries, -1 for v2; see mst_mon. */
void mst_pipe_init(struct mst_pipe *p, int src, int dst, int id, int bound);
void mst_pipe_free(struct mst_pipe *p);
/* Fails with a message in @why when the monitor found a violation. */
bool mst_pipe_check(const struct mst_pipe *p, char *why, size_t len);
/*
 * Copies what is available now: reads until ENOMSG/EAGAIN/EOF or @max bytes.
 * Returns bytes moved, 0 at EOF, -ENOMSG, -EAGAIN, or another -errno.
 * Random chunking of reads and writes when @rng is non-NULL.
 */
ssize_t mst_pipe_pump(struct mst_pipe *p, uint64_t max, uint64_t *rng);
/*
 * Pumps @p to its end, waiting in poll() with no timeout whenever its source
 * (O_NONBLOCK) has nothing: 0 at EOF, or the -errno a read or write gave.
 */
ssize_t mst_pipe_pump_polling(struct mst_pipe *p);

struct mst_v2_opts {
	bool precopy;		/* go through PRE_COPY */
	int precopy_rounds;	/* ENOMSG rounds before STOP_COPY */
	unsigned int precopy_ms;	/* or: time spent in PRE_COPY */
	bool nonblock;		/* O_NONBLOCK on the source FD, poll() */
	bool monitor;		/* check the wire format */
	uint64_t seed;		/* non-zero: random read and write sizes */
};

struct mst_v2_result {
	uint64_t precopy_bytes;
	uint64_t stopcopy_bytes;
	uint64_t nenomsg;
	uint64_t neagain;
	uint64_t npoll;
	uint64_t max_initial;
	char err[256];
};

/*
 * A complete v2 migration of @src into @dst, ending with the source in STOP
 * and the destination in STOP. Returns 0 or -errno with @res->err set.
 */
int mst_migrate_v2(struct mst_dev *src, struct mst_dev *dst,
		   const struct mst_v2_opts *o, struct mst_v2_result *res);

enum mst_sched {
	MST_SCHED_THREADS,	/* one thread per stream */
	MST_SCHED_RANDOM,	/* one thread, random stream, random sizes */
};

struct mst_v3_opts {
	uint32_t ndirty;
	enum mst_sched sched;
	uint64_t seed;
	bool precopy;
	unsigned int precopy_ms;	/* time spent in PRE_COPY at least */
	bool random_speed;	/* threads: random read sizes and pauses */
	bool monitor;
};

struct mst_v3_result {
	uint64_t bytes[MST_MAX_STREAMS];
	uint64_t precopy_bytes;
	char err[256];
};

/*
 * A complete v3 migration with @o->ndirty dirty streams (both devices get
 * SET MIG_MULTISTREAM). Ends with both devices in STOP.
 */
int mst_migrate_v3(struct mst_dev *src, struct mst_dev *dst,
		   const struct mst_v3_opts *o, struct mst_v3_result *res);

/*
 * Drains already-open source pipes in STOP_COPY, round robin with
 * O_NONBLOCK and poll(), until every one reached EOF. 0 or -errno (@err set).
 */
int mst_drain(struct mst_pipe *pipes, unsigned int n, unsigned int timeout_s,
	      char *err, size_t errlen);

/*
 * Makes a RUNNING instance's state differ from a fresh one: dirties pages at
 * a high rate for @ms, then sets dirty_rate to @restore_rate (-1: 0) and
 * triggers one REINIT.
 */
int mst_perturb(const char *uuid, unsigned int ms, int64_t restore_rate);

/*
 * One side of a v3 session: SET MIG_MULTISTREAM{@ndirty}, the arc to @state
 * (PRE_COPY, STOP_COPY or RESUMING; the critical FD comes back from it), then
 * GET MIG_STREAM_FDS. fds[i] is dirty stream i + 1.
 */
struct mst_v3_sess {
	int crit;
	int fds[MST_MAX_STREAMS];
	uint32_t ndirty;
};

int mst_v3_open(int dev_fd, uint32_t ndirty, uint32_t state,
		struct mst_v3_sess *s);
void mst_v3_close(struct mst_v3_sess *s);
/* The FD of stream @i (0 = critical). */
static inline int mst_v3_fd(const struct mst_v3_sess *s, uint32_t i)
{
	return i ? s->fds[i - 1] : s->crit;
}

/* A seed: $MST_SEED when set, else from the clock. */
uint64_t mst_seed(void);
uint64_t mst_rand(uint64_t *state);
uint64_t mst_now_ns(void);
void mst_sleep_ms(unsigned int ms);

#endif /* MST_E2E_H */
