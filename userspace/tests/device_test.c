// SPDX-License-Identifier: MIT
/*
 * device_test.c - mstream_device_*() against a fake VFIO device, no kernel
 * module needed.
 *
 * The test program defines ioctl(): the library, linked statically, calls
 * this one. It answers VFIO_DEVICE_GET_INFO and the MIG_STREAM_FDS feature on
 * the fake device's FD as vfio_mstream.ko does (mst_mig.c), and passes every
 * other ioctl to the kernel. The device is adopted with
 * mstream_device_from_fd(), the way a VMM that opened it hands it over.
 *
 * Checked: the -ENOSPC contract of mstream_device_get_stream_fds() (*num_fds
 * says how many are needed), 63 and 64 dirty streams (the CLI accepts 64),
 * and what mstream_device_from_fd() accepts, refuses and leaves open.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"

#include "mstream.h"
#include "vfio_compat.h"

static int fake_fd = -1;	/* the fake device */
static unsigned int fake_dirty; /* N of its open v3 session */

/* MIG_STREAM_FDS as the module answers it. */
static int fake_stream_fds(struct vfio_device_feature *f)
{
	struct vfio_device_feature_mig_stream_fds *sf = (void *)f->data;

	if (f->argsz < sizeof(*f) + sizeof(*sf) || sf->flags) {
		errno = EINVAL;
		return -1;
	}
	if (sf->num_fds < fake_dirty) {
		sf->num_fds = fake_dirty;
		errno = ENOSPC;
		return -1;
	}
	if (f->argsz < sizeof(*f) + sizeof(*sf) + fake_dirty * sizeof(__s32)) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned int i = 0; i < fake_dirty; i++)
		sf->fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sf->num_fds = fake_dirty;
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fake_fd || fd < 0)
		return syscall(SYS_ioctl, fd, req, arg);
	if (req == VFIO_DEVICE_GET_INFO)
		return 0;
	if (req == VFIO_DEVICE_FEATURE) {
		struct vfio_device_feature *f = arg;

		if (f->flags == (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_STREAM_FDS))
			return fake_stream_fds(f);
	}
	errno = ENOTTY;
	return -1;
}

FIXTURE(fake) {
	struct mstream_device *dev;
};

FIXTURE_SETUP(fake)
{
	fake_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fake_fd);
	ASSERT_EQ(0, mstream_device_from_fd(&self->dev, fake_fd, NULL))
		TH_LOG("%s", mstream_last_error());
}

FIXTURE_TEARDOWN(fake)
{
	mstream_device_close(self->dev);
	close(fake_fd);
	fake_fd = -1;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

TEST_F(fake, enospc_tells_how_many)
{
	int fds[2];
	unsigned int n = 2;

	fake_dirty = 5;
	EXPECT_EQ(-ENOSPC, mstream_device_get_stream_fds(self->dev, fds, &n));
	EXPECT_EQ(5, n);
}

TEST_F(fake, enough_room)
{
	int fds[8];
	unsigned int n = 8;

	fake_dirty = 5;
	ASSERT_EQ(0, mstream_device_get_stream_fds(self->dev, fds, &n))
		TH_LOG("%s", mstream_last_error());
	EXPECT_EQ(5, n);
	for (unsigned int i = 0; i < n; i++)
		EXPECT_LE(0, fcntl(fds[i], F_GETFD));
	close_fds(fds, n);
}

/* 63 and 64 are where the payload outgrew a fixed 256-byte buffer. */
TEST_F(fake, up_to_64_streams)
{
	int fds[64];

	for (unsigned int want = 62; want <= 64; want++) {
		unsigned int n = want;

		fake_dirty = want;
		ASSERT_EQ(0, mstream_device_get_stream_fds(self->dev, fds, &n))
			TH_LOG("%u streams: %s", want, mstream_last_error());
		EXPECT_EQ(want, n);
		close_fds(fds, n);
	}
}

TEST_F(fake, from_fd_names_and_borrows)
{
	char name[32];

	snprintf(name, sizeof(name), "fd %d", fake_fd);
	EXPECT_STREQ(name, mstream_device_name(self->dev));
	EXPECT_STREQ("", mstream_device_sysfs_path(self->dev));
	EXPECT_EQ(fake_fd, mstream_device_fd(self->dev));
	mstream_device_close(self->dev);
	self->dev = NULL;
	/* The caller's FD: closing the device leaves it open. */
	EXPECT_LE(0, fcntl(fake_fd, F_GETFD));
}

TEST(from_fd_refuses_what_is_not_a_vfio_device)
{
	struct mstream_device *dev = NULL;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-ENOTTY, mstream_device_from_fd(&dev, p[0], NULL));
	EXPECT_NE(NULL, strstr(mstream_last_error(), "not a VFIO device"))
		TH_LOG("message: %s", mstream_last_error());
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-EBADF, mstream_device_from_fd(&dev, -1, NULL));
	close(p[0]);
	close(p[1]);
}

TEST_HARNESS_MAIN
