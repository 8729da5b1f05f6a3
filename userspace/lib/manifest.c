// SPDX-License-Identifier: MIT
/* manifest.c - format, parse, write and read a save's manifest (manifest.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest.h"

void manifest_file_name(char *buf, size_t len, unsigned int d, unsigned int k)
{
	snprintf(buf, len, "d%u-s%u.bin", d, k);
}

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->len + n < b->cap)
			break;
		b->cap = (b->cap + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			b->err = -ENOMEM;
			return;
		}
	}
	b->len += n;
}

int manifest_format(const struct manifest *m, char **out, size_t *outlen)
{
	struct sbuf b = { .cap = 4096 };

	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	put(&b, "mstream-save 1\ndevices %u\n", m->ndev);
	for (unsigned int d = 0; d < m->ndev; d++) {
		const struct manifest_dev *md = &m->dev[d];
		char sum[20] = "-";

		if (md->has_src_sum)
			snprintf(sum, sizeof(sum), "%016" PRIx64, md->src_sum);
		put(&b, "device %u num_dirty=%u streams=%u src_checksum=%s name=%s\n", d,
		    md->num_dirty, md->nstreams, sum, md->name[0] ? md->name : "-");
		for (unsigned int k = 0; k < md->nstreams; k++)
			put(&b, "stream %u %u bytes=%" PRIu64 " xxh64=%016" PRIx64 " file=%s\n", d, k,
			    md->s[k].bytes, md->s[k].xxh64, md->s[k].file);
	}
	if (!b.err)
		put(&b, "end xxh64=%016" PRIx64 "\n", mstream_xxh64(b.p, b.len));
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

/* One line at a time, NUL-terminated in a copy; never past len. */
static const char *next_line(const char *buf, size_t len, size_t *pos, char *line, size_t max)
{
	size_t start = *pos, n;
	const char *nl;

	if (start >= len)
		return NULL;
	nl = memchr(buf + start, '\n', len - start);
	if (!nl)
		return NULL; /* a last line without newline: truncated */
	n = nl - (buf + start);
	*pos = start + n + 1;
	if (n >= max)
		n = max - 1;
	memcpy(line, buf + start, n);
	line[n] = 0;
	return line;
}

#define BAD(...)                                                    \
	do {                                                        \
		snprintf(err, errlen, __VA_ARGS__);                 \
		manifest_free(m);                                   \
		return -EBADMSG;                                    \
	} while (0)

int manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen)
{
	char line[512], name[128], sum[32], file[64], hex[32], tail;
	size_t pos = 0, end_pos;
	unsigned int lineno = 0, ndev;
	uint64_t want;

	memset(m, 0, sizeof(*m));
	if (!next_line(buf, len, &pos, line, sizeof(line)) || strcmp(line, "mstream-save 1"))
		BAD("not an mstream save manifest (or an unknown version)");
	lineno = 1;
	if (!next_line(buf, len, &pos, line, sizeof(line)) ||
	    sscanf(line, "devices %u%c", &ndev, &tail) != 1 || !ndev || ndev > MSTREAM_MAX_DEVICES)
		BAD("line 2: expected 'devices N' with N in 1..%d", MSTREAM_MAX_DEVICES);
	lineno = 2;
	m->ndev = ndev;
	m->dev = calloc(ndev, sizeof(*m->dev));
	if (!m->dev)
		return -ENOMEM;
	for (unsigned int d = 0; d < ndev; d++) {
		struct manifest_dev *md = &m->dev[d];
		unsigned int dd;

		lineno++;
		if (!next_line(buf, len, &pos, line, sizeof(line)) ||
		    sscanf(line, "device %u num_dirty=%u streams=%u src_checksum=%31s name=%127s%c",
			   &dd, &md->num_dirty, &md->nstreams, sum, name, &tail) != 5)
			BAD("line %u: expected the record of device %u", lineno, d);
		if (dd != d || md->num_dirty >= MSTREAM_MAX_STREAMS ||
		    md->nstreams != md->num_dirty + 1)
			BAD("line %u: inconsistent device record", lineno);
		if (strcmp(sum, "-")) {
			char *e;

			md->has_src_sum = true;
			md->src_sum = strtoull(sum, &e, 16);
			if (*e || strlen(sum) != 16)
				BAD("line %u: bad source checksum", lineno);
		}
		if (strlen(name) >= sizeof(md->name))
			BAD("line %u: device name too long", lineno);
		if (strcmp(name, "-"))
			memcpy(md->name, name, strlen(name) + 1);
		for (unsigned int k = 0; k < md->nstreams; k++) {
			struct manifest_stream *ms = &md->s[k];
			unsigned int d2, k2;
			char expect[32], *e;

			lineno++;
			if (!next_line(buf, len, &pos, line, sizeof(line)) ||
			    sscanf(line, "stream %u %u bytes=%" SCNu64 " xxh64=%31s file=%63s%c", &d2,
				   &k2, &ms->bytes, hex, file, &tail) != 5)
				BAD("line %u: expected the record of stream %u of device %u", lineno,
				    k, d);
			manifest_file_name(expect, sizeof(expect), d, k);
			/* Only our own names: a manifest cannot point elsewhere. */
			if (d2 != d || k2 != k || strcmp(file, expect))
				BAD("line %u: stream record out of order or with a foreign file name",
				    lineno);
			ms->xxh64 = strtoull(hex, &e, 16);
			if (*e || strlen(hex) != 16)
				BAD("line %u: bad xxh64", lineno);
			memcpy(ms->file, expect, sizeof(ms->file));
		}
	}
	end_pos = pos;
	lineno++;
	if (!next_line(buf, len, &pos, line, sizeof(line)) ||
	    sscanf(line, "end xxh64=%31s%c", hex, &tail) != 1 || strlen(hex) != 16)
		BAD("line %u: missing end record (truncated manifest?)", lineno);
	if (pos != len)
		BAD("data after the end record");
	want = strtoull(hex, NULL, 16);
	if (mstream_xxh64(buf, end_pos) != want)
		BAD("the manifest does not match its own checksum (edited or corrupted)");
	return 0;
}

int manifest_write(int dirfd, const struct manifest *m)
{
	char *buf;
	size_t len;
	int fd, ret;

	/* A leftover of a save that crashed, or something planted: the name is
	 * removed (a symlink itself, never its target) and created anew. */
	if (unlinkat(dirfd, MANIFEST_NAME ".tmp", 0) && errno != ENOENT)
		return -errno;
	ret = manifest_format(m, &buf, &len);
	if (ret)
		return ret;
	fd = openat(dirfd, MANIFEST_NAME ".tmp",
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	ret = write_full(fd, buf, len);
	free(buf);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && renameat(dirfd, MANIFEST_NAME ".tmp", dirfd, MANIFEST_NAME))
		ret = -errno;
	if (!ret && fsync(dirfd))
		ret = -errno;
	return ret;
}

int manifest_read(int dirfd, struct manifest *m, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	int fd, ret;

	fd = openat(dirfd, MANIFEST_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) || st.st_size > MANIFEST_MAX) {
		close(fd);
		snprintf(err, errlen, "manifest larger than %u bytes", MANIFEST_MAX);
		return -EBADMSG;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	ret = read_full(fd, buf, st.st_size);
	close(fd);
	if (!ret)
		ret = manifest_parse(buf, st.st_size, m, err, errlen);
	else
		snprintf(err, errlen, "cannot read: %s", strerror(-ret));
	free(buf);
	return ret;
}

void manifest_free(struct manifest *m)
{
	free(m->dev);
	m->dev = NULL;
	m->ndev = 0;
}
