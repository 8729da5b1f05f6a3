/* SPDX-License-Identifier: MIT */
/*
 * xxh64.h - streaming XXH64 (seed 0), from libxxhash (Debian's
 * libxxhash-dev).
 *
 * Why XXH64: save files and TCP streams carry up to many GiB per stream, so the
 * checksum must run at memory speed in the reader threads; XXH64 does 32 bytes
 * per round with 4 independent lanes and is a published, widely checked format
 * (a user can verify a save file with `xxhsum -H1`).
 *
 * Why XXH_INLINE_ALL: the pool keeps a hash state inside each stream, and
 * libxxhash declares its state layout unstable across versions; compiled in
 * from the header, the state and the code that uses it always agree, no
 * xxHash symbol leaves the library, and the hash inlines into the readers.
 */
#ifndef MSTREAM_XXH64_H
#define MSTREAM_XXH64_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct xxh64 {
	XXH64_state_t st;
};

static inline void xxh64_init(struct xxh64 *h)
{
	XXH64_reset(&h->st, 0);
}

static inline void xxh64_update(struct xxh64 *h, const void *buf, size_t len)
{
	XXH64_update(&h->st, buf, len);
}

static inline uint64_t xxh64_digest(const struct xxh64 *h)
{
	return XXH64_digest(&h->st);
}

#endif
