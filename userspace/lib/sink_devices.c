// SPDX-License-Identifier: MIT
/*
 * sink_devices.c - devices resuming: the destination of a local migration,
 * of a load from files, or of a TCP receiver.
 *
 * STOP -> RESUMING gives the (critical) data FD, MIG_STREAM_FDS the dirty
 * ones; RESUMING -> STOP is where the driver checks that every stream is
 * complete and valid, so it is part of the downtime; STOP -> RUNNING ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

struct sink_devices {
	struct mstream_sink sink;
	struct mstream_device **devs;
	bool *resuming;		/* left RUNNING/STOP: needs a reset on abort */
};

#define KD(s) ((struct sink_devices *)(s))

static int kd_open(struct mstream_sink *sink, const struct ep_dev *src, unsigned int ndev)
{
	struct sink_devices *kd = KD(sink);
	int ret;

	if (ndev != sink->ndev)
		return fail(-EINVAL, "the source has %u device(s), %u destination(s) given", ndev,
			    sink->ndev);
	for (unsigned int d = 0; d < ndev; d++) {
		struct mstream_device *dev = kd->devs[d];
		const char *name = mstream_device_name(dev);
		struct ep_dev *e = &sink->dev[d];
		unsigned int n = src[d].lay.num_dirty;
		struct mstream_caps caps;
		int fd;

		e->lay = src[d].lay;
		snprintf(e->lay.name, sizeof(e->lay.name), "%s", name);
		ret = mstream_device_probe(dev, &caps);
		if (ret)
			return ret;
		if (!caps.migration)
			return fail(-EOPNOTSUPP, "%s: the destination does not support migration",
				    name);
		if (n && !caps.multistream)
			return fail(-EOPNOTSUPP, "%s: the destination does not speak v3", name);
		if (n > caps.max_dirty)
			return fail(-ERANGE, "%s: %u dirty streams, the destination has at most %u",
				    name, n, caps.max_dirty);
		if (caps.state == MSTREAM_STATE_ERROR) {
			ret = mstream_device_reset(dev);
			if (ret)
				return ret;
			caps.state = MSTREAM_STATE_RUNNING;
		}
		if (caps.state != MSTREAM_STATE_STOP) {
			ret = mstream_device_set_state(dev, MSTREAM_STATE_STOP, NULL);
			if (ret)
				return ret;
		}
		if (caps.multistream && caps.num_dirty != n) {
			ret = mstream_device_set_streams(dev, n);
			if (ret)
				return ret;
		}
		ret = mstream_device_set_state(dev, MSTREAM_STATE_RESUMING, &fd);
		if (ret)
			return ret;
		kd->resuming[d] = true;
		if (fd < 0)
			return fail(-EPROTO, "%s: STOP -> RESUMING returned no data FD", name);
		e->fds[0] = fd;
		if (n) {
			unsigned int got = n;

			ret = mstream_device_get_stream_fds(dev, e->fds + 1, &got);
			if (ret)
				return ret;
			if (got != n)
				return fail(-EPROTO, "%s: %u dirty streams returned, %u selected",
					    name, got, n);
		}
	}
	return 0;
}

static int kd_device_done(struct mstream_sink *sink, unsigned int d,
			  const struct stream_result *res, const uint64_t *src_sum)
{
	struct mstream_device *dev = KD(sink)->devs[d];
	int ret;

	(void)res, (void)src_sum;
	/* The driver validates here: all streams complete, every record good. */
	ret = mstream_device_set_state(dev, MSTREAM_STATE_STOP, NULL);
	if (ret)
		return fail(ret, "%s: the destination refused the data (RESUMING -> STOP: %s)",
			    mstream_device_name(dev), strerror(-ret));
	return 0;
}

static int kd_commit(struct mstream_sink *sink)
{
	for (unsigned int d = 0; d < sink->ndev; d++) {
		int ret = mstream_device_set_state(KD(sink)->devs[d], MSTREAM_STATE_RUNNING, NULL);

		if (ret)
			return ret;
		KD(sink)->resuming[d] = false;
	}
	return 0;
}

static int kd_checksum(struct mstream_sink *sink, unsigned int d, uint64_t *sum)
{
	return device_checksum(KD(sink)->devs[d], sum);
}

static void kd_abort(struct mstream_sink *sink, int err, const char *msg)
{
	(void)err, (void)msg;
	/* A destination that took part of a state must not run it: a reset
	 * leaves it RUNNING with its initial state and out of ERROR. */
	for (unsigned int d = 0; d < sink->ndev; d++) {
		if (!KD(sink)->resuming[d])
			continue;
		close_fd(&sink->dev[d].fds[0]); /* end the resuming session first */
		for (unsigned int k = 1; k < MSTREAM_MAX_STREAMS; k++)
			close_fd(&sink->dev[d].fds[k]);
		mstream_device_reset(KD(sink)->devs[d]);
		KD(sink)->resuming[d] = false;
	}
}

static void kd_destroy(struct mstream_sink *sink)
{
	ep_devs_close(sink->dev, sink->ndev);
	free(sink->dev);
	free(KD(sink)->devs);
	free(KD(sink)->resuming);
	free(sink);
}

static const struct sink_ops sink_devices_ops = {
	.kind = "devices",
	.open = kd_open,
	.device_done = kd_device_done,
	.commit = kd_commit,
	.checksum = kd_checksum,
	.abort = kd_abort,
	.destroy = kd_destroy,
};

int mstream_sink_create_devices(struct mstream_sink **sinkp, struct mstream_device *const *devs,
				unsigned int n)
{
	struct sink_devices *kd;

	clear_error();
	if (!n || n > MSTREAM_MAX_DEVICES)
		return fail(-EINVAL, "%u devices: 1..%d are supported", n, MSTREAM_MAX_DEVICES);
	kd = calloc(1, sizeof(*kd));
	if (!kd)
		return -ENOMEM;
	kd->devs = calloc(n, sizeof(*kd->devs));
	kd->resuming = calloc(n, sizeof(*kd->resuming));
	kd->sink.dev = ep_devs_alloc(n);
	if (!kd->devs || !kd->resuming || !kd->sink.dev) {
		free(kd->devs);
		free(kd->resuming);
		free(kd->sink.dev);
		free(kd);
		return -ENOMEM;
	}
	memcpy(kd->devs, devs, n * sizeof(*devs));
	kd->sink.ops = &sink_devices_ops;
	kd->sink.ndev = n;
	*sinkp = &kd->sink;
	return 0;
}

void mstream_sink_destroy(struct mstream_sink *sink)
{
	if (sink)
		sink->ops->destroy(sink);
}
