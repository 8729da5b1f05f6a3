/* SPDX-License-Identifier: MIT */
/*
 * mstream_sample.h - libmstream-sample: helpers for the project's sample
 * device (vfio_mstream.ko), used by the demo, the benchmarks and the tests.
 * Not part of libmstream's API: a VMM has no use for them.
 *
 * Link with libmstream-sample.a before libmstream.
 */
#ifndef MSTREAM_SAMPLE_H
#define MSTREAM_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "mstream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The sample device's mdev type directory. */
#define MSTREAM_SAMPLE_TYPE_PATH \
	"/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev"

/* Create an instance of type_path (NULL: MSTREAM_SAMPLE_TYPE_PATH) with a new
 * random UUID, written to uuid (37 bytes); remove it. */
int mstream_sample_mdev_create(const char *type_path, char uuid[37]);
int mstream_sample_mdev_remove(const char *uuid);

/* Read / write /sys/bus/mdev/devices/<uuid>/mstream/<attr> (or, if name
 * contains a '/', <name>/mstream/<attr>). Reads strip the newline. */
int mstream_sample_attr_read(const char *name, const char *attr, char *buf, size_t len);
int mstream_sample_attr_write(const char *name, const char *attr, const char *value);

/*
 * The sample device's state checksum (sysfs mstream/checksum, hex u64 of the
 * whole device state); -ENOENT for a device without that knob. Its type is
 * mstream_checksum_fn: mstream_device_set_checksum(dev,
 * mstream_sample_checksum, NULL) lets a session compare source and
 * destination. arg is unused.
 */
int mstream_sample_checksum(struct mstream_device *dev, uint64_t *sum, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* MSTREAM_SAMPLE_H */
