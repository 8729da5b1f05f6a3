// SPDX-License-Identifier: GPL-2.0-only
/*
 * The driver's stream wire format (kernel/mst_record.h), written again here
 * from its documentation, independently of the driver's encoder: a
 * little-endian record builder to forge input, and a checker of what sources
 * emit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mst.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Offsets in the 48-byte header. */
enum { H_MAGIC = 0, H_VERSION = 4, H_TAG = 6, H_STREAM = 8, H_LEN = 12,
       H_OFFSET = 16, H_GEN = 24, H_SEQ = 32, H_CSUM = 40, H_HCSUM = 44 };

void mst_hdr_pack(uint8_t out[MST_REC_HDR_SIZE], const struct mst_hdr *h)
{
	put32(out + H_MAGIC, h->magic);
	put16(out + H_VERSION, h->version);
	put16(out + H_TAG, h->tag);
	put32(out + H_STREAM, h->stream);
	put32(out + H_LEN, h->len);
	put64(out + H_OFFSET, h->offset);
	put64(out + H_GEN, h->gen);
	put64(out + H_SEQ, h->seq);
	put32(out + H_CSUM, h->csum);
	put32(out + H_HCSUM, h->hcsum);
}

void mst_hdr_unpack(struct mst_hdr *h, const uint8_t in[MST_REC_HDR_SIZE])
{
	h->magic = get32(in + H_MAGIC);
	h->version = get16(in + H_VERSION);
	h->tag = get16(in + H_TAG);
	h->stream = get32(in + H_STREAM);
	h->len = get32(in + H_LEN);
	h->offset = get64(in + H_OFFSET);
	h->gen = get64(in + H_GEN);
	h->seq = get64(in + H_SEQ);
	h->csum = get32(in + H_CSUM);
	h->hcsum = get32(in + H_HCSUM);
}

uint32_t mst_hdr_csum(const struct mst_hdr *h)
{
	uint8_t b[MST_REC_HDR_SIZE];
	struct mst_hdr t = *h;

	t.hcsum = 0;
	mst_hdr_pack(b, &t);
	return crc32c(~0U, b, sizeof(b));
}

uint32_t mst_payload_csum(const void *p, size_t len)
{
	return len ? crc32c(~0U, p, len) : 0;
}

/* Offsets in the 56-byte COMPAT payload. */
enum { C_TYPE = 0, C_PROTOCOL = 16, C_NSTREAMS = 20, C_PAGE_SIZE = 24,
       C_SHARD_PAGES = 28, C_STATE_SIZE = 32, C_CRIT_SIZE = 40,
       C_BACKING = 44, C_INTEGRITY = 48, C_RESERVED = 52 };

void mst_compat_pack(uint8_t out[MST_COMPAT_SIZE], const struct mst_compat *c)
{
	memset(out, 0, MST_COMPAT_SIZE);
	memcpy(out + C_TYPE, c->type, MST_COMPAT_TYPE_LEN);
	put32(out + C_PROTOCOL, c->protocol);
	put32(out + C_NSTREAMS, c->nstreams);
	put32(out + C_PAGE_SIZE, c->page_size);
	put32(out + C_SHARD_PAGES, c->shard_pages);
	put64(out + C_STATE_SIZE, c->state_size);
	put32(out + C_CRIT_SIZE, c->crit_size);
	put32(out + C_BACKING, c->backing);
	put32(out + C_INTEGRITY, c->integrity);
	put32(out + C_RESERVED, c->reserved);
}

void mst_compat_unpack(struct mst_compat *c, const uint8_t in[MST_COMPAT_SIZE])
{
	memcpy(c->type, in + C_TYPE, MST_COMPAT_TYPE_LEN);
	c->protocol = get32(in + C_PROTOCOL);
	c->nstreams = get32(in + C_NSTREAMS);
	c->page_size = get32(in + C_PAGE_SIZE);
	c->shard_pages = get32(in + C_SHARD_PAGES);
	c->state_size = get64(in + C_STATE_SIZE);
	c->crit_size = get32(in + C_CRIT_SIZE);
	c->backing = get32(in + C_BACKING);
	c->integrity = get32(in + C_INTEGRITY);
	c->reserved = get32(in + C_RESERVED);
}

void mst_buf_free(struct mst_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void mst_buf_put(struct mst_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

size_t mst_rec_put(struct mst_buf *b, struct mst_hdr *h, const void *payload,
		   unsigned int raw)
{
	uint8_t hb[MST_REC_HDR_SIZE];
	size_t at = b->len;

	if (!(raw & MST_RAW_MAGIC))
		h->magic = MST_REC_MAGIC;
	if (!(raw & MST_RAW_VERSION))
		h->version = MST_REC_VERSION;
	if (!(raw & MST_RAW_CSUM))
		h->csum = mst_payload_csum(payload, payload ? h->len : 0);
	if (!(raw & MST_RAW_HCSUM))
		h->hcsum = mst_hdr_csum(h);
	mst_hdr_pack(hb, h);
	mst_buf_put(b, hb, sizeof(hb));
	if (payload && h->len)
		mst_buf_put(b, payload, h->len);
	return at;
}

/* ------------------------------------------------------------- monitor */

void mst_mon_init(struct mst_mon *m, int bound)
{
	memset(m, 0, sizeof(*m));
	m->bound = bound;
}

static bool mon_fail(struct mst_mon *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->err[0])
		return false;
	n = snprintf(m->err, sizeof(m->err), "stream %d @%llu rec %llu: ",
		     m->bound, (unsigned long long)m->pos,
		     (unsigned long long)m->records);
	va_start(ap, fmt);
	vsnprintf(m->err + n, sizeof(m->err) - n, fmt, ap);
	va_end(ap);
	return false;
}

static bool mon_check_hdr(struct mst_mon *m)
{
	struct mst_hdr *h = &m->hdr;
	struct mst_mon_sub *s;
	uint32_t hc;

	if (h->magic != MST_REC_MAGIC)
		return mon_fail(m, "magic %#x", h->magic);
	if (h->version != MST_REC_VERSION)
		return mon_fail(m, "version %u", h->version);
	hc = mst_hdr_csum(h);
	if (hc != h->hcsum)
		return mon_fail(m, "header checksum %#x, computed %#x (crc32c seed ~0, no final xor)",
				h->hcsum, hc);
	if (h->tag < MST_TAG_COMPAT || h->tag > MST_TAG_END)
		return mon_fail(m, "tag %u", h->tag);
	if (h->stream >= MST_MAX_STREAMS)
		return mon_fail(m, "stream %u", h->stream);
	if (m->bound >= 0 && h->stream != (uint32_t)m->bound)
		return mon_fail(m, "record of stream %u on the FD of stream %d",
				h->stream, m->bound);
	if (h->len > MST_REC_MAX_PAYLOAD)
		return mon_fail(m, "len %u", h->len);
	s = &m->sub[h->stream];
	if (s->ended)
		return mon_fail(m, "record (tag %u) after END", h->tag);
	if (h->seq != s->next_seq)
		return mon_fail(m, "seq %llu, expected %llu",
				(unsigned long long)h->seq,
				(unsigned long long)s->next_seq);
	if (!s->compat && h->tag != MST_TAG_COMPAT)
		return mon_fail(m, "first record has tag %u, not COMPAT", h->tag);
	if (m->have_geo && h->stream >= m->geo.nstreams)
		return mon_fail(m, "stream %u >= nstreams %u", h->stream,
				m->geo.nstreams);
	switch (h->tag) {
	case MST_TAG_COMPAT:
		if (s->compat)
			return mon_fail(m, "second COMPAT");
		if (h->len != MST_COMPAT_SIZE || h->offset || h->gen)
			return mon_fail(m, "COMPAT len %u offset %llu gen %llu",
					h->len, (unsigned long long)h->offset,
					(unsigned long long)h->gen);
		break;
	case MST_TAG_CRIT:
		if (h->offset)
			return mon_fail(m, "CRIT offset %llu",
					(unsigned long long)h->offset);
		if (h->stream != 0)
			return mon_fail(m, "CRIT on stream %u", h->stream);
		if (m->have_geo && h->len != m->geo.crit_size)
			return mon_fail(m, "CRIT len %u != crit_size %u",
					h->len, m->geo.crit_size);
		break;
	case MST_TAG_PAGES:
		if (!h->len || h->len % MST_PAGE_SIZE || h->offset % MST_PAGE_SIZE)
			return mon_fail(m, "PAGES len %u offset %llu", h->len,
					(unsigned long long)h->offset);
		if (m->have_geo) {
			uint64_t first = h->offset / MST_PAGE_SIZE;
			uint64_t last = (h->offset + h->len) / MST_PAGE_SIZE - 1;

			if (h->offset + h->len > m->geo.state_size)
				return mon_fail(m, "PAGES [%llu, +%u) beyond state_size %llu",
						(unsigned long long)h->offset, h->len,
						(unsigned long long)m->geo.state_size);
			if (first / MST_SHARD_PAGES != last / MST_SHARD_PAGES)
				return mon_fail(m, "PAGES record crosses a shard boundary");
			if (mst_stream_of_page(first, m->geo.nstreams) != h->stream)
				return mon_fail(m, "PAGES of page %llu on stream %u, belongs to stream %u",
						(unsigned long long)first, h->stream,
						mst_stream_of_page(first, m->geo.nstreams));
		}
		break;
	case MST_TAG_END:
		if (h->len || h->offset || h->gen)
			return mon_fail(m, "END len %u offset %llu gen %llu", h->len,
					(unsigned long long)h->offset,
					(unsigned long long)h->gen);
		break;
	}
	if (h->tag != MST_TAG_PAGES && h->tag != MST_TAG_CRIT && h->gen)
		return mon_fail(m, "gen %llu on tag %u", (unsigned long long)h->gen,
				h->tag);
	return true;
}

static bool mon_end_record(struct mst_mon *m)
{
	struct mst_hdr *h = &m->hdr;
	struct mst_mon_sub *s = &m->sub[h->stream];

	/* the session's first COMPAT says who checksums the other payloads */
	if (h->tag != MST_TAG_COMPAT && m->have_geo && m->geo.integrity) {
		if (h->csum)
			return mon_fail(m, "payload checksum %#x where the device checks its data",
					h->csum);
	} else if (h->len && m->pcrc != h->csum) {
		return mon_fail(m, "payload checksum %#x, computed %#x", h->csum,
				m->pcrc);
	}
	if (!h->len && h->csum)
		return mon_fail(m, "csum %#x with len 0", h->csum);
	switch (h->tag) {
	case MST_TAG_COMPAT: {
		struct mst_compat c;

		mst_compat_unpack(&c, m->cbuf);
		if (c.page_size != MST_PAGE_SIZE || c.shard_pages != MST_SHARD_PAGES)
			return mon_fail(m, "COMPAT page_size %u shard_pages %u",
					c.page_size, c.shard_pages);
		if (!c.nstreams || c.nstreams > MST_MAX_STREAMS ||
		    h->stream >= c.nstreams)
			return mon_fail(m, "COMPAT nstreams %u on stream %u",
					c.nstreams, h->stream);
		if (c.reserved || c.integrity > 1)
			return mon_fail(m, "COMPAT integrity %u reserved %#x",
					c.integrity, c.reserved);
		if (!m->have_geo) {
			m->geo = c;
			m->have_geo = true;
		} else if (memcmp(&c, &m->geo, sizeof(c))) {
			return mon_fail(m, "COMPAT differs from the first one");
		}
		s->compat = true;
		break;
	}
	case MST_TAG_CRIT:
		m->ncrit++;
		m->last_crit_end = m->pos;
		m->last_crit_gen = h->gen;
		break;
	case MST_TAG_PAGES:
		m->pages_bytes += h->len;
		break;
	case MST_TAG_END:
		s->ended = true;
		m->nended++;
		break;
	}
	s->next_seq++;
	m->records++;
	m->nrecs_by_tag[h->tag]++;
	return true;
}

bool mst_mon_feed(struct mst_mon *m, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (m->err[0])
		return false;
	while (len) {
		if (m->hfill < MST_REC_HDR_SIZE) {
			size_t n = MST_REC_HDR_SIZE - m->hfill;

			n = n < len ? n : len;
			memcpy(m->hbuf + m->hfill, p, n);
			m->hfill += n;
			m->pos += n;
			p += n;
			len -= n;
			if (m->hfill < MST_REC_HDR_SIZE)
				break;
			mst_hdr_unpack(&m->hdr, m->hbuf);
			m->pos -= MST_REC_HDR_SIZE;	/* report the record start */
			if (!mon_check_hdr(m))
				return false;
			m->pos += MST_REC_HDR_SIZE;
			m->pfill = 0;
			m->pcrc = ~0U;
		}
		if (m->pfill < m->hdr.len) {
			size_t n = m->hdr.len - m->pfill;

			n = n < len ? n : len;
			m->pcrc = crc32c(m->pcrc, p, n);
			if (m->hdr.tag == MST_TAG_COMPAT)
				memcpy(m->cbuf + m->pfill, p, n);
			m->pfill += n;
			m->pos += n;
			p += n;
			len -= n;
		}
		if (m->pfill == m->hdr.len) {
			if (!mon_end_record(m))
				return false;
			m->hfill = 0;
			m->pfill = 0;
		}
	}
	return true;
}

bool mst_mon_complete(const struct mst_mon *m, char *why, size_t len)
{
	if (m->err[0]) {
		snprintf(why, len, "%s", m->err);
		return false;
	}
	if (m->hfill) {
		snprintf(why, len, "stream %d ends inside a record (%u header bytes, %u payload bytes)",
			 m->bound, m->hfill, m->pfill);
		return false;
	}
	if (!m->have_geo) {
		snprintf(why, len, "stream %d: no COMPAT record", m->bound);
		return false;
	}
	for (uint32_t i = 0; i < MST_MAX_STREAMS; i++) {
		bool mine = m->bound < 0 ? i < m->geo.nstreams : (int)i == m->bound;

		if (mine && !m->sub[i].ended) {
			snprintf(why, len, "sub-stream %u on FD of stream %d has no END",
				 i, m->bound);
			return false;
		}
	}
	return true;
}
