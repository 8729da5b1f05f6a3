/* SPDX-License-Identifier: MIT */
/* internal.h - helpers shared by the library's files; not installed. */
#ifndef MSTREAM_INTERNAL_H
#define MSTREAM_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

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

/* close() that keeps errno and ignores -1. */
void close_fd(int *fd);

/* read/write the whole buffer, retrying short transfers and EINTR. */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/* Constant-time comparison: no early exit, so the time taken does not tell a
 * network peer how much of a token it guessed right. */
int ct_memcmp(const void *a, const void *b, size_t len);

/* The io_uring pool's worker count when not given: one per stream, at
 * most one per CPU, and a cap. */
unsigned int pool_auto_threads(unsigned int streams);

/* Read a small sysfs-like file into buf (NUL-terminated, newline stripped). */
int file_read_str(const char *path, char *buf, size_t len);
int file_write_str(const char *path, const char *val);

#endif
