/* SPDX-License-Identifier: MIT */
/* internal.h - helpers shared by the library's files; not installed. */
#ifndef MSTREAM_INTERNAL_H
#define MSTREAM_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "fileio.h"
#include "mstream.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* Most devices in one session, streams per device (1 + max dirty). */
#define MSTREAM_MAX_DEVICES 64
#define MSTREAM_MAX_STREAMS 65

/* Explanations of failures, kept next to the errno that is returned. */
#define MSTREAM_ERRMSG 512
void errmsg_set(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set this thread's mstream_last_error() and return err (negative errno). */
int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void clear_error(void);

/*
 * A public struct passed in (mstream.h, "Structs"): its reserved space and
 * any flag outside known must be zero, or -EINVAL with a message naming
 * what. CHECK_STRUCT() is for a struct with a flags field.
 */
int check_struct(const char *what, const void *reserved, size_t len, unsigned int flags,
		 unsigned int known);
#define CHECK_STRUCT(what, p, known) \
	check_struct(what, (p)->reserved, sizeof((p)->reserved), (p)->flags, known)

/* The flags each struct knows. */
#define POOL_FLAGS MSTREAM_POOL_NO_FIXED_BUFFERS
#define STREAM_FLAGS (MSTREAM_STREAM_CRITICAL | MSTREAM_STREAM_CHECKSUM | MSTREAM_STREAM_PARKED_START)
#define SESSION_FLAGS \
	(MSTREAM_SESSION_REINIT | MSTREAM_SESSION_CHECKSUM | MSTREAM_SESSION_SOURCE_RUNNING)
#define FILES_FLAGS MSTREAM_FILES_NO_VERIFY
#define TCP_FLAGS (MSTREAM_TCP_NO_CHECKSUM | MSTREAM_TCP_PLAIN)

/* close() that keeps errno and ignores -1. */
void close_fd(int *fd);

/* Constant-time comparison: no early exit, so the time taken does not tell a
 * network peer how much of a token it guessed right. */
int ct_memcmp(const void *a, const void *b, size_t len);

/* The device's checksum through the hook of mstream_device_set_checksum();
 * -ENOENT without one. */
int device_checksum(struct mstream_device *dev, uint64_t *sum);

/* The io_uring pool's worker count when not given: one per stream, at
 * most one per CPU, and a cap. */
unsigned int pool_auto_threads(unsigned int streams);

#endif
