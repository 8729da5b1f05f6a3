// SPDX-License-Identifier: MIT
/*
 * src_devices.c - devices being saved: the source side of a migration.
 *
 * v2: RUNNING -> PRE_COPY gives the data_fd (or STOP -> STOP_COPY without
 * precopy); PRECOPY_INFO tells what it holds. v3: MIG_MULTISTREAM selects N
 * dirty streams first; the same arcs give the critical FD and
 * MIG_STREAM_FDS the dirty ones; STREAM_INFO replaces PRECOPY_INFO.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

struct src_devices {
	struct mstream_source src;
	struct mstream_device **devs;
	bool reinit_optin;
	bool leave_running;	/* after success: RUNNING instead of STOP */
};

#define SD(s) ((struct src_devices *)(s))

static int open_streams(struct mstream_device *dev, struct ep_dev *e, int data_fd)
{
	unsigned int n = e->lay.num_dirty;
	int ret;

	e->fds[0] = data_fd;
	if (!n)
		return 0;
	ret = mstream_device_get_stream_fds(dev, e->fds + 1, &n);
	if (ret)
		return ret;
	if (n != e->lay.num_dirty)
		return fail(-EPROTO, "%s: %u dirty streams returned, %u selected",
			    mstream_device_name(dev), n, e->lay.num_dirty);
	return 0;
}

static int sd_layout(struct mstream_source *src, const struct mstream_session_params *p)
{
	struct src_devices *sd = SD(src);
	int ret;

	sd->reinit_optin = p->flags & MSTREAM_SESSION_REINIT;
	sd->leave_running = p->flags & MSTREAM_SESSION_SOURCE_RUNNING;
	for (unsigned int d = 0; d < src->ndev; d++) {
		struct mstream_device *dev = sd->devs[d];
		const char *name = mstream_device_name(dev);
		struct ep_dev *e = &src->dev[d];
		struct mstream_caps caps;

		ret = mstream_device_probe(dev, &caps);
		if (ret)
			return ret;
		if (!caps.migration || !caps.stop_copy)
			return fail(-EOPNOTSUPP, "%s: the device does not support migration", name);
		if (p->num_dirty && !caps.multistream)
			return fail(-EOPNOTSUPP, "%s: the device does not speak v3 (use -p v2)",
				    name);
		if (p->num_dirty > caps.max_dirty)
			return fail(-ERANGE, "%s: %u dirty streams asked, the device has at most %u",
				    name, p->num_dirty, caps.max_dirty);
		if (caps.state != MSTREAM_STATE_RUNNING && caps.state != MSTREAM_STATE_STOP)
			return fail(-EBUSY, "%s: the device is in %s; a source must be RUNNING or STOP",
				    name, mstream_state_name(caps.state));
		if (caps.multistream && caps.num_dirty != p->num_dirty) {
			ret = mstream_device_set_streams(dev, p->num_dirty);
			if (ret)
				return ret;
		}
		if (!p->num_dirty && sd->reinit_optin && caps.precopy_info_v2) {
			ret = mstream_device_enable_reinit(dev);
			if (ret)
				return ret;
		}
		e->lay.num_dirty = p->num_dirty;
		e->lay.nstreams = p->num_dirty + 1;
		snprintf(e->lay.name, sizeof(e->lay.name), "%s", name);
		/* A stopped source (a paused VM) has nothing to precopy. */
		e->precopy = caps.pre_copy && caps.state == MSTREAM_STATE_RUNNING &&
			     !p->policy.no_precopy;
	}
	return 0;
}

static int sd_start(struct mstream_source *src)
{
	struct src_devices *sd = SD(src);

	for (unsigned int d = 0; d < src->ndev; d++) {
		struct ep_dev *e = &src->dev[d];
		int fd, ret;

		if (!e->precopy)
			continue;
		ret = mstream_device_set_state(sd->devs[d], MSTREAM_STATE_PRE_COPY, &fd);
		if (ret)
			return ret;
		e->moved = true;
		if (fd < 0)
			return fail(-EPROTO, "%s: RUNNING -> PRE_COPY returned no data FD",
				    e->lay.name);
		ret = open_streams(sd->devs[d], e, fd);
		if (ret)
			return ret;
	}
	return 0;
}

static int sd_info(struct mstream_source *src, unsigned int d, unsigned int k,
		   struct mstream_stream_info *info)
{
	struct ep_dev *e = &src->dev[d];

	if (e->lay.num_dirty)
		return mstream_device_stream_info(SD(src)->devs[d], e->fds[k], info);
	return mstream_device_precopy_info(SD(src)->devs[d], e->fds[0], info);
}

static int sd_stop(struct mstream_source *src, unsigned int d)
{
	struct ep_dev *e = &src->dev[d];
	int fd, ret;

	ret = mstream_device_set_state(SD(src)->devs[d], MSTREAM_STATE_STOP_COPY, &fd);
	if (ret)
		return ret;
	e->moved = true;
	if (e->fds[0] >= 0) {
		/* PRE_COPY -> STOP_COPY goes on with the same FDs. */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (fd < 0)
		return fail(-EPROTO, "%s: -> STOP_COPY returned no data FD", e->lay.name);
	return open_streams(SD(src)->devs[d], e, fd);
}

static int sd_checksum(struct mstream_source *src, unsigned int d, uint64_t *sum)
{
	return device_checksum(SD(src)->devs[d], sum);
}

static int sd_finish(struct mstream_source *src, int status, const char *msg,
		     const uint64_t *dst_sums, const bool *has_dst)
{
	struct src_devices *sd = SD(src);
	enum mstream_state to = status || sd->leave_running ? MSTREAM_STATE_RUNNING :
							      MSTREAM_STATE_STOP;
	int ret = 0;

	(void)msg, (void)dst_sums, (void)has_dst;
	for (unsigned int d = 0; d < src->ndev; d++) {
		struct ep_dev *e = &src->dev[d];
		int r;

		if (!e->moved)
			continue;
		/* On failure this is the cancel arc: the device runs on, its
		 * state intact, and every stream FD returns -ENODEV. */
		r = mstream_device_set_state(sd->devs[d], to, NULL);
		if (r && !ret)
			ret = r;
		e->moved = r != 0;
	}
	return ret;
}

static void sd_destroy(struct mstream_source *src)
{
	ep_devs_close(src->dev, src->ndev);
	free(src->dev);
	free(SD(src)->devs);
	free(src);
}

static const struct source_ops src_devices_ops = {
	.kind = "devices",
	.layout = sd_layout,
	.start = sd_start,
	.info = sd_info,
	.stop = sd_stop,
	.checksum = sd_checksum,
	.finish = sd_finish,
	.destroy = sd_destroy,
};

int mstream_source_create_devices(struct mstream_source **srcp,
				  struct mstream_device *const *devs, unsigned int n)
{
	struct src_devices *sd;

	clear_error();
	if (!n || n > MSTREAM_MAX_DEVICES)
		return fail(-EINVAL, "%u devices: 1..%d are supported", n, MSTREAM_MAX_DEVICES);
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->devs = calloc(n, sizeof(*sd->devs));
	sd->src.dev = ep_devs_alloc(n);
	if (!sd->devs || !sd->src.dev) {
		free(sd->devs);
		free(sd->src.dev);
		free(sd);
		return -ENOMEM;
	}
	memcpy(sd->devs, devs, n * sizeof(*devs));
	sd->src.ops = &src_devices_ops;
	sd->src.ndev = n;
	*srcp = &sd->src;
	return 0;
}

void mstream_source_destroy(struct mstream_source *src)
{
	if (src)
		src->ops->destroy(src);
}

struct ep_dev *ep_devs_alloc(unsigned int n)
{
	struct ep_dev *e = calloc(n, sizeof(*e));

	for (unsigned int d = 0; e && d < n; d++)
		for (unsigned int k = 0; k < MSTREAM_MAX_STREAMS; k++) {
			e[d].fds[k] = -1;
			e[d].off[k] = -1;
		}
	return e;
}

void ep_devs_close(struct ep_dev *e, unsigned int n)
{
	for (unsigned int d = 0; e && d < n; d++)
		for (unsigned int k = 0; k < MSTREAM_MAX_STREAMS; k++)
			close_fd(&e[d].fds[k]);
}
