/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Included once per test binary (by the test's .c file): the kselftest
 * harness plus assertion helpers for the mst library.
 */
#ifndef MST_E2E_HARNESS_H
#define MST_E2E_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mst.h"

/* A syscall that must fail with @e. */
#define EXPECT_SYSERR(e, call) do { \
	long __r = (long)(call); \
	int __e = errno; \
	EXPECT_EQ(-1, __r); \
	if (__r == -1) { \
		EXPECT_EQ(e, __e); \
		if (__e != (e)) \
			TH_LOG("%s: errno %d (%s), expected %d (%s)", #call, \
			       __e, strerror(__e), (e), strerror(e)); \
	} \
} while (0)

#define ASSERT_SYSERR(e, call) do { \
	long __r = (long)(call); \
	int __e = errno; \
	ASSERT_EQ(-1, __r); \
	if (__e != (e)) \
		TH_LOG("%s: errno %d (%s), expected %d (%s)", #call, __e, \
		       strerror(__e), (e), strerror(e)); \
	ASSERT_EQ(e, __e); \
} while (0)

/* An mst_*() call returning 0 or -errno that must return @ret. */
#define EXPECT_RET(ret, call) do { \
	int __r = (call); \
	if (__r != (ret)) \
		TH_LOG("%s = %d (%s), expected %d (%s)", #call, __r, \
		       strerror(-__r), (ret), strerror(-(ret))); \
	EXPECT_EQ(ret, __r); \
} while (0)

#define ASSERT_RET(ret, call) do { \
	int __r = (call); \
	if (__r != (ret)) \
		TH_LOG("%s = %d (%s), expected %d (%s)", #call, __r, \
		       strerror(-__r), (ret), strerror(-(ret))); \
	ASSERT_EQ(ret, __r); \
} while (0)

/* SKIP the test (from FIXTURE_SETUP or a test) when the device is absent. */
#define MST_REQUIRE_DEVICE() do { \
	const char *__why = mst_skip_reason(); \
	if (__why) \
		SKIP(return, "%s", __why); \
} while (0)

#define ASSERT_STATE(dev_fd, want) do { \
	uint32_t __s = 0xff; \
	ASSERT_EQ(0, mst_get_state(dev_fd, &__s)); \
	if (__s != (uint32_t)(want)) \
		TH_LOG("device state %s, expected %s", mst_state_name(__s), \
		       mst_state_name(want)); \
	ASSERT_EQ((uint32_t)(want), __s); \
} while (0)

#define EXPECT_STATE(dev_fd, want) do { \
	uint32_t __s = 0xff; \
	EXPECT_EQ(0, mst_get_state(dev_fd, &__s)); \
	if (__s != (uint32_t)(want)) \
		TH_LOG("device state %s, expected %s", mst_state_name(__s), \
		       mst_state_name(want)); \
	EXPECT_EQ((uint32_t)(want), __s); \
} while (0)

static inline uint64_t mst_checksum_or_die(const char *uuid)
{
	uint64_t s = 0;

	if (mst_checksum(uuid, &s))
		mst_log("checksum of %s unreadable", uuid);
	return s;
}

/* Remove what an earlier, killed run (timeout) may have left. */
static void __attribute__((constructor)) mst_cleanup_stale(void)
{
	if (!mst_skip_reason())
		mst_mdev_remove_stale();
}

#endif /* MST_E2E_HARNESS_H */
