// SPDX-License-Identifier: MIT
/*
 * src_files.c - load from a save directory. Everything that can be checked
 * without a device is checked when the source is created, so that a
 * truncated or corrupted save is refused before any device is touched: the
 * manifest's own checksum, every file's presence and size, and (unless told
 * not to) every file's XXH64. The streams are hashed again while loading,
 * which catches a file changed in between.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "endpoint.h"
#include "manifest.h"
#include "xxh64.h"

struct src_files {
	struct mstream_source src;
	char dir[PATH_MAX];
	int dirfd;
	struct manifest m;
};

#define SF(s) ((struct src_files *)(s))

static int hash_file(int fd, uint64_t *sum)
{
	static const size_t bs = 1 << 20;
	char *buf = malloc(bs);
	struct xxh64 st;
	off_t off = 0;

	if (!buf)
		return -ENOMEM;
	xxh64_init(&st);
	for (;;) {
		ssize_t n = pread(fd, buf, bs, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (!n)
			break;
		xxh64_update(&st, buf, n);
		off += n;
	}
	free(buf);
	*sum = xxh64_digest(&st);
	return 0;
}

/* Every check that needs no device; the message names the file and says
 * what is wrong with it. */
static int check_save(struct src_files *sf, bool verify)
{
	char err[256];
	int ret = manifest_read(sf->dirfd, &sf->m, err, sizeof(err));

	if (ret == -ENOENT)
		return fail(ret, "%s: no manifest: not a save directory, or the save did not complete",
			    sf->dir);
	if (ret)
		return fail(ret, "%s/%s: %s", sf->dir, MANIFEST_NAME, err);
	for (unsigned int d = 0; d < sf->m.ndev; d++) {
		const struct manifest_dev *md = &sf->m.dev[d];

		for (unsigned int k = 0; k < md->nstreams; k++) {
			const struct manifest_stream *ms = &md->s[k];
			struct stat st;
			uint64_t sum = 0;
			int fd;

			fd = openat(sf->dirfd, ms->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 && errno == ELOOP)
				return fail(-ELOOP, "%s/%s is a symbolic link: a save holds only its own files",
					    sf->dir, ms->file);
			if (fd < 0)
				return fail(-errno, "%s/%s: %s (the save is incomplete)", sf->dir,
					    ms->file, strerror(errno));
			if (fstat(fd, &st)) {
				ret = -errno;
				close(fd);
				return ret;
			}
			if (!S_ISREG(st.st_mode)) {
				close(fd);
				return fail(-EBADMSG, "%s/%s is not a regular file", sf->dir, ms->file);
			}
			if ((uint64_t)st.st_size < ms->bytes) {
				close(fd);
				return fail(-ENODATA,
					    "%s/%s is truncated: %lld bytes, the manifest says %" PRIu64,
					    sf->dir, ms->file, (long long)st.st_size, ms->bytes);
			}
			if ((uint64_t)st.st_size > ms->bytes) {
				close(fd);
				return fail(-EBADMSG,
					    "%s/%s is longer than saved: %lld bytes, the manifest says %" PRIu64,
					    sf->dir, ms->file, (long long)st.st_size, ms->bytes);
			}
			ret = verify ? hash_file(fd, &sum) : 0;
			close(fd);
			if (ret)
				return fail(ret, "%s/%s: %s", sf->dir, ms->file, strerror(-ret));
			if (verify && sum != ms->xxh64)
				return fail(-EBADMSG,
					    "%s/%s is corrupted: xxh64 %016" PRIx64
					    ", the manifest says %016" PRIx64,
					    sf->dir, ms->file, sum, ms->xxh64);
		}
	}
	return 0;
}

static int sf_layout(struct mstream_source *src, const struct mstream_session_params *p)
{
	struct src_files *sf = SF(src);

	(void)p; /* the save decides the layout, whatever was asked */
	src->ndev = sf->m.ndev;
	src->dev = ep_devs_alloc(src->ndev);
	if (!src->dev)
		return -ENOMEM;
	for (unsigned int d = 0; d < src->ndev; d++) {
		src->dev[d].lay.num_dirty = sf->m.dev[d].num_dirty;
		src->dev[d].lay.nstreams = sf->m.dev[d].nstreams;
		snprintf(src->dev[d].lay.name, sizeof(src->dev[d].lay.name), "%s",
			 sf->m.dev[d].name);
	}
	return 0;
}

static int sf_start(struct mstream_source *src)
{
	struct src_files *sf = SF(src);

	src->t_switchover = mstream_now_ns(); /* all of it is "stop copy" */
	for (unsigned int d = 0; d < src->ndev; d++)
		for (unsigned int k = 0; k < src->dev[d].lay.nstreams; k++) {
			const char *f = sf->m.dev[d].s[k].file;

			src->dev[d].fds[k] = openat(sf->dirfd, f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (src->dev[d].fds[k] < 0)
				return fail(-errno, "%s/%s: %s", sf->dir, f, strerror(errno));
		}
	return 0;
}

static int sf_device_done(struct mstream_source *src, unsigned int d,
			  const struct stream_result *res)
{
	const struct manifest_dev *md = &SF(src)->m.dev[d];

	for (unsigned int k = 0; k < md->nstreams; k++)
		if (res[k].bytes != md->s[k].bytes ||
		    (res[k].has_checksum && res[k].checksum != md->s[k].xxh64))
			return fail(-EBADMSG, "%s/%s changed while it was loaded", SF(src)->dir,
				    md->s[k].file);
	return 0;
}

static int sf_checksum(struct mstream_source *src, unsigned int d, uint64_t *sum)
{
	const struct manifest_dev *md = &SF(src)->m.dev[d];

	if (!md->has_src_sum)
		return -ENOENT;
	*sum = md->src_sum;
	return 0;
}

static int sf_finish(struct mstream_source *src, int status, const char *msg,
		     const uint64_t *dst_sums, const bool *has_dst)
{
	(void)src, (void)status, (void)msg, (void)dst_sums, (void)has_dst;
	return 0;
}

static void sf_destroy(struct mstream_source *src)
{
	struct src_files *sf = SF(src);

	ep_devs_close(src->dev, src->ndev);
	free(src->dev);
	manifest_free(&sf->m);
	close_fd(&sf->dirfd);
	free(sf);
}

static const struct source_ops src_files_ops = {
	.kind = "files",
	.layout = sf_layout,
	.start = sf_start,
	.device_done = sf_device_done,
	.checksum = sf_checksum,
	.finish = sf_finish,
	.destroy = sf_destroy,
};

int mstream_source_create_files(struct mstream_source **srcp, const char *dir,
				unsigned int flags)
{
	struct src_files *sf;
	int ret;

	clear_error();
	if (check_struct("mstream_source_create_files()", NULL, 0, flags, FILES_FLAGS))
		return -EINVAL;
	sf = calloc(1, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	snprintf(sf->dir, sizeof(sf->dir), "%s", dir);
	sf->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd < 0) {
		ret = fail(-errno, "%s: %s", dir, strerror(errno));
		free(sf);
		return ret;
	}
	ret = check_save(sf, !(flags & MSTREAM_FILES_NO_VERIFY));
	if (ret) {
		manifest_free(&sf->m);
		close(sf->dirfd);
		free(sf);
		return ret;
	}
	sf->src.ops = &src_files_ops;
	sf->src.wants_checksum = true;
	*srcp = &sf->src;
	return 0;
}
