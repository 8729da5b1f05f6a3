/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - whole reads and writes, and one-line (sysfs) files: 0 or a
 * negative errno. libc only, so that the guest tests (tests/e2e) build the
 * same file instead of keeping a copy.
 */
#ifndef MSTREAM_FILEIO_H
#define MSTREAM_FILEIO_H

#include <stddef.h>

/* read/write the whole buffer, retrying short transfers and EINTR; a read
 * that meets end of file is -ENODATA, a write() of 0 is -EIO. */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/* Read a small sysfs-like file into buf (NUL-terminated, trailing newline
 * and spaces dropped); write val to one. */
int file_read_str(const char *path, char *buf, size_t len);
int file_write_str(const char *path, const char *val);

#endif
