// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the record wire format: mst_record.c.
 *
 * Golden vectors pin the byte layout and the checksum (CRC32C, seed ~0, no
 * final inversion), so that a change of either is caught here and not by a
 * failed migration between two builds.
 */

#include <kunit/test.h>
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/string.h>

#include "../mst_record.h"

/* A PAGES record: stream 2, 4 KiB at 0x123456000, gen 9, seq 0x1122334455667788. */
static const u8 golden_pages_hdr[MST_REC_HDR_SIZE] = {
	0x4d, 0x53, 0x54, 0x52, 0x01, 0x00, 0x03, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x00, 0x60, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,
	0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	0xbc, 0x49, 0x69, 0x12, 0x13, 0xbf, 0xa6, 0xd2,
};

static void mst_record_golden_pages(struct kunit *test)
{
	struct mst_rec_hdr hdr;
	u8 *payload;
	int i;

	payload = kunit_kmalloc(test, MST_PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, payload);
	for (i = 0; i < MST_PAGE_SIZE; i++)
		payload[i] = (u8)(i * 7 + 3);

	mst_rec_encode(&hdr, MST_TAG_PAGES, 2, 0x1122334455667788ULL,
		       0x123456000ULL, 9, payload, MST_PAGE_SIZE);
	KUNIT_EXPECT_MEMEQ(test, &hdr, golden_pages_hdr, sizeof(hdr));
	KUNIT_EXPECT_EQ(test, mst_rec_check_hdr(&hdr), 0);
	KUNIT_EXPECT_EQ(test, mst_rec_check_payload(&hdr, payload), 0);
}

/* CRC32C("123456789") is 0xe3069283; without the final inversion 0x1cf96d7c. */
static void mst_record_csum_known_answer(struct kunit *test)
{
	static const char msg[] = "123456789";
	struct mst_rec_hdr hdr;

	mst_rec_encode(&hdr, MST_TAG_CRIT, 0, 0, 0, 1, msg, 9);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.csum), 0x1cf96d7cU);
}

/* Table of well-formed records. */
struct mst_rec_case {
	const char *name;
	enum mst_rec_tag tag;
	u32 stream;
	u64 offset;
	u64 gen;
	u32 len;
};

static const struct mst_rec_case mst_rec_valid_cases[] = {
	{ "compat", MST_TAG_COMPAT, 0, 0, 0, sizeof(struct mst_compat) },
	{ "crit_1_byte", MST_TAG_CRIT, 0, 0, 1, 1 },
	{ "crit_max", MST_TAG_CRIT, 0, 0, U64_MAX, MST_CRIT_MAX_SIZE },
	{ "pages_one", MST_TAG_PAGES, 1, 0, 0, MST_PAGE_SIZE },
	{ "pages_max", MST_TAG_PAGES, 16, 1ULL << 40, 3, MST_REC_MAX_PAYLOAD },
	{ "pages_gen_0", MST_TAG_PAGES, 3, MST_PAGE_SIZE, 0, 2 * MST_PAGE_SIZE },
	{ "end", MST_TAG_END, 5, 0, 0, 0 },
	{ "last_stream", MST_TAG_END, MST_MAX_STREAMS - 1, 0, 0, 0 },
};

static void mst_rec_case_desc(const struct mst_rec_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mst_rec_valid, mst_rec_valid_cases, mst_rec_case_desc);

static void *mst_record_payload(struct kunit *test, u32 len)
{
	u8 *p = kunit_kmalloc(test, len ? len : 1, GFP_KERNEL);
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, p);
	for (i = 0; i < len; i++)
		p[i] = (u8)(i ^ (i >> 8));
	return p;
}

static void mst_record_valid(struct kunit *test)
{
	const struct mst_rec_case *c = test->param_value;
	void *payload = mst_record_payload(test, c->len);
	struct mst_rec_hdr hdr;

	mst_rec_encode(&hdr, c->tag, c->stream, 42, c->offset, c->gen, payload,
		       c->len);
	KUNIT_EXPECT_EQ(test, mst_rec_check_hdr(&hdr), 0);
	KUNIT_EXPECT_EQ(test, mst_rec_check_payload(&hdr, payload), 0);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.magic), MST_REC_MAGIC);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(hdr.version), MST_REC_VERSION);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(hdr.tag), (u16)c->tag);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.stream), c->stream);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.len), c->len);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(hdr.offset), c->offset);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(hdr.gen), c->gen);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(hdr.seq), 42ULL);
	if (!c->len)
		KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.csum), 0U);
}

/*
 * Table of malformed headers: a well-formed record of @tag, one field set to
 * @val, and the header checksum recomputed unless @stale_hcsum, so that each
 * case reaches the check it is about.
 */
enum mst_hdr_field {
	F_MAGIC, F_VERSION, F_TAG, F_STREAM, F_LEN, F_OFFSET, F_GEN, F_SEQ,
	F_HCSUM,
};

struct mst_hdr_case {
	const char *name;
	enum mst_rec_tag tag;
	enum mst_hdr_field field;
	u64 val;
	bool stale_hcsum;
	int err;
};

static const struct mst_hdr_case mst_hdr_bad_cases[] = {
	{ "bad_magic", MST_TAG_END, F_MAGIC, 0x5254534e, false, -EINVAL },
	{ "bad_magic_first", MST_TAG_END, F_MAGIC, 0, true, -EINVAL },
	{ "version_0", MST_TAG_PAGES, F_VERSION, 0, false, -EPROTONOSUPPORT },
	{ "version_2", MST_TAG_PAGES, F_VERSION, 2, false, -EPROTONOSUPPORT },
	{ "version_before_hcsum", MST_TAG_PAGES, F_VERSION, 2, true,
	  -EPROTONOSUPPORT },
	{ "hcsum_stale_seq", MST_TAG_PAGES, F_SEQ, 43, true, -EINVAL },
	{ "hcsum_stale_len", MST_TAG_PAGES, F_LEN, 2 * MST_PAGE_SIZE, true,
	  -EINVAL },
	{ "hcsum_flipped", MST_TAG_CRIT, F_HCSUM, 0, false, -EINVAL },
	{ "tag_0", MST_TAG_END, F_TAG, 0, false, -EINVAL },
	{ "tag_5", MST_TAG_END, F_TAG, 5, false, -EINVAL },
	{ "tag_ffff", MST_TAG_END, F_TAG, 0xffff, false, -EINVAL },
	{ "compat_offset", MST_TAG_COMPAT, F_OFFSET, MST_PAGE_SIZE, false,
	  -EINVAL },
	{ "compat_gen", MST_TAG_COMPAT, F_GEN, 1, false, -EINVAL },
	{ "end_offset", MST_TAG_END, F_OFFSET, MST_PAGE_SIZE, false, -EINVAL },
	{ "end_gen", MST_TAG_END, F_GEN, 1, false, -EINVAL },
	{ "crit_offset", MST_TAG_CRIT, F_OFFSET, MST_PAGE_SIZE, false, -EINVAL },
	{ "stream_max", MST_TAG_END, F_STREAM, MST_MAX_STREAMS, false, -EINVAL },
	{ "stream_u32_max", MST_TAG_PAGES, F_STREAM, U32_MAX, false, -EINVAL },
	{ "oversize_pages", MST_TAG_PAGES, F_LEN, MST_REC_MAX_PAYLOAD + 4096,
	  false, -EMSGSIZE },
	{ "oversize_crit", MST_TAG_CRIT, F_LEN, MST_REC_MAX_PAYLOAD + 1, false,
	  -EMSGSIZE },
	{ "oversize_end", MST_TAG_END, F_LEN, U32_MAX, false, -EMSGSIZE },
	{ "compat_len_short", MST_TAG_COMPAT, F_LEN,
	  sizeof(struct mst_compat) - 1, false, -EINVAL },
	{ "compat_len_long", MST_TAG_COMPAT, F_LEN,
	  sizeof(struct mst_compat) + 8, false, -EINVAL },
	{ "pages_len_0", MST_TAG_PAGES, F_LEN, 0, false, -EINVAL },
	{ "pages_len_partial", MST_TAG_PAGES, F_LEN, MST_PAGE_SIZE - 1, false,
	  -EINVAL },
	{ "pages_len_odd", MST_TAG_PAGES, F_LEN, MST_PAGE_SIZE + 512, false,
	  -EINVAL },
	{ "end_len", MST_TAG_END, F_LEN, 1, false, -EINVAL },
	{ "crit_len_0", MST_TAG_CRIT, F_LEN, 0, false, -EINVAL },
	{ "pages_offset_unaligned", MST_TAG_PAGES, F_OFFSET, 8192 + 512, false,
	  -EINVAL },
	{ "pages_offset_1", MST_TAG_PAGES, F_OFFSET, 1, false, -EINVAL },
};

static void mst_hdr_case_desc(const struct mst_hdr_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mst_hdr_bad, mst_hdr_bad_cases, mst_hdr_case_desc);

/*
 * Recomputes the header checksum of a hand-edited header, straight from the
 * rule in mst_record.h: crc32c (seed ~0) of the header with hcsum zero.
 */
static void mst_hdr_reseal(struct mst_rec_hdr *h)
{
	h->hcsum = 0;
	h->hcsum = cpu_to_le32(__crc32c_le(~0U, (const u8 *)h, sizeof(*h)));
}

static void mst_record_bad_hdr(struct kunit *test)
{
	const struct mst_hdr_case *c = test->param_value;
	u32 len = c->tag == MST_TAG_COMPAT ? sizeof(struct mst_compat) :
		  c->tag == MST_TAG_END ? 0 : MST_PAGE_SIZE;
	void *payload = mst_record_payload(test, len);
	struct mst_rec_hdr hdr;

	mst_rec_encode(&hdr, c->tag, 1, 42,
		       c->tag == MST_TAG_PAGES ? 8192 : 0,
		       c->tag == MST_TAG_PAGES || c->tag == MST_TAG_CRIT ? 7 : 0,
		       payload, len);
	KUNIT_ASSERT_EQ(test, mst_rec_check_hdr(&hdr), 0);

	switch (c->field) {
	case F_MAGIC:
		hdr.magic = cpu_to_le32(c->val);
		break;
	case F_VERSION:
		hdr.version = cpu_to_le16(c->val);
		break;
	case F_TAG:
		hdr.tag = cpu_to_le16(c->val);
		break;
	case F_STREAM:
		hdr.stream = cpu_to_le32(c->val);
		break;
	case F_LEN:
		hdr.len = cpu_to_le32(c->val);
		break;
	case F_OFFSET:
		hdr.offset = cpu_to_le64(c->val);
		break;
	case F_GEN:
		hdr.gen = cpu_to_le64(c->val);
		break;
	case F_SEQ:
		hdr.seq = cpu_to_le64(c->val);
		break;
	case F_HCSUM:
		hdr.hcsum ^= cpu_to_le32(1);
		break;
	}
	if (!c->stale_hcsum && c->field != F_HCSUM)
		mst_hdr_reseal(&hdr);

	KUNIT_EXPECT_EQ(test, mst_rec_check_hdr(&hdr), c->err);
}

/* Table of payload checksum checks. */
enum mst_payload_damage { P_NONE, P_FIRST_BYTE, P_LAST_BYTE, P_CSUM };

struct mst_payload_case {
	const char *name;
	enum mst_rec_tag tag;
	u32 len;
	enum mst_payload_damage damage;
	int err;
};

static const struct mst_payload_case mst_payload_cases[] = {
	{ "pages_intact", MST_TAG_PAGES, 3 * MST_PAGE_SIZE, P_NONE, 0 },
	{ "pages_first_byte", MST_TAG_PAGES, 3 * MST_PAGE_SIZE, P_FIRST_BYTE,
	  -EBADMSG },
	{ "pages_last_byte", MST_TAG_PAGES, MST_REC_MAX_PAYLOAD, P_LAST_BYTE,
	  -EBADMSG },
	{ "crit_csum_field", MST_TAG_CRIT, 100, P_CSUM, -EBADMSG },
	{ "compat_byte", MST_TAG_COMPAT, sizeof(struct mst_compat),
	  P_FIRST_BYTE, -EBADMSG },
	{ "end_intact", MST_TAG_END, 0, P_NONE, 0 },
	{ "end_csum_not_0", MST_TAG_END, 0, P_CSUM, -EBADMSG },
};

static void mst_payload_case_desc(const struct mst_payload_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mst_payload, mst_payload_cases, mst_payload_case_desc);

static void mst_record_payload_csum(struct kunit *test)
{
	const struct mst_payload_case *c = test->param_value;
	u8 *payload = mst_record_payload(test, c->len);
	struct mst_rec_hdr hdr;

	mst_rec_encode(&hdr, c->tag, 0, 0, 0,
		       c->tag == MST_TAG_PAGES || c->tag == MST_TAG_CRIT,
		       payload, c->len);
	switch (c->damage) {
	case P_NONE:
		break;
	case P_FIRST_BYTE:
		payload[0] ^= 0x80;
		break;
	case P_LAST_BYTE:
		payload[c->len - 1] ^= 1;
		break;
	case P_CSUM:
		hdr.csum ^= cpu_to_le32(1U << 31);
		mst_hdr_reseal(&hdr);
		break;
	}
	KUNIT_EXPECT_EQ(test, mst_rec_check_hdr(&hdr), 0);
	KUNIT_EXPECT_EQ(test, mst_rec_check_payload(&hdr, payload), c->err);
}

/*
 * Without a payload to checksum (the device checks its own data) the header
 * is whole and @csum is 0, which only the host check would refuse.
 */
static void mst_record_encode_device_integrity(struct kunit *test)
{
	u8 *payload = kunit_kzalloc(test, MST_PAGE_SIZE, GFP_KERNEL);
	struct mst_rec_hdr hdr;

	KUNIT_ASSERT_NOT_NULL(test, payload);
	memset(payload, 0x5a, MST_PAGE_SIZE);
	mst_rec_encode(&hdr, MST_TAG_PAGES, 1, 7, 0, 2, NULL, MST_PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, mst_rec_check_hdr(&hdr), 0);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr.csum), 0U);
	KUNIT_EXPECT_EQ(test, mst_rec_check_payload(&hdr, payload), -EBADMSG);
}

/* COMPAT: a geometry, encoded, checked against a destination's. */
static const struct mst_geometry mst_test_geo = {
	.type = "mstream",
	.protocol = 3,
	.nstreams = 5,
	.state_size = 64ULL << 20,
	.crit_size = 8192,
	.backing = MST_BACKING_MEMORY,
};

enum mst_compat_field {
	C_NONE, C_TYPE, C_PROTOCOL, C_NSTREAMS, C_PAGE_SIZE, C_SHARD_PAGES,
	C_STATE_SIZE, C_CRIT_SIZE, C_BACKING, C_INTEGRITY, C_RESERVED, C_LEN,
	C_DST_NSTREAMS,	/* the destination's nstreams */
	C_LEARN_NSTREAMS,	/* nstreams, checked by a destination that learns it */
};

struct mst_compat_case {
	const char *name;
	enum mst_compat_field field;
	u64 val;
	int err;
};

static const struct mst_compat_case mst_compat_cases[] = {
	{ "match", C_NONE, 0, 0 },
	{ "type", C_TYPE, 'x', -EINVAL },
	{ "type_longer", C_TYPE, 's', -EINVAL },
	{ "protocol", C_PROTOCOL, 2, -EINVAL },
	{ "nstreams", C_NSTREAMS, 4, -EINVAL },
	{ "page_size", C_PAGE_SIZE, 8192, -EINVAL },
	{ "shard_pages", C_SHARD_PAGES, 512, -EINVAL },
	{ "state_size", C_STATE_SIZE, (64ULL << 20) + 4096, -EINVAL },
	{ "crit_size", C_CRIT_SIZE, 8191, -EINVAL },
	{ "backing", C_BACKING, MST_BACKING_PATTERN, -EINVAL },
	{ "integrity", C_INTEGRITY, MST_INTEGRITY_DEVICE, -EINVAL },
	{ "reserved", C_RESERVED, 1, -EPROTO },
	{ "len_short", C_LEN, sizeof(struct mst_compat) - 8, -EINVAL },
	{ "len_long", C_LEN, sizeof(struct mst_compat) + 1, -EINVAL },
	{ "learn_nstreams", C_DST_NSTREAMS, 0, 0 },
	{ "learn_nstreams_1", C_LEARN_NSTREAMS, 1, 0 },
	{ "learn_nstreams_max", C_LEARN_NSTREAMS, MST_MAX_STREAMS, 0 },
	{ "learn_nstreams_0", C_LEARN_NSTREAMS, 0, -EINVAL },
	{ "learn_nstreams_too_many", C_LEARN_NSTREAMS, MST_MAX_STREAMS + 1,
	  -EINVAL },
};

static void mst_compat_case_desc(const struct mst_compat_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mst_compat, mst_compat_cases, mst_compat_case_desc);

static void mst_record_compat(struct kunit *test)
{
	const struct mst_compat_case *c = test->param_value;
	struct mst_geometry dst = mst_test_geo;
	u32 len = sizeof(struct mst_compat);
	struct mst_compat cp;

	mst_compat_encode(&cp, &mst_test_geo);
	switch (c->field) {
	case C_NONE:
		break;
	case C_TYPE:
		cp.type[strlen(mst_test_geo.type)] = c->val;
		if (c->val == 'x')
			cp.type[0] = c->val;
		break;
	case C_PROTOCOL:
		cp.protocol = cpu_to_le32(c->val);
		break;
	case C_NSTREAMS:
		cp.nstreams = cpu_to_le32(c->val);
		break;
	case C_LEARN_NSTREAMS:
		cp.nstreams = cpu_to_le32(c->val);
		dst.nstreams = 0;	/* only the range is checked then */
		break;
	case C_PAGE_SIZE:
		cp.page_size = cpu_to_le32(c->val);
		break;
	case C_SHARD_PAGES:
		cp.shard_pages = cpu_to_le32(c->val);
		break;
	case C_STATE_SIZE:
		cp.state_size = cpu_to_le64(c->val);
		break;
	case C_CRIT_SIZE:
		cp.crit_size = cpu_to_le32(c->val);
		break;
	case C_BACKING:
		cp.backing = cpu_to_le32(c->val);
		break;
	case C_INTEGRITY:
		cp.integrity = cpu_to_le32(c->val);
		break;
	case C_RESERVED:
		cp.reserved = cpu_to_le32(c->val);
		break;
	case C_LEN:
		len = c->val;
		break;
	case C_DST_NSTREAMS:
		dst.nstreams = c->val;
		break;
	}
	KUNIT_EXPECT_EQ(test, mst_compat_check(&cp, len, &dst), c->err);
}

/* The type is compared up to its NUL: bytes after it in @geo do not count. */
static void mst_record_compat_type_padding(struct kunit *test)
{
	struct mst_geometry src = mst_test_geo, dst = mst_test_geo;
	struct mst_compat cp;
	int i;

	memset(src.type, 0xa5, sizeof(src.type));
	memcpy(src.type, "mstream", 8);
	mst_compat_encode(&cp, &src);
	for (i = 8; i < MST_COMPAT_TYPE_LEN; i++)
		KUNIT_EXPECT_EQ(test, cp.type[i], 0);
	KUNIT_EXPECT_EQ(test, mst_compat_check(&cp, sizeof(cp), &dst), 0);

	/* A full-length name without NUL is legal too. */
	memcpy(src.type, "0123456789abcdef", MST_COMPAT_TYPE_LEN);
	memcpy(dst.type, "0123456789abcdef", MST_COMPAT_TYPE_LEN);
	mst_compat_encode(&cp, &src);
	KUNIT_EXPECT_EQ(test, mst_compat_check(&cp, sizeof(cp), &dst), 0);
	dst.type[15] = 'g';
	KUNIT_EXPECT_EQ(test, mst_compat_check(&cp, sizeof(cp), &dst), -EINVAL);
}

/* Sharding: runs of MST_SHARD_PAGES pages, round robin over the dirty streams. */
struct mst_shard_case {
	u64 page;
	u32 nstreams;
	u32 stream;
};

static const struct mst_shard_case mst_shard_cases[] = {
	{ 0, 1, 0 }, { 1000000, 1, 0 },
	{ 0, 2, 1 }, { 255, 2, 1 }, { 256, 2, 1 },
	{ 0, 3, 1 }, { 255, 3, 1 }, { 256, 3, 2 }, { 511, 3, 2 }, { 512, 3, 1 },
	{ 0, 9, 1 }, { 256 * 7, 9, 8 }, { 256 * 8, 9, 1 }, { 256 * 8 - 1, 9, 8 },
	{ 256 * 15, 17, 16 }, { 256 * 16, 17, 1 },
	{ (1ULL << 40) + 256 * 3, 5, 4 },
};

static void mst_shard_case_desc(const struct mst_shard_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "page_%llu_of_%u_streams",
		 c->page, c->nstreams);
}

KUNIT_ARRAY_PARAM(mst_shard, mst_shard_cases, mst_shard_case_desc);

static void mst_record_stream_of_page(struct kunit *test)
{
	const struct mst_shard_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, mst_stream_of_page(c->page, c->nstreams),
			c->stream);
	if (c->nstreams > 1)
		KUNIT_EXPECT_EQ(test, mst_shard_of(c->page, c->nstreams - 1),
				c->stream - 1);
}

static struct kunit_case mst_record_cases[] = {
	KUNIT_CASE(mst_record_golden_pages),
	KUNIT_CASE(mst_record_csum_known_answer),
	KUNIT_CASE_PARAM(mst_record_valid, mst_rec_valid_gen_params),
	KUNIT_CASE_PARAM(mst_record_bad_hdr, mst_hdr_bad_gen_params),
	KUNIT_CASE_PARAM(mst_record_payload_csum, mst_payload_gen_params),
	KUNIT_CASE(mst_record_encode_device_integrity),
	KUNIT_CASE_PARAM(mst_record_compat, mst_compat_gen_params),
	KUNIT_CASE(mst_record_compat_type_padding),
	KUNIT_CASE_PARAM(mst_record_stream_of_page, mst_shard_gen_params),
	{}
};

static struct kunit_suite mst_record_suite = {
	.name = "mst_record",
	.test_cases = mst_record_cases,
};

kunit_test_suite(mst_record_suite);

MODULE_DESCRIPTION("KUnit tests of the vfio-mstream record format");
MODULE_LICENSE("GPL");
