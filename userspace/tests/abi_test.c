// SPDX-License-Identifier: MIT
/*
 * abi_test.c - the public structs can grow without breaking LIBMSTREAM_0.
 *
 * Each ends in reserved space that later fields take, so its size and the
 * offsets of today's fields never change (pinned here for LP64: a change is
 * an ABI break). A struct passed in with anything in its reserved space, or
 * an unknown flag, is refused with -EINVAL: that is what a program built
 * against a newer header gets from an older library, instead of a request
 * silently ignored. A struct the library fills has its reserved space
 * zeroed.
 */
#include <stddef.h>

#include "kselftest_harness.h"

#include "mstream.h"

TEST(sizes_are_pinned)
{
	EXPECT_EQ(112, sizeof(struct mstream_caps));
	EXPECT_EQ(112, sizeof(struct mstream_stream_info));
	EXPECT_EQ(96, sizeof(struct mstream_pool_params));
	EXPECT_EQ(104, sizeof(struct mstream_stream_params));
	EXPECT_EQ(168, sizeof(struct mstream_stream_stats));
	EXPECT_EQ(168, sizeof(struct mstream_pool_stats));
	EXPECT_EQ(144, sizeof(struct mstream_tcp_params));
	EXPECT_EQ(72, sizeof(struct mstream_policy));
	EXPECT_EQ(288, sizeof(struct mstream_session_params));
	EXPECT_EQ(360, sizeof(struct mstream_session_stats));
	EXPECT_EQ(152, sizeof(struct mstream_device_stats));
	/* The reserved space is last: fields are only ever added into it. */
	EXPECT_EQ(sizeof(struct mstream_pool_params),
		  offsetof(struct mstream_pool_params, reserved) +
			  sizeof(((struct mstream_pool_params *)0)->reserved));
	EXPECT_EQ(sizeof(struct mstream_session_stats),
		  offsetof(struct mstream_session_stats, reserved) +
			  sizeof(((struct mstream_session_stats *)0)->reserved));
}

static void expect_einval(struct __test_metadata *_metadata, int ret, const char *what)
{
	EXPECT_EQ(-EINVAL, ret) TH_LOG("%s", what);
	EXPECT_NE(NULL, strstr(mstream_last_error(), what))
		TH_LOG("message '%s' does not name %s", mstream_last_error(), what);
}

TEST(reserved_space_passed_in_is_refused)
{
	struct mstream_session_params sp = { 0 };
	struct mstream_pool_params pp = { 0 };
	struct mstream_tcp_params tp = { .token = "0123456789abcdef0123", .port = 1 };
	struct mstream_session *s = NULL;
	struct mstream_pool *pool = NULL;
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;

	pp.reserved[0] = 1;
	expect_einval(_metadata, mstream_pool_create(&pool, &pp), "mstream_pool_params");
	sp.reserved[7] = 1;
	expect_einval(_metadata, mstream_session_create(&s, &sp), "mstream_session_params");
	sp.reserved[7] = 0;
	sp.policy.reserved[0] = 1;
	expect_einval(_metadata, mstream_session_create(&s, &sp), "mstream_policy");
	sp.policy.reserved[0] = 0;
	sp.pool.reserved[3] = 1;
	expect_einval(_metadata, mstream_session_create(&s, &sp), "mstream_pool_params");
	tp.reserved[2] = 1;
	expect_einval(_metadata, mstream_sink_create_tcp(&sink, &tp), "mstream_tcp_params");
	expect_einval(_metadata, mstream_source_create_tcp(&src, &tp), "mstream_tcp_params");
	EXPECT_EQ(NULL, pool);
	EXPECT_EQ(NULL, s);
	EXPECT_EQ(NULL, sink);
	EXPECT_EQ(NULL, src);
}

TEST(stream_params_reserved_and_flags)
{
	struct mstream_pool_params pp = { .kind = MSTREAM_POOL_SERIAL };
	struct mstream_stream_params sp = { .out_fd = -1, .out_offset = -1, .name = "s" };
	struct mstream_stream *st = NULL;
	struct mstream_pool *pool;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	sp.in_fd = p[0];
	ASSERT_EQ(0, mstream_pool_create(&pool, &pp));
	sp.reserved[1] = 1;
	expect_einval(_metadata, mstream_pool_add(pool, &sp, &st), "mstream_stream_params");
	sp.reserved[1] = 0;
	sp.flags = 1u << 31;
	expect_einval(_metadata, mstream_pool_add(pool, &sp, &st), "flag");
	EXPECT_EQ(NULL, st);
	mstream_pool_destroy(pool);
	close(p[0]);
	close(p[1]);
}

TEST(unknown_flags_are_refused)
{
	struct mstream_session_params sp = { .flags = 1u << 31 };
	struct mstream_pool_params pp = { .flags = 1u << 31 };
	struct mstream_tcp_params tp = { .token = "0123456789abcdef0123", .port = 1,
					 .flags = 1u << 31 };
	struct mstream_session *s = NULL;
	struct mstream_pool *pool = NULL;
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;

	expect_einval(_metadata, mstream_pool_create(&pool, &pp), "flag");
	expect_einval(_metadata, mstream_session_create(&s, &sp), "flag");
	expect_einval(_metadata, mstream_source_create_files(&src, "/nonexistent", 1u << 31),
		      "flag");
	expect_einval(_metadata, mstream_sink_create_tcp(&sink, &tp), "flag");
	expect_einval(_metadata, mstream_source_create_tcp(&src, &tp), "flag");
	EXPECT_EQ(NULL, sink);
	EXPECT_EQ(NULL, src);
}

TEST(reserved_space_filled_out_is_zeroed)
{
	struct mstream_pool_params pp = { .kind = MSTREAM_POOL_SERIAL };
	struct mstream_session_stats ss;
	struct mstream_pool_stats ps;
	struct mstream_session *s;
	struct mstream_pool *pool;

	ASSERT_EQ(0, mstream_pool_create(&pool, &pp));
	memset(&ps, 0xa5, sizeof(ps));
	ASSERT_EQ(0, mstream_pool_get_stats(pool, &ps));
	for (unsigned int i = 0; i < sizeof(ps.reserved) / sizeof(ps.reserved[0]); i++)
		EXPECT_EQ(0, ps.reserved[i]);
	mstream_pool_destroy(pool);

	ASSERT_EQ(0, mstream_session_create(&s, NULL));
	memset(&ss, 0xa5, sizeof(ss));
	ASSERT_EQ(0, mstream_session_get_stats(s, &ss));
	for (unsigned int i = 0; i < sizeof(ss.reserved) / sizeof(ss.reserved[0]); i++)
		EXPECT_EQ(0, ss.reserved[i]);
	mstream_session_destroy(s);
}

TEST_HARNESS_MAIN
