/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wire format of the sample device's migration streams.
 *
 * The format is private to the driver (userspace treats every stream as
 * opaque bytes); it is written down here because the v3 guarantees depend on
 * it: every record is self-describing (stream, offset, generation), so the
 * destination can apply the streams in any interleaving.
 *
 * A stream is a sequence of records. Each record is a fixed 48-byte
 * little-endian header followed by @len payload bytes. The header is checked
 * in full (magic, version, header checksum, tag, stream, sequence, length,
 * range) before a single payload byte is looked at, and the payload checksum
 * is checked before the payload is applied.
 *
 * Every stream starts with exactly one COMPAT record, which the destination
 * checks against its own geometry, and ends with exactly one END record.
 *
 * Streams of a session: a session has @nstreams sub-streams numbered from 0.
 * - nstreams == 1 (v2, one engine): stream 0 carries COMPAT, CRIT, PAGES of
 *   any page and END.
 * - nstreams > 1 (v3, and v2 with engines multiplexed on one FD): stream 0 is
 *   the critical stream and carries COMPAT, CRIT and END only; stream s >= 1
 *   carries COMPAT, PAGES of shard s - 1 only (see mst_shard_of()) and END.
 * The engine enforces this; a record of the wrong kind or shard is -EXDEV.
 */
#ifndef MST_RECORD_H
#define MST_RECORD_H

#include <linux/types.h>
#include <linux/build_bug.h>

#define MST_REC_MAGIC		0x5254534dU	/* "MSTR" in little endian */
#define MST_REC_VERSION		1
#define MST_REC_HDR_SIZE	48

/* Pages are 4 KiB in the stream whatever PAGE_SIZE the host has. */
#define MST_PAGE_SHIFT		12
#define MST_PAGE_SIZE		(1U << MST_PAGE_SHIFT)

/*
 * Bulk pages are sharded over the dirty streams in runs of MST_SHARD_PAGES
 * (1 MiB), so a stream reads contiguous memory and a PAGES record never
 * crosses a shard boundary.
 */
#define MST_SHARD_PAGES		256
#define MST_REC_MAX_PAGES	MST_SHARD_PAGES
#define MST_REC_MAX_PAYLOAD	(MST_REC_MAX_PAGES * MST_PAGE_SIZE)

/* Critical state travels as one CRIT record, so it is at most one payload. */
#define MST_CRIT_MAX_SIZE	MST_REC_MAX_PAYLOAD

/* Stream 0 plus at most 16 dirty streams. */
#define MST_MAX_STREAMS		17

enum mst_rec_tag {
	MST_TAG_COMPAT	= 1,	/* payload: struct mst_compat */
	MST_TAG_CRIT	= 2,	/* payload: the whole critical region */
	MST_TAG_PAGES	= 3,	/* payload: len / 4 KiB bulk pages at offset */
	MST_TAG_END	= 4,	/* no payload; last record of a stream */
};

/**
 * struct mst_rec_hdr - record header, all fields little endian
 * @magic: %MST_REC_MAGIC.
 * @version: %MST_REC_VERSION.
 * @tag: enum mst_rec_tag.
 * @stream: sub-stream the record belongs to, < nstreams.
 * @len: payload bytes following the header, <= %MST_REC_MAX_PAYLOAD.
 * @offset: PAGES: byte offset of the first page in the bulk state, page
 *	aligned; 0 for every other tag.
 * @gen: PAGES: save pass that captured the pages; CRIT: critical state
 *	generation. A destination keeps the newest generation it has applied and
 *	ignores older data, which is what makes any interleaving of streams
 *	converge. 0 for COMPAT and END.
 * @seq: position of the record in its stream, from 0 with no gap: detects
 *	lost, repeated and reordered records (-EILSEQ).
 * @csum: crc32c of the payload (seed ~0); 0 when @len is 0, and for PAGES
 *	and CRIT in a session whose integrity is %MST_INTEGRITY_DEVICE.
 * @hcsum: crc32c of the header with @hcsum zero (seed ~0).
 */
struct mst_rec_hdr {
	__le32 magic;
	__le16 version;
	__le16 tag;
	__le32 stream;
	__le32 len;
	__le64 offset;
	__le64 gen;
	__le64 seq;
	__le32 csum;
	__le32 hcsum;
};
static_assert(sizeof(struct mst_rec_hdr) == MST_REC_HDR_SIZE);

enum mst_backing {
	MST_BACKING_MEMORY	= 0,	/* real bytes in memory */
	MST_BACKING_PATTERN	= 1,	/* content derived from (page, version) */
};

/*
 * Who checks that the bulk and critical data arrived intact. Today's sample
 * checksums every PAGES and CRIT payload on the host's CPUs (the source's
 * engine computes, the destination's write() checks); a real device's save
 * and load commands check their data themselves, at no cost to the host,
 * which %MST_INTEGRITY_DEVICE models by computing and checking nothing.
 */
enum mst_integrity {
	MST_INTEGRITY_CRC	= 0,	/* crc32c of PAGES and CRIT on the host */
	MST_INTEGRITY_DEVICE	= 1,	/* the device's own; none on the host */
};

#define MST_COMPAT_TYPE_LEN	16

/**
 * struct mst_compat - payload of COMPAT, all fields little endian
 * @type: device type name, NUL padded; must equal the destination's.
 * @protocol: 2 or 3.
 * @nstreams: sub-streams in the session (1 for plain v2).
 * @page_size: %MST_PAGE_SIZE.
 * @shard_pages: %MST_SHARD_PAGES.
 * @state_size: bulk state bytes, a multiple of @page_size.
 * @crit_size: critical region bytes, <= %MST_CRIT_MAX_SIZE.
 * @backing: enum mst_backing.
 * @integrity: enum mst_integrity.
 * @reserved: 0.
 */
struct mst_compat {
	char type[MST_COMPAT_TYPE_LEN];
	__le32 protocol;
	__le32 nstreams;
	__le32 page_size;
	__le32 shard_pages;
	__le64 state_size;
	__le32 crit_size;
	__le32 backing;
	__le32 integrity;
	__le32 reserved;
};
static_assert(sizeof(struct mst_compat) == 56);

/**
 * struct mst_geometry - the session parameters a stream must agree with
 * @type: device type name.
 * @protocol: 2 or 3.
 * @nstreams: sub-streams; 0 on a v2 destination means "take it from the
 *	first COMPAT record" (a v2 source may multiplex several engines).
 * @state_size: bulk state bytes.
 * @crit_size: critical region bytes.
 * @backing: enum mst_backing.
 * @integrity: enum mst_integrity.
 */
struct mst_geometry {
	char type[MST_COMPAT_TYPE_LEN];
	u32 protocol;
	u32 nstreams;
	u64 state_size;
	u32 crit_size;
	u32 backing;
	u32 integrity;
};

/* Shard (0-based dirty stream index) of bulk page @page with @ndirty streams. */
static inline u32 mst_shard_of(u64 page, u32 ndirty)
{
	return (u32)((page / MST_SHARD_PAGES) % ndirty);
}

/* Stream that carries bulk page @page in a session of @nstreams sub-streams. */
static inline u32 mst_stream_of_page(u64 page, u32 nstreams)
{
	return nstreams == 1 ? 0 : 1 + mst_shard_of(page, nstreams - 1);
}

/*
 * Encoding never fails: the producer owns the buffer and the values.
 *
 * mst_rec_check_hdr() returns 0 or the first failure, checked in this order:
 *  -EINVAL		magic is not %MST_REC_MAGIC
 *  -EPROTONOSUPPORT	version is not %MST_REC_VERSION
 *  -EINVAL		header checksum mismatch
 *  -EINVAL		unknown tag; non-zero offset or gen where the tag has
 *			none; stream >= %MST_MAX_STREAMS
 *  -EMSGSIZE		len above %MST_REC_MAX_PAYLOAD
 *  -EINVAL		len not allowed for the tag (COMPAT: sizeof(struct
 *			mst_compat); PAGES: a non-zero multiple of 4 KiB; END:
 *			0; CRIT: 1..%MST_CRIT_MAX_SIZE); PAGES offset not 4 KiB
 *			aligned
 * mst_rec_check_payload() returns -EBADMSG on a payload checksum mismatch.
 * mst_compat_check() returns -EINVAL when the COMPAT payload does not match
 * @geo (type, protocol, page and shard size, state and critical size,
 * backing, integrity, and nstreams unless @geo->nstreams is 0), or -EPROTO
 * when a reserved field is set.
 * Stream-level checks (sequence, shard, range, END) live in mst_rx.c.
 */
void mst_rec_encode(struct mst_rec_hdr *hdr, enum mst_rec_tag tag, u32 stream,
		    u64 seq, u64 offset, u64 gen, const void *payload, u32 len);
void mst_compat_encode(struct mst_compat *c, const struct mst_geometry *geo);

int mst_rec_check_hdr(const struct mst_rec_hdr *hdr);
int mst_rec_check_payload(const struct mst_rec_hdr *hdr, const void *payload);
int mst_compat_check(const struct mst_compat *c, u32 len,
		     const struct mst_geometry *geo);

#endif /* MST_RECORD_H */
