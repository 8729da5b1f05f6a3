/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio-mstream sample device: the private structures shared by the driver's
 * files (mst_main.c, mst_mig.c, mst_file.c, mst_v3.c, mst_fw.c, mst_state.c,
 * mst_sysfs.c). The stream engine (records, queues, resume parser, critical
 * accounting) has its own headers.
 *
 * Lock order, outermost first:
 *
 *	mst_dev.state_mutex
 *	  mst_dev.wl_lock
 *	    mst_dev.sess_lock
 *	      mst_stream.lock, mst_stream.wlock
 *		mst_state.crit_lock
 *		  the engine's locks (mst_queue, mst_acct, mst_rx_session)
 *
 * The read path of a saving FD takes only its own queue's locks; the write
 * path of a resuming FD takes only its stream's wlock (and crit_lock for a
 * CRIT record). Nothing device-wide is taken on either path.
 */
#ifndef MST_H
#define MST_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/wait.h>

#include <linux/vfio_mstream.h>

#include "mst_acct.h"
#include "mst_queue.h"
#include "mst_record.h"
#include "mst_rx.h"

#define MST_NAME		"vfio_mstream"	/* class, driver, COMPAT type */
#define MST_PARENT_NAME		"mstream"	/* /sys/class/mdev_bus/mstream */
#define MST_TYPE_SYSFS_NAME	"dev"		/* type dir vfio_mstream-dev */
#define MST_MAX_INSTANCES	64

#define MST_MAX_DIRTY		(MST_MAX_STREAMS - 1)	/* 16 */
#define MST_MAX_ENGINES		MST_MAX_DIRTY

#define MST_DEF_STATE_SIZE	(256ULL << 20)
#define MST_MIN_STATE_SIZE	(1ULL << 20)
#define MST_MAX_STATE_SIZE	(64ULL << 30)
#define MST_STATE_ALIGN		(1ULL << 20)
#define MST_DEF_CRIT_SIZE	65536U
#define MST_DEF_ENGINES		4U
#define MST_DEF_CHUNK_SIZE	(8U << 20)
#define MST_MIN_CHUNK_SIZE	(64U << 10)
#define MST_MAX_CHUNK_SIZE	(256U << 20)
#define MST_DEF_READ_AHEAD	2U
#define MST_MAX_READ_AHEAD	64U

/* unsigned longs of dirty bitmap per 1 MiB run of pages */
#define MST_RUN_WORDS		(MST_SHARD_PAGES / BITS_PER_LONG)

#define MST_COMPAT_REC_SIZE	(MST_REC_HDR_SIZE + sizeof(struct mst_compat))
#define MST_END_REC_SIZE	MST_REC_HDR_SIZE

enum mst_v2_mode {
	MST_V2_SINGLE	= 0,	/* one engine, one FD: what drivers do today */
	MST_V2_MUX	= 1,	/* E engines multiplexed onto the one FD */
	MST_V2_MUXHEAD	= 2,	/* MUX, new critical data read next */
};

/* Several engines on the one FD, whatever the critical data's place. */
static inline bool mst_v2_mode_muxed(u32 mode)
{
	return mode == MST_V2_MUX || mode == MST_V2_MUXHEAD;
}

enum mst_dirty_pattern {
	MST_DIRTY_UNIFORM	= 0,
	MST_DIRTY_HOT		= 1,	/* ~1/16 of the pages */
};

/**
 * struct mst_cfg - the sysfs knobs
 *
 * Read with READ_ONCE() where they take effect; the geometry knobs
 * (@state_size, @backing, @crit_size) change only under
 * mst_dev.state_mutex while the device is not opened, the others are read
 * when a session starts (or, for @dirty_rate, @reinit_period_ms and
 * @engine_bw, live).
 */
struct mst_cfg {
	u64 state_size;
	u32 backing;
	u32 crit_size;
	u64 dirty_rate;
	u32 dirty_pattern;
	u32 reinit_period_ms;
	u32 engines;
	u32 v2_mode;
	u32 engine_bw;		/* MiB/s per engine, 0 = unlimited */
	u32 chunk_size;
	u32 read_ahead;
	u32 integrity;		/* enum mst_integrity */
};

/**
 * struct mst_state - the device state: bulk pages and critical region
 * @ready: the buffers below are allocated (under mst_dev.state_mutex).
 * @size: bulk bytes; @npages: 4 KiB pages; @nruns: 1 MiB runs.
 * @backing: enum mst_backing.
 * @mem: memory backing: the bytes.
 * @ver: pattern backing: per-page version; the content of page p is
 *	mst_pattern_fill(p, ver[p]).
 * @dirty: one bit per page, set (atomically) by the workload after it wrote
 *	the page, cleared by the saver before it copies the page.
 * @crit_size: bytes of the critical region.
 * @crit_lock: protects @crit and @crit_gen.
 * @crit: the critical region.
 * @crit_gen: its generation, bumped by every REINIT.
 * @seed: random seed of the current content (fresh state).
 * @next_seed: the seed of the next fresh state, chosen ahead so that the
 *	checksum of a state not allocated yet is known without allocating it.
 * @wl_ver: version counter of the workload's writes to memory pages.
 */
struct mst_state {
	bool ready;
	u64 size;
	u64 npages;
	u64 nruns;
	u32 backing;
	void *mem;
	u32 *ver;
	unsigned long *dirty;
	u32 crit_size;
	struct mutex crit_lock;	/* protects crit and crit_gen */
	u8 *crit;
	u64 crit_gen;
	u64 seed;
	u64 next_seed;
	u32 wl_ver;
};

struct mst_sess;
struct mst_stream;

enum mst_eng_kind {
	MST_ENG_PAGES,	/* bulk pages of one shard (v2 single: and CRIT) */
	MST_ENG_CRIT,	/* v3 critical stream: a CRIT record per REINIT */
};

/**
 * struct mst_engine - one save engine of the firmware model (a work item)
 * @s: the stream it produces into (several engines share it in mux mode).
 * @work: runs the engine's jobs until it has none (mst_fw_wq).
 * @kind: enum mst_eng_kind.
 * @idx: engine number in the session.
 * @sub: sub-stream id its records carry.
 * @shard: PAGES: its shard, pages p with mst_shard_of(p, @nshards) == @shard.
 * @nshards: shards of the session (1 for v2 single).
 * @nruns: 1 MiB runs in its shard.
 * @job_map: PAGES: the dirty bits the current pass took, run by run.
 * @paceq: the engine sleeps here while it paces; woken when the session
 *	stops.
 *
 * Engine-private: @cur (chunk being filled), @seq (next record seq of @sub,
 * read by others only while the engine is idle), @pace_next, @blocked_ns,
 * @err (a job failed: the engine does nothing more).
 *
 * v2 single, under @s->lock: @wpos, the stream position just past the last
 * record whose place the engine took (see mst_eng_reserve()).
 *
 * Under @s->lock: @passes (passes started; the first sends every page),
 * @want_pass, @final (STOP_COPY: final pass then END), @final_snapped,
 * @end_done (END taken as a job), @crit_pending (a CRIT record is owed),
 * @crit_start (the stream position where it will start), @job_active,
 * @job_end (stream position just past the job, single-producer streams),
 * @job_left (bytes of the job not yet emitted).
 */
struct mst_engine {
	struct mst_stream *s;
	struct work_struct work;
	enum mst_eng_kind kind;
	u32 idx;
	u32 sub;
	u32 shard;
	u32 nshards;
	u64 nruns;
	unsigned long *job_map;
	wait_queue_head_t paceq;

	struct mst_chunk *cur;
	u64 seq;
	u64 pace_next;
	u64 blocked_ns;
	int err;
	u64 wpos;

	u64 passes;
	bool want_pass;
	bool final;
	bool final_snapped;
	bool end_done;
	bool crit_pending;
	u64 crit_start;
	bool job_active;
	u64 job_end;
	u64 job_left;
};

/**
 * struct mst_stream - one FD of a session and what stands behind it
 * @sess: the session.
 * @id: FD index: 0 is the critical FD in v3 and the data_fd in v2.
 * @filp: the FD's file. The session holds a reference to it until
 *	teardown, except for a v3 source's dirty stream once handed out by
 *	GET MIG_STREAM_FDS (@handed): then its descriptors alone hold it, and
 *	its release abandons the stream (mst_v3_abandon()), which clears it.
 * @handed: see @filp (under mst_dev.state_mutex).
 * @xfer: bytes read (saving) or written (resuming) through it.
 *
 * Saving:
 * @q: the chunk queue.
 * @q_ready: @q was initialized.
 * @lock: protects the producer side of the stream: @published, @pass_open,
 *	@stopcopy, @closed, @end_done, @crit_ended, @crit_seq,
 *	@crit_extra_last, @crit_extra_seq, @end_chunk,
 *	@dirty_ended and the job state of its engines.
 * @published: bytes published into @q.
 * @pass_open: readers wait for more data instead of getting -ENOMSG.
 * @stopcopy: the session is in STOP_COPY.
 * @closed: torn down.
 * @end_done: the whole stream ended (mst_queue_end_stream() called).
 * @crit_ended: sub-stream 0 ended (mux and v3 critical).
 * @crit_seq: mux: next seq of sub-stream 0.
 * @crit_extra_last: the extra chunk published last is a REINIT's CRIT
 *	record (mux, and a CRIT record larger than a chunk): while no read
 *	has started on it, the next REINIT rewrites it instead of adding one.
 * @crit_extra_seq: that record's sequence number (of sub-stream 0).
 * @end_chunk: v3 critical: the END record, allocated up front.
 * @dirty_ended: v3 critical: dirty streams that produced their END or
 *	were abandoned.
 * @dirty_counted: v3 dirty: counted in stream 0's @dirty_ended (under
 *	stream 0's @lock).
 * @acct: critical bytes (v2 data_fd, v3 critical FD).
 * @eng: first of its @neng engines in the session's array.
 *
 * Resuming:
 * @wlock: protects @rx and @dead; serializes the writes to the FD.
 * @rx: the parser.
 * @rx_ready: @rx was initialized.
 * @dead: the session ended; writes fail with -ENODEV.
 */
struct mst_stream {
	struct mst_sess *sess;
	u32 id;
	struct file *filp;
	bool handed;
	atomic64_t xfer;

	struct mst_queue q;
	bool q_ready;
	struct mutex lock;	/* protects the producer side, see above */
	u64 published;
	bool pass_open;
	bool stopcopy;
	bool closed;
	bool end_done;
	bool crit_ended;
	u64 crit_seq;
	bool crit_extra_last;
	u64 crit_extra_seq;
	struct mst_chunk *end_chunk;
	u32 dirty_ended;
	bool dirty_counted;
	struct mst_acct acct;
	struct mst_engine *eng;
	u32 neng;

	struct mutex wlock;	/* protects rx and dead; serializes writes */
	struct mst_rx_parser rx;
	bool rx_ready;
	bool dead;
};

enum mst_sess_kind {
	MST_SESS_SAVE,
	MST_SESS_RESUME,
};

/**
 * struct mst_sess - one saving or resuming session
 * @ref: one reference for the device while it is attached, one per file.
 * @dev: the device, pinned by a reference on its struct device.
 * @kind: enum mst_sess_kind.
 * @protocol: 2 or 3.
 * @mux: v2 with the engines multiplexed on the one FD.
 * @mux_head: @mux, and new critical data goes ahead of the chunks queued.
 * @nsub: sub-streams on the wire (COMPAT nstreams).
 * @nfiles: FDs: 1 (v2) or N + 1 (v3).
 * @maxp: pages per PAGES record (fits an empty chunk).
 * @chunk_size, @read_ahead: queue geometry.
 * @crit_size: bytes of the critical region.
 * @integrity: enum mst_integrity: who checks PAGES and CRIT payloads.
 * @dead: detached from the device (under mst_dev.state_mutex).
 * @neng, @eng: the save engines.
 * @rx: resuming: the engine's session.
 * @rx_gen: resuming: per page, 1 + the newest save pass applied (0: none).
 * @crit_applied, @crit_gen: resuming: newest CRIT applied (under
 *	mst_state.crit_lock).
 * @memcg: the memory cgroup of the task that opened the session, charged
 *	for what the session allocates, the engines' chunks included.
 * @s: the streams, @nfiles of them.
 */
struct mst_sess {
	struct kref ref;
	struct mst_dev *dev;
	enum mst_sess_kind kind;
	u32 protocol;
	bool mux;
	bool mux_head;
	u32 nsub;
	u32 nfiles;
	u32 maxp;
	u32 chunk_size;
	u32 read_ahead;
	u32 crit_size;
	u32 integrity;
	bool dead;
	u32 neng;
	struct mst_engine *eng;
	struct mst_rx_session rx;
	u32 *rx_gen;
	bool crit_applied;
	u64 crit_gen;
	struct mem_cgroup *memcg;
	struct mst_stream s[] __counted_by(nfiles);
};

/**
 * struct mst_dev - one mdev instance
 * @vdev: the VFIO device.
 * @state_mutex: protects @mig_state, @opened, @precopy_v2, @num_dirty,
 *	@sess and the allocation of @st.
 * @sess_lock: protects @reinit_sess, the saving session REINITs reach.
 * @pci_lock: protects @pci_cfg, the PCI config space a VMM reads and writes.
 * @wl_lock: protects @wl_active; the workload holds it while it writes the
 *	state, so clearing @wl_active under it quiesces the workload.
 */
struct mst_dev {
	struct vfio_device vdev;

	struct mutex state_mutex;	/* protects the migration state, see above */
	enum vfio_device_mig_state mig_state;
	bool opened;
	bool precopy_v2;
	u32 num_dirty;
	struct mst_sess *sess;

	struct mutex sess_lock;		/* protects reinit_sess */
	struct mst_sess *reinit_sess;

	struct mst_cfg cfg;
	struct mst_state st;

	struct mutex wl_lock;		/* protects wl_active */
	bool wl_active;
	struct task_struct *wl_task;
	wait_queue_head_t wl_wq;
	bool wl_kick;

	atomic64_t bytes_saved;
	atomic64_t bytes_loaded;
	atomic64_t fw_busy_ns;

	spinlock_t pci_lock;		/* protects pci_cfg */
	u8 pci_cfg[PCI_CFG_SPACE_SIZE];
};

static inline struct mst_dev *mst_vdev_to_dev(struct vfio_device *vdev)
{
	return container_of(vdev, struct mst_dev, vdev);
}

static inline bool mst_precopy_state(enum vfio_device_mig_state state)
{
	return state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

/* state_mutex held: the stream's session is the device's live one. */
static inline bool mst_sess_live(struct mst_stream *s)
{
	struct mst_dev *dev = s->sess->dev;

	lockdep_assert_held(&dev->state_mutex);
	return dev->sess == s->sess && !s->sess->dead;
}

/* mst_state.c */
void mst_cfg_defaults(struct mst_cfg *cfg);
int mst_state_ensure(struct mst_dev *dev);
void mst_state_free(struct mst_dev *dev);
void mst_state_fresh(struct mst_dev *dev);
u64 mst_state_checksum(struct mst_dev *dev);
u64 mst_state_checksum_unallocated(struct mst_dev *dev);
int mst_state_reinit(struct mst_dev *dev);
void mst_state_bump_crit(struct mst_state *st);
void mst_state_read_page(struct mst_dev *dev, u64 page, void *dst);
u64 mst_state_copy_crit(struct mst_dev *dev, void *dst);
void mst_state_geometry(struct mst_sess *sess, struct mst_geometry *geo);
int mst_wl_start(struct mst_dev *dev);
void mst_wl_stop(struct mst_dev *dev);
void mst_wl_set_active(struct mst_dev *dev, bool active);
void mst_wl_kick(struct mst_dev *dev);
extern const struct mst_rx_ops mst_rx_ops;

/* mst_fw.c */
int mst_fw_module_init(void);
void mst_fw_module_exit(void);
int mst_fw_init_save(struct mst_sess *sess);
void mst_fw_go(struct mst_sess *sess, bool precopy);
void mst_fw_stop(struct mst_sess *sess);
void mst_fw_release(struct mst_sess *sess);
void mst_fw_stop_copy(struct mst_sess *sess);
void mst_fw_crit_maybe_end_locked(struct mst_stream *s);
int mst_fw_reinit(struct mst_sess *sess);
u64 mst_fw_remaining(struct mst_stream *s);
u64 mst_fw_full_size(struct mst_dev *dev);
void mst_fw_precopy_info(struct mst_stream *s, bool optin, bool *reinit,
			 u64 *initial, u64 *dirty);
int mst_fw_stream_info(struct mst_stream *s, struct vfio_mig_stream_info *info);
u32 mst_fw_maxp(u32 chunk_size);

/* mst_file.c */
struct file *mst_file_open(struct mst_stream *s);

/* mst_mig.c */
extern const struct vfio_migration_ops mst_mig_ops;
void mst_mig_close(struct mst_dev *dev);
int mst_mig_reset(struct mst_dev *dev);
int mst_mig_feature(struct mst_dev *dev, u32 flags, void __user *arg,
		    size_t argsz);
long mst_mig_precopy_ioctl(struct mst_stream *s, void __user *arg);
void mst_sess_put(struct mst_sess *sess);
const char *mst_mig_state_name(enum vfio_device_mig_state state);

/* mst_v3.c */
int mst_v3_feature_multistream(struct mst_dev *dev, u32 flags,
			       void __user *arg, size_t argsz);
int mst_v3_feature_stream_fds(struct mst_dev *dev, u32 flags,
			      void __user *arg, size_t argsz);
long mst_v3_stream_info_ioctl(struct mst_stream *s, void __user *arg);
void mst_v3_dirty_done(struct mst_stream *s, int err);
void mst_v3_abandon(struct mst_stream *s);

/* mst_sysfs.c */
extern const struct attribute_group *mst_dev_groups[];

#endif /* MST_H */
