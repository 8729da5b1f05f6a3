// SPDX-License-Identifier: GPL-2.0-only
/*
 * Record encoding and header checks of the sample device's migration
 * streams. See mst_record.h for the wire format.
 *
 * Checksums are CRC32C (Castagnoli) with seed ~0 and no final inversion, as
 * computed by the library's __crc32c_le() (lib/crc32.c, CONFIG_CRC32). It is
 * part of vmlinux wherever CONFIG_CRC32=y, as in Debian's kernels, so the
 * module needs no other module loaded first (the crypto-based crc32c() of
 * libcrc32c would need libcrc32c.ko and crc32c.ko) and gives the same values.
 */

#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "mst_record.h"

static u32 mst_crc32c(const void *data, size_t len)
{
	return __crc32c_le(~0U, data, len);
}

static u32 mst_rec_hdr_csum(const struct mst_rec_hdr *hdr)
{
	struct mst_rec_hdr tmp = *hdr;

	tmp.hcsum = 0;
	return mst_crc32c(&tmp, sizeof(tmp));
}

/**
 * mst_rec_encode() - fill in a record header
 * @hdr: header to fill in.
 * @tag: enum mst_rec_tag.
 * @stream: sub-stream of the record.
 * @seq: position of the record in its stream.
 * @offset: PAGES: byte offset of the first page; 0 otherwise.
 * @gen: PAGES and CRIT: generation; 0 otherwise.
 * @payload: the @len payload bytes (not copied; only checksummed), or NULL
 *	to leave @csum 0: the device checks that payload itself
 *	(%MST_INTEGRITY_DEVICE).
 * @len: payload length.
 *
 * Computes the payload and the header checksums. Encoding never fails: the
 * producer owns the values, and mst_rec_check_hdr() of the result is 0 for
 * any value the wire format allows.
 */
void mst_rec_encode(struct mst_rec_hdr *hdr, enum mst_rec_tag tag, u32 stream,
		    u64 seq, u64 offset, u64 gen, const void *payload, u32 len)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = cpu_to_le32(MST_REC_MAGIC);
	hdr->version = cpu_to_le16(MST_REC_VERSION);
	hdr->tag = cpu_to_le16(tag);
	hdr->stream = cpu_to_le32(stream);
	hdr->len = cpu_to_le32(len);
	hdr->offset = cpu_to_le64(offset);
	hdr->gen = cpu_to_le64(gen);
	hdr->seq = cpu_to_le64(seq);
	hdr->csum = cpu_to_le32(len && payload ? mst_crc32c(payload, len) : 0);
	hdr->hcsum = cpu_to_le32(mst_rec_hdr_csum(hdr));
}

/* @type NUL padded to MST_COMPAT_TYPE_LEN, whatever follows its first NUL. */
static void mst_compat_type(char out[MST_COMPAT_TYPE_LEN],
			    const char type[MST_COMPAT_TYPE_LEN])
{
	size_t n = strnlen(type, MST_COMPAT_TYPE_LEN);

	memset(out, 0, MST_COMPAT_TYPE_LEN);
	memcpy(out, type, n);
}

/**
 * mst_compat_encode() - fill in a COMPAT payload
 * @c: payload to fill in.
 * @geo: the source's geometry.
 *
 * @geo->type is copied up to its first NUL and NUL padded.
 */
void mst_compat_encode(struct mst_compat *c, const struct mst_geometry *geo)
{
	memset(c, 0, sizeof(*c));
	mst_compat_type(c->type, geo->type);
	c->protocol = cpu_to_le32(geo->protocol);
	c->nstreams = cpu_to_le32(geo->nstreams);
	c->page_size = cpu_to_le32(MST_PAGE_SIZE);
	c->shard_pages = cpu_to_le32(MST_SHARD_PAGES);
	c->state_size = cpu_to_le64(geo->state_size);
	c->crit_size = cpu_to_le32(geo->crit_size);
	c->backing = cpu_to_le32(geo->backing);
	c->integrity = cpu_to_le32(geo->integrity);
}

/* Payload length the tag allows: 0 or -EINVAL. */
static int mst_rec_check_len(u16 tag, u32 len)
{
	switch (tag) {
	case MST_TAG_COMPAT:
		return len == sizeof(struct mst_compat) ? 0 : -EINVAL;
	case MST_TAG_CRIT:
		return len && len <= MST_CRIT_MAX_SIZE ? 0 : -EINVAL;
	case MST_TAG_PAGES:
		return len && !(len % MST_PAGE_SIZE) ? 0 : -EINVAL;
	case MST_TAG_END:
		return len ? -EINVAL : 0;
	}
	return -EINVAL;
}

/**
 * mst_rec_check_hdr() - check a received record header on its own
 * @hdr: the 48 received header bytes.
 *
 * Checks everything the header says about itself, before any payload byte is
 * looked at; what depends on the stream (sequence, shard, range, END) is
 * checked by mst_rx.c.
 *
 * Return: 0, or the first failure in this order: -EINVAL bad magic;
 * -EPROTONOSUPPORT unknown version; -EINVAL header checksum mismatch; -EINVAL
 * unknown tag, offset or gen set on a tag that has none, or stream >=
 * %MST_MAX_STREAMS; -EMSGSIZE len above %MST_REC_MAX_PAYLOAD; -EINVAL len not
 * allowed for the tag, or a PAGES offset that is not 4 KiB aligned.
 */
int mst_rec_check_hdr(const struct mst_rec_hdr *hdr)
{
	u16 tag = le16_to_cpu(hdr->tag);
	u32 len = le32_to_cpu(hdr->len);
	u64 offset = le64_to_cpu(hdr->offset);
	u64 gen = le64_to_cpu(hdr->gen);

	if (le32_to_cpu(hdr->magic) != MST_REC_MAGIC)
		return -EINVAL;
	if (le16_to_cpu(hdr->version) != MST_REC_VERSION)
		return -EPROTONOSUPPORT;
	if (le32_to_cpu(hdr->hcsum) != mst_rec_hdr_csum(hdr))
		return -EINVAL;

	switch (tag) {
	case MST_TAG_COMPAT:
	case MST_TAG_END:
		if (offset || gen)
			return -EINVAL;
		break;
	case MST_TAG_CRIT:
		if (offset)
			return -EINVAL;
		break;
	case MST_TAG_PAGES:
		break;
	default:
		return -EINVAL;
	}
	if (le32_to_cpu(hdr->stream) >= MST_MAX_STREAMS)
		return -EINVAL;

	if (len > MST_REC_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (mst_rec_check_len(tag, len))
		return -EINVAL;
	if (tag == MST_TAG_PAGES && (offset & (MST_PAGE_SIZE - 1)))
		return -EINVAL;
	return 0;
}

/**
 * mst_rec_check_payload() - check the payload checksum of a record
 * @hdr: its header, already accepted by mst_rec_check_hdr().
 * @payload: the le32_to_cpu(@hdr->len) payload bytes.
 *
 * Return: 0, or -EBADMSG when the checksum does not match (for a record
 * without payload, when @hdr->csum is not 0).
 */
int mst_rec_check_payload(const struct mst_rec_hdr *hdr, const void *payload)
{
	u32 len = le32_to_cpu(hdr->len);
	u32 csum = len ? mst_crc32c(payload, len) : 0;

	return le32_to_cpu(hdr->csum) == csum ? 0 : -EBADMSG;
}

/**
 * mst_compat_check() - check a received COMPAT payload against a geometry
 * @c: the payload.
 * @len: its length.
 * @geo: the destination's geometry; @geo->nstreams 0 accepts any valid
 *	stream count (1..%MST_MAX_STREAMS).
 *
 * Return: 0; -EINVAL when @len is not sizeof(*@c); -EPROTO when the reserved
 * field is set; -EINVAL when a field does not match @geo (type, protocol,
 * page and shard size, state and critical size, backing, integrity,
 * nstreams), in that order of checks.
 */
int mst_compat_check(const struct mst_compat *c, u32 len,
		     const struct mst_geometry *geo)
{
	char type[MST_COMPAT_TYPE_LEN];
	u32 nstreams;

	if (len != sizeof(*c))
		return -EINVAL;
	if (c->reserved)
		return -EPROTO;

	mst_compat_type(type, geo->type);
	if (memcmp(c->type, type, sizeof(type)))
		return -EINVAL;
	if (le32_to_cpu(c->protocol) != geo->protocol ||
	    le32_to_cpu(c->page_size) != MST_PAGE_SIZE ||
	    le32_to_cpu(c->shard_pages) != MST_SHARD_PAGES ||
	    le64_to_cpu(c->state_size) != geo->state_size ||
	    le32_to_cpu(c->crit_size) != geo->crit_size ||
	    le32_to_cpu(c->backing) != geo->backing ||
	    le32_to_cpu(c->integrity) != geo->integrity)
		return -EINVAL;

	nstreams = le32_to_cpu(c->nstreams);
	if (!nstreams || nstreams > MST_MAX_STREAMS)
		return -EINVAL;
	if (geo->nstreams && nstreams != geo->nstreams)
		return -EINVAL;
	return 0;
}
