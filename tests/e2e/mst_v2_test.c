// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_mstream: the v2 migration protocol (issue 3).
 *
 * - the feature size ABI and probe rules of the core migration features;
 * - every arc of the FSM (single and combination, as
 *   vfio_mig_get_next_state() computes them) and the errno of invalid ones;
 * - data_fd rules: ENOMSG at PRE_COPY's temporary end, 0 at STOP_COPY's end,
 *   O_NONBLOCK EAGAIN, poll, PRECOPY_INFO;
 * - migrations between two instances with equal checksums: 64 MiB memory
 *   backed, a precopy loop with dirtying on, engines multiplexed, 6 GiB
 *   pattern backed;
 * - REINIT with and without the PRECOPY_INFOv2 opt-in.
 */
#include <sys/stat.h>

#include "mst_harness.h"

#define SMALL_STATE	(16 * MST_MIB)

static int src_fd_mode(int fd)
{
	return fcntl(fd, F_GETFL) & O_ACCMODE;
}

/* ------------------------------------------------------- feature ABI */

#include "mst_feature_abi.h"

FIXTURE_VARIANT_ADD(feature_abi, migration)
{
	.feature = VFIO_DEVICE_FEATURE_MIGRATION,
	.ops = VFIO_DEVICE_FEATURE_GET,
	.minsz = sizeof(struct vfio_device_feature_migration),
};

FIXTURE_VARIANT_ADD(feature_abi, mig_device_state)
{
	.feature = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
	.ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
	.minsz = sizeof(struct vfio_device_feature_mig_state),
};

FIXTURE_VARIANT_ADD(feature_abi, mig_data_size)
{
	.feature = VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
	.ops = VFIO_DEVICE_FEATURE_GET,
	.minsz = sizeof(struct vfio_device_feature_mig_data_size),
};

FIXTURE_VARIANT_ADD(feature_abi, precopy_info_v2)
{
	.feature = VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
	.ops = VFIO_DEVICE_FEATURE_SET,
	.minsz = 0,
};

/* ------------------------------------------------------ one device */

FIXTURE(v2_dev)
{
	struct mst_dev dev;
};

FIXTURE_SETUP(v2_dev)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = SMALL_STATE;
	cfg.backing = "memory";
	cfg.v2_mode = "single";
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
}

FIXTURE_TEARDOWN(v2_dev)
{
	mst_dev_destroy(&self->dev);
}

/*
 * Dirties pages for 300 ms, then asks PRECOPY_INFO (which starts the next
 * pass) until it counts dirty bytes, for at most 2 s. 0, or -errno of the
 * knob or the ioctl; @info holds the last answer.
 */
static int dirty_until_counted(const char *uuid, int sfd,
			       struct vfio_precopy_info *info)
{
	int ret, tries = 0;

	ret = mst_knob_write_u64(uuid, "dirty_rate", 20000);
	if (ret)
		return ret;
	mst_sleep_ms(300);
	ret = mst_knob_write_u64(uuid, "dirty_rate", 0);
	if (ret)
		return ret;
	for (;;) {
		ret = mst_precopy_info(sfd, info);
		if (ret || info->dirty_bytes || ++tries >= 40)
			return ret;
		mst_sleep_ms(50);
	}
}

TEST_F(v2_dev, migration_flags)
{
	uint64_t flags = 0;

	ASSERT_EQ(0, mst_mig_flags(self->dev.fd, &flags));
	EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
	ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
}

TEST_F(v2_dev, unknown_feature)
{
	uint8_t payload[16] = {};
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
	};

	/* An index no one uses, far from ours (256, 257) and upstream's. */
	EXPECT_RET(-ENOTTY, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_PROBE |
					0x7fff, payload, 0));
	EXPECT_RET(-ENOTTY, mst_feature(self->dev.fd, VFIO_DEVICE_FEATURE_GET |
					0x7fff, payload, sizeof(payload)));
	/* Unknown flag bits and a short header, from the core. */
	EXPECT_RET(-EINVAL, mst_feature(self->dev.fd, (1U << 20) |
					VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_MIGRATION,
					payload, sizeof(payload)));
	f.argsz = offsetof(struct vfio_device_feature, flags);
	EXPECT_SYSERR(EINVAL, ioctl(self->dev.fd, VFIO_DEVICE_FEATURE, &f));
}

TEST_F(v2_dev, data_size)
{
	uint64_t len = 0, size = 0;

	ASSERT_EQ(0, mst_knob_read_u64(self->dev.uuid, "state_size", &size));
	EXPECT_EQ(SMALL_STATE, size);
	ASSERT_EQ(0, mst_data_size(self->dev.fd, &len));
	/* A full STOP_COPY carries every page of the bulk state. */
	EXPECT_GE(len, size);
	/* Valid in every state. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_RET(0, mst_data_size(self->dev.fd, &len));
	EXPECT_GE(len, size);
}

TEST_F(v2_dev, stop_copy_reads_to_eof)
{
	struct vfio_precopy_info info;
	struct pollfd pfd;
	struct mst_pipe p;
	char why[256];
	int sfd = -1;
	ssize_t n;

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd));
	ASSERT_GE(sfd, 0);
	EXPECT_EQ(O_RDONLY, src_fd_mode(sfd));
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	mst_pipe_init(&p, sfd, -1, 0, -1);
	do {
		n = mst_pipe_pump(&p, UINT64_MAX, NULL);
	} while (n > 0);
	EXPECT_EQ(0, n);
	EXPECT_TRUE(p.eof);
	EXPECT_EQ(0, p.nenomsg);
	EXPECT_GE(p.bytes, SMALL_STATE);
	EXPECT_TRUE(mst_pipe_check(&p, why, sizeof(why)));
	if (!mst_pipe_check(&p, why, sizeof(why)))
		TH_LOG("%s", why);
	/* The end is permanent and poll says readable. */
	EXPECT_EQ(0, read(sfd, p.buf, 4096));
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	/* Not a PRE_COPY session: no PRECOPY_INFO. */
	EXPECT_RET(-EINVAL, mst_precopy_info(sfd, &info));
	/* A saving FD is read-only. */
	EXPECT_SYSERR(EBADF, write(sfd, p.buf, 16));
	mst_pipe_free(&p);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	close(sfd);
}

static uint8_t big_buf[1 << 20];

TEST_F(v2_dev, precopy_info_rules)
{
	struct vfio_precopy_info info, prev;
	uint8_t buf[4096];
	struct {
		struct vfio_precopy_info info;
		uint64_t extra;
	} big = {};
	uint64_t total = 0, initial0;
	int sfd = -1;
	ssize_t n;

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	ASSERT_GE(sfd, 0);
	EXPECT_EQ(O_RDONLY, src_fd_mode(sfd));

	/* Size ABI of the ioctl. */
	info = (struct vfio_precopy_info){ .argsz = offsetofend(struct vfio_precopy_info,
							  dirty_bytes) - 1 };
	EXPECT_SYSERR(EINVAL, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	big.info.argsz = sizeof(big);
	EXPECT_EQ(0, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &big));

	ASSERT_EQ(0, mst_precopy_info(sfd, &prev));
	/*
	 * The first image is initial data, every page of it (vfio.h; mlx5
	 * counts its first image in initial_bytes); dirty_bytes starts at 0.
	 */
	EXPECT_GE(prev.initial_bytes, SMALL_STATE);
	EXPECT_EQ(0, prev.dirty_bytes);
	EXPECT_EQ(0, prev.flags);
	initial0 = prev.initial_bytes;
	/* initial_bytes only decreases as data is read, down to zero. */
	for (;;) {
		n = read(sfd, big_buf, sizeof(big_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		ASSERT_EQ(0, mst_precopy_info(sfd, &info));
		/* nothing changed since the image was taken (dirty_rate 0) */
		EXPECT_EQ(0, info.dirty_bytes);
		EXPECT_LE(info.initial_bytes, prev.initial_bytes);
		if (info.initial_bytes > prev.initial_bytes) {
			TH_LOG("initial_bytes rose from %llu to %llu after %llu bytes",
			       (unsigned long long)prev.initial_bytes,
			       (unsigned long long)info.initial_bytes,
			       (unsigned long long)total);
			break;
		}
		prev = info;
		if (info.initial_bytes == 0)
			break;
	}
	/* Read the first pass to its temporary end. */
	for (;;) {
		n = read(sfd, big_buf, sizeof(big_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	ASSERT_EQ(-1, n);
	ASSERT_EQ(ENOMSG, errno);
	EXPECT_GE(total, SMALL_STATE);
	/* the first image was all the data there was */
	EXPECT_EQ(initial0, total);
	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	EXPECT_EQ(0, info.initial_bytes);
	/* dirty_rate is 0: nothing changed since the pass. */
	EXPECT_EQ(0, info.dirty_bytes);
	EXPECT_SYSERR(ENOMSG, read(sfd, buf, sizeof(buf)));

	/* Dirty some pages: dirty_bytes rises and the next pass delivers them. */
	ASSERT_EQ(0, dirty_until_counted(self->dev.uuid, sfd, &info));
	EXPECT_GT(info.dirty_bytes, 0);
	EXPECT_EQ(0, info.initial_bytes);
	n = read(sfd, buf, sizeof(buf));
	EXPECT_GT(n, 0);
	if (n < 0)
		TH_LOG("read after dirtying: %s", strerror(errno));

	/* A PRE_COPY FD is read-only, and the session is not STOP_COPY's. */
	EXPECT_SYSERR(EBADF, write(sfd, buf, 16));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	EXPECT_RET(-EINVAL, mst_precopy_info(sfd, &info));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	close(sfd);
}

/*
 * At PRE_COPY's temporary end (reads return -ENOMSG) the data_fd is not
 * readable: poll waits for the next pass, as mlx5vf_save_poll() does and as
 * vfio.h's "wait for more data with poll" needs (a poller must not spin).
 */
TEST_F(v2_dev, poll_waits_at_temporary_end)
{
	struct vfio_precopy_info info;
	struct pollfd pfd;
	int sfd = -1;
	ssize_t n;

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	do {
		n = read(sfd, big_buf, sizeof(big_buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	ASSERT_EQ(-1, n);
	ASSERT_EQ(ENOMSG, errno);
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);

	/* Pages dirtied, PRECOPY_INFO starts the next pass: readable again. */
	ASSERT_EQ(0, dirty_until_counted(self->dev.uuid, sfd, &info));
	ASSERT_GT(info.dirty_bytes, 0);
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_GT(read(sfd, big_buf, sizeof(big_buf)), 0);

	/* STOP_COPY: the end of file is readable. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	do {
		n = read(sfd, big_buf, sizeof(big_buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	EXPECT_EQ(0, n);
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	close(sfd);
}

/*
 * The `reinit` knob models the guest (or the device's firmware while it
 * saves) reconfiguring the device: it changes nothing in STOP (v2: STOP
 * does not change the device's internal state), RESUMING or ERROR.
 */
TEST_F(v2_dev, reinit_only_while_running_or_saving)
{
	static const uint32_t refused[] = {
		VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RESUMING,
		VFIO_DEVICE_STATE_RUNNING_P2P,
	};
	static const uint32_t allowed[] = {
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_PRE_COPY,
		VFIO_DEVICE_STATE_PRE_COPY_P2P, VFIO_DEVICE_STATE_STOP_COPY,
	};
	uint64_t gen0 = 0, gen1 = 0, sum0 = 0, sum1 = 1;
	int fd;

	for (unsigned int i = 0; i < MST_ARRAY_SIZE(refused); i++) {
		fd = -1;
		ASSERT_EQ(0, mst_reset(self->dev.fd));
		if (refused[i] == VFIO_DEVICE_STATE_RESUMING)
			ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, refused[i], &fd));
		ASSERT_EQ(0, mst_knob_read_u64(self->dev.uuid, "crit_gen", &gen0));
		ASSERT_EQ(0, mst_checksum(self->dev.uuid, &sum0));
		TH_LOG("in %s", mst_state_name(refused[i]));
		EXPECT_RET(-EBUSY, mst_knob_write(self->dev.uuid, "reinit", "1"));
		ASSERT_EQ(0, mst_knob_read_u64(self->dev.uuid, "crit_gen", &gen1));
		ASSERT_EQ(0, mst_checksum(self->dev.uuid, &sum1));
		EXPECT_EQ(gen0, gen1);
		EXPECT_EQ(sum0, sum1);
		if (fd >= 0)
			close(fd);
	}
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(allowed); i++) {
		fd = -1;
		ASSERT_EQ(0, mst_reset(self->dev.fd));
		if (allowed[i] == VFIO_DEVICE_STATE_STOP_COPY)
			ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, allowed[i], &fd));
		ASSERT_EQ(0, mst_knob_read_u64(self->dev.uuid, "crit_gen", &gen0));
		TH_LOG("in %s", mst_state_name(allowed[i]));
		EXPECT_RET(0, mst_knob_write(self->dev.uuid, "reinit", "1"));
		ASSERT_EQ(0, mst_knob_read_u64(self->dev.uuid, "crit_gen", &gen1));
		EXPECT_EQ(gen0 + 1, gen1);
		if (fd >= 0)
			close(fd);
	}
	ASSERT_EQ(0, mst_reset(self->dev.fd));
}

TEST_F(v2_dev, cancel_and_reset_end_the_session)
{
	uint8_t buf[4096];
	uint64_t sum0 = 0, sum1 = 1;
	int sfd = -1;

	ASSERT_EQ(0, mst_checksum(self->dev.uuid, &sum0));
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	ASSERT_GT(read(sfd, buf, sizeof(buf)), 0);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_SYSERR(ENODEV, read(sfd, buf, sizeof(buf)));
	{
		struct vfio_precopy_info info;

		/* the session ended: -ENODEV wins over the state's -EINVAL */
		EXPECT_RET(-ENODEV, mst_precopy_info(sfd, &info));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_PRE_COPY, NULL));
		EXPECT_RET(-ENODEV, mst_precopy_info(sfd, &info));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	}
	close(sfd);
	ASSERT_EQ(0, mst_checksum(self->dev.uuid, &sum1));
	EXPECT_EQ(sum0, sum1);

	/* VFIO_DEVICE_RESET from a saving state: back to RUNNING, FD dead. */
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd));
	ASSERT_GT(read(sfd, buf, sizeof(buf)), 0);
	ASSERT_EQ(0, mst_reset(self->dev.fd));
	ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
	EXPECT_SYSERR(ENODEV, read(sfd, buf, sizeof(buf)));
	close(sfd);
}

TEST_F_TIMEOUT(v2_dev, nonblock_eagain_and_poll, 120)
{
	struct pollfd pfd;
	struct mst_pipe p;
	uint64_t npoll = 0;
	char why[256];
	int sfd = -1;

	/* A slow engine: data trickles in, reads outrun it. */
	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "engine_bw", 8));
	ASSERT_EQ(0, mst_knob_write_u64(self->dev.uuid, "chunk_size", MST_MIB));

	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd));
	ASSERT_EQ(0, fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) | O_NONBLOCK));
	mst_pipe_init(&p, sfd, -1, 0, -1);
	for (;;) {
		ssize_t n = mst_pipe_pump(&p, UINT64_MAX, NULL);

		if (n > 0)
			continue;
		if (n == 0 && p.eof)
			break;
		ASSERT_EQ(-EAGAIN, n);
		pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
		/* Data must come: poll wakes well before 10 s. */
		ASSERT_EQ(1, poll(&pfd, 1, 10000));
		ASSERT_TRUE(pfd.revents & POLLIN);
		npoll++;
	}
	TH_LOG("%llu bytes, %llu EAGAIN, %llu polls", (unsigned long long)p.bytes,
	       (unsigned long long)p.neagain, (unsigned long long)npoll);
	EXPECT_GT(p.neagain, 0);
	EXPECT_GE(p.bytes, SMALL_STATE);
	EXPECT_TRUE(mst_pipe_check(&p, why, sizeof(why)));
	if (!mst_pipe_check(&p, why, sizeof(why)))
		TH_LOG("%s", why);
	/* EOF is readable at once. */
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0, read(sfd, p.buf, 16));
	mst_pipe_free(&p);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	close(sfd);
}

/*
 * `checksum` hashes the whole state under the device's state lock: root
 * only, and a read allocates nothing: an instance never opened is hashed as
 * its first allocation will make it, which the read after an open confirms.
 */
TEST(checksum_root_only_allocates_nothing)
{
	static const char * const backing[] = { "memory", "pattern" };
	char path[256];
	struct stat sb;

	MST_REQUIRE_DEVICE();
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(backing); i++) {
		uint64_t gen = 1, sum0 = 0, sum1 = 1;
		struct mst_dev dev;
		char uuid[37];

		ASSERT_EQ(0, mst_mdev_create(uuid));
		ASSERT_EQ(0, mst_knob_write(uuid, "backing", backing[i]));
		ASSERT_EQ(0, mst_knob_write(uuid, "state_size", "16M"));
		ASSERT_EQ(0, mst_knob_write(uuid, "crit_size", "5000"));
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mstream/checksum", uuid);
		ASSERT_EQ(0, stat(path, &sb));
		EXPECT_EQ(0400, sb.st_mode & 0777);
		ASSERT_EQ(0, mst_checksum(uuid, &sum0));
		/* crit_gen is 0 while no state is allocated */
		EXPECT_EQ(0, mst_knob_read_u64(uuid, "crit_gen", &gen));
		EXPECT_EQ(0, gen);
		ASSERT_EQ(0, mst_dev_open(&dev, uuid));
		ASSERT_EQ(0, mst_knob_read_u64(uuid, "crit_gen", &gen));
		EXPECT_EQ(1, gen);
		ASSERT_EQ(0, mst_checksum(uuid, &sum1));
		TH_LOG("%s: %016llx before the first open, %016llx after", backing[i],
		       (unsigned long long)sum0, (unsigned long long)sum1);
		EXPECT_EQ(sum0, sum1);
		mst_dev_close(&dev);
		EXPECT_EQ(0, mst_mdev_remove(uuid));
	}
}

/*
 * A REINIT's CRIT record that is an allocation of its own (v2 mux and
 * mux-head publish it at once, outside the pool; v2 single when the record
 * is larger than a chunk) must not pile up while the FD is not read: memory
 * the user could grow without bound. One unread record takes the newest
 * content. @pause_ms lets v2 single's idle engine emit each REINIT's record
 * before the next REINIT comes, which is what used to add one per REINIT.
 */
FIXTURE(unread_crit) {};
FIXTURE_VARIANT(unread_crit)
{
	const char *v2_mode;
	uint64_t state_size;
	int64_t chunk_size;
	int64_t read_ahead;
	uint64_t crit_size;
	int pause_ms;
};
FIXTURE_VARIANT_ADD(unread_crit, mux)
{
	.v2_mode = "mux", .state_size = SMALL_STATE, .chunk_size = -1,
	.read_ahead = -1,
};
FIXTURE_VARIANT_ADD(unread_crit, muxhead)
{
	.v2_mode = "muxhead", .state_size = SMALL_STATE, .chunk_size = -1,
	.read_ahead = -1,
};
/* the first pass fits the read-ahead, so the engine is idle at each REINIT */
FIXTURE_VARIANT_ADD(unread_crit, single_record_over_chunk)
{
	.v2_mode = "single", .state_size = MST_MIB, .chunk_size = 65536,
	.read_ahead = 64, .crit_size = 100000, .pause_ms = 20,
};
FIXTURE_SETUP(unread_crit) {}
FIXTURE_TEARDOWN(unread_crit) {}

TEST_F(unread_crit, coalesce)
{
	struct mst_cfg cfg = MST_CFG_QUIET;
	struct mst_dev dev;
	struct mst_pipe p;
	uint64_t gen = 0;
	char why[256];
	int sfd = -1;

	MST_REQUIRE_DEVICE();
	cfg.state_size = variant->state_size;
	cfg.backing = "memory";
	cfg.v2_mode = variant->v2_mode;
	cfg.chunk_size = variant->chunk_size;
	cfg.read_ahead = variant->read_ahead;
	cfg.crit_size = variant->crit_size;
	ASSERT_EQ(0, mst_dev_create_open(&dev, &cfg));
	ASSERT_EQ(0, mst_set_state(dev.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(0, mst_knob_write(dev.uuid, "reinit", "1"));
		if (variant->pause_ms)
			usleep(variant->pause_ms * 1000);
	}
	ASSERT_EQ(0, mst_knob_read_u64(dev.uuid, "crit_gen", &gen));
	ASSERT_EQ(0, mst_set_state(dev.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	mst_pipe_init(&p, sfd, -1, 0, -1);
	ASSERT_EQ(0, mst_drain(&p, 1, 120, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_TRUE(mst_pipe_check(&p, why, sizeof(why))) TH_LOG("%s", why);
	TH_LOG("%llu CRIT records for 50 REINITs", (unsigned long long)p.mon.ncrit);
	/* the session's first record, and one that took every REINIT */
	EXPECT_EQ(2, p.mon.ncrit);
	EXPECT_EQ(gen, p.mon.last_crit_gen);
	mst_pipe_free(&p);
	close(sfd);
	mst_dev_destroy(&dev);
}

/* ------------------------------------------------------------ FSM */

FIXTURE(fsm)
{
	struct mst_dev dev;
	uint64_t flags;
};

FIXTURE_VARIANT(fsm)
{
	uint32_t from;
};

FIXTURE_VARIANT_ADD(fsm, from_stop) { .from = VFIO_DEVICE_STATE_STOP };
FIXTURE_VARIANT_ADD(fsm, from_running) { .from = VFIO_DEVICE_STATE_RUNNING };
FIXTURE_VARIANT_ADD(fsm, from_stop_copy) { .from = VFIO_DEVICE_STATE_STOP_COPY };
FIXTURE_VARIANT_ADD(fsm, from_resuming) { .from = VFIO_DEVICE_STATE_RESUMING };
FIXTURE_VARIANT_ADD(fsm, from_running_p2p) { .from = VFIO_DEVICE_STATE_RUNNING_P2P };
FIXTURE_VARIANT_ADD(fsm, from_pre_copy) { .from = VFIO_DEVICE_STATE_PRE_COPY };
FIXTURE_VARIANT_ADD(fsm, from_pre_copy_p2p) { .from = VFIO_DEVICE_STATE_PRE_COPY_P2P };

FIXTURE_SETUP(fsm)
{
	struct mst_cfg cfg = MST_CFG_DEFAULT;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 4 * MST_MIB;
	cfg.backing = "memory";
	cfg.dirty_rate = 0;
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
	ASSERT_EQ(0, mst_mig_flags(self->dev.fd, &self->flags));
}

FIXTURE_TEARDOWN(fsm)
{
	mst_dev_destroy(&self->dev);
}

/* What SET @to from @from must do: -EINVAL, or 0 and whether an FD comes. */
static int expect_arc(uint64_t flags, uint32_t from, uint32_t to, bool *fd,
		      int *nsteps)
{
	uint32_t cur = from, next;

	*fd = false;
	*nsteps = 0;
	while (cur != to) {
		int ret = mst_next_state(flags, cur, to, &next);

		if (ret)
			return ret;
		*fd = mst_arc_opens_fd(cur, next);
		cur = next;
		++*nsteps;
	}
	if (from == to && (to == VFIO_DEVICE_STATE_ERROR || to >= VFIO_DEVICE_STATE_NR))
		return -EINVAL;
	return 0;
}

TEST_F(fsm, arcs_to_every_state)
{
	uint32_t targets[] = {
		VFIO_DEVICE_STATE_ERROR, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP_COPY,
		VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_RUNNING_P2P,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_NR, 100,
	};
	const uint32_t from = variant->from;

	for (unsigned int i = 0; i < MST_ARRAY_SIZE(targets); i++) {
		uint32_t to = targets[i];
		int fd0 = -1, fd1 = -1, want, ret, steps;
		bool want_fd;

		/* A fresh device in RUNNING, then the combination arc to @from. */
		ASSERT_EQ(0, mst_reset(self->dev.fd));
		ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
		ASSERT_EQ(0, expect_arc(self->flags, VFIO_DEVICE_STATE_RUNNING,
					from, &want_fd, &steps));
		ASSERT_EQ(0, mst_set_state(self->dev.fd, from, &fd0));
		ASSERT_STATE(self->dev.fd, from);
		EXPECT_EQ(want_fd, fd0 >= 0);

		want = expect_arc(self->flags, from, to, &want_fd, &steps);
		ret = mst_set_state(self->dev.fd, to, &fd1);
		if (ret != want || (!want && want_fd != (fd1 >= 0)))
			TH_LOG("%s -> %s (%d steps): ret %d fd %d, expected ret %d fd %s",
			       mst_state_name(from), mst_state_name(to), steps,
			       ret, fd1, want, want_fd ? "yes" : "no");
		EXPECT_EQ(want, ret);
		if (want) {
			/* A refused arc leaves the device where it was. */
			EXPECT_STATE(self->dev.fd, from);
			EXPECT_EQ(-1, fd1);
		} else {
			EXPECT_STATE(self->dev.fd, to);
			EXPECT_EQ(want_fd, fd1 >= 0);
			if (fd1 >= 0)
				EXPECT_EQ(to == VFIO_DEVICE_STATE_RESUMING ?
					  O_WRONLY : O_RDONLY, src_fd_mode(fd1));
		}
		if (fd0 >= 0)
			close(fd0);
		if (fd1 >= 0)
			close(fd1);
	}
	/* Every state was reachable and VFIO_DEVICE_RESET left it usable. */
	ASSERT_EQ(0, mst_reset(self->dev.fd));
	ASSERT_STATE(self->dev.fd, VFIO_DEVICE_STATE_RUNNING);
}

/* Walk single arcs only, in a long chain, checking the state after each. */
TEST_F(v2_dev, single_arc_chain)
{
	static const uint32_t chain[] = {
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_RUNNING,
	};
	uint32_t cur = VFIO_DEVICE_STATE_RUNNING;
	uint64_t flags = 0;

	ASSERT_EQ(0, mst_mig_flags(self->dev.fd, &flags));
	ASSERT_STATE(self->dev.fd, cur);
	for (unsigned int i = 0; i < MST_ARRAY_SIZE(chain); i++) {
		uint32_t next;
		int fd = -1;

		/* Each step of the chain is a single arc of the table. */
		ASSERT_EQ(0, mst_next_state(flags, cur, chain[i], &next));
		ASSERT_EQ(chain[i], next);
		ASSERT_EQ(0, mst_set_state(self->dev.fd, chain[i], &fd));
		ASSERT_STATE(self->dev.fd, chain[i]);
		EXPECT_EQ(mst_arc_opens_fd(cur, chain[i]), fd >= 0);
		if (fd >= 0)
			close(fd);
		cur = chain[i];
	}
}

/* ----------------------------------------------------- migrations */

FIXTURE(v2_mig)
{
	struct mst_dev src;
	struct mst_dev dst;
};

FIXTURE_VARIANT(v2_mig)
{
	uint64_t state_size;
	const char *backing;
	bool precopy;
	unsigned int precopy_ms;
	int64_t dirty_rate;
	const char *dirty_pattern;
	const char *v2_mode;
	int64_t engines;
	int64_t reinit_period_ms;
	bool nonblock;
	bool random_sizes;
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_stop_copy)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .dirty_rate = 0,
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_precopy_dirty)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .dirty_pattern = "uniform",
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_precopy_dirty_hot_nonblock)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .dirty_pattern = "hot",
	.nonblock = true,
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_precopy_dirty_random_sizes)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .random_sizes = true,
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_precopy_dirty_nonblock_random_sizes)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .random_sizes = true,
	.nonblock = true,
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_precopy_periodic_reinit)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 2000, .reinit_period_ms = 200,
};

FIXTURE_VARIANT_ADD(v2_mig, mem64m_mux_precopy_dirty)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .v2_mode = "mux", .engines = 4,
};

/* Critical records overtaking queued chunks must still land on record boundaries. */
FIXTURE_VARIANT_ADD(v2_mig, mem64m_muxhead_precopy_dirty_periodic_reinit)
{
	.state_size = 64 * MST_MIB, .backing = "memory", .precopy = true,
	.precopy_ms = 1000, .dirty_rate = 5000, .v2_mode = "muxhead", .engines = 4,
	.reinit_period_ms = 50,
};

FIXTURE_VARIANT_ADD(v2_mig, pattern6g_stop_copy)
{
	.state_size = 6 * MST_GIB, .backing = "pattern", .dirty_rate = 0,
};

FIXTURE_SETUP(v2_mig)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = variant->state_size;
	cfg.backing = variant->backing;
	cfg.v2_mode = variant->v2_mode;
	cfg.engines = variant->engines ? variant->engines : -1;
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
}

FIXTURE_TEARDOWN(v2_mig)
{
	mst_pair_destroy(&self->src, &self->dst);
}

TEST_F_TIMEOUT(v2_mig, migrate, 1800)
{
	struct mst_v2_opts o = {
		.precopy = variant->precopy,
		.precopy_rounds = 3,
		.precopy_ms = variant->precopy_ms,
		.nonblock = variant->nonblock,
		.monitor = true,
		.seed = variant->random_sizes ? mst_seed() : 0,
	};
	struct mst_v2_result res;
	uint64_t s_src = 0, s_fresh = 0, t0, saved = 0, loaded = 0;
	int ret;

	if (o.seed)
		TH_LOG("seed %#llx (rerun with MST_SEED=%#llx)",
		       (unsigned long long)o.seed, (unsigned long long)o.seed);
	ASSERT_EQ(0, mst_checksum(self->dst.uuid, &s_fresh));
	/* Make the source differ from a fresh instance. */
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 300, variant->dirty_rate));
	if (variant->dirty_pattern)
		ASSERT_EQ(0, mst_knob_write(self->src.uuid, "dirty_pattern",
					    variant->dirty_pattern));
	if (variant->reinit_period_ms)
		ASSERT_EQ(0, mst_knob_write_u64(self->src.uuid, "reinit_period_ms",
						variant->reinit_period_ms));
	ASSERT_EQ(0, mst_checksum(self->src.uuid, &s_src));
	ASSERT_NE(s_fresh, s_src);

	t0 = mst_now_ns();
	ret = mst_migrate_v2(&self->src, &self->dst, &o, &res);
	TH_LOG("precopy %llu B, stop-copy %llu B, %llu ENOMSG, %llu EAGAIN, %.1f s",
	       (unsigned long long)res.precopy_bytes,
	       (unsigned long long)res.stopcopy_bytes,
	       (unsigned long long)res.nenomsg, (unsigned long long)res.neagain,
	       (mst_now_ns() - t0) / 1e9);
	ASSERT_EQ(0, ret) TH_LOG("%s", res.err);
	ASSERT_STATE(self->src.fd, VFIO_DEVICE_STATE_STOP);
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_STOP);

	/* The source is stopped: its checksum is final. */
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	if (!mst_knob_read_u64(self->src.uuid, "bytes_saved", &saved) &&
	    !mst_knob_read_u64(self->dst.uuid, "bytes_loaded", &loaded))
		TH_LOG("bytes_saved %llu, bytes_loaded %llu",
		       (unsigned long long)saved, (unsigned long long)loaded);
	if (variant->precopy) {
		EXPECT_GT(res.nenomsg, 0);
		EXPECT_GT(res.precopy_bytes, variant->state_size / 2);
	}
	if (variant->precopy && variant->dirty_rate)
		/* Pages dirtied during PRE_COPY went again in STOP_COPY. */
		EXPECT_GT(res.stopcopy_bytes, 0);
	/* Both devices still work: back to RUNNING. */
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
}

/* ---------------------------------------------------------- REINIT */

FIXTURE(v2_reinit)
{
	struct mst_dev src;
	struct mst_dev dst;
	uint64_t crit_size;
};

FIXTURE_VARIANT(v2_reinit)
{
	bool optin;
	const char *v2_mode;
};

FIXTURE_VARIANT_ADD(v2_reinit, with_precopy_info_v2) { .optin = true, .v2_mode = "single" };
FIXTURE_VARIANT_ADD(v2_reinit, without_opt_in) { .optin = false, .v2_mode = "single" };
/* Engines multiplexed on the one FD: new critical data goes ahead of what is not produced yet. */
FIXTURE_VARIANT_ADD(v2_reinit, mux_with_precopy_info_v2) { .optin = true, .v2_mode = "mux" };
/* ... and with mux-head, ahead of every queued chunk no read has started on. */
FIXTURE_VARIANT_ADD(v2_reinit, muxhead_with_precopy_info_v2) { .optin = true, .v2_mode = "muxhead" };

FIXTURE_SETUP(v2_reinit)
{
	struct mst_cfg cfg = MST_CFG_QUIET;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 64 * MST_MIB;
	cfg.backing = "memory";
	cfg.v2_mode = variant->v2_mode;
	ASSERT_EQ(0, mst_dev_create_open(&self->dst, &cfg));
	/* A slow engine, so a backlog builds up ahead of the reader. */
	cfg.engine_bw = 16;
	cfg.chunk_size = 2 * MST_MIB;
	ASSERT_EQ(0, mst_dev_create_open(&self->src, &cfg));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "crit_size", &self->crit_size));
}

FIXTURE_TEARDOWN(v2_reinit)
{
	mst_pair_destroy(&self->src, &self->dst);
}

/* Reads exactly @len bytes through @p (blocking); false on a short read. */
static bool pump_exact(struct mst_pipe *p, uint64_t len)
{
	uint64_t want = p->bytes + len;

	while (p->bytes < want) {
		ssize_t n = mst_pipe_pump(p, want - p->bytes, NULL);

		if (n <= 0) {
			mst_log("pump_exact: %zd (%s) at %llu of %llu", n,
				n < 0 ? strerror((int)-n) : "eof",
				(unsigned long long)p->bytes,
				(unsigned long long)want);
			return false;
		}
	}
	return true;
}

/*
 * A REINIT in the middle of the first image. Its CRIT record goes out at the
 * engine's next record boundary, behind what is already in memory (the
 * queue's chunks and the chunk being filled) and nothing else: the data in
 * memory counts as initial bytes, as mlx5 does ("previously dirty bytes in
 * memory are treated as initial bytes"). Without the opt-in the record still
 * travels there, but initial_bytes does not rise.
 */
TEST_F_TIMEOUT(v2_reinit, reinit_in_pre_copy, 600)
{
	struct vfio_precopy_info info, info2;
	uint64_t i0, i1, pos_r, crit_rec, gen0, ahead, bound, ra, engines, chunks;
	uint64_t last_initial;
	struct mst_pipe p;
	char why[256];
	int sfd = -1, dfd = -1;
	ssize_t n;

	crit_rec = MST_REC_HDR_SIZE + self->crit_size;
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "read_ahead", &ra));
	ASSERT_EQ(0, mst_knob_read_u64(self->src.uuid, "engines", &engines));
	ASSERT_EQ(0, mst_perturb(self->src.uuid, 200, 0));
	if (variant->optin)
		ASSERT_EQ(0, mst_precopy_v2_optin(self->src.fd));
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	mst_pipe_init(&p, sfd, dfd, 0, -1);

	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	EXPECT_EQ(0, info.flags);
	i0 = info.initial_bytes;
	/* the first image, every page of it, is initial data */
	ASSERT_GE(i0, 64 * MST_MIB + crit_rec);
	ASSERT_TRUE(pump_exact(&p, 2 * crit_rec));
	EXPECT_EQ(1, p.mon.ncrit);
	gen0 = p.mon.last_crit_gen;
	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	EXPECT_EQ(i0 - p.bytes, info.initial_bytes);
	EXPECT_EQ(0, info.flags);
	last_initial = info.initial_bytes;

	/* Let the engine queue bulk data ahead of us, then reconfigure. */
	mst_sleep_ms(1500);
	pos_r = p.bytes;
	ASSERT_EQ(0, mst_knob_write(self->src.uuid, "reinit", "1"));
	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	ASSERT_EQ(0, mst_precopy_info(sfd, &info2));
	i1 = info.initial_bytes;
	TH_LOG("REINIT after %llu bytes: flags %#x initial %llu dirty %llu; then flags %#x initial %llu",
	       (unsigned long long)pos_r, info.flags, (unsigned long long)i1,
	       (unsigned long long)info.dirty_bytes, info2.flags,
	       (unsigned long long)info2.initial_bytes);
	if (variant->optin) {
		/* Flagged once; the rest of the first image still counts. */
		EXPECT_TRUE(info.flags & VFIO_PRECOPY_INFO_REINIT);
		EXPECT_EQ(0, info2.flags & VFIO_PRECOPY_INFO_REINIT);
		EXPECT_GE(i1, i0 - pos_r);
		EXPECT_LE(info2.initial_bytes, i1);
	} else {
		/* v1 behaviour: no flag, initial_bytes never rises. */
		EXPECT_EQ(0, info.flags);
		EXPECT_EQ(0, info2.flags);
		EXPECT_LE(i1, last_initial);
		EXPECT_LE(info2.initial_bytes, last_initial);
	}

	/* Read up to the new critical record. */
	while (p.mon.ncrit < 2 && p.bytes < pos_r + i0) {
		n = mst_pipe_pump(&p, 64 * 1024, NULL);
		ASSERT_GT(n, 0);
	}
	ASSERT_EQ(2, p.mon.ncrit);
	EXPECT_GT(p.mon.last_crit_gen, gen0);
	ahead = p.mon.last_crit_end - pos_r - crit_rec;
	/*
	 * Behind what was in memory: the queue's chunks, the chunk being
	 * filled and the record in progress; not the rest of the image.
	 * Mux-head: behind the rest of the chunk the reader started on only.
	 */
	if (!strcmp(variant->v2_mode, "muxhead")) {
		bound = 2 * MST_MIB;
	} else {
		chunks = ra * (strcmp(variant->v2_mode, "mux") ? 1 : engines);
		bound = (chunks + 1) * 2 * MST_MIB + MST_MIB + MST_REC_HDR_SIZE;
		EXPECT_GT(ahead, 0);
	}
	TH_LOG("%llu bytes ahead of the new critical record (bound %llu)",
	       (unsigned long long)ahead, (unsigned long long)bound);
	EXPECT_LE(ahead, bound);
	if (variant->optin)
		/* initial_bytes covered it */
		EXPECT_LE(p.mon.last_crit_end, pos_r + i1);

	/* Finish the pass; initial_bytes never rises without a flag. */
	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	EXPECT_EQ(0, info.flags);
	last_initial = info.initial_bytes;
	for (;;) {
		n = mst_pipe_pump(&p, 4 * MST_MIB, NULL);
		if (n == -ENOMSG)
			break;
		ASSERT_GT(n, 0);
		ASSERT_EQ(0, mst_precopy_info(sfd, &info));
		EXPECT_EQ(0, info.flags);
		EXPECT_LE(info.initial_bytes, last_initial);
		last_initial = info.initial_bytes;
	}
	ASSERT_EQ(0, mst_precopy_info(sfd, &info));
	EXPECT_EQ(0, info.initial_bytes);
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	ASSERT_EQ(0, mst_drain(&p, 1, 300, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_TRUE(mst_pipe_check(&p, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_GE(p.mon.ncrit, 2);
	ASSERT_RET(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_EQ(1, mst_same_state(&self->src, &self->dst));
	mst_pipe_free(&p);
	close(sfd);
	close(dfd);
}

TEST_HARNESS_MAIN
