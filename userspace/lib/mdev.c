// SPDX-License-Identifier: MIT
/*
 * mdev.c - create and remove mdev instances and reach the sample device's
 * per-instance knobs (/sys/bus/mdev/devices/<uuid>/mstream/<attr>).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

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

int mstream_mdev_create(const char *type_path, char uuid[37])
{
	char path[PATH_MAX];
	int ret;

	clear_error();
	if (!type_path)
		type_path = MSTREAM_MDEV_TYPE_PATH;
	snprintf(path, sizeof(path), "%s/create", type_path);
	uuid_v4(uuid);
	ret = file_write_str(path, uuid);
	if (ret == -ENOENT)
		return fail(ret, "%s: no such mdev type (is the vfio_mstream module loaded?)",
			    type_path);
	if (ret)
		return fail(ret, "%s: %s", path, strerror(-ret));
	return 0;
}

static void dev_dir(const char *name, char *out, size_t len)
{
	if (strchr(name, '/'))
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "/sys/bus/mdev/devices/%s", name);
}

int mstream_mdev_remove(const char *uuid)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int ret;

	dev_dir(uuid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/remove", dir);
	ret = file_write_str(path, "1");
	if (ret)
		return fail(ret, "%s: %s", path, strerror(-ret));
	return 0;
}

int mstream_mdev_attr_read(const char *name, const char *attr, char *buf, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX];
	int ret;

	dev_dir(name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mstream/%s", dir, attr);
	ret = file_read_str(path, buf, len);
	if (ret)
		return fail(ret, "%s: %s", path, strerror(-ret));
	return 0;
}

int mstream_mdev_attr_write(const char *name, const char *attr, const char *value)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX];
	int ret;

	dev_dir(name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mstream/%s", dir, attr);
	ret = file_write_str(path, value);
	if (ret)
		return fail(ret, "%s <- '%s': %s", path, value, strerror(-ret));
	return 0;
}
