// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_mstream: malformed migration input, v2 and v3 (issues 3 and 4).
 *
 * Streams are forged here with the test's own little-endian record builder
 * (lib/mst_rec.c, crc32c computed in userspace) from the format documented in
 * kernel/mst_record.h. Each variant starts from a valid stream and breaks one
 * thing; it checks the errno of the write (kernel/mst_rx.h's table), that the
 * error is latched, that RESUMING -> STOP then fails with the device in
 * VFIO_DEVICE_STATE_ERROR, and that VFIO_DEVICE_RESET recovers a device that
 * then accepts a valid stream. The valid variants also read the loaded state
 * back to check it was applied.
 */
#include "mst_harness.h"

#define STATE_SIZE	(16 * MST_MIB)
#define NDIRTY		4

/* --------------------------------------------------------- the plan */

struct rec {
	struct mst_hdr h;
	uint8_t *payload;	/* h.len bytes unless raw says otherwise */
	uint32_t plen;		/* payload bytes actually written */
	unsigned int raw;	/* MST_RAW_* */
	size_t cut;		/* write only this many bytes of the record */
};

struct stream_plan {
	struct rec r[16];
	int n;
};

struct plan {
	struct stream_plan s[MST_MAX_STREAMS];
	uint32_t nstreams;
	struct mst_compat geo;
};

static uint8_t *rnd_bytes(size_t len, uint64_t *rng)
{
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		p[i] = mst_rand(rng);
	return p;
}

static struct rec *add(struct stream_plan *sp, uint16_t tag, uint32_t stream,
		       uint64_t offset, uint64_t gen, uint8_t *payload, uint32_t len)
{
	struct rec *r = &sp->r[sp->n];

	memset(r, 0, sizeof(*r));
	r->h.tag = tag;
	r->h.stream = stream;
	r->h.seq = sp->n;
	r->h.offset = offset;
	r->h.gen = gen;
	r->h.len = len;
	r->payload = payload;
	r->plen = len;
	sp->n++;
	return r;
}

static uint8_t *compat_payload(const struct mst_compat *c)
{
	uint8_t *p = malloc(MST_COMPAT_SIZE);

	mst_compat_pack(p, c);
	return p;
}

/*
 * A valid stream set. v2 (ndirty 0): one stream with everything. v3: the
 * critical stream (COMPAT, CRIT, END) and N dirty ones with pages of their
 * own shards only.
 */
static void plan_valid(struct plan *pl, const struct mst_compat *dev_geo,
		       uint32_t ndirty, uint64_t seed)
{
	uint64_t rng = seed;
	struct mst_compat c = *dev_geo;

	memset(pl, 0, sizeof(*pl));
	c.protocol = ndirty ? 3 : 2;
	c.nstreams = ndirty ? ndirty + 1 : 1;
	c.reserved = 0;
	pl->geo = c;
	pl->nstreams = c.nstreams;
	for (uint32_t s = 0; s < c.nstreams; s++)
		add(&pl->s[s], MST_TAG_COMPAT, s, 0, 0, compat_payload(&c),
		    MST_COMPAT_SIZE);
	add(&pl->s[0], MST_TAG_CRIT, 0, 0, 1, rnd_bytes(c.crit_size, &rng),
	    c.crit_size);
	if (!ndirty) {
		add(&pl->s[0], MST_TAG_PAGES, 0, 0, 1, rnd_bytes(4 * MST_PAGE_SIZE, &rng),
		    4 * MST_PAGE_SIZE);
		add(&pl->s[0], MST_TAG_PAGES, 0, MST_MIB + 2 * MST_PAGE_SIZE, 1,
		    rnd_bytes(MST_PAGE_SIZE, &rng), MST_PAGE_SIZE);
	} else {
		for (uint32_t s = 1; s <= ndirty; s++) {
			add(&pl->s[s], MST_TAG_PAGES, s, (s - 1) * MST_MIB, 1,
			    rnd_bytes(2 * MST_PAGE_SIZE, &rng), 2 * MST_PAGE_SIZE);
			add(&pl->s[s], MST_TAG_PAGES, s,
			    (s - 1 + ndirty) * MST_MIB + MST_PAGE_SIZE, 1,
			    rnd_bytes(MST_PAGE_SIZE, &rng), MST_PAGE_SIZE);
		}
	}
	for (uint32_t s = 0; s < c.nstreams; s++)
		add(&pl->s[s], MST_TAG_END, s, 0, 0, NULL, 0);
}

static void plan_free(struct plan *pl)
{
	for (uint32_t s = 0; s < MST_MAX_STREAMS; s++)
		for (int i = 0; i < pl->s[s].n; i++)
			free(pl->s[s].r[i].payload);
	memset(pl, 0, sizeof(*pl));
}

/* Serializes stream @s; *bad_at = offset of record @bad (or the length). */
static void serialize(struct stream_plan *sp, int bad, struct mst_buf *b,
		      size_t *bad_at)
{
	*bad_at = SIZE_MAX;
	for (int i = 0; i < sp->n; i++) {
		struct rec *r = &sp->r[i];
		struct mst_hdr h = r->h;
		struct mst_buf one = {};

		if (i == bad)
			*bad_at = b->len;
		/* Checksums over what is really sent. */
		if (!(r->raw & MST_RAW_CSUM))
			h.csum = mst_payload_csum(r->payload, r->payload ? r->plen : 0);
		mst_rec_put(&one, &h, NULL, r->raw | MST_RAW_CSUM);
		if (r->payload && r->plen)
			mst_buf_put(&one, r->payload, r->plen);
		mst_buf_put(b, one.p, r->cut ? r->cut : one.len);
		mst_buf_free(&one);
	}
	if (*bad_at == SIZE_MAX)
		*bad_at = b->len;
}

static void renumber(struct stream_plan *sp)
{
	for (int i = 0; i < sp->n; i++)
		sp->r[i].h.seq = i;
}

static void insert_at(struct stream_plan *sp, int at, const struct rec *r)
{
	memmove(&sp->r[at + 1], &sp->r[at], (sp->n - at) * sizeof(*r));
	sp->r[at] = *r;
	sp->n++;
}

/* --------------------------------------------------------- mutations */

enum mutation {
	M_VALID,
	M_TRUNC_HDR, M_TRUNC_PAYLOAD, M_NO_END,
	M_BAD_MAGIC, M_BAD_VERSION, M_BAD_HCSUM, M_BAD_TAG, M_GEN_ON_END,
	M_OFFSET_ON_COMPAT, M_OVERSIZE, M_LEN_NOT_PAGES, M_OFFSET_UNALIGNED,
	M_END_WITH_PAYLOAD, M_COMPAT_BAD_LEN, M_CRIT_BAD_LEN, M_STREAM_GE_MAX,
	M_COMPAT_STATE_SIZE, M_COMPAT_TYPE, M_COMPAT_BACKING, M_COMPAT_CRIT_SIZE,
	M_COMPAT_PROTOCOL, M_COMPAT_NSTREAMS, M_COMPAT_PAGE_SIZE, M_COMPAT_RESERVED,
	M_BAD_CSUM_PAGES, M_BAD_CSUM_CRIT, M_BAD_CSUM_COMPAT,
	M_OFFSET_OUT_OF_RANGE, M_PAGES_STRADDLE_END,
	M_DATA_AFTER_END, M_TRAILING_PARTIAL, M_DUP_END, M_SEQ_GAP, M_SEQ_REPEAT,
	M_FIRST_NOT_COMPAT, M_SECOND_COMPAT, M_STREAM_GE_NSTREAMS,
	M_FORGED_STREAM_ID, M_OTHER_SHARD, M_CROSS_SHARD, M_CRIT_ON_DIRTY,
	M_PAGES_ON_CRIT,
};

/* Index of the first record with @tag in @sp. */
static int find(struct stream_plan *sp, uint16_t tag)
{
	for (int i = 0; i < sp->n; i++)
		if (sp->r[i].h.tag == tag)
			return i;
	return -1;
}

static void recompat(struct rec *r, const struct mst_compat *c)
{
	mst_compat_pack(r->payload, c);
}

/*
 * Breaks stream @t of @pl. Returns the index of the first record the driver
 * must reject (or where the stream becomes incomplete), -1 for M_VALID.
 */
static int mutate(struct plan *pl, enum mutation m, uint32_t t, uint64_t *rng)
{
	struct stream_plan *sp = &pl->s[t];
	int ip = find(sp, MST_TAG_PAGES), ic = find(sp, MST_TAG_CRIT);
	int ie = find(sp, MST_TAG_END), i0 = 0;
	int body = ip >= 0 ? ip : ic;	/* a record with a payload */
	uint32_t ndirty = pl->nstreams - 1;
	struct mst_compat c = pl->geo;
	struct rec r;

	switch (m) {
	case M_VALID:
		return -1;
	case M_TRUNC_HDR:
		sp->r[body].cut = 20;
		sp->n = body + 1;
		return body;
	case M_TRUNC_PAYLOAD:
		sp->r[body].cut = MST_REC_HDR_SIZE + 100;
		sp->n = body + 1;
		return body;
	case M_NO_END:
		sp->n--;
		return ie;
	case M_BAD_MAGIC:
		sp->r[body].h.magic = 0x4d535452;	/* byte-swapped */
		sp->r[body].raw |= MST_RAW_MAGIC;
		return body;
	case M_BAD_VERSION:
		sp->r[body].h.version = MST_REC_VERSION + 1;
		sp->r[body].raw |= MST_RAW_VERSION;
		return body;
	case M_BAD_HCSUM:
		sp->r[body].h.hcsum = mst_hdr_csum(&sp->r[body].h) ^ 0x100;
		sp->r[body].raw |= MST_RAW_HCSUM;
		return body;
	case M_BAD_TAG:
		sp->r[body].h.tag = 9;
		return body;
	case M_GEN_ON_END:
		sp->r[ie].h.gen = 5;
		return ie;
	case M_OFFSET_ON_COMPAT:
		sp->r[i0].h.offset = MST_PAGE_SIZE;
		return i0;
	case M_OVERSIZE:
		/* The header announces more than a record may carry. */
		sp->r[body].h.len = MST_REC_MAX_PAYLOAD + MST_PAGE_SIZE;
		sp->r[body].cut = MST_REC_HDR_SIZE + sp->r[body].plen;
		return body;
	case M_LEN_NOT_PAGES:
		sp->r[ip].h.len = sp->r[ip].plen = MST_PAGE_SIZE + 8;
		sp->r[ip].payload = realloc(sp->r[ip].payload, MST_PAGE_SIZE + 8);
		return ip;
	case M_OFFSET_UNALIGNED:
		sp->r[ip].h.offset += 512;
		return ip;
	case M_END_WITH_PAYLOAD:
		sp->r[ie].h.len = sp->r[ie].plen = MST_PAGE_SIZE;
		sp->r[ie].payload = rnd_bytes(MST_PAGE_SIZE, rng);
		return ie;
	case M_COMPAT_BAD_LEN:
		sp->r[i0].h.len = sp->r[i0].plen = MST_COMPAT_SIZE - 8;
		return i0;
	case M_CRIT_BAD_LEN:
		sp->r[ic].h.len = sp->r[ic].plen = c.crit_size - MST_PAGE_SIZE;
		return ic;
	case M_STREAM_GE_MAX:
		sp->r[body].h.stream = MST_MAX_STREAMS;
		return body;
	case M_COMPAT_STATE_SIZE:
		c.state_size += MST_MIB;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_TYPE:
		c.type[0] ^= 0x20;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_BACKING:
		c.backing = !c.backing;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_CRIT_SIZE:
		c.crit_size += MST_PAGE_SIZE;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_PROTOCOL:
		c.protocol = c.protocol == 2 ? 3 : 2;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_NSTREAMS:
		c.nstreams += 2;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_PAGE_SIZE:
		c.page_size = 8192;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_COMPAT_RESERVED:
		c.reserved = 1;
		recompat(&sp->r[i0], &c);
		return i0;
	case M_BAD_CSUM_PAGES:
		sp->r[ip].payload[17] ^= 1;	/* after the checksum was taken */
		sp->r[ip].h.csum = mst_payload_csum(sp->r[ip].payload, sp->r[ip].plen) ^ 1;
		sp->r[ip].raw |= MST_RAW_CSUM;
		return ip;
	case M_BAD_CSUM_CRIT:
		sp->r[ic].h.csum = mst_payload_csum(sp->r[ic].payload, sp->r[ic].plen) ^ 0x80000000U;
		sp->r[ic].raw |= MST_RAW_CSUM;
		return ic;
	case M_BAD_CSUM_COMPAT:
		sp->r[i0].h.csum = mst_payload_csum(sp->r[i0].payload, sp->r[i0].plen) + 1;
		sp->r[i0].raw |= MST_RAW_CSUM;
		return i0;
	case M_OFFSET_OUT_OF_RANGE: {
		/* Past the end, on a page of this stream's own shard. */
		uint64_t first_shard = c.state_size / MST_PAGE_SIZE / MST_SHARD_PAGES;
		uint64_t k = 0;

		if (ndirty)
			while ((first_shard + k) % ndirty != t - 1)
				k++;
		sp->r[ip].h.offset = (first_shard + k) * MST_SHARD_PAGES * MST_PAGE_SIZE;
		return ip;
	}
	case M_PAGES_STRADDLE_END:
		/* v2 only: one page in, one page out. */
		sp->r[ip].h.offset = c.state_size - MST_PAGE_SIZE;
		sp->r[ip].h.len = sp->r[ip].plen = 2 * MST_PAGE_SIZE;
		sp->r[ip].payload = realloc(sp->r[ip].payload, 2 * MST_PAGE_SIZE);
		return ip;
	case M_DATA_AFTER_END:
		r = sp->r[body];
		r.payload = malloc(r.plen);
		memcpy(r.payload, sp->r[body].payload, r.plen);
		r.h.seq = sp->n;
		sp->r[sp->n++] = r;
		return sp->n - 1;
	case M_TRAILING_PARTIAL:
		/* 20 bytes of a record's header after the END: never whole */
		r = sp->r[body];
		r.payload = malloc(r.plen);
		memcpy(r.payload, sp->r[body].payload, r.plen);
		r.h.seq = sp->n;
		r.cut = 20;
		sp->r[sp->n++] = r;
		return sp->n - 1;
	case M_DUP_END:
		r = sp->r[ie];
		r.h.seq = sp->n;
		sp->r[sp->n++] = r;
		return sp->n - 1;
	case M_SEQ_GAP:
		for (int i = body; i < sp->n; i++)
			sp->r[i].h.seq++;
		return body;
	case M_SEQ_REPEAT:
		sp->r[body].h.seq = sp->r[body - 1].h.seq;
		return body;
	case M_FIRST_NOT_COMPAT:
		free(sp->r[0].payload);
		memmove(&sp->r[0], &sp->r[1], (sp->n - 1) * sizeof(sp->r[0]));
		sp->n--;
		renumber(sp);
		return 0;
	case M_SECOND_COMPAT:
		r = sp->r[0];
		r.payload = compat_payload(&pl->geo);
		insert_at(sp, 1, &r);
		renumber(sp);
		return 1;
	case M_STREAM_GE_NSTREAMS:
		/* v2: one sub-stream, so stream 1 does not exist. */
		sp->r[body].h.stream = pl->nstreams;
		return body;
	case M_FORGED_STREAM_ID:
		/* A record claiming another stream, on this stream's FD. */
		sp->r[body].h.stream = t == 1 ? 2 : 1;
		return body;
	case M_OTHER_SHARD:
		/* Pages of the next stream's shard, labelled as ours. */
		sp->r[ip].h.offset = (t % ndirty) * MST_MIB;
		return ip;
	case M_CROSS_SHARD:
		/* Last page of our shard and first page of the next one. */
		sp->r[ip].h.offset = t * MST_MIB - MST_PAGE_SIZE;
		return ip;
	case M_CRIT_ON_DIRTY:
		r = pl->s[0].r[find(&pl->s[0], MST_TAG_CRIT)];
		r.h.stream = t;
		r.payload = rnd_bytes(r.plen, rng);
		insert_at(sp, 1, &r);
		renumber(sp);
		return 1;
	case M_PAGES_ON_CRIT:
		r = pl->s[1].r[find(&pl->s[1], MST_TAG_PAGES)];
		r.h.stream = 0;
		r.payload = rnd_bytes(r.plen, rng);
		insert_at(sp, 1, &r);
		renumber(sp);
		return 1;
	}
	return -1;
}

/* ---------------------------------------------------------- helpers */

/* The destination's own geometry, from the COMPAT record it saves. */
static int learn_geometry(struct mst_dev *d, struct mst_compat *geo)
{
	uint8_t buf[MST_REC_HDR_SIZE + MST_COMPAT_SIZE];
	struct mst_hdr h;
	int fd = -1, ret;
	ssize_t n;

	ret = mst_set_state(d->fd, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (ret)
		return ret;
	n = mst_read_full(fd, buf, sizeof(buf));
	close(fd);
	ret = mst_set_state(d->fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		return ret;
	if (n != sizeof(buf))
		return n < 0 ? n : -EIO;
	mst_hdr_unpack(&h, buf);
	if (h.magic != MST_REC_MAGIC || h.tag != MST_TAG_COMPAT ||
	    h.len != MST_COMPAT_SIZE)
		return -EPROTO;
	mst_compat_unpack(geo, buf + MST_REC_HDR_SIZE);
	return 0;
}

/* The quiet STATE_SIZE destination the fixtures write to, and its geometry. */
static int open_destination(struct mst_dev *dst, struct mst_compat *geo)
{
	struct mst_cfg cfg = MST_CFG_QUIET;
	int err;

	cfg.state_size = STATE_SIZE;
	cfg.backing = "memory";
	err = mst_dev_create_open(dst, &cfg);
	return err ? err : learn_geometry(dst, geo);
}

/* Opens a resuming session: FDs into fds[0..nstreams-1]. */
static int open_resuming(struct mst_dev *d, uint32_t ndirty, int *fds)
{
	uint32_t num = ndirty;
	int ret;

	if (ndirty) {
		ret = mst_ms_set(d->fd, ndirty);
		if (ret)
			return ret;
	}
	ret = mst_set_state(d->fd, VFIO_DEVICE_STATE_RESUMING, &fds[0]);
	if (ret)
		return ret;
	if (ndirty)
		return mst_stream_fds(d->fd, fds + 1, &num, NULL);
	return 0;
}

static void close_fds(int *fds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* write(); 0 when all was taken, else -errno (or -EIO on a short write). */
static int put(int fd, const void *p, size_t len)
{
	ssize_t n;

	if (!len)
		return 0;
	n = write(fd, p, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Reads the whole saved stream of @d (STOP -> STOP_COPY), then back to STOP. */
static int save_all(struct mst_dev *d, struct mst_buf *b)
{
	uint8_t chunk[65536];
	int fd = -1, ret;
	ssize_t n;

	ret = mst_set_state(d->fd, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (ret)
		return ret;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		mst_buf_put(b, chunk, n);
	ret = n < 0 ? -errno : 0;
	close(fd);
	return ret ?: mst_set_state(d->fd, VFIO_DEVICE_STATE_STOP, NULL);
}

/* Does the v2 stream in @b hold @len bytes equal to @p at @offset (PAGES) or CRIT? */
static bool saved_has(const struct mst_buf *b, uint16_t tag, uint64_t offset,
		      const uint8_t *p, uint32_t len)
{
	size_t at = 0;

	while (at + MST_REC_HDR_SIZE <= b->len) {
		struct mst_hdr h;

		mst_hdr_unpack(&h, b->p + at);
		at += MST_REC_HDR_SIZE;
		if (h.tag == tag && at + h.len <= b->len) {
			if (tag == MST_TAG_CRIT && h.len == len && !memcmp(b->p + at, p, len))
				return true;
			if (tag == MST_TAG_PAGES && h.offset <= offset &&
			    offset + len <= h.offset + h.len &&
			    !memcmp(b->p + at + (offset - h.offset), p, len))
				return true;
		}
		at += h.len;
	}
	return false;
}

/* ---------------------------------------------------------- fixture */

FIXTURE(badinput)
{
	struct mst_dev dst;
	struct mst_compat geo;
	struct plan pl;
	int fds[MST_MAX_STREAMS];
};

FIXTURE_VARIANT(badinput)
{
	uint32_t ndirty;	/* 0: v2 */
	enum mutation m;
	uint32_t target;	/* stream broken */
	int write_errno;	/* 0: the writes succeed */
	int stop_errno;		/* RESUMING -> STOP; 0: succeeds */
};

#define BAD(name, n, mut, t, we, se) \
	FIXTURE_VARIANT_ADD(badinput, name) \
	{ .ndirty = n, .m = mut, .target = t, .write_errno = we, .stop_errno = se }
/* Rejected by a write: the arc fails with the latched errno. */
#define BAD_W(name, n, mut, t, e) BAD(name, n, mut, t, e, e)

/* v2: one data_fd carries every record. */
BAD(v2_valid,				0, M_VALID, 0, 0, 0);
BAD(v2_truncated_header,		0, M_TRUNC_HDR, 0, 0, ENODATA);
BAD(v2_truncated_payload,		0, M_TRUNC_PAYLOAD, 0, 0, ENODATA);
BAD(v2_no_end,				0, M_NO_END, 0, 0, ENODATA);
BAD_W(v2_bad_magic,			0, M_BAD_MAGIC, 0, EINVAL);
BAD_W(v2_bad_version,			0, M_BAD_VERSION, 0, EPROTONOSUPPORT);
BAD_W(v2_bad_header_checksum,		0, M_BAD_HCSUM, 0, EINVAL);
BAD_W(v2_unknown_tag,			0, M_BAD_TAG, 0, EINVAL);
BAD_W(v2_gen_on_end,			0, M_GEN_ON_END, 0, EINVAL);
BAD_W(v2_offset_on_compat,		0, M_OFFSET_ON_COMPAT, 0, EINVAL);
BAD_W(v2_oversize_length,		0, M_OVERSIZE, 0, EMSGSIZE);
BAD_W(v2_pages_len_not_page_multiple,	0, M_LEN_NOT_PAGES, 0, EINVAL);
BAD_W(v2_pages_offset_unaligned,	0, M_OFFSET_UNALIGNED, 0, EINVAL);
BAD_W(v2_end_with_payload,		0, M_END_WITH_PAYLOAD, 0, EINVAL);
BAD_W(v2_compat_bad_len,		0, M_COMPAT_BAD_LEN, 0, EINVAL);
BAD_W(v2_crit_len_not_crit_size,	0, M_CRIT_BAD_LEN, 0, EINVAL);
BAD_W(v2_stream_above_max,		0, M_STREAM_GE_MAX, 0, EINVAL);
BAD_W(v2_geometry_state_size,		0, M_COMPAT_STATE_SIZE, 0, EINVAL);
BAD_W(v2_geometry_type,			0, M_COMPAT_TYPE, 0, EINVAL);
BAD_W(v2_geometry_backing,		0, M_COMPAT_BACKING, 0, EINVAL);
BAD_W(v2_geometry_crit_size,		0, M_COMPAT_CRIT_SIZE, 0, EINVAL);
BAD_W(v2_geometry_protocol,		0, M_COMPAT_PROTOCOL, 0, EINVAL);
BAD_W(v2_geometry_page_size,		0, M_COMPAT_PAGE_SIZE, 0, EINVAL);
BAD_W(v2_compat_reserved,		0, M_COMPAT_RESERVED, 0, EPROTO);
BAD_W(v2_bad_payload_checksum,		0, M_BAD_CSUM_PAGES, 0, EBADMSG);
BAD_W(v2_bad_crit_checksum,		0, M_BAD_CSUM_CRIT, 0, EBADMSG);
BAD_W(v2_bad_compat_checksum,		0, M_BAD_CSUM_COMPAT, 0, EBADMSG);
BAD_W(v2_offset_out_of_range,		0, M_OFFSET_OUT_OF_RANGE, 0, ERANGE);
BAD_W(v2_pages_straddle_the_end,	0, M_PAGES_STRADDLE_END, 0, ERANGE);
BAD_W(v2_data_after_end,		0, M_DATA_AFTER_END, 0, EEXIST);
BAD_W(v2_duplicate_end,			0, M_DUP_END, 0, EEXIST);
BAD(v2_trailing_partial_header,		0, M_TRAILING_PARTIAL, 0, 0, EEXIST);
BAD_W(v2_seq_gap,			0, M_SEQ_GAP, 0, EILSEQ);
BAD_W(v2_seq_repeated,			0, M_SEQ_REPEAT, 0, EILSEQ);
BAD_W(v2_first_record_not_compat,	0, M_FIRST_NOT_COMPAT, 0, EILSEQ);
BAD_W(v2_second_compat,			0, M_SECOND_COMPAT, 0, EILSEQ);
BAD_W(v2_stream_not_in_session,		0, M_STREAM_GE_NSTREAMS, 0, EINVAL);

/* v3: the critical FD (0) and a dirty FD (1 or 2) of NDIRTY. */
BAD(v3_valid,				NDIRTY, M_VALID, 1, 0, 0);
BAD(v3_dirty_truncated_header,		NDIRTY, M_TRUNC_HDR, 2, 0, ENODATA);
BAD(v3_dirty_truncated_payload,		NDIRTY, M_TRUNC_PAYLOAD, 1, 0, ENODATA);
BAD(v3_crit_truncated_payload,		NDIRTY, M_TRUNC_PAYLOAD, 0, 0, ENODATA);
BAD(v3_dirty_no_end,			NDIRTY, M_NO_END, 3, 0, ENODATA);
BAD(v3_crit_no_end,			NDIRTY, M_NO_END, 0, 0, ENODATA);
BAD_W(v3_dirty_bad_magic,		NDIRTY, M_BAD_MAGIC, 1, EINVAL);
BAD_W(v3_crit_bad_version,		NDIRTY, M_BAD_VERSION, 0, EPROTONOSUPPORT);
BAD_W(v3_dirty_bad_header_checksum,	NDIRTY, M_BAD_HCSUM, 2, EINVAL);
BAD_W(v3_dirty_oversize_length,		NDIRTY, M_OVERSIZE, 1, EMSGSIZE);
BAD_W(v3_dirty_geometry_state_size,	NDIRTY, M_COMPAT_STATE_SIZE, 1, EINVAL);
BAD_W(v3_crit_geometry_protocol,	NDIRTY, M_COMPAT_PROTOCOL, 0, EINVAL);
BAD_W(v3_dirty_geometry_nstreams,	NDIRTY, M_COMPAT_NSTREAMS, 4, EINVAL);
BAD_W(v3_crit_geometry_nstreams,	NDIRTY, M_COMPAT_NSTREAMS, 0, EINVAL);
BAD_W(v3_crit_len_not_crit_size,	NDIRTY, M_CRIT_BAD_LEN, 0, EINVAL);
BAD_W(v3_dirty_bad_payload_checksum,	NDIRTY, M_BAD_CSUM_PAGES, 2, EBADMSG);
BAD_W(v3_crit_bad_payload_checksum,	NDIRTY, M_BAD_CSUM_CRIT, 0, EBADMSG);
BAD_W(v3_dirty_offset_out_of_range,	NDIRTY, M_OFFSET_OUT_OF_RANGE, 3, ERANGE);
BAD_W(v3_dirty_data_after_end,		NDIRTY, M_DATA_AFTER_END, 1, EEXIST);
BAD_W(v3_crit_data_after_end,		NDIRTY, M_DATA_AFTER_END, 0, EEXIST);
BAD_W(v3_dirty_duplicate_end,		NDIRTY, M_DUP_END, 2, EEXIST);
BAD_W(v3_crit_duplicate_end,		NDIRTY, M_DUP_END, 0, EEXIST);
BAD(v3_dirty_trailing_partial_header,	NDIRTY, M_TRAILING_PARTIAL, 2, 0, EEXIST);
BAD(v3_crit_trailing_partial_header,	NDIRTY, M_TRAILING_PARTIAL, 0, 0, EEXIST);
BAD_W(v3_dirty_seq_gap,			NDIRTY, M_SEQ_GAP, 1, EILSEQ);
BAD_W(v3_dirty_first_record_not_compat,	NDIRTY, M_FIRST_NOT_COMPAT, 2, EILSEQ);
BAD_W(v3_other_streams_shard,		NDIRTY, M_OTHER_SHARD, 1, EXDEV);
BAD_W(v3_pages_cross_shard_boundary,	NDIRTY, M_CROSS_SHARD, 2, EXDEV);
BAD_W(v3_forged_stream_id,		NDIRTY, M_FORGED_STREAM_ID, 1, EXDEV);
BAD_W(v3_forged_stream_id_on_crit,	NDIRTY, M_FORGED_STREAM_ID, 0, EXDEV);
BAD_W(v3_crit_record_on_dirty_fd,	NDIRTY, M_CRIT_ON_DIRTY, 3, EXDEV);
BAD_W(v3_pages_record_on_crit_fd,	NDIRTY, M_PAGES_ON_CRIT, 0, EXDEV);
BAD_W(v3_stream_above_max,		NDIRTY, M_STREAM_GE_MAX, 1, EINVAL);

FIXTURE_SETUP(badinput)
{
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		self->fds[i] = -1;
	MST_REQUIRE_DEVICE();
	ASSERT_EQ(0, open_destination(&self->dst, &self->geo));
	ASSERT_EQ(STATE_SIZE, self->geo.state_size);
	ASSERT_EQ(2, self->geo.protocol);
	ASSERT_EQ(1, self->geo.nstreams);
}

FIXTURE_TEARDOWN(badinput)
{
	close_fds(self->fds, MST_MAX_STREAMS);
	plan_free(&self->pl);
	mst_dev_destroy(&self->dst);
}

TEST_F_TIMEOUT(badinput, write, 120)
{
	const uint32_t t = variant->target;
	uint64_t rng = 0x5eed0000 + variant->m;
	struct mst_buf bufs[MST_MAX_STREAMS] = {};
	size_t bad_at = 0, ignored;
	uint32_t ns;
	int bad, ret;

	plan_valid(&self->pl, &self->geo, variant->ndirty, rng);
	ns = self->pl.nstreams;
	ASSERT_LT(t, ns);
	bad = mutate(&self->pl, variant->m, t, &rng);
	for (uint32_t s = 0; s < ns; s++)
		serialize(&self->pl.s[s], s == t ? bad : -1, &bufs[s],
			  s == t ? &bad_at : &ignored);
	ASSERT_RET(0, open_resuming(&self->dst, variant->ndirty, self->fds));

	/* The records before the broken one are accepted. */
	ASSERT_RET(0, put(self->fds[t], bufs[t].p, bad_at));
	ret = put(self->fds[t], bufs[t].p + bad_at, bufs[t].len - bad_at);
	if (ret != -variant->write_errno)
		TH_LOG("write of the broken record (at %zu of %zu): %d (%s), expected %d (%s)",
		       bad_at, bufs[t].len, ret, strerror(-ret), -variant->write_errno,
		       strerror(variant->write_errno));
	ASSERT_EQ(-variant->write_errno, ret);
	if (variant->write_errno) {
		/* Latched: the FD keeps failing with the same errno. */
		EXPECT_EQ(-variant->write_errno, put(self->fds[t], bufs[t].p, MST_REC_HDR_SIZE));
		EXPECT_EQ(-variant->write_errno, put(self->fds[t], bufs[t].p, 1));
	}
	/* The other streams are complete and valid. */
	for (uint32_t s = 0; s < ns; s++) {
		if (s == t)
			continue;
		ret = put(self->fds[s], bufs[s].p, bufs[s].len);
		if (!variant->write_errno)
			EXPECT_RET(0, ret);
	}

	ret = mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret != -variant->stop_errno)
		TH_LOG("RESUMING -> STOP: %d (%s), expected %d (%s)", ret, strerror(-ret),
		       -variant->stop_errno, strerror(variant->stop_errno));
	if (!variant->stop_errno) {
		ASSERT_EQ(0, ret);
		ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_STOP);
	} else {
		EXPECT_EQ(-variant->stop_errno, ret);
		ASSERT_NE(0, ret);
		ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_ERROR);
		/* ERROR is left only through a reset. */
		EXPECT_RET(-EINVAL, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
		EXPECT_RET(-EINVAL, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RESUMING, NULL));
		ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_ERROR);
		ASSERT_EQ(0, mst_reset(self->dst.fd));
		ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_RUNNING);
		/* The session's FDs are dead. */
		for (uint32_t s = 0; s < ns; s++)
			EXPECT_SYSERR(ENODEV, write(self->fds[s], bufs[s].p, MST_REC_HDR_SIZE));
	}
	close_fds(self->fds, MST_MAX_STREAMS);
	for (uint32_t s = 0; s < ns; s++)
		mst_buf_free(&bufs[s]);
	plan_free(&self->pl);

	/* Recovered: a valid stream loads, and what it carried was applied. */
	if (variant->stop_errno) {
		plan_valid(&self->pl, &self->geo, variant->ndirty, rng + 1);
		ASSERT_RET(0, open_resuming(&self->dst, variant->ndirty, self->fds));
		for (uint32_t s = 0; s < ns; s++) {
			struct mst_buf b = {};

			serialize(&self->pl.s[s], -1, &b, &ignored);
			EXPECT_RET(0, put(self->fds[s], b.p, b.len));
			mst_buf_free(&b);
		}
		ASSERT_RET(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
		close_fds(self->fds, MST_MAX_STREAMS);
	}
	if (!variant->stop_errno || variant->m == M_TRUNC_HDR) {
		struct mst_buf saved = {};

		/* Save what was loaded: the forged pages and critical data are there. */
		ASSERT_EQ(0, mst_ms_set(self->dst.fd, 0));
		ASSERT_EQ(0, save_all(&self->dst, &saved));
		for (uint32_t s = 0; s < ns; s++)
			for (int i = 0; i < self->pl.s[s].n; i++) {
				struct rec *r = &self->pl.s[s].r[i];

				if (r->h.tag != MST_TAG_PAGES && r->h.tag != MST_TAG_CRIT)
					continue;
				EXPECT_TRUE(saved_has(&saved, r->h.tag, r->h.offset,
						      r->payload, r->plen))
					TH_LOG("stream %u record %d (tag %u, offset %llu) not in the saved state",
					       s, i, r->h.tag, (unsigned long long)r->h.offset);
			}
		mst_buf_free(&saved);
	}
}

/* ------------------------------------------- a record is applied whole */

/*
 * Pattern backing checks each page's content; a record whose last page is
 * not a pattern is refused, and none of its pages, valid or not, reaches
 * the device: the destination's state is what it was.
 */
TEST(pattern_record_validated_whole)
{
	struct mst_cfg cfg = MST_CFG_QUIET;
	struct mst_dev src, dst;
	struct mst_buf saved = {}, forged = {};
	uint64_t before = 0, after = 1;
	struct mst_hdr h;
	size_t at = 0, compat_len = 0;
	uint8_t *payload = NULL;
	int fd = -1;

	MST_REQUIRE_DEVICE();
	cfg.state_size = STATE_SIZE;
	cfg.backing = "pattern";
	ASSERT_EQ(0, mst_pair_create_open(&src, &dst, &cfg));
	ASSERT_EQ(0, mst_perturb(src.uuid, 200, 0));
	ASSERT_EQ(0, mst_set_state(src.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, save_all(&src, &saved));

	/* the saved COMPAT, then its first PAGES record of several pages */
	while (at + MST_REC_HDR_SIZE <= saved.len) {
		mst_hdr_unpack(&h, saved.p + at);
		if (h.tag == MST_TAG_COMPAT)
			compat_len = MST_REC_HDR_SIZE + h.len;
		if (h.tag == MST_TAG_PAGES && h.len >= 2 * MST_PAGE_SIZE)
			break;
		at += MST_REC_HDR_SIZE + h.len;
	}
	ASSERT_EQ(MST_TAG_PAGES, h.tag);
	ASSERT_GT(compat_len, 0);
	payload = malloc(h.len);
	ASSERT_NE(NULL, payload);
	memcpy(payload, saved.p + at + MST_REC_HDR_SIZE, h.len);
	payload[h.len - MST_PAGE_SIZE] ^= 0xff;	/* the last page: not its index */
	h.seq = 1;				/* right behind the COMPAT */
	mst_buf_put(&forged, saved.p, compat_len);
	mst_rec_put(&forged, &h, payload, 0);

	ASSERT_EQ(0, mst_checksum(dst.uuid, &before));
	ASSERT_EQ(0, mst_set_state(dst.fd, VFIO_DEVICE_STATE_RESUMING, &fd));
	EXPECT_RET(0, put(fd, forged.p, compat_len));
	EXPECT_RET(-EINVAL, put(fd, forged.p + compat_len, forged.len - compat_len));
	ASSERT_EQ(0, mst_checksum(dst.uuid, &after));
	EXPECT_EQ(before, after) TH_LOG("the pages before the bad one were applied");
	EXPECT_RET(-EINVAL, mst_set_state(dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	close(fd);
	free(payload);
	mst_buf_free(&saved);
	mst_buf_free(&forged);
	mst_pair_destroy(&src, &dst);
}

/* ------------------------------------------------- split writes */

/*
 * A valid stream must load whatever the write boundaries: one byte at a time,
 * splits that cut every header and payload, random sizes.
 */
FIXTURE(split)
{
	struct mst_dev dst;
	struct mst_compat geo;
	struct plan pl;
	int fds[MST_MAX_STREAMS];
};

FIXTURE_VARIANT(split)
{
	uint32_t ndirty;
	int mode;		/* 0: bytes, 1: sizes 1..97 in turn, 2: random */
};

FIXTURE_VARIANT_ADD(split, v2_one_byte_writes) { .ndirty = 0, .mode = 0 };
FIXTURE_VARIANT_ADD(split, v2_cycling_sizes) { .ndirty = 0, .mode = 1 };
FIXTURE_VARIANT_ADD(split, v2_random_sizes) { .ndirty = 0, .mode = 2 };
FIXTURE_VARIANT_ADD(split, v3_one_byte_writes) { .ndirty = NDIRTY, .mode = 0 };
FIXTURE_VARIANT_ADD(split, v3_cycling_sizes) { .ndirty = NDIRTY, .mode = 1 };
FIXTURE_VARIANT_ADD(split, v3_random_sizes) { .ndirty = NDIRTY, .mode = 2 };

FIXTURE_SETUP(split)
{
	for (int i = 0; i < MST_MAX_STREAMS; i++)
		self->fds[i] = -1;
	MST_REQUIRE_DEVICE();
	ASSERT_EQ(0, open_destination(&self->dst, &self->geo));
}

FIXTURE_TEARDOWN(split)
{
	close_fds(self->fds, MST_MAX_STREAMS);
	plan_free(&self->pl);
	mst_dev_destroy(&self->dst);
}

TEST_F_TIMEOUT(split, valid_stream_loads, 300)
{
	uint64_t rng = mst_seed();
	struct mst_buf saved = {};
	size_t ignored;

	TH_LOG("seed %#llx", (unsigned long long)rng);
	plan_valid(&self->pl, &self->geo, variant->ndirty, 3);
	ASSERT_RET(0, open_resuming(&self->dst, variant->ndirty, self->fds));
	for (uint32_t s = 0; s < self->pl.nstreams; s++) {
		struct mst_buf b = {};
		size_t at = 0, k = 0;

		serialize(&self->pl.s[s], -1, &b, &ignored);
		while (at < b.len) {
			size_t n = variant->mode == 0 ? 1 :
				   variant->mode == 1 ? 1 + k++ % 97 :
				   1 + mst_rand(&rng) % 9000;
			int ret;

			n = n < b.len - at ? n : b.len - at;
			ret = put(self->fds[s], b.p + at, n);
			if (ret)
				TH_LOG("stream %u: write of %zu bytes at %zu: %s", s, n, at,
				       strerror(-ret));
			ASSERT_EQ(0, ret);
			at += n;
		}
		mst_buf_free(&b);
	}
	ASSERT_RET(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	close_fds(self->fds, MST_MAX_STREAMS);
	ASSERT_EQ(0, mst_ms_set(self->dst.fd, 0));
	ASSERT_EQ(0, save_all(&self->dst, &saved));
	for (uint32_t s = 0; s < self->pl.nstreams; s++)
		for (int i = 0; i < self->pl.s[s].n; i++) {
			struct rec *r = &self->pl.s[s].r[i];

			if (r->h.tag == MST_TAG_PAGES || r->h.tag == MST_TAG_CRIT)
				EXPECT_TRUE(saved_has(&saved, r->h.tag, r->h.offset,
						      r->payload, r->plen));
		}
	mst_buf_free(&saved);
}

/* -------------------------------------------------- encoder vs builder */

FIXTURE(builder)
{
	struct mst_dev dev;
};

FIXTURE_VARIANT(builder)
{
	uint32_t ndirty;
};

FIXTURE_VARIANT_ADD(builder, v2) { .ndirty = 0 };
FIXTURE_VARIANT_ADD(builder, v3_n4) { .ndirty = 4 };

FIXTURE_SETUP(builder)
{
	struct mst_cfg cfg = MST_CFG_DEFAULT;

	MST_REQUIRE_DEVICE();
	cfg.state_size = 8 * MST_MIB;
	cfg.backing = "memory";
	cfg.dirty_rate = 0;
	cfg.v2_mode = "single";
	ASSERT_EQ(0, mst_dev_create_open(&self->dev, &cfg));
	ASSERT_EQ(0, mst_perturb(self->dev.uuid, 200, 0));
}

FIXTURE_TEARDOWN(builder)
{
	mst_dev_destroy(&self->dev);
}

/*
 * Every record the driver emits, re-encoded by the test's builder from its
 * decoded fields, is byte-identical: both sides read mst_record.h the same
 * way (layout, endianness, crc32c seed and finalisation).
 */
TEST_F(builder, driver_records_reencode_identically)
{
	struct mst_v3_sess s = { .crit = -1 };
	uint32_t ns = variant->ndirty + 1;
	uint64_t nrec = 0;

	if (variant->ndirty) {
		ASSERT_EQ(0, mst_v3_open(self->dev.fd, variant->ndirty,
					 VFIO_DEVICE_STATE_STOP_COPY, &s));
	} else {
		ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP_COPY, &s.crit));
	}
	for (uint32_t i = 0; i < ns; i++) {
		struct mst_buf in = {}, out = {};
		uint8_t chunk[65536];
		size_t at = 0;
		ssize_t n;

		while ((n = read(mst_v3_fd(&s, i), chunk, sizeof(chunk))) > 0)
			mst_buf_put(&in, chunk, n);
		ASSERT_EQ(0, n);
		while (at + MST_REC_HDR_SIZE <= in.len) {
			struct mst_hdr h, h2;

			mst_hdr_unpack(&h, in.p + at);
			ASSERT_LE(at + MST_REC_HDR_SIZE + h.len, in.len);
			h2 = h;
			h2.csum = h2.hcsum = 0;
			mst_rec_put(&out, &h2, in.p + at + MST_REC_HDR_SIZE, 0);
			at += MST_REC_HDR_SIZE + h.len;
			nrec++;
		}
		EXPECT_EQ(in.len, at);
		ASSERT_EQ(in.len, out.len);
		EXPECT_EQ(0, memcmp(in.p, out.p, in.len));
		mst_buf_free(&in);
		mst_buf_free(&out);
	}
	TH_LOG("%llu records re-encoded", (unsigned long long)nrec);
	ASSERT_EQ(0, mst_set_state(self->dev.fd, VFIO_DEVICE_STATE_STOP, NULL));
	mst_v3_close(&s);
}

/* ---------------------------------------------- wrong state, wrong peer */

FIXTURE(wrong)
{
	struct mst_dev src;
	struct mst_dev dst;
};

FIXTURE_SETUP(wrong)
{
	struct mst_cfg cfg = MST_CFG_DEFAULT;

	MST_REQUIRE_DEVICE();
	cfg.state_size = STATE_SIZE;
	cfg.backing = "memory";
	cfg.dirty_rate = 0;
	cfg.v2_mode = "single";
	ASSERT_EQ(0, mst_pair_create_open(&self->src, &self->dst, &cfg));
}

FIXTURE_TEARDOWN(wrong)
{
	mst_pair_destroy(&self->src, &self->dst);
}

TEST_F(wrong, read_and_write_in_the_wrong_direction)
{
	uint8_t buf[64] = {};
	struct mst_v3_sess s, d;
	int sfd = -1, dfd = -1;

	/* v2 */
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	EXPECT_SYSERR(EBADF, write(sfd, buf, sizeof(buf)));
	EXPECT_SYSERR(EBADF, read(dfd, buf, sizeof(buf)));
	close(sfd);
	close(dfd);
	ASSERT_EQ(0, mst_reset(self->src.fd));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
	/* v3, every FD */
	ASSERT_EQ(0, mst_v3_open(self->src.fd, 3, VFIO_DEVICE_STATE_STOP_COPY, &s));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 3, VFIO_DEVICE_STATE_RESUMING, &d));
	for (uint32_t i = 0; i <= 3; i++) {
		EXPECT_SYSERR(EBADF, write(mst_v3_fd(&s, i), buf, sizeof(buf)));
		EXPECT_SYSERR(EBADF, read(mst_v3_fd(&d, i), buf, sizeof(buf)));
	}
	mst_v3_close(&s);
	mst_v3_close(&d);
	ASSERT_EQ(0, mst_reset(self->src.fd));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
}

TEST_F(wrong, use_after_the_session_ended)
{
	uint8_t buf[MST_REC_HDR_SIZE] = {};
	struct vfio_precopy_info info;
	struct mst_pipe p;
	int sfd = -1, dfd = -1;
	char why[256];

	/* A saving FD after the device went back to RUNNING. */
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd));
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_SYSERR(ENODEV, read(sfd, buf, sizeof(buf)));
	EXPECT_EQ(-1, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	close(sfd);

	/* Both FDs of a completed migration. */
	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd));
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	mst_pipe_init(&p, sfd, dfd, 0, -1);
	ASSERT_EQ(0, mst_drain(&p, 1, 60, why, sizeof(why))) TH_LOG("%s", why);
	mst_pipe_free(&p);
	ASSERT_RET(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_RET(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_SYSERR(ENODEV, write(dfd, buf, sizeof(buf)));
	EXPECT_SYSERR(ENODEV, read(sfd, buf, sizeof(buf)));
	close(sfd);
	close(dfd);
	/* And the destination did not notice. */
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_STOP);
}

/* A v3 destination checks the stream count against the source's. */
TEST_F(wrong, num_dirty_mismatch)
{
	struct mst_v3_sess s, d;
	uint8_t buf[4096];
	ssize_t n;

	ASSERT_EQ(0, mst_v3_open(self->src.fd, 2, VFIO_DEVICE_STATE_STOP_COPY, &s));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 4, VFIO_DEVICE_STATE_RESUMING, &d));
	n = mst_read_full(s.crit, buf, sizeof(buf));
	ASSERT_GT(n, MST_REC_HDR_SIZE + MST_COMPAT_SIZE);
	EXPECT_SYSERR(EINVAL, write(d.crit, buf, n));
	n = mst_read_full(s.fds[0], buf, sizeof(buf));
	ASSERT_GT(n, MST_REC_HDR_SIZE + MST_COMPAT_SIZE);
	EXPECT_SYSERR(EINVAL, write(d.fds[0], buf, n));
	EXPECT_NE(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_ERROR);
	mst_v3_close(&s);
	mst_v3_close(&d);
	ASSERT_EQ(0, mst_reset(self->src.fd));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
}

/* A v2 stream into a v3 destination's critical FD, and the reverse. */
TEST_F(wrong, protocol_mismatch)
{
	struct mst_v3_sess s, d;
	uint8_t buf[4096];
	int sfd = -1, dfd = -1;
	ssize_t n;

	ASSERT_EQ(0, mst_set_state(self->src.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd));
	ASSERT_EQ(0, mst_v3_open(self->dst.fd, 2, VFIO_DEVICE_STATE_RESUMING, &d));
	n = mst_read_full(sfd, buf, sizeof(buf));
	ASSERT_GT(n, MST_REC_HDR_SIZE + MST_COMPAT_SIZE);
	EXPECT_SYSERR(EINVAL, write(d.crit, buf, n));
	EXPECT_NE(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_ERROR);
	mst_v3_close(&d);
	close(sfd);
	ASSERT_EQ(0, mst_reset(self->src.fd));
	ASSERT_EQ(0, mst_reset(self->dst.fd));

	ASSERT_EQ(0, mst_v3_open(self->src.fd, 2, VFIO_DEVICE_STATE_STOP_COPY, &s));
	ASSERT_EQ(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_RESUMING, &dfd));
	n = mst_read_full(s.crit, buf, sizeof(buf));
	ASSERT_GT(n, MST_REC_HDR_SIZE + MST_COMPAT_SIZE);
	EXPECT_SYSERR(EINVAL, write(dfd, buf, n));
	EXPECT_NE(0, mst_set_state(self->dst.fd, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_STATE(self->dst.fd, VFIO_DEVICE_STATE_ERROR);
	mst_v3_close(&s);
	close(dfd);
	ASSERT_EQ(0, mst_reset(self->src.fd));
	ASSERT_EQ(0, mst_reset(self->dst.fd));
}

/* ------------------------------------- host-only checks of the test lib */

TEST(lib_crc32c_known_answer)
{
	/* CRC-32C("123456789") = 0xe3069283 with the usual final inversion. */
	EXPECT_EQ(0xe3069283U, ~crc32c(~0U, "123456789", 9));
	EXPECT_EQ(0, mst_payload_csum(NULL, 0));
}

TEST(lib_builder_and_monitor_agree)
{
	struct mst_compat geo = {
		.type = "test", .protocol = 2, .nstreams = 1,
		.page_size = MST_PAGE_SIZE, .shard_pages = MST_SHARD_PAGES,
		.state_size = STATE_SIZE, .crit_size = 65536, .backing = 0,
	};
	static const enum mutation bad[] = {
		M_BAD_MAGIC, M_BAD_VERSION, M_BAD_HCSUM, M_BAD_CSUM_PAGES,
		M_OFFSET_OUT_OF_RANGE, M_DATA_AFTER_END, M_DUP_END, M_SEQ_GAP,
		M_FIRST_NOT_COMPAT, M_SECOND_COMPAT, M_CRIT_BAD_LEN,
	};
	uint64_t rng = 7;

	for (uint32_t nd = 0; nd <= NDIRTY; nd += NDIRTY) {
		struct plan pl;

		/* A valid set passes the monitor, whatever the write sizes. */
		plan_valid(&pl, &geo, nd, 1);
		for (uint32_t s = 0; s < pl.nstreams; s++) {
			struct mst_buf b = {};
			struct mst_mon m;
			char why[256];
			size_t at = 0, ignored;

			serialize(&pl.s[s], -1, &b, &ignored);
			mst_mon_init(&m, nd ? (int)s : -1);
			while (at < b.len) {
				size_t k = 1 + mst_rand(&rng) % 5000;

				k = k < b.len - at ? k : b.len - at;
				mst_mon_feed(&m, b.p + at, k);
				at += k;
			}
			EXPECT_TRUE(mst_mon_complete(&m, why, sizeof(why)))
				TH_LOG("nd %u stream %u: %s", nd, s, why);
			mst_buf_free(&b);
		}
		plan_free(&pl);
		/* Each broken one is caught. */
		for (unsigned int i = 0; i < MST_ARRAY_SIZE(bad); i++) {
			uint32_t t = nd ? (bad[i] == M_CRIT_BAD_LEN ? 0 : 1) : 0;
			struct mst_buf b = {};
			struct mst_mon m;
			char why[256];
			size_t ignored;
			int k;

			plan_valid(&pl, &geo, nd, 1);
			k = mutate(&pl, bad[i], t, &rng);
			serialize(&pl.s[t], k, &b, &ignored);
			mst_mon_init(&m, nd ? (int)t : -1);
			mst_mon_feed(&m, b.p, b.len);
			EXPECT_FALSE(mst_mon_complete(&m, why, sizeof(why)))
				TH_LOG("nd %u mutation %d not caught", nd, bad[i]);
			mst_buf_free(&b);
			plan_free(&pl);
		}
	}
}

TEST_HARNESS_MAIN
