// SPDX-License-Identifier: MIT
/*
 * files_test.c - save directories: what a load accepts and what it refuses.
 *
 * A save is built here the way the file sink writes one (stream files of a
 * position-dependent pattern, then the manifest), then damaged in each way a
 * save can be: a missing, edited or truncated manifest, a missing, truncated,
 * extended or corrupted stream file, a manifest pointing outside its
 * directory. Each must be refused by mstream_source_create_files() with its
 * errno and a message that names the file and the problem. A whole session
 * from files to files (a copy of the save) checks that a load delivers the
 * bytes, and that a file changed after the up-front check is still caught.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "kselftest_harness.h"

#include "helpers.h"
#include "manifest.h"
#include "mstream.h"

#include "savegen.h"

FIXTURE(save) {
	char dir[48];
	char path[256];
	struct manifest m;
};

FIXTURE_SETUP(save)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/mstream-save-%d", getpid());
	make_save(self->dir, &self->m);
}

FIXTURE_TEARDOWN(save)
{
	char cmd[200];

	manifest_free(&self->m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.copy %s.link", self->dir, self->dir, self->dir);
	if (system(cmd))
		TH_LOG("cleanup failed");
}

static const char *file_path(FIXTURE_DATA(save) *self, const char *name)
{
	snprintf(self->path, sizeof(self->path), "%s/%s", self->dir, name);
	return self->path;
}

/* Expect create_files() to fail with err and a message containing what. */
static void expect_refused(struct __test_metadata *_metadata, const char *dir, int err,
			   const char *what)
{
	struct mstream_source *src = NULL;

	EXPECT_EQ(err, mstream_source_create_files(&src, dir, 0));
	EXPECT_NE(NULL, strstr(mstream_last_error(), what))
		TH_LOG("message: '%s', expected it to mention '%s'", mstream_last_error(), what);
	EXPECT_EQ(NULL, src);
	TH_LOG("refused as expected: %s", mstream_last_error());
}

TEST_F(save, intact_save_is_accepted)
{
	struct mstream_source *src = NULL;

	ASSERT_EQ(0, mstream_source_create_files(&src, self->dir, 0));
	mstream_source_destroy(src);
}

TEST_F(save, missing_manifest)
{
	unlink(file_path(self, "manifest"));
	expect_refused(_metadata, self->dir, -ENOENT, "no manifest");
}

TEST_F(save, truncated_stream_file)
{
	ASSERT_EQ(0, truncate(file_path(self, "d0-s1.bin"), 1000));
	expect_refused(_metadata, self->dir, -ENODATA, "d0-s1.bin is truncated");
}

TEST_F(save, extended_stream_file)
{
	int fd = open(file_path(self, "d1-s0.bin"), O_WRONLY | O_APPEND);

	ASSERT_EQ(1, write(fd, "x", 1));
	close(fd);
	expect_refused(_metadata, self->dir, -EBADMSG, "d1-s0.bin is longer");
}

TEST_F(save, corrupted_byte)
{
	int fd = open(file_path(self, "d0-s2.bin"), O_WRONLY);
	uint8_t b = pat_byte(2, 4242) ^ 0x40;

	ASSERT_EQ(1, pwrite(fd, &b, 1, 4242));
	close(fd);
	expect_refused(_metadata, self->dir, -EBADMSG, "d0-s2.bin is corrupted");
}

TEST_F(save, missing_stream_file)
{
	unlink(file_path(self, "d0-s4.bin"));
	expect_refused(_metadata, self->dir, -ENOENT, "d0-s4.bin");
}

TEST_F(save, truncated_manifest)
{
	struct stat st;

	ASSERT_EQ(0, stat(file_path(self, "manifest"), &st));
	ASSERT_EQ(0, truncate(self->path, st.st_size - 5));
	expect_refused(_metadata, self->dir, -EBADMSG, "manifest");
}

TEST_F(save, edited_manifest)
{
	char *buf, *p;
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat(file_path(self, "manifest"), &st));
	buf = calloc(1, st.st_size + 1);
	fd = open(self->path, O_RDWR);
	ASSERT_EQ(st.st_size, read(fd, buf, st.st_size));
	/* Make a truncated file look whole: lower its size in the manifest. */
	p = strstr(buf, "bytes=1048576");
	ASSERT_NE(NULL, p);
	p[6] = '0';
	ASSERT_EQ(st.st_size, pwrite(fd, buf, st.st_size, 0));
	close(fd);
	free(buf);
	expect_refused(_metadata, self->dir, -EBADMSG, "own checksum");
}

TEST_F(save, foreign_file_name)
{
	int dirfd = open(self->dir, O_RDONLY | O_DIRECTORY);

	/* Even with a valid manifest checksum, names are ours only. */
	snprintf(self->m.dev[1].s[0].file, sizeof(self->m.dev[1].s[0].file), "../etc/passwd");
	ASSERT_EQ(0, manifest_write(dirfd, &self->m));
	close(dirfd);
	expect_refused(_metadata, self->dir, -EBADMSG, "foreign file name");
}

TEST_F(save, not_a_save)
{
	int fd = open(file_path(self, "manifest"), O_WRONLY | O_TRUNC);

	ASSERT_EQ(6, write(fd, "hello\n", 6));
	close(fd);
	expect_refused(_metadata, self->dir, -EBADMSG, "not an mstream save");
}

/* files -> files: a load reproduces every stream, and the copy is a save. */
static int copy_save(const char *from, const char *to, unsigned int flags, unsigned int kind,
		     char *err, size_t errlen)
{
	struct mstream_session_params sp = { .pool = { .kind = kind, .threads = 2,
						       .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };
	struct mstream_source *src;
	struct mstream_session *s;
	struct mstream_sink *sink;
	int ret;

	ret = mstream_source_create_files(&src, from, flags);
	if (ret) {
		snprintf(err, errlen, "%s", mstream_last_error());
		return ret;
	}
	ret = mstream_sink_create_files(&sink, to);
	if (!ret)
		ret = mstream_session_create(&s, &sp);
	if (!ret) {
		ret = mstream_session_run(s, src, sink);
		snprintf(err, errlen, "%s", mstream_session_error(s));
		mstream_session_destroy(s);
	}
	mstream_sink_destroy(sink);
	mstream_source_destroy(src);
	return ret;
}

static void same_files(struct __test_metadata *_metadata, const char *a, const char *b,
		       const struct manifest *m)
{
	int da = open(a, O_RDONLY | O_DIRECTORY), db = open(b, O_RDONLY | O_DIRECTORY);
	struct manifest mb;
	char err[256];

	ASSERT_EQ(0, manifest_read(db, &mb, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(m->ndev, mb.ndev);
	for (unsigned int d = 0; d < m->ndev; d++) {
		EXPECT_EQ(m->dev[d].num_dirty, mb.dev[d].num_dirty);
		for (unsigned int k = 0; k < m->dev[d].nstreams; k++) {
			EXPECT_EQ(m->dev[d].s[k].bytes, mb.dev[d].s[k].bytes);
			EXPECT_EQ(m->dev[d].s[k].xxh64, mb.dev[d].s[k].xxh64);
			EXPECT_EQ(file_xxh64(da, m->dev[d].s[k].file),
				  file_xxh64(db, mb.dev[d].s[k].file));
		}
	}
	EXPECT_TRUE(mb.dev[0].has_src_sum);
	EXPECT_EQ(0x1234, mb.dev[0].src_sum);
	manifest_free(&mb);
	close(da);
	close(db);
}

TEST_F(save, load_copies_every_stream)
{
	char to[96], err[512];

	for (unsigned int kind = 0; kind <= MSTREAM_POOL_SERIAL; kind++) {
		snprintf(to, sizeof(to), "%s.copy", self->dir);
		ASSERT_EQ(0, copy_save(self->dir, to, 0, kind, err, sizeof(err))) TH_LOG("%s", err);
		same_files(_metadata, self->dir, to, &self->m);
		ASSERT_EQ(0, system("true"));
		snprintf(err, sizeof(err), "rm -rf %s", to);
		ASSERT_EQ(0, system(err));
	}
}

TEST_F(save, a_save_into_a_save_is_refused)
{
	struct mstream_sink *sink = NULL;

	EXPECT_EQ(-EEXIST, mstream_sink_create_files(&sink, self->dir));
	EXPECT_NE(NULL, strstr(mstream_last_error(), "already holds a save"));
}

/* Unverified up front (NO_VERIFY), a corrupted file is still caught while it
 * is loaded, and the failed copy leaves no manifest (and no stream files). */
TEST_F(save, corruption_caught_during_load)
{
	int fd = open(file_path(self, "d0-s1.bin"), O_WRONLY);
	char to[96], err[512];
	struct stat st;

	ASSERT_EQ(1, pwrite(fd, "Z", 1, 777));
	close(fd);
	snprintf(to, sizeof(to), "%s.copy", self->dir);
	EXPECT_EQ(-EBADMSG, copy_save(self->dir, to, MSTREAM_FILES_NO_VERIFY, MSTREAM_POOL_URING,
				      err, sizeof(err)));
	TH_LOG("load failed as expected: %s", err);
	EXPECT_NE(NULL, strstr(err, "d0-s1.bin changed"));
	snprintf(err, sizeof(err), "%s/manifest", to);
	EXPECT_NE(0, stat(err, &st));
	snprintf(err, sizeof(err), "%s/d0-s0.bin", to);
	EXPECT_NE(0, stat(err, &st));
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

/* A save holds device state (guest secrets): only its owner may read it,
 * whatever the umask. */
TEST_F(save, a_save_is_private)
{
	char to[96], err[512], path[160];
	mode_t old = umask(0);

	snprintf(to, sizeof(to), "%s.copy", self->dir);
	ASSERT_EQ(0, copy_save(self->dir, to, 0, MSTREAM_POOL_URING, err, sizeof(err)))
		TH_LOG("%s", err);
	umask(old);
	EXPECT_EQ(0700, mode_of(to));
	snprintf(path, sizeof(path), "%s/manifest", to);
	EXPECT_EQ(0600, mode_of(path));
	for (unsigned int d = 0; d < self->m.ndev; d++)
		for (unsigned int k = 0; k < self->m.dev[d].nstreams; k++) {
			snprintf(path, sizeof(path), "%s/%s", to, self->m.dev[d].s[k].file);
			EXPECT_EQ(0600, mode_of(path)) TH_LOG("%s", path);
		}
}

/* A link planted where a stream file goes is not followed: the save fails
 * and the link's target is untouched. */
TEST_F(save, a_symlink_in_the_save_directory_is_not_followed)
{
	char to[96], err[512], link[160], victim[160], buf[16] = "";
	int fd;

	snprintf(to, sizeof(to), "%s.copy", self->dir);
	snprintf(victim, sizeof(victim), "%s/victim", self->dir);
	snprintf(link, sizeof(link), "%s/d0-s1.bin", to);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_EQ(7, write(fd, "intact\n", 7));
	close(fd);
	ASSERT_EQ(0, mkdir(to, 0700));
	ASSERT_EQ(0, symlink(victim, link));
	EXPECT_NE(0, copy_save(self->dir, to, 0, MSTREAM_POOL_URING, err, sizeof(err)));
	TH_LOG("refused as expected: %s", err);
	fd = open(victim, O_RDONLY);
	EXPECT_EQ(7, read(fd, buf, sizeof(buf)));
	close(fd);
	EXPECT_STREQ("intact\n", buf);
	snprintf(link, sizeof(link), "%s/manifest", to);
	EXPECT_EQ((mode_t)-1, mode_of(link));
}

/* The save directory itself: not a symlink, and nobody else can write in it. */
TEST_F(save, an_unsafe_save_directory_is_refused)
{
	struct mstream_sink *sink = NULL;
	char to[96], link[96];

	snprintf(to, sizeof(to), "%s.copy", self->dir);
	snprintf(link, sizeof(link), "%s.link", self->dir);
	ASSERT_EQ(0, mkdir(to, 0700));
	ASSERT_EQ(0, symlink(to, link));
	EXPECT_EQ(-ELOOP, mstream_sink_create_files(&sink, link));
	EXPECT_NE(NULL, strstr(mstream_last_error(), "symbolic link"))
		TH_LOG("message: %s", mstream_last_error());
	unlink(link);
	ASSERT_EQ(0, chmod(to, 0777));
	EXPECT_EQ(-EPERM, mstream_sink_create_files(&sink, to));
	EXPECT_NE(NULL, strstr(mstream_last_error(), "writable by others"))
		TH_LOG("message: %s", mstream_last_error());
	EXPECT_EQ(NULL, sink);
}

/* Loading does not follow a stream file that is a link either. */
TEST_F(save, a_symlinked_stream_file_is_refused)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/d0-s2.bin", self->dir);
	ASSERT_EQ(0, rename(path, file_path(self, "elsewhere")));
	ASSERT_EQ(0, symlink("elsewhere", path));
	expect_refused(_metadata, self->dir, -ELOOP, "d0-s2.bin");
}

TEST(manifest_round_trip)
{
	struct manifest m = { 0 }, back;
	char *buf, err[128];
	size_t len;

	m.ndev = 1;
	m.dev = calloc(1, sizeof(*m.dev));
	m.dev[0].num_dirty = 8;
	m.dev[0].nstreams = 9;
	for (unsigned int k = 0; k < 9; k++) {
		manifest_file_name(m.dev[0].s[k].file, sizeof(m.dev[0].s[k].file), 0, k);
		m.dev[0].s[k].bytes = (uint64_t)k << 33; /* above 4 GiB */
		m.dev[0].s[k].xxh64 = mix64(k);
	}
	ASSERT_EQ(0, manifest_format(&m, &buf, &len));
	ASSERT_EQ(0, manifest_parse(buf, len, &back, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(9, back.dev[0].nstreams);
	EXPECT_EQ((uint64_t)8 << 33, back.dev[0].s[8].bytes);
	EXPECT_EQ(mix64(8), back.dev[0].s[8].xxh64);
	EXPECT_FALSE(back.dev[0].has_src_sum);
	/* Every strict prefix is refused. */
	for (size_t cut = 0; cut < len; cut += 7)
		EXPECT_EQ(-EBADMSG, manifest_parse(buf, cut, &back, err, sizeof(err)));
	free(buf);
	manifest_free(&m);
}

TEST_HARNESS_MAIN
