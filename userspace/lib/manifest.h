/* SPDX-License-Identifier: MIT */
/*
 * manifest.h - the manifest of a save directory: which devices, which stream
 * files, how long each is and its XXH64, and a checksum of the manifest
 * itself. Text, one record a line, so that a reviewer can read a save:
 *
 *   mstream-save 1
 *   devices 1
 *   device 0 num_dirty=4 streams=5 src_checksum=1f2e... name=<uuid>
 *   stream 0 0 bytes=65600 xxh64=0123456789abcdef file=d0-s0.bin
 *   ...
 *   end xxh64=<XXH64 of every byte above this line>
 *
 * The manifest is written last (to a temporary name, synced, renamed), so a
 * save that did not finish has none and cannot be loaded.
 */
#ifndef MSTREAM_MANIFEST_H
#define MSTREAM_MANIFEST_H

#include "internal.h"

#define MANIFEST_NAME "manifest"
#define MANIFEST_MAX (1u << 20)

struct manifest_stream {
	char file[32];
	uint64_t bytes;
	uint64_t xxh64;
};

struct manifest_dev {
	char name[64];
	unsigned int num_dirty, nstreams;
	bool has_src_sum;
	uint64_t src_sum;
	struct manifest_stream s[MSTREAM_MAX_STREAMS];
};

struct manifest {
	unsigned int ndev;
	struct manifest_dev *dev;
};

/* The file name of stream k of device d: the only names a manifest may use. */
void manifest_file_name(char *buf, size_t len, unsigned int d, unsigned int k);

/* Text of m into a malloc'ed buffer. */
int manifest_format(const struct manifest *m, char **buf, size_t *len);
/* Parse and check text; on failure -EBADMSG and the reason in err. */
int manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen);
/* Write dir/manifest atomically and durably. */
int manifest_write(int dirfd, const struct manifest *m);
/* Read dir/manifest: -ENOENT when there is none. */
int manifest_read(int dirfd, struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *m);

#endif
