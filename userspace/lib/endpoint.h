/* SPDX-License-Identifier: MIT */
/*
 * endpoint.h - what a session needs from a source (devices being saved, save
 * files, a TCP receiver's connections) and from a sink (devices resuming,
 * save files, a TCP sender's connections).
 *
 * The session calls, in this order:
 *   src->layout         how many devices, how many streams each
 *   sink->open          prepare the destination for that layout: output FDs
 *   src->start          input FDs (devices: enter PRE_COPY)
 *   [src->info ...]     precopy: what each stream still holds
 *   sink->switchover    the source is about to stop (downtime starts)
 *   src->stop(d)        device d enters STOP_COPY (may produce its FDs now)
 *   src->device_done(d) / sink->device_done(d)
 *                       every stream of d ended: verify, load (RESUMING->STOP)
 *   sink->commit        every destination RUNNING (downtime ends)
 *   src->committed      (TCP receiver: tell the sender)
 *   checksums           src->checksum, sink->checksum
 *   src->finish(status) sources STOP (or back to RUNNING on failure)
 * and on failure: sink->cancel (wake what the pool waits on), the pool is
 * joined, then sink->abort(err) (may close FDs, reset devices),
 * src->committed(err), src->finish(err).
 * Last, whatever the outcome: src->detach, sink->detach. The session may be
 * freed right after run() returns, while the endpoints live on: their own
 * threads must not refer to it any more.
 *
 * FDs stay owned by the endpoint that opened them and are closed by its
 * destroy, after the session has stopped every reader.
 */
#ifndef MSTREAM_ENDPOINT_H
#define MSTREAM_ENDPOINT_H

#include <limits.h>
#include <stdbool.h>

#include "internal.h"

struct dev_layout {
	unsigned int num_dirty; /* 0 = v2 */
	unsigned int nstreams;	/* 1 for v2, N + 1 for v3 */
	char name[64];		/* the device's name at this end ("" if none) */
};

struct ep_dev {
	struct dev_layout lay;
	int fds[MSTREAM_MAX_STREAMS];
	int64_t off[MSTREAM_MAX_STREAMS]; /* sinks: write offset, -1 = stream */
	bool precopy;			  /* sources: in PRE_COPY now */
	bool moved;			  /* sources: left RUNNING (needs finish) */
};

struct stream_result {
	uint64_t bytes;
	uint64_t checksum;
	bool has_checksum;
};

struct mstream_source;
struct mstream_sink;

struct source_ops {
	const char *kind;
	int (*layout)(struct mstream_source *src, const struct mstream_session_params *p);
	int (*start)(struct mstream_source *src);
	int (*info)(struct mstream_source *src, unsigned int dev, unsigned int stream,
		    struct mstream_stream_info *info);
	int (*stop)(struct mstream_source *src, unsigned int dev);
	int (*device_done)(struct mstream_source *src, unsigned int dev,
			   const struct stream_result *res);
	void (*committed)(struct mstream_source *src, int status, const char *msg);
	int (*checksum)(struct mstream_source *src, unsigned int dev, uint64_t *sum);
	/* dst: the destination's checksums, for a TCP receiver to send back. */
	int (*finish)(struct mstream_source *src, int status, const char *msg,
		      const uint64_t *dst_sums, const bool *has_dst);
	void (*detach)(struct mstream_source *src);
	void (*destroy)(struct mstream_source *src);
};

struct mstream_source {
	const struct source_ops *ops;
	unsigned int ndev;
	struct ep_dev *dev;	/* ndev entries, allocated by layout() */
	struct mstream_session *session;
	/* TCP receiver: when the sender switched over (0: not yet). */
	uint64_t t_switchover;
	/* The run fails with -ETIMEDOUT past this (0: no limit): a TCP
	 * receiver's bound on how long its sender may take. */
	uint64_t deadline;
	bool wants_checksum;	/* checksum the streams (files: verify) */
};

struct sink_ops {
	const char *kind;
	int (*open)(struct mstream_sink *sink, const struct ep_dev *src, unsigned int ndev);
	void (*switchover)(struct mstream_sink *sink);
	int (*device_done)(struct mstream_sink *sink, unsigned int dev,
			   const struct stream_result *res, const uint64_t *src_sum);
	int (*commit)(struct mstream_sink *sink);
	int (*checksum)(struct mstream_sink *sink, unsigned int dev, uint64_t *sum);
	/* Make the pool's pending I/O on our FDs return (shutdown a socket);
	 * never close an FD here: the pool may still be using it. */
	void (*cancel)(struct mstream_sink *sink);
	void (*abort)(struct mstream_sink *sink, int err, const char *msg);
	void (*detach)(struct mstream_sink *sink);
	void (*destroy)(struct mstream_sink *sink);
};

struct mstream_sink {
	const struct sink_ops *ops;
	unsigned int ndev;	/* devices given at creation; 0 = any */
	struct ep_dev *dev;	/* filled by open() */
	struct mstream_session *session;
	bool wants_checksum;	 /* checksum the streams */
	bool wants_src_checksum; /* device_done() records the source's */
};

/* For endpoints' own threads (TCP monitors): fail the running session. */
void session_abort_msg(struct mstream_session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An eventfd that becomes readable when the session is aborted (-1 for no
 * session): endpoints' waits poll it, so that ^C ends them at once. */
int session_abort_fd(struct mstream_session *s);

/* Allocate n ep_dev with every FD -1 and every offset -1. */
struct ep_dev *ep_devs_alloc(unsigned int n);
void ep_devs_close(struct ep_dev *devs, unsigned int n);

#endif
