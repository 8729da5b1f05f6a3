// SPDX-License-Identifier: GPL-2.0-only
/*
 * Resume side of the stream engine: record parser and session completeness.
 * See mst_rx.h for the state machine and the errors.
 *
 * Checks of a record, in this order, each before the next one is looked at:
 *  1. mst_rec_check_hdr(): the header on its own;
 *  2. -EXDEV: a bound parser only takes records of its own stream;
 *  3. -EINVAL: stream >= nstreams, once nstreams is known;
 *  4. -EEXIST: the stream already ended;
 *  5. -EILSEQ: seq is not the next one; the first record is not COMPAT, or
 *     a later one is;
 *  6. -EXDEV: the record's kind or shard does not belong on the stream;
 *  7. -ERANGE: PAGES beyond state_size;
 *  8. -EINVAL: CRIT len != crit_size;
 *  9. -EBADMSG: payload checksum, once the payload is in;
 * 10. COMPAT: mst_compat_check() and the stream count; others: the device's
 *     apply callback.
 * Nothing of a record reaches the device before all of its checks passed.
 */

#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "mst_rx.h"

/**
 * mst_rx_session_init() - start a resuming session
 * @s: the session.
 * @ops: what to do with validated records.
 * @priv: argument of @ops.
 * @geo: the destination's geometry. @geo->nstreams 0 (v2 only) means: take
 *	the stream count from the first COMPAT record.
 */
void mst_rx_session_init(struct mst_rx_session *s, const struct mst_rx_ops *ops,
			 void *priv, const struct mst_geometry *geo)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->priv = priv;
	s->geo = *geo;
	spin_lock_init(&s->nstreams_lock);
	atomic_set(&s->nended, 0);
	atomic_set(&s->failed, 0);
}

static u32 mst_rx_nstreams(struct mst_rx_session *s)
{
	u32 n;

	spin_lock(&s->nstreams_lock);
	n = s->geo.nstreams;
	spin_unlock(&s->nstreams_lock);
	return n;
}

/*
 * Learns the stream count from a COMPAT that declares @n (1..MST_MAX_STREAMS,
 * checked by mst_compat_check()) on stream @stream.
 */
static int mst_rx_learn_nstreams(struct mst_rx_session *s, u32 stream, u32 n)
{
	int ret = 0;

	if (stream >= n)
		return -EINVAL;
	spin_lock(&s->nstreams_lock);
	if (!s->geo.nstreams)
		s->geo.nstreams = n;
	else if (s->geo.nstreams != n)
		ret = -EINVAL;
	spin_unlock(&s->nstreams_lock);
	return ret;
}

/**
 * mst_rx_session_complete() - whether every sub-stream arrived whole
 * @s: the session.
 *
 * Return: the error a parser latched, if any; else 0 when the stream count
 * is known and every sub-stream received its END; else -ENODATA.
 */
int mst_rx_session_complete(struct mst_rx_session *s)
{
	int err = atomic_read(&s->failed);
	u32 n;

	if (err)
		return err;
	n = mst_rx_nstreams(s);
	if (!n || atomic_read(&s->nended) != n)
		return -ENODATA;
	return 0;
}

/**
 * mst_rx_parser_init() - set up the parser of one resuming FD
 * @p: the parser.
 * @s: its session.
 * @stream: the sub-stream the FD carries, or %MST_RX_ANY_STREAM for an FD
 *	that carries all of them (v2).
 *
 * Context: may sleep (allocates the %MST_REC_MAX_PAYLOAD payload buffer).
 * Return: 0, -EINVAL when @stream is not a stream of the session, or
 * -ENOMEM.
 */
int mst_rx_parser_init(struct mst_rx_parser *p, struct mst_rx_session *s,
		       u32 stream)
{
	u32 n = mst_rx_nstreams(s);

	memset(p, 0, sizeof(*p));
	if (stream != MST_RX_ANY_STREAM &&
	    (stream >= MST_MAX_STREAMS || (n && stream >= n)))
		return -EINVAL;

	p->payload = kvmalloc(MST_REC_MAX_PAYLOAD, GFP_KERNEL_ACCOUNT);
	if (!p->payload)
		return -ENOMEM;
	p->sess = s;
	p->stream = stream;
	p->state = MST_RX_HDR;
	return 0;
}

/**
 * mst_rx_parser_destroy() - free a parser
 * @p: the parser; harmless after a failed mst_rx_parser_init().
 */
void mst_rx_parser_destroy(struct mst_rx_parser *p)
{
	kvfree(p->payload);
	p->payload = NULL;
}

static int mst_rx_fail(struct mst_rx_parser *p, int err)
{
	p->state = MST_RX_ERROR;
	p->error = err;
	atomic_cmpxchg(&p->sess->failed, 0, err);
	return err;
}

/**
 * mst_rx_parser_finish() - the FD's stream is over: no partial record left
 * @p: the parser; no write in progress.
 *
 * A record cut short before its stream's END leaves the stream incomplete,
 * which mst_rx_session_complete() reports; bytes after the END (or, on a v2
 * FD, after every END) that never became a whole record are data after the
 * end, as a whole record there would be.
 *
 * Return: 0, the latched error, or -EEXIST (latched).
 */
int mst_rx_parser_finish(struct mst_rx_parser *p)
{
	struct mst_rx_session *s = p->sess;
	u32 n;
	bool ended;

	if (p->state == MST_RX_ERROR)
		return p->error;
	if (p->state == MST_RX_HDR && !p->hdr_fill)
		return 0;
	if (p->stream != MST_RX_ANY_STREAM) {
		ended = s->streams[p->stream].ended;
	} else {
		n = mst_rx_nstreams(s);
		ended = n && atomic_read(&s->nended) == n;
	}
	return ended ? mst_rx_fail(p, -EEXIST) : 0;
}

/* Checks 2-8 of the header in p->hdr, which mst_rec_check_hdr() accepted. */
static int mst_rx_check_place(struct mst_rx_parser *p)
{
	const struct mst_rec_hdr *h = &p->hdr;
	struct mst_rx_session *s = p->sess;
	u32 stream = le32_to_cpu(h->stream);
	u16 tag = le16_to_cpu(h->tag);
	u32 len = le32_to_cpu(h->len);
	u64 offset = le64_to_cpu(h->offset);
	struct mst_rx_stream *st = &s->streams[stream];
	u32 n = mst_rx_nstreams(s);

	if (p->stream != MST_RX_ANY_STREAM && stream != p->stream)
		return -EXDEV;
	if (n && stream >= n)
		return -EINVAL;
	if (st->ended)
		return -EEXIST;
	if (le64_to_cpu(h->seq) != st->next_seq)
		return -EILSEQ;
	if (st->compat_ok ? tag == MST_TAG_COMPAT : tag != MST_TAG_COMPAT)
		return -EILSEQ;
	if (tag == MST_TAG_COMPAT)
		return 0;

	/* From here on the stream has its COMPAT, so n is known. */
	if (n > 1) {
		if (stream == 0 && tag == MST_TAG_PAGES)
			return -EXDEV;
		if (stream != 0 && tag == MST_TAG_CRIT)
			return -EXDEV;
		if (tag == MST_TAG_PAGES) {
			u64 first = offset >> MST_PAGE_SHIFT;
			u64 last = first + (len >> MST_PAGE_SHIFT) - 1;

			if (mst_stream_of_page(first, n) != stream ||
			    first / MST_SHARD_PAGES != last / MST_SHARD_PAGES)
				return -EXDEV;
		}
	}
	if (tag == MST_TAG_PAGES &&
	    (offset > s->geo.state_size || len > s->geo.state_size - offset))
		return -ERANGE;
	if (tag == MST_TAG_CRIT && len != s->geo.crit_size)
		return -EINVAL;
	return 0;
}

/* Check 9 and 10, then the record is done: step to the next header. */
static int mst_rx_apply(struct mst_rx_parser *p, bool nowait)
{
	const struct mst_rec_hdr *h = &p->hdr;
	struct mst_rx_session *s = p->sess;
	u32 stream = le32_to_cpu(h->stream);
	struct mst_rx_stream *st = &s->streams[stream];
	u32 len = le32_to_cpu(h->len);
	u64 gen = le64_to_cpu(h->gen);
	int ret;

	/* COMPAT always: it is what says who checks the other payloads */
	if (le16_to_cpu(h->tag) == MST_TAG_COMPAT ||
	    s->geo.integrity == MST_INTEGRITY_CRC) {
		ret = mst_rec_check_payload(h, p->payload);
		if (ret)
			return ret;
	}

	switch (le16_to_cpu(h->tag)) {
	case MST_TAG_COMPAT: {
		const struct mst_compat *c = p->payload;
		struct mst_geometry geo;

		spin_lock(&s->nstreams_lock);
		geo = s->geo;
		spin_unlock(&s->nstreams_lock);
		ret = mst_compat_check(c, len, &geo);
		if (!ret)
			ret = mst_rx_learn_nstreams(s, stream,
						    le32_to_cpu(c->nstreams));
		if (ret)
			return ret;
		st->compat_ok = true;
		break;
	}
	case MST_TAG_CRIT:
		ret = s->ops->apply_crit(s->priv, gen, p->payload, len, nowait);
		break;
	case MST_TAG_PAGES:
		ret = s->ops->apply_pages(s->priv, le64_to_cpu(h->offset), gen,
					  p->payload, len);
		break;
	case MST_TAG_END:
		st->ended = true;
		atomic_inc(&s->nended);
		break;
	}
	if (ret)
		return ret;

	st->next_seq++;
	p->state = MST_RX_HDR;
	p->hdr_fill = 0;
	p->payload_fill = 0;
	return 0;
}

/**
 * mst_rx_write() - feed bytes of a resuming FD to its parser
 * @p: the parser.
 * @from: the bytes written.
 * @nowait: the write must not sleep (IOCB_NOWAIT, O_NONBLOCK).
 *
 * Consumes the whole of @from, applying each record as soon as it is
 * complete and checked; a partial record is kept for the next call, so the
 * result does not depend on how the stream is split into writes. Writes to
 * one parser must be serialized by the caller. With @nowait, a record whose
 * apply would sleep is left one byte short: the call returns the bytes
 * before that byte, or -EAGAIN, and the next write completes the record.
 *
 * Context: process context; may sleep (the apply callbacks may) unless
 * @nowait.
 * Return: the bytes consumed, or a negative errno after which the parser is
 * latched in %MST_RX_ERROR and every later call returns the same errno (the
 * first error of the session is also what mst_rx_session_complete() returns).
 * A fault in @from is the one error that is not latched: it returns the
 * bytes consumed before it, or -EFAULT if none, and no stream byte is lost.
 */
ssize_t mst_rx_write(struct mst_rx_parser *p, struct iov_iter *from,
		     bool nowait)
{
	ssize_t done = 0;
	int ret;

	if (p->state == MST_RX_ERROR)
		return p->error;

	while (iov_iter_count(from)) {
		size_t want, n;
		void *dst;

		if (p->state == MST_RX_HDR) {
			dst = (u8 *)&p->hdr + p->hdr_fill;
			want = sizeof(p->hdr) - p->hdr_fill;
		} else {
			dst = p->payload + p->payload_fill;
			want = le32_to_cpu(p->hdr.len) - p->payload_fill;
		}
		want = min(want, iov_iter_count(from));
		n = copy_from_iter(dst, want, from);
		done += n;

		if (p->state == MST_RX_HDR) {
			p->hdr_fill += n;
			if (p->hdr_fill == sizeof(p->hdr)) {
				ret = mst_rec_check_hdr(&p->hdr);
				if (!ret)
					ret = mst_rx_check_place(p);
				if (ret)
					return mst_rx_fail(p, ret);
				p->state = MST_RX_PAYLOAD;
				p->payload_fill = 0;
			}
		} else {
			p->payload_fill += n;
		}

		if (p->state == MST_RX_PAYLOAD &&
		    p->payload_fill == le32_to_cpu(p->hdr.len)) {
			ret = mst_rx_apply(p, nowait);
			if (ret == -EAGAIN && nowait) {
				/* the record completes on the next write */
				p->payload_fill--;
				iov_iter_revert(from, 1);
				done--;
				return done ? done : -EAGAIN;
			}
			if (ret)
				return mst_rx_fail(p, ret);
		}
		if (n < want)
			return done ? done : -EFAULT;
	}
	return done;
}
