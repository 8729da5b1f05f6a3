// SPDX-License-Identifier: MIT
/*
 * sink_files.c - save to a directory: one file per stream, written at
 * offsets by the pool, then (commit) every file synced and the manifest
 * written last. A save that fails removes its stream files and never has a
 * manifest, so nothing half-written can be loaded.
 *
 * A save holds device state, which can hold guest secrets: the directory is
 * created 0700 (an existing one must be the caller's and writable by nobody
 * else), and every file is created 0600 with O_EXCL | O_NOFOLLOW, so that a
 * file or symlink planted under one of its names fails the save instead of
 * receiving the data or redirecting it elsewhere.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "endpoint.h"
#include "manifest.h"

struct sink_files {
	struct mstream_sink sink;
	char dir[PATH_MAX];
	int dirfd;
	struct manifest m;
};

#define KF(s) ((struct sink_files *)(s))

static int kf_open(struct mstream_sink *sink, const struct ep_dev *src, unsigned int ndev)
{
	struct sink_files *kf = KF(sink);

	sink->dev = ep_devs_alloc(ndev);
	kf->m.dev = calloc(ndev, sizeof(*kf->m.dev));
	if (!sink->dev || !kf->m.dev)
		return -ENOMEM;
	sink->ndev = kf->m.ndev = ndev;
	for (unsigned int d = 0; d < ndev; d++) {
		struct manifest_dev *md = &kf->m.dev[d];
		struct ep_dev *e = &sink->dev[d];

		e->lay = src[d].lay;
		md->num_dirty = e->lay.num_dirty;
		md->nstreams = e->lay.nstreams;
		snprintf(md->name, sizeof(md->name), "%s", src[d].lay.name);
		for (char *c = md->name; *c; c++)
			if (isspace((unsigned char)*c) || !isprint((unsigned char)*c))
				*c = '_';
		for (unsigned int k = 0; k < e->lay.nstreams; k++) {
			manifest_file_name(md->s[k].file, sizeof(md->s[k].file), d, k);
			e->fds[k] = openat(kf->dirfd, md->s[k].file,
					   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					   0600);
			if (e->fds[k] < 0 && errno == EEXIST)
				return fail(-EEXIST, "%s/%s already exists (left by an earlier save?): "
					    "not overwritten", kf->dir, md->s[k].file);
			if (e->fds[k] < 0)
				return fail(-errno, "%s/%s: %s", kf->dir, md->s[k].file,
					    strerror(errno));
			e->off[k] = 0;
		}
	}
	return 0;
}

static int kf_device_done(struct mstream_sink *sink, unsigned int d,
			  const struct stream_result *res, const uint64_t *src_sum)
{
	struct manifest_dev *md = &KF(sink)->m.dev[d];

	for (unsigned int k = 0; k < md->nstreams; k++) {
		if (!res[k].has_checksum)
			return fail(-EINVAL, "stream %u of device %u has no checksum", k, d);
		md->s[k].bytes = res[k].bytes;
		md->s[k].xxh64 = res[k].checksum;
	}
	md->has_src_sum = src_sum != NULL;
	md->src_sum = src_sum ? *src_sum : 0;
	return 0;
}

static int kf_commit(struct mstream_sink *sink)
{
	struct sink_files *kf = KF(sink);
	int ret;

	for (unsigned int d = 0; d < sink->ndev; d++)
		for (unsigned int k = 0; k < sink->dev[d].lay.nstreams; k++)
			if (fsync(sink->dev[d].fds[k]))
				return fail(-errno, "%s/%s: fsync: %s", kf->dir,
					    kf->m.dev[d].s[k].file, strerror(errno));
	ret = manifest_write(kf->dirfd, &kf->m);
	if (ret)
		return fail(ret, "%s/%s: %s", kf->dir, MANIFEST_NAME, strerror(-ret));
	return 0;
}

static int kf_checksum(struct mstream_sink *sink, unsigned int d, uint64_t *sum)
{
	(void)sink, (void)d, (void)sum;
	return -ENOENT;
}

static void kf_abort(struct mstream_sink *sink, int err, const char *msg)
{
	struct sink_files *kf = KF(sink);

	(void)err, (void)msg;
	/* Only the files this save created: those it holds an FD of. */
	for (unsigned int d = 0; d < sink->ndev && kf->m.dev; d++)
		for (unsigned int k = 0; k < kf->m.dev[d].nstreams; k++)
			if (sink->dev[d].fds[k] >= 0)
				unlinkat(kf->dirfd, kf->m.dev[d].s[k].file, 0);
}

static void kf_destroy(struct mstream_sink *sink)
{
	struct sink_files *kf = KF(sink);

	ep_devs_close(sink->dev, sink->ndev);
	free(sink->dev);
	manifest_free(&kf->m);
	close_fd(&kf->dirfd);
	free(kf);
}

static const struct sink_ops sink_files_ops = {
	.kind = "files",
	.open = kf_open,
	.device_done = kf_device_done,
	.commit = kf_commit,
	.checksum = kf_checksum,
	.abort = kf_abort,
	.destroy = kf_destroy,
};

/* The directory, opened without following a symlink, is the caller's and
 * nobody else can add, replace or remove a file in it. */
static int open_save_dir(const char *dir)
{
	struct stat st;
	int fd, err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail(-errno, "%s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* O_NOFOLLOW | O_DIRECTORY on a symlink is ENOTDIR: lstat() tells. */
	if (fd < 0 && !lstat(dir, &st) && S_ISLNK(st.st_mode))
		return fail(-ELOOP, "%s is a symbolic link: give the save directory itself", dir);
	if (fd < 0)
		return fail(-errno, "%s: %s", dir, strerror(errno));
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return fail(err, "%s: %s", dir, strerror(-err));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return fail(-EPERM, "%s belongs to another user: a save holds device state", dir);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return fail(-EPERM, "%s is writable by others: a save holds device state "
			    "(use a directory only you can write, or a new one)", dir);
	}
	if (!fstatat(fd, MANIFEST_NAME, &st, AT_SYMLINK_NOFOLLOW)) {
		close(fd);
		return fail(-EEXIST, "%s already holds a save (remove it or choose another directory)",
			    dir);
	}
	return fd;
}

int mstream_sink_create_files(struct mstream_sink **sinkp, const char *dir)
{
	struct sink_files *kf;
	int dirfd;

	clear_error();
	dirfd = open_save_dir(dir);
	if (dirfd < 0)
		return dirfd;
	kf = calloc(1, sizeof(*kf));
	if (!kf) {
		close(dirfd);
		return -ENOMEM;
	}
	snprintf(kf->dir, sizeof(kf->dir), "%s", dir);
	kf->dirfd = dirfd;
	kf->sink.ops = &sink_files_ops;
	kf->sink.wants_checksum = true;
	kf->sink.wants_src_checksum = true;
	*sinkp = &kf->sink;
	return 0;
}
