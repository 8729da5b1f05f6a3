/* SPDX-License-Identifier: MIT */
/*
 * savegen.h - build a save directory the way the file sink writes one: two
 * devices (v3 with 4 dirty streams, and v2), stream files of a known
 * pattern, and their manifest. big scales the v3 streams up for tests that
 * need a transfer to be under way when they interfere with it.
 */
#ifndef MSTREAM_TEST_SAVEGEN_H
#define MSTREAM_TEST_SAVEGEN_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "helpers.h"
#include "manifest.h"
#include "mstream.h"

static const uint64_t stream_sizes[] = { 65600, 1 << 20, 300001, 0, 777 };
#define NSTREAMS (sizeof(stream_sizes) / sizeof(stream_sizes[0]))

static void write_pattern(int dirfd, const char *name, uint64_t seed, uint64_t len)
{
	uint8_t buf[8192];
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	for (uint64_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		pat_fill(seed, off, buf, n);
		if (write(fd, buf, n) != (ssize_t)n)
			abort();
	}
	close(fd);
}

static uint64_t file_xxh64(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t h;
	char *buf;

	fstat(fd, &st);
	buf = malloc(st.st_size + 1);
	if (read(fd, buf, st.st_size) != st.st_size)
		abort();
	h = mstream_xxh64(buf, st.st_size);
	free(buf);
	close(fd);
	return h;
}

/* Two devices: v3 with 4 dirty streams, and v2 (one stream). */
static void make_save_scaled(const char *dir, struct manifest *m, uint64_t scale)
{
	int dirfd;

	mkdir(dir, 0755);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	m->ndev = 2;
	m->dev = calloc(2, sizeof(*m->dev));
	m->dev[0].num_dirty = NSTREAMS - 1;
	m->dev[0].nstreams = NSTREAMS;
	m->dev[1].num_dirty = 0;
	m->dev[1].nstreams = 1;
	snprintf(m->dev[0].name, sizeof(m->dev[0].name), "src-a");
	snprintf(m->dev[1].name, sizeof(m->dev[1].name), "src-b");
	m->dev[0].has_src_sum = true;
	m->dev[0].src_sum = 0x1234;
	for (unsigned int d = 0; d < 2; d++)
		for (unsigned int k = 0; k < m->dev[d].nstreams; k++) {
			struct manifest_stream *ms = &m->dev[d].s[k];

			manifest_file_name(ms->file, sizeof(ms->file), d, k);
			ms->bytes = d ? 123457 : stream_sizes[k] * scale;
			write_pattern(dirfd, ms->file, d * 100 + k, ms->bytes);
			ms->xxh64 = file_xxh64(dirfd, ms->file);
		}
	if (manifest_write(dirfd, m))
		abort();
	close(dirfd);
}

static inline void make_save(const char *dir, struct manifest *m)
{
	make_save_scaled(dir, m, 1);
}

#endif
