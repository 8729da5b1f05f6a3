// SPDX-License-Identifier: MIT
/*
 * session.c - one migration: set up the source and the sink, precopy until
 * the switchover policy is met, stop every device (together, or one after
 * another), drain every stream through the reader pool, have the
 * destination load and run, and time it.
 *
 * Downtime is measured here, on one clock: from just before the first source
 * device is asked to leave RUNNING/PRE_COPY for STOP_COPY to just after the
 * last destination device reached RUNNING, so the destination's load
 * (RESUMING -> STOP validates everything) is inside it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "endpoint.h"

struct sdev {
	/* Under the session's lock: the pool's streams and, once the pool is
	 * gone, their last stats. */
	struct mstream_stream *st[MSTREAM_MAX_STREAMS];
	struct mstream_stream_stats ss[MSTREAM_MAX_STREAMS];
	unsigned int nstreams;
	bool stopped, drained, loaded;
	uint64_t t_stop, t_stopped, t_drained, t_loaded;
	bool has_src_sum, has_dst_sum;
	uint64_t src_sum, dst_sum;
	struct mstream_device_stats pub; /* under the lock, by publish() */
};

/*
 * Threads: the session's own thread runs it and owns st and the sdev times.
 * Any thread may call the getters: they see what publish() copied under the
 * lock (each tick, and when run() returns), and the streams' live stats
 * while the pool exists; release_pool() clears the pointers under the lock
 * before the pool is freed.
 */
struct mstream_session {
	struct mstream_session_params p;
	pthread_mutex_t lock;		/* pool, dev[].st, ndev, pub, abort_msg */
	struct mstream_pool *pool;
	int abort_err;			/* atomic: set by mstream_session_abort() */
	int abort_efd;			/* ... which also makes this readable */
	char abort_msg[MSTREAM_ERRMSG];
	char err[MSTREAM_ERRMSG];
	struct mstream_source *src;
	struct mstream_sink *sink;
	unsigned int ndev;
	struct sdev *dev;
	struct mstream_session_stats st;
	struct mstream_session_stats pub; /* under the lock, by publish() */
	bool ran, checksum_streams, stopped_called;
	uint64_t t_precopy;		/* precopy began (0: none) */
};

int mstream_session_create(struct mstream_session **sp, const struct mstream_session_params *p)
{
	struct mstream_session *s;

	clear_error();
	if (p && (CHECK_STRUCT("struct mstream_session_params", p, SESSION_FLAGS) ||
		  check_struct("struct mstream_policy", p->policy.reserved,
			       sizeof(p->policy.reserved), 0, 0) ||
		  CHECK_STRUCT("struct mstream_pool_params", &p->pool, POOL_FLAGS)))
		return -EINVAL;
	if (p && p->num_dirty >= MSTREAM_MAX_STREAMS)
		return fail(-ERANGE, "%u dirty streams: at most %d", p->num_dirty,
			    MSTREAM_MAX_STREAMS - 1);
	if (p && p->order > MSTREAM_ORDER_SERIAL)
		return fail(-EINVAL, "unknown order %u", p->order);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->abort_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->abort_efd < 0) {
		free(s);
		return fail(-errno, "eventfd: %s", strerror(errno));
	}
	if (p)
		s->p = *p;
	if (!s->p.policy.dirty_threshold)
		s->p.policy.dirty_threshold = 1 << 20;
	if (!s->p.policy.max_iterations)
		s->p.policy.max_iterations = 30;
	if (!s->p.policy.max_precopy_ns)
		s->p.policy.max_precopy_ns = 30 * NSEC_PER_SEC;
	if (!s->p.policy.tick_ns)
		s->p.policy.tick_ns = 10 * NSEC_PER_MSEC;
	if (!s->p.stall_timeout_ns)
		s->p.stall_timeout_ns = 60 * NSEC_PER_SEC;
	s->st.num_dirty = s->p.num_dirty;
	pthread_mutex_init(&s->lock, NULL);
	*sp = s;
	return 0;
}

void mstream_session_abort(struct mstream_session *s, int err)
{
	/* An atomic store and a write(): callable from a signal handler. The
	 * session's loop sees it within one tick and cancels the pool itself;
	 * network waits poll the eventfd and end at once. */
	uint64_t one = 1;
	int zero = 0, saved = errno;

	__atomic_compare_exchange_n(&s->abort_err, &zero, err < 0 ? err : -ECANCELED, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (write(s->abort_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, readable anyway */
	}
	errno = saved;
}

int session_abort_fd(struct mstream_session *s)
{
	return s ? s->abort_efd : -1;
}

void session_abort_msg(struct mstream_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->abort_msg[0]) {
		va_start(ap, fmt);
		vsnprintf(s->abort_msg, sizeof(s->abort_msg), fmt, ap);
		va_end(ap);
	}
	mstream_session_abort(s, err);
	/* From a thread (not a signal): wake the pool's waiters at once. */
	if (s->pool)
		mstream_pool_cancel(s->pool, err);
	pthread_mutex_unlock(&s->lock);
}

const char *mstream_session_error(struct mstream_session *s)
{
	return s->err;
}

/* The session's error: the first one set wins, later ones are consequences. */
static int set_err(struct mstream_session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_err(struct mstream_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	if (!s->st.error)
		s->st.error = err;
	return err;
}

/* Fail with the library's thread-local explanation, under a heading. */
static int set_err_last(struct mstream_session *s, int err, const char *what)
{
	const char *why = mstream_last_error();

	return set_err(s, err, "%s: %s", what, why[0] ? why : mstream_strerror(err));
}

static const char *dev_name(struct mstream_session *s, unsigned int d)
{
	const char *n = s->src->dev[d].lay.name;

	return n[0] ? n : s->sink->dev && s->sink->dev[d].lay.name[0] ? s->sink->dev[d].lay.name :
									  "device";
}

static int add_stream_quiet(struct mstream_session *s, unsigned int d, unsigned int k);

static int add_stream(struct mstream_session *s, unsigned int d, unsigned int k)
{
	int ret = add_stream_quiet(s, d, k);

	if (ret)
		return set_err_last(s, ret, "reader pool");
	return 0;
}

/* A stream's stats: live while the pool runs, the last ones after. */
static void stream_stats_locked(struct mstream_session *s, unsigned int d, unsigned int k,
				struct mstream_stream_stats *st)
{
	if (s->dev[d].st[k])
		mstream_stream_get_stats(s->dev[d].st[k], st);
	else
		*st = s->dev[d].ss[k];
}

/* Make the session thread's figures visible to the getters. */
static void publish(struct mstream_session *s)
{
	struct mstream_session_stats *st = &s->pub;
	uint64_t drained = 0;

	pthread_mutex_lock(&s->lock);
	*st = s->st;
	for (unsigned int d = 0; d < s->ndev; d++) {
		struct sdev *sd = &s->dev[d];
		struct mstream_device_stats *ds = &sd->pub;

		ds->num_dirty = s->src->dev[d].lay.num_dirty;
		ds->streams = sd->nstreams;
		ds->bytes = 0;
		for (unsigned int k = 0; k < sd->nstreams; k++) {
			struct mstream_stream_stats ss;

			stream_stats_locked(s, d, k, &ss);
			ds->bytes += ss.bytes_read;
			st->bytes_precopy += ss.bytes_read - ss.bytes_drain;
		}
		st->bytes += ds->bytes;
		ds->t_stop_ns = sd->t_stop;
		ds->t_stopped_ns = sd->t_stopped;
		ds->t_drained_ns = sd->t_drained;
		ds->t_loaded_ns = sd->t_loaded;
		ds->has_src_checksum = sd->has_src_sum;
		ds->has_dst_checksum = sd->has_dst_sum;
		ds->src_checksum = sd->src_sum;
		ds->dst_checksum = sd->dst_sum;
		drained = MAX(drained, sd->t_drained);
	}
	if (st->t_stop_ns && st->t_end_ns)
		st->downtime_ns = st->t_end_ns - st->t_stop_ns;
	if (st->t_stop_ns && s->t_precopy)
		st->precopy_ns = st->t_stop_ns - s->t_precopy;
	if (st->t_stop_ns || s->t_precopy)
		st->setup_ns = (s->t_precopy ? s->t_precopy : st->t_stop_ns) - st->t_start_ns;
	if (st->t_stop_ns && drained >= st->t_stop_ns)
		st->stopcopy_ns = drained - st->t_stop_ns;
	if (st->t_stop_ns && st->t_end_ns && st->t_end_ns >= drained && drained)
		st->load_ns = st->t_end_ns - drained;
	pthread_mutex_unlock(&s->lock);
}

static void progress(struct mstream_session *s)
{
	publish(s);
	if (s->p.progress)
		s->p.progress(s, s->p.progress_arg);
}

/* What the other end of a failed stream is, for messages. */
static const char *side(const char *kind, bool sink)
{
	if (!strcmp(kind, "devices"))
		return sink ? "destination device" : "source device";
	if (!strcmp(kind, "files"))
		return "save file";
	return sink ? "receiver" : "sender";
}

/* A failed stream, an abort, or a stall: the session fails. */
static int check(struct mstream_session *s, bool stall)
{
	int ab = __atomic_load_n(&s->abort_err, __ATOMIC_SEQ_CST);
	uint64_t now = mstream_now_ns();

	if (ab) {
		pthread_mutex_lock(&s->lock);
		set_err(s, ab, "%s", s->abort_msg[0] ? s->abort_msg :
				     ab == -EINTR ? "interrupted by a signal" : "aborted");
		pthread_mutex_unlock(&s->lock);
		return ab;
	}
	if (s->src->deadline && now > s->src->deadline)
		return set_err(s, -ETIMEDOUT, "the %s did not finish within the session timeout",
			       side(s->src->ops->kind, false));
	for (unsigned int d = 0; d < s->ndev; d++) {
		struct sdev *sd = &s->dev[d];
		/* The source has stopped (or, for a receiver, the sender has):
		 * from then on data must keep moving. */
		uint64_t base = s->src->ops->stop ? sd->t_stop :
				__atomic_load_n(&s->src->t_switchover, __ATOMIC_RELAXED);

		for (unsigned int k = 0; k < sd->nstreams; k++) {
			struct mstream_stream_stats ss;

			if (!sd->st[k])
				continue;
			mstream_stream_get_stats(sd->st[k], &ss);
			if (ss.state == MSTREAM_STREAM_FAILED && ss.error_on_write)
				return set_err(s, ss.error, "%s stream %u: writing to the %s: %s",
					       dev_name(s, d), k, side(s->sink->ops->kind, true),
					       mstream_strerror(ss.error));
			if (ss.state == MSTREAM_STREAM_FAILED) {
				const char *what = ss.error == -EPROTO ?
					" (ENOMSG after STOP_COPY)" : "";

				return set_err(s, ss.error, "%s stream %u: reading from the %s: %s%s",
					       dev_name(s, d), k, side(s->src->ops->kind, false),
					       mstream_strerror(ss.error), what);
			}
			/* (The stream may have moved after `now` was read.) */
			if (stall && base && ss.state == MSTREAM_STREAM_ACTIVE && ss.busy &&
			    now > MAX(base, ss.t_progress_ns) &&
			    now - MAX(base, ss.t_progress_ns) > s->p.stall_timeout_ns)
				return set_err(s, -ETIMEDOUT,
					       "%s stream %u: no data moved for %llu s (%s side stuck)",
					       dev_name(s, d), k,
					       (unsigned long long)(s->p.stall_timeout_ns / NSEC_PER_SEC),
					       ss.write_busy ? "destination" : "source");
		}
	}
	return 0;
}

static int precopy(struct mstream_session *s)
{
	const struct mstream_policy *pol = &s->p.policy;
	uint64_t t0 = mstream_now_ns();
	int ret;

	s->t_precopy = t0;
	s->st.phase = MSTREAM_PHASE_PRECOPY;
	for (;;) {
		bool converged = true, reinit = false;
		unsigned int min_parks = ~0u;
		uint64_t crit_sum = 0;

		mstream_pool_wait(s->pool, pol->tick_ns);
		ret = check(s, false);
		if (ret)
			return ret;
		for (unsigned int d = 0; d < s->ndev; d++) {
			struct ep_dev *e = &s->src->dev[d];
			struct sdev *sd = &s->dev[d];
			uint64_t crit = 0, dirty = 0;

			if (!e->precopy)
				continue;
			/* v2: one stream, PRECOPY_INFO's initial and dirty bytes.
			 * v3: STREAM_INFO per stream; on a parked stream it also
			 * starts the stream's next pass. */
			for (unsigned int k = 0; k < (e->lay.num_dirty ? sd->nstreams : 1); k++) {
				struct mstream_stream_info info;
				struct mstream_stream_stats ss;

				ret = s->src->ops->info(s->src, d, k, &info);
				if (ret)
					return set_err_last(s, ret, "precopy");
				if (info.flags & MSTREAM_INFO_REINIT)
					reinit = true;
				if (!e->lay.num_dirty) {
					crit = info.initial_bytes;
					dirty = info.dirty_bytes;
				} else if (k == 0) {
					crit = info.pending_bytes;
				} else {
					dirty += info.pending_bytes;
				}
				mstream_stream_get_stats(sd->st[k], &ss);
				if (ss.state == MSTREAM_STREAM_PARKED && info.pending_bytes)
					mstream_stream_arm(sd->st[k]);
				min_parks = MIN(min_parks, ss.parks);
			}
			if (crit || dirty > pol->dirty_threshold)
				converged = false;
			crit_sum += crit;
		}
		s->st.iterations = min_parks == ~0u ? 0 : min_parks;
		s->st.crit_pending_at_switchover = crit_sum;
		if (reinit) {
			/* New critical data: its stream was re-armed above; decide
			 * again once it has been read. */
			s->st.reinits++;
			converged = false;
		}
		progress(s);
		if (converged)
			break;
		if (s->st.iterations >= pol->max_iterations ||
		    mstream_now_ns() - t0 >= pol->max_precopy_ns) {
			s->st.forced_switchover = true;
			break;
		}
	}
	return 0;
}

/* Every stream of device d has ended: verify it, have the destination load it. */
static int device_done(struct mstream_session *s, unsigned int d)
{
	struct stream_result res[MSTREAM_MAX_STREAMS] = { 0 };
	struct sdev *sd = &s->dev[d];
	uint64_t sum;
	int ret;

	sd->drained = true;
	sd->t_drained = mstream_now_ns();
	for (unsigned int k = 0; k < sd->nstreams; k++) {
		struct mstream_stream_stats ss;

		mstream_stream_get_stats(sd->st[k], &ss);
		res[k].bytes = ss.bytes_written;
		res[k].checksum = ss.checksum;
		res[k].has_checksum = ss.has_checksum;
	}
	if (s->src->ops->device_done) {
		ret = s->src->ops->device_done(s->src, d, res);
		if (ret)
			return set_err_last(s, ret, dev_name(s, d));
	}
	if (s->sink->wants_src_checksum && s->src->ops->checksum &&
	    !s->src->ops->checksum(s->src, d, &sum)) {
		sd->has_src_sum = true;
		sd->src_sum = sum;
	}
	ret = s->sink->ops->device_done(s->sink, d, res, sd->has_src_sum ? &sd->src_sum : NULL);
	if (ret)
		return set_err_last(s, ret, dev_name(s, d));
	sd->loaded = true;
	sd->t_loaded = mstream_now_ns();
	return 0;
}

/* Device d enters STOP_COPY; its streams are (added and) set to drain at
 * once, so that its data flows while other devices are still stopping. */
struct stopper {
	struct mstream_session *s;
	unsigned int dev;
	pthread_t thread;
	bool started;
	int ret;
	char msg[MSTREAM_ERRMSG];
};

static int add_stream_quiet(struct mstream_session *s, unsigned int d, unsigned int k)
{
	struct ep_dev *in = &s->src->dev[d], *out = &s->sink->dev[d];
	struct mstream_stream_params sp = {
		.in_fd = in->fds[k],
		.out_fd = out->fds[k],
		.out_offset = out->off[k],
	};
	char name[96];

	if (in->lay.num_dirty && k == 0)
		sp.flags |= MSTREAM_STREAM_CRITICAL;
	if (s->checksum_streams)
		sp.flags |= MSTREAM_STREAM_CHECKSUM;
	struct mstream_stream *st;
	int ret;

	snprintf(name, sizeof(name), "%s/%u", dev_name(s, d), k);
	sp.name = name;
	ret = mstream_pool_add(s->pool, &sp, &st);
	if (!ret) {
		pthread_mutex_lock(&s->lock);
		s->dev[d].st[k] = st;
		pthread_mutex_unlock(&s->lock);
	}
	return ret;
}

static void *stop_one(void *arg)
{
	struct stopper *t = arg;
	struct mstream_session *s = t->s;
	struct sdev *sd = &s->dev[t->dev];

	sd->t_stop = mstream_now_ns();
	if (s->src->ops->stop) {
		t->ret = s->src->ops->stop(s->src, t->dev);
		if (t->ret) {
			snprintf(t->msg, sizeof(t->msg), "switchover: %s", mstream_last_error());
			return NULL;
		}
	}
	sd->t_stopped = mstream_now_ns();
	sd->stopped = true;
	for (unsigned int k = 0; k < sd->nstreams; k++) {
		if (!sd->st[k]) {
			t->ret = add_stream_quiet(s, t->dev, k);
			if (t->ret) {
				snprintf(t->msg, sizeof(t->msg), "reader pool: %s",
					 mstream_strerror(t->ret));
				return NULL;
			}
		}
		mstream_stream_drain(sd->st[k]);
	}
	return NULL;
}

/*
 * Stop devices [first, last) and drain them until each has been loaded.
 *
 * Several devices are stopped from a thread each: a driver's STOP_COPY arc
 * can take long (the sample device snapshots its state in it, as firmware
 * does), and issuing the arcs one after the other would add them up before
 * the last device even starts to produce.
 */
static int drain(struct mstream_session *s, unsigned int first, unsigned int last)
{
	struct stopper stoppers[MSTREAM_MAX_DEVICES] = { 0 };
	int ret = 0;

	s->st.phase = MSTREAM_PHASE_STOPCOPY;
	if (!s->st.t_stop_ns) {
		s->st.t_stop_ns = mstream_now_ns();
		if (s->sink->ops->switchover)
			s->sink->ops->switchover(s->sink);
	}
	for (unsigned int d = first; d < last; d++) {
		struct stopper *t = &stoppers[d];

		t->s = s;
		t->dev = d;
		if (last - first > 1 && !pthread_create(&t->thread, NULL, stop_one, t))
			t->started = true;
		else
			stop_one(t);
	}
	for (unsigned int d = first; d < last; d++) {
		struct stopper *t = &stoppers[d];

		if (t->started)
			pthread_join(t->thread, NULL);
		if (t->ret && !ret)
			ret = set_err(s, t->ret, "%s", t->msg);
	}
	if (ret)
		return ret;
	if (s->p.stopped && !s->stopped_called) {
		s->stopped_called = true;
		publish(s);
		s->p.stopped(s, s->p.stopped_arg);
	}
	for (;;) {
		bool all = true;

		for (unsigned int d = first; d < last; d++) {
			struct sdev *sd = &s->dev[d];
			bool ended = true;

			if (sd->loaded)
				continue;
			for (unsigned int k = 0; k < sd->nstreams; k++)
				ended &= mstream_stream_get_stats(sd->st[k], &sd->ss[k]) == 0 &&
					 sd->ss[k].state == MSTREAM_STREAM_DONE;
			if (ended) {
				/* Load this device while the others still drain. */
				ret = device_done(s, d);
				if (ret)
					return ret;
			} else {
				all = false;
			}
		}
		if (all)
			return 0;
		ret = check(s, true);
		if (ret)
			return ret;
		progress(s);
		mstream_pool_wait(s->pool, s->p.policy.tick_ns);
	}
}

/* The streams' last stats are kept, their pointers cleared, all under the
 * lock: a getter never sees a stream of a freed pool. */
static void release_pool(struct mstream_session *s)
{
	struct mstream_pool *pool;

	pthread_mutex_lock(&s->lock);
	pool = s->pool;
	if (pool)
		mstream_pool_get_stats(pool, &s->st.pool);
	for (unsigned int d = 0; d < s->ndev; d++)
		for (unsigned int k = 0; k < s->dev[d].nstreams; k++) {
			if (s->dev[d].st[k])
				mstream_stream_get_stats(s->dev[d].st[k], &s->dev[d].ss[k]);
			s->dev[d].st[k] = NULL;
		}
	s->pool = NULL;
	pthread_mutex_unlock(&s->lock);
	mstream_pool_destroy(pool);
}

static int setup(struct mstream_session *s)
{
	struct mstream_pool_params pp;
	struct mstream_pool *pool;
	struct sdev *dev;
	int ret;

	ret = s->src->ops->layout(s->src, &s->p);
	if (ret)
		return set_err_last(s, ret, "source");
	dev = calloc(s->src->ndev, sizeof(*dev));
	if (!dev)
		return set_err(s, -ENOMEM, "out of memory");
	s->st.devices = s->src->ndev;
	for (unsigned int d = 0; d < s->src->ndev; d++) {
		dev[d].nstreams = s->src->dev[d].lay.nstreams;
		s->st.streams += dev[d].nstreams;
		s->st.num_dirty = s->src->dev[d].lay.num_dirty;
	}
	pthread_mutex_lock(&s->lock);
	s->dev = dev;
	pthread_mutex_unlock(&s->lock);
	ret = s->sink->ops->open(s->sink, s->src->dev, s->src->ndev);
	if (ret)
		return set_err_last(s, ret, "destination");
	/* From here on the getters see the devices, and the sink's names. */
	pthread_mutex_lock(&s->lock);
	s->ndev = s->src->ndev;
	pthread_mutex_unlock(&s->lock);
	ret = s->src->ops->start(s->src);
	if (ret)
		return set_err_last(s, ret, "source");

	s->checksum_streams = s->src->wants_checksum || s->sink->wants_checksum;
	/* Every stream is known now, even those added at their device's stop. */
	pp = s->p.pool;
	if (!pp.threads)
		pp.threads = pool_auto_threads(s->st.streams);
	ret = mstream_pool_create(&pool, &pp);
	if (ret)
		return set_err_last(s, ret, "reader pool");
	pthread_mutex_lock(&s->lock);
	s->pool = pool;
	pthread_mutex_unlock(&s->lock);
	for (unsigned int d = 0; d < s->ndev; d++)
		for (unsigned int k = 0; k < s->dev[d].nstreams; k++)
			if (s->src->dev[d].fds[k] >= 0 && (ret = add_stream(s, d, k)))
				return ret;
	ret = mstream_pool_start(pool);
	if (ret)
		return set_err_last(s, ret, "reader pool");
	return 0;
}

/* The endpoints outlive the run, and the session may not: their threads
 * let go of it before run() returns. */
static int detach(struct mstream_session *s, int ret)
{
	if (s->src->ops->detach)
		s->src->ops->detach(s->src);
	if (s->sink->ops->detach)
		s->sink->ops->detach(s->sink);
	return ret;
}

int mstream_session_run(struct mstream_session *s, struct mstream_source *src,
			struct mstream_sink *sink)
{
	uint64_t dst_sums[MSTREAM_MAX_DEVICES] = { 0 };
	bool has_dst[MSTREAM_MAX_DEVICES] = { 0 };
	bool any_precopy = false;
	int ret;

	if (s->ran)
		return -EALREADY;
	s->ran = true;
	clear_error();
	s->src = src;
	s->sink = sink;
	src->session = sink->session = s;
	s->st.t_start_ns = mstream_now_ns();
	s->st.phase = MSTREAM_PHASE_SETUP;

	ret = setup(s);
	if (ret)
		goto fail;
	for (unsigned int d = 0; d < s->ndev; d++)
		any_precopy |= src->dev[d].precopy;
	if (any_precopy) {
		ret = precopy(s);
		if (ret)
			goto fail;
	}
	if (s->p.order == MSTREAM_ORDER_SERIAL) {
		for (unsigned int d = 0; d < s->ndev && !ret; d++)
			ret = drain(s, d, d + 1);
	} else {
		ret = drain(s, 0, s->ndev);
	}
	if (ret)
		goto fail;

	s->st.phase = MSTREAM_PHASE_LOAD;
	progress(s);
	ret = sink->ops->commit(sink);
	if (ret) {
		set_err_last(s, ret, "destination");
		goto fail;
	}
	s->st.t_end_ns = mstream_now_ns();
	if (!src->ops->stop && __atomic_load_n(&src->t_switchover, __ATOMIC_RELAXED))
		/* a receiver: from the sender's stop */
		s->st.t_stop_ns = __atomic_load_n(&src->t_switchover, __ATOMIC_RELAXED);
	if (src->ops->committed)
		src->ops->committed(src, 0, NULL);

	/* Checksums are read outside the downtime, before the sources leave
	 * STOP_COPY: both ends hold the migrated state, frozen. */
	if (s->p.flags & MSTREAM_SESSION_CHECKSUM) {
		for (unsigned int d = 0; d < s->ndev; d++) {
			struct sdev *sd = &s->dev[d];

			if (!sd->has_src_sum && src->ops->checksum)
				sd->has_src_sum = !src->ops->checksum(src, d, &sd->src_sum);
			if (sink->ops->checksum)
				sd->has_dst_sum = !sink->ops->checksum(sink, d, &sd->dst_sum);
			dst_sums[d] = sd->dst_sum;
			has_dst[d] = sd->has_dst_sum;
		}
	}
	release_pool(s);
	ret = src->ops->finish(src, 0, NULL, dst_sums, has_dst);
	if (ret) {
		set_err_last(s, ret, "source");
		s->st.phase = MSTREAM_PHASE_FAILED;
		publish(s);
		return detach(s, ret);
	}
	s->st.phase = MSTREAM_PHASE_DONE;
	progress(s);
	return detach(s, 0);

fail:
	/* A wait that an abort interrupted: the abort's error (-EINTR for ^C). */
	if (ret == -ECANCELED && __atomic_load_n(&s->abort_err, __ATOMIC_SEQ_CST))
		ret = __atomic_load_n(&s->abort_err, __ATOMIC_SEQ_CST);
	s->st.phase = MSTREAM_PHASE_FAILED;
	if (!s->st.error || s->st.error == -ECANCELED)
		s->st.error = ret;
	pthread_mutex_lock(&s->lock);
	if (s->pool)
		mstream_pool_cancel(s->pool, ret);
	pthread_mutex_unlock(&s->lock);
	/* Unblock what the pool may wait on, join it, and only then let the
	 * endpoints close FDs and move devices: never an FD closed (and its
	 * number reused) under an in-flight request. */
	if (sink->ops->cancel)
		sink->ops->cancel(sink);
	release_pool(s);
	sink->ops->abort(sink, ret, s->err);
	if (src->ops->committed)
		src->ops->committed(src, ret, s->err);
	src->ops->finish(src, ret, s->err, NULL, NULL);
	progress(s);
	return detach(s, ret);
}

int mstream_session_get_stats(struct mstream_session *s, struct mstream_session_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->pub;
	if (s->pool)
		mstream_pool_get_stats(s->pool, &st->pool);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int mstream_session_get_device_stats(struct mstream_session *s, unsigned int d,
				     struct mstream_device_stats *st)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (d < s->ndev) {
		*st = s->dev[d].pub;
		st->source_name = s->src->dev[d].lay.name;
		st->sink_name = s->sink->dev ? s->sink->dev[d].lay.name : "";
	} else {
		ret = -ENOENT;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int mstream_session_get_stream_stats(struct mstream_session *s, unsigned int d, unsigned int k,
				     struct mstream_stream_stats *st)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (d < s->ndev && k < s->dev[d].nstreams)
		stream_stats_locked(s, d, k, st);
	else
		ret = -ENOENT;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void mstream_session_destroy(struct mstream_session *s)
{
	if (!s)
		return;
	release_pool(s);
	free(s->dev);
	close(s->abort_efd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
