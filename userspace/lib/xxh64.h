/* SPDX-License-Identifier: MIT */
/*
 * xxh64.h - streaming XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0).
 *
 * Why XXH64: save files and TCP streams carry up to many GiB per stream, so the
 * checksum must run at memory speed in the reader threads; XXH64 does 32 bytes
 * per round with 4 independent lanes and is a published, widely checked format
 * (a user can verify a save file with `xxhsum -H1`).
 */
#ifndef MSTREAM_XXH64_H
#define MSTREAM_XXH64_H

#include <stddef.h>
#include <stdint.h>

struct xxh64 {
	uint64_t total;
	uint64_t v[4];
	uint8_t mem[32];
	unsigned int memsize;
};

void xxh64_init(struct xxh64 *st);
void xxh64_update(struct xxh64 *st, const void *buf, size_t len);
uint64_t xxh64_digest(const struct xxh64 *st);

#endif
