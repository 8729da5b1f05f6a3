// SPDX-License-Identifier: MIT
/*
 * sample.c - libmstream-sample (mstream_sample.h): mdev instances of the
 * sample device, its per-instance knobs
 * (/sys/bus/mdev/devices/<uuid>/mstream/<attr>) and its state checksum.
 * Built into its own archive: only the public libmstream API is used here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fileio.h"
#include "mstream_sample.h"

static void uuid_v4(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		/* getrandom() on 16 bytes does not fail once the pool is ready;
		 * fall back to the clock rather than return a fixed UUID. */
		uint64_t t = mstream_now_ns() ^ ((uint64_t)getpid() << 32);

		memcpy(b, &t, 8);
		t = t * 0x9E3779B97F4A7C15ULL;
		memcpy(b + 8, &t, 8);
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

int mstream_sample_mdev_create(const char *type_path, char uuid[37])
{
	char path[PATH_MAX];

	if (!type_path)
		type_path = MSTREAM_SAMPLE_TYPE_PATH;
	snprintf(path, sizeof(path), "%s/create", type_path);
	uuid_v4(uuid);
	return file_write_str(path, uuid);
}

static void dev_dir(const char *name, char *out, size_t len)
{
	if (strchr(name, '/'))
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "/sys/bus/mdev/devices/%s", name);
}

int mstream_sample_mdev_remove(const char *uuid)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	dev_dir(uuid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/remove", dir);
	return file_write_str(path, "1");
}

int mstream_sample_attr_read(const char *name, const char *attr, char *buf, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX];

	dev_dir(name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mstream/%s", dir, attr);
	return file_read_str(path, buf, len);
}

int mstream_sample_attr_write(const char *name, const char *attr, const char *value)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX];

	dev_dir(name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mstream/%s", dir, attr);
	return file_write_str(path, value);
}

int mstream_sample_checksum(struct mstream_device *dev, uint64_t *sum, void *arg)
{
	const char *sysfs = mstream_device_sysfs_path(dev);
	char buf[64], *end;
	int ret;

	(void)arg;
	if (!sysfs[0])
		return -ENOENT;
	ret = mstream_sample_attr_read(sysfs, "checksum", buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*sum = strtoull(buf, &end, 16);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}
