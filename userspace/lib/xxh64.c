// SPDX-License-Identifier: MIT
/* xxh64.c - XXH64, written from the xxHash specification (see xxh64.h). */
#include <string.h>

#include "mstream.h"
#include "xxh64.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Unaligned little-endian loads; memcpy compiles to one mov on x86. */
static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t merge(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

void xxh64_init(struct xxh64 *st)
{
	memset(st, 0, sizeof(*st));
	st->v[0] = P1 + P2;
	st->v[1] = P2;
	st->v[2] = 0;
	st->v[3] = -P1;
}

static const uint8_t *stripes(uint64_t v[4], const uint8_t *p, const uint8_t *end)
{
	uint64_t a = v[0], b = v[1], c = v[2], d = v[3];

	while (p + 32 <= end) {
		a = round64(a, rd64(p));
		b = round64(b, rd64(p + 8));
		c = round64(c, rd64(p + 16));
		d = round64(d, rd64(p + 24));
		p += 32;
	}
	v[0] = a, v[1] = b, v[2] = c, v[3] = d;
	return p;
}

void xxh64_update(struct xxh64 *st, const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + len;

	st->total += len;
	if (st->memsize + len < 32) {
		memcpy(st->mem + st->memsize, p, len);
		st->memsize += len;
		return;
	}
	if (st->memsize) {
		unsigned int fill = 32 - st->memsize;

		memcpy(st->mem + st->memsize, p, fill);
		stripes(st->v, st->mem, st->mem + 32);
		p += fill;
		st->memsize = 0;
	}
	p = stripes(st->v, p, end);
	if (p < end) {
		memcpy(st->mem, p, end - p);
		st->memsize = end - p;
	}
}

uint64_t xxh64_digest(const struct xxh64 *st)
{
	const uint8_t *p = st->mem, *end = p + st->memsize;
	uint64_t h;

	if (st->total >= 32) {
		h = rotl(st->v[0], 1) + rotl(st->v[1], 7) + rotl(st->v[2], 12) +
		    rotl(st->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = merge(h, st->v[i]);
	} else {
		h = st->v[2] + P5; /* v[2] is the seed */
	}
	h += st->total;
	for (; p + 8 <= end; p += 8) {
		h ^= round64(0, rd64(p));
		h = rotl(h, 27) * P1 + P4;
	}
	if (p + 4 <= end) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++) {
		h ^= *p * P5;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t mstream_xxh64(const void *buf, size_t len)
{
	struct xxh64 st;

	xxh64_init(&st);
	xxh64_update(&st, buf, len);
	return xxh64_digest(&st);
}
