// SPDX-License-Identifier: GPL-2.0-only
/*
 * mdev instances (sysfs), opening them through VFIO, and the migration
 * ioctls as thin wrappers returning 0 or -errno.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mst.h"

void mst_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# %s\n", line);
}

const char *mst_skip_reason(void)
{
	struct stat st;

	if (stat(MST_MDEV_TYPE_DIR "/create", &st))
		return "mdev type vfio_mstream-dev absent (" MST_MDEV_TYPE_DIR
		       "): vfio_mstream.ko not loaded";
	if (stat("/dev/vfio/vfio", &st))
		return "/dev/vfio/vfio absent: vfio not loaded";
	return NULL;
}

int mst_mdev_create(char uuid[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	int fd, err;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read(fd, rnd, sizeof(rnd)) != sizeof(rnd)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	/* e2e0xxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx */
	for (int i = 0, j = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			uuid[i] = '-';
			continue;
		}
		uuid[i] = hex[rnd[j / 2] >> ((j & 1) * 4) & 0xf];
		j++;
	}
	memcpy(uuid, MST_UUID_PREFIX, strlen(MST_UUID_PREFIX));
	uuid[14] = '4';
	uuid[19] = '8';
	uuid[36] = 0;
	err = file_write_str(MST_MDEV_TYPE_DIR "/create", uuid);
	if (err)
		mst_log("create mdev %s: %s", uuid, strerror(-err));
	return err;
}

int mst_mdev_remove(const char *uuid)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), MST_MDEV_DEVICES "/%s/remove", uuid);
	err = file_write_str(path, "1");
	if (err)
		mst_log("remove mdev %s: %s", uuid, strerror(-err));
	return err;
}

int mst_mdev_remove_stale(void)
{
	DIR *d = opendir(MST_MDEV_DEVICES);
	struct dirent *e;
	int err = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, MST_UUID_PREFIX, strlen(MST_UUID_PREFIX)))
			continue;
		mst_log("removing stale instance %s", e->d_name);
		if (mst_mdev_remove(e->d_name))
			err = -EBUSY;
	}
	closedir(d);
	return err;
}

static void knob_path(char *path, size_t len, const char *uuid,
		      const char *knob)
{
	snprintf(path, len, MST_MDEV_DEVICES "/%s/mstream/%s", uuid, knob);
}

int mst_knob_write(const char *uuid, const char *knob, const char *val)
{
	char path[PATH_MAX];

	knob_path(path, sizeof(path), uuid, knob);
	return file_write_str(path, val);
}

int mst_knob_write_u64(const char *uuid, const char *knob, uint64_t val)
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)val);
	return mst_knob_write(uuid, knob, s);
}

int mst_knob_read(const char *uuid, const char *knob, char *buf, size_t len)
{
	char path[PATH_MAX];

	knob_path(path, sizeof(path), uuid, knob);
	return file_read_str(path, buf, len);
}

int mst_knob_read_u64(const char *uuid, const char *knob, uint64_t *val)
{
	char buf[64], *end;
	int err = mst_knob_read(uuid, knob, buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int mst_checksum(const char *uuid, uint64_t *sum)
{
	char buf[64], *end;
	int err = mst_knob_read(uuid, "checksum", buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*sum = strtoull(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int mst_same_state(const struct mst_dev *a, const struct mst_dev *b)
{
	uint64_t sa, sb;
	int err = mst_checksum(a->uuid, &sa);

	if (!err)
		err = mst_checksum(b->uuid, &sb);
	if (err)
		return err;
	if (sa != sb)
		mst_log("%s: checksum %016llx, %s: %016llx", a->uuid,
			(unsigned long long)sa, b->uuid, (unsigned long long)sb);
	return sa == sb;
}

int mst_dev_open(struct mst_dev *d, const char *uuid)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int err;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);

	snprintf(path, sizeof(path), MST_MDEV_DEVICES "/%s/iommu_group", uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		err = -errno;
		mst_log("readlink %s: %s", path, strerror(errno));
		return err;
	}
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));

	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		goto fail;
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		errno = EINVAL;
		goto fail;
	}
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		goto fail;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		goto fail;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		goto fail;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		goto fail;
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto fail;
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (d->fd < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	mst_log("open %s (%s): %s", uuid, path, strerror(errno));
	mst_dev_close(d);
	return err;
}

void mst_dev_close(struct mst_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->fd = d->group = d->container = -1;
}

int mst_feature_argsz(int fd, uint32_t flags, void *payload, size_t len,
		      uint32_t argsz)
{
	size_t total = sizeof(struct vfio_device_feature) + len;
	struct vfio_device_feature *f;
	int ret;

	/* Room for the natural size even when argsz claims less or more. */
	f = calloc(1, total + 64);
	if (!f)
		return -ENOMEM;
	f->argsz = argsz;
	f->flags = flags;
	if (len)
		memcpy(f->data, payload, len);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f);
	ret = ret < 0 ? -errno : ret;
	if (len)
		memcpy(payload, f->data, len);
	free(f);
	return ret;
}

int mst_feature(int fd, uint32_t flags, void *payload, size_t len)
{
	return mst_feature_argsz(fd, flags, payload, len,
				 sizeof(struct vfio_device_feature) + len);
}

int mst_mig_flags(int fd, uint64_t *flags)
{
	struct vfio_device_feature_migration m = {};
	int ret = mst_feature(fd, VFIO_DEVICE_FEATURE_GET |
			      VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m));

	if (!ret)
		*flags = m.flags;
	return ret;
}

int mst_get_state(int fd, uint32_t *state)
{
	struct vfio_device_feature_mig_state m = {};
	int ret = mst_feature(fd, VFIO_DEVICE_FEATURE_GET |
			      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			      &m, sizeof(m));

	if (!ret)
		*state = m.device_state;
	return ret;
}

int mst_set_state(int fd, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state m = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret = mst_feature(fd, VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			      &m, sizeof(m));

	if (ret) {
		if (data_fd)
			*data_fd = -1;
		return ret;
	}
	if (data_fd)
		*data_fd = m.data_fd;
	else if (m.data_fd >= 0)
		close(m.data_fd);
	return 0;
}

int mst_data_size(int fd, uint64_t *len)
{
	struct vfio_device_feature_mig_data_size s = {};
	int ret = mst_feature(fd, VFIO_DEVICE_FEATURE_GET |
			      VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &s, sizeof(s));

	if (!ret)
		*len = s.stop_copy_length;
	return ret;
}

int mst_precopy_info(int data_fd, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, info) ? -errno : 0;
}

int mst_precopy_v2_optin(int fd)
{
	return mst_feature(fd, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
}

int mst_reset(int fd)
{
	return ioctl(fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

int mst_ms_get(int fd, struct vfio_device_feature_mig_multistream *ms)
{
	memset(ms, 0, sizeof(*ms));
	return mst_feature(fd, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_MULTISTREAM, ms, sizeof(*ms));
}

int mst_ms_set(int fd, uint32_t num_dirty)
{
	struct vfio_device_feature_mig_multistream ms = {
		.num_dirty = num_dirty,
	};

	return mst_feature(fd, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_MULTISTREAM,
			   &ms, sizeof(ms));
}

int mst_stream_fds(int fd, int *fds, uint32_t *num, uint32_t *rflags)
{
	size_t len = sizeof(struct vfio_device_feature_mig_stream_fds) +
		     *num * sizeof(int32_t);
	struct vfio_device_feature_mig_stream_fds *s = calloc(1, len);
	int ret;

	if (!s)
		return -ENOMEM;
	s->num_fds = *num;
	for (uint32_t i = 0; i < *num; i++)
		s->fds[i] = -1;
	ret = mst_feature(fd, VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_STREAM_FDS, s, len);
	if (!ret || ret == -ENOSPC) {
		uint32_t n = s->num_fds;

		if (!ret)
			for (uint32_t i = 0; i < n && i < *num; i++)
				fds[i] = s->fds[i];
		*num = n;
		if (rflags)
			*rflags = s->flags;
	}
	free(s);
	return ret;
}

int mst_stream_info(int sfd, struct vfio_mig_stream_info *si)
{
	memset(si, 0, sizeof(*si));
	si->argsz = sizeof(*si);
	return ioctl(sfd, VFIO_MIG_GET_STREAM_INFO, si) ? -errno : 0;
}

const char *mst_state_name(uint32_t s)
{
	static const char *const names[] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	return s < MST_ARRAY_SIZE(names) ? names[s] : "?";
}

/*
 * The table of drivers/vfio/vfio_main.c:vfio_mig_get_next_state() (Linux
 * 6.12), with the same skipping of states the device does not support.
 */
enum { S_ERR = VFIO_DEVICE_STATE_ERROR, S_STOP = VFIO_DEVICE_STATE_STOP,
       S_RUN = VFIO_DEVICE_STATE_RUNNING, S_SC = VFIO_DEVICE_STATE_STOP_COPY,
       S_RES = VFIO_DEVICE_STATE_RESUMING, S_RP2P = VFIO_DEVICE_STATE_RUNNING_P2P,
       S_PC = VFIO_DEVICE_STATE_PRE_COPY, S_PCP2P = VFIO_DEVICE_STATE_PRE_COPY_P2P,
       S_NUM = S_PCP2P + 1 };

static const uint8_t fsm[S_NUM][S_NUM] = {
	[S_STOP] = { [S_STOP] = S_STOP, [S_RUN] = S_RP2P, [S_PC] = S_RP2P,
		     [S_PCP2P] = S_RP2P, [S_SC] = S_SC, [S_RES] = S_RES,
		     [S_RP2P] = S_RP2P, [S_ERR] = S_ERR },
	[S_RUN] = { [S_STOP] = S_RP2P, [S_RUN] = S_RUN, [S_PC] = S_PC,
		    [S_PCP2P] = S_RP2P, [S_SC] = S_RP2P, [S_RES] = S_RP2P,
		    [S_RP2P] = S_RP2P, [S_ERR] = S_ERR },
	[S_PC] = { [S_STOP] = S_RUN, [S_RUN] = S_RUN, [S_PC] = S_PC,
		   [S_PCP2P] = S_PCP2P, [S_SC] = S_PCP2P, [S_RES] = S_RUN,
		   [S_RP2P] = S_RUN, [S_ERR] = S_ERR },
	[S_PCP2P] = { [S_STOP] = S_RP2P, [S_RUN] = S_RP2P, [S_PC] = S_PC,
		      [S_PCP2P] = S_PCP2P, [S_SC] = S_SC, [S_RES] = S_RP2P,
		      [S_RP2P] = S_RP2P, [S_ERR] = S_ERR },
	[S_SC] = { [S_STOP] = S_STOP, [S_RUN] = S_STOP, [S_PC] = S_ERR,
		   [S_PCP2P] = S_ERR, [S_SC] = S_SC, [S_RES] = S_STOP,
		   [S_RP2P] = S_STOP, [S_ERR] = S_ERR },
	[S_RES] = { [S_STOP] = S_STOP, [S_RUN] = S_STOP, [S_PC] = S_STOP,
		    [S_PCP2P] = S_STOP, [S_SC] = S_STOP, [S_RES] = S_RES,
		    [S_RP2P] = S_STOP, [S_ERR] = S_ERR },
	[S_RP2P] = { [S_STOP] = S_STOP, [S_RUN] = S_RUN, [S_PC] = S_RUN,
		     [S_PCP2P] = S_PCP2P, [S_SC] = S_STOP, [S_RES] = S_STOP,
		     [S_RP2P] = S_RP2P, [S_ERR] = S_ERR },
	[S_ERR] = { [S_STOP] = S_ERR, [S_RUN] = S_ERR, [S_PC] = S_ERR,
		    [S_PCP2P] = S_ERR, [S_SC] = S_ERR, [S_RES] = S_ERR,
		    [S_RP2P] = S_ERR, [S_ERR] = S_ERR },
};

static uint32_t state_needs(uint32_t s)
{
	switch (s) {
	case S_PC:
		return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
	case S_PCP2P:
		return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		       VFIO_MIGRATION_PRE_COPY;
	case S_RP2P:
		return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
	case S_ERR:
		return ~0U;
	default:
		return VFIO_MIGRATION_STOP_COPY;
	}
}

int mst_next_state(uint64_t mig_flags, uint32_t cur, uint32_t target,
		   uint32_t *next)
{
	if (cur >= S_NUM || (state_needs(cur) & mig_flags) != state_needs(cur))
		return -EINVAL;
	if (target >= S_NUM ||
	    (state_needs(target) & mig_flags) != state_needs(target))
		return -EINVAL;
	*next = fsm[cur][target];
	while (*next != S_ERR &&
	       (state_needs(*next) & mig_flags) != state_needs(*next))
		*next = fsm[*next][target];
	return *next != S_ERR ? 0 : -EINVAL;
}

bool mst_arc_opens_fd(uint32_t from, uint32_t to)
{
	return (from == S_RUN && to == S_PC) ||
	       (from == S_RP2P && to == S_PCP2P) ||
	       (from == S_STOP && to == S_SC) ||
	       (from == S_STOP && to == S_RES);
}

uint64_t mst_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void mst_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t mst_seed(void)
{
	const char *s = getenv("MST_SEED");

	if (s && *s)
		return strtoull(s, NULL, 0);
	return mst_now_ns() ^ ((uint64_t)getpid() << 32);
}

/* splitmix64 */
uint64_t mst_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cfg_str(const char *uuid, const char *knob, const char *v)
{
	int err;

	if (!v)
		return 0;
	err = mst_knob_write(uuid, knob, v);
	if (err)
		mst_log("%s: write %s=%s: %s", uuid, knob, v, strerror(-err));
	return err;
}

static int cfg_num(const char *uuid, const char *knob, int64_t v)
{
	int err;

	if (v < 0)
		return 0;
	err = mst_knob_write_u64(uuid, knob, v);
	if (err)
		mst_log("%s: write %s=%lld: %s", uuid, knob, (long long)v,
			strerror(-err));
	return err;
}

int mst_cfg_apply(const char *uuid, const struct mst_cfg *c)
{
	int err = 0;

	err = err ?: (c->state_size ? cfg_num(uuid, "state_size", c->state_size) : 0);
	err = err ?: cfg_str(uuid, "backing", c->backing);
	err = err ?: cfg_str(uuid, "integrity", c->integrity);
	err = err ?: (c->crit_size ? cfg_num(uuid, "crit_size", c->crit_size) : 0);
	err = err ?: cfg_num(uuid, "dirty_rate", c->dirty_rate);
	err = err ?: cfg_str(uuid, "dirty_pattern", c->dirty_pattern);
	err = err ?: cfg_num(uuid, "engines", c->engines);
	err = err ?: cfg_str(uuid, "v2_mode", c->v2_mode);
	err = err ?: cfg_num(uuid, "engine_bw", c->engine_bw);
	err = err ?: cfg_num(uuid, "chunk_size", c->chunk_size);
	err = err ?: cfg_num(uuid, "read_ahead", c->read_ahead);
	err = err ?: cfg_num(uuid, "reinit_period_ms", c->reinit_period_ms);
	return err;
}

int mst_dev_create_open(struct mst_dev *d, const struct mst_cfg *cfg)
{
	char uuid[37];
	int err;

	memset(d, 0, sizeof(*d));
	d->fd = d->group = d->container = -1;
	err = mst_mdev_create(uuid);
	if (err)
		return err;
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	if (cfg) {
		err = mst_cfg_apply(uuid, cfg);
		if (err)
			goto fail;
	}
	err = mst_dev_open(d, uuid);
	if (err)
		goto fail;
	return 0;
fail:
	mst_mdev_remove(uuid);
	d->uuid[0] = 0;
	return err;
}

void mst_dev_destroy(struct mst_dev *d)
{
	mst_dev_close(d);
	if (d->uuid[0])
		mst_mdev_remove(d->uuid);
	d->uuid[0] = 0;
}

int mst_pair_create_open(struct mst_dev *src, struct mst_dev *dst,
			 const struct mst_cfg *cfg)
{
	int err = mst_dev_create_open(src, cfg);

	if (err)
		return err;
	err = mst_dev_create_open(dst, cfg);
	if (err)
		mst_dev_destroy(src);
	return err;
}

void mst_pair_destroy(struct mst_dev *src, struct mst_dev *dst)
{
	mst_dev_destroy(src);
	mst_dev_destroy(dst);
}
