/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Resume side of the stream engine: parses what userspace writes into a
 * resuming FD, validates every record before applying it, and tracks whether
 * each sub-stream of the session is complete.
 *
 * One struct mst_rx_session per resuming session; one struct mst_rx_parser
 * per resuming FD. A parser is bound either to one sub-stream (v3: the FD of
 * stream i accepts only records of stream i) or to all of them (v2: one FD
 * carries every sub-stream, several when the source multiplexed engines).
 *
 * The parser is an explicit state machine:
 *
 *	MST_RX_HDR --48 bytes--> MST_RX_PAYLOAD --len bytes--> apply --> MST_RX_HDR
 *	    any failure --> MST_RX_ERROR (latched: every later write returns the
 *				same errno, and the session is marked failed)
 *
 * A record is applied only after its header, its place in the stream and its
 * payload checksum were all checked. Errors (beyond mst_rec_check_hdr()'s):
 *	-EXDEV		record of another stream on a bound parser; a CRIT
 *			record on a dirty stream, PAGES on the critical stream
 *			of a multi-stream session, PAGES of another shard
 *	-EILSEQ		seq is not the next one for that stream; a first
 *			record that is not COMPAT; a second COMPAT
 *	-ERANGE		PAGES beyond state_size
 *	-EEXIST		any record after that stream's END (duplicate END
 *			included)
 *	-EINVAL		stream >= nstreams; COMPAT mismatch; CRIT len !=
 *			crit_size
 *	-EBADMSG	payload checksum mismatch
 *	errors returned by the apply callbacks
 */
#ifndef MST_RX_H
#define MST_RX_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/uio.h>

#include "mst_record.h"

/**
 * struct mst_rx_ops - what the device does with validated records
 * @apply_crit: install a complete critical region of generation @gen
 *	(@len == crit_size). The device keeps the newest generation. With
 *	@nowait it must not sleep: -EAGAIN when it would, which does not fail
 *	the stream (the parser gives the record's last byte back).
 * @apply_pages: store @len bytes of bulk pages at byte @offset, captured by
 *	save pass @gen. The device keeps, per page, the newest generation.
 *
 * Both return 0 or a negative errno that fails the stream. Callbacks of
 * different sub-streams may run concurrently; the sharding rules guarantee
 * they never touch the same page.
 */
struct mst_rx_ops {
	int (*apply_crit)(void *priv, u64 gen, const void *data, u32 len,
			  bool nowait);
	int (*apply_pages)(void *priv, u64 offset, u64 gen, const void *data,
			   u32 len);
};

/**
 * struct mst_rx_stream - progress of one sub-stream
 * @next_seq: seq the next record must carry.
 * @compat_ok: the COMPAT record was received and matched.
 * @ended: the END record was received.
 */
struct mst_rx_stream {
	u64 next_seq;
	bool compat_ok;
	bool ended;
};

/**
 * struct mst_rx_session - one resuming session
 * @ops: apply callbacks.
 * @priv: their argument.
 * @geo: the destination's own geometry; @geo.nstreams is 0 until known when
 *	a v2 destination learns it from the first COMPAT.
 * @nstreams_lock: protects the one-time setting of @geo.nstreams.
 * @streams: per sub-stream progress, %MST_MAX_STREAMS entries; entry i is
 *	only touched by the parser that owns stream i (one FD per stream in v3,
 *	one FD for all in v2), so it needs no lock.
 * @nended: sub-streams whose END was received.
 * @failed: first error any parser latched, 0 if none.
 */
struct mst_rx_session {
	const struct mst_rx_ops *ops;
	void *priv;
	struct mst_geometry geo;
	spinlock_t nstreams_lock;	/* protects geo.nstreams */
	struct mst_rx_stream streams[MST_MAX_STREAMS];
	atomic_t nended;
	atomic_t failed;
};

enum mst_rx_state {
	MST_RX_HDR,
	MST_RX_PAYLOAD,
	MST_RX_ERROR,
};

#define MST_RX_ANY_STREAM	U32_MAX

/**
 * struct mst_rx_parser - parser of one resuming FD
 * @sess: the session.
 * @stream: the sub-stream this FD carries, or %MST_RX_ANY_STREAM.
 * @state: enum mst_rx_state.
 * @error: the latched errno once @state is %MST_RX_ERROR.
 * @hdr: header being assembled.
 * @hdr_fill: bytes of @hdr received.
 * @payload: payload buffer, %MST_REC_MAX_PAYLOAD bytes.
 * @payload_fill: bytes of the payload received.
 *
 * Writes to one FD are serialized by the caller (the FD's mutex).
 */
struct mst_rx_parser {
	struct mst_rx_session *sess;
	u32 stream;
	enum mst_rx_state state;
	int error;
	struct mst_rec_hdr hdr;
	u32 hdr_fill;
	void *payload;
	u32 payload_fill;
};

void mst_rx_session_init(struct mst_rx_session *s, const struct mst_rx_ops *ops,
			 void *priv, const struct mst_geometry *geo);
/*
 * 0 when every sub-stream received its END (and nstreams is known), the
 * latched error if a parser failed, -ENODATA otherwise.
 */
int mst_rx_session_complete(struct mst_rx_session *s);
/* 0, or the error that bytes left after the stream's END amount to. */
int mst_rx_parser_finish(struct mst_rx_parser *p);

int mst_rx_parser_init(struct mst_rx_parser *p, struct mst_rx_session *s,
		       u32 stream);
void mst_rx_parser_destroy(struct mst_rx_parser *p);
/*
 * Consumes @from, applying each record as soon as it is complete. Returns
 * the number of bytes consumed, or a negative errno, after which the parser
 * is latched in %MST_RX_ERROR. A partial record is kept for the next call.
 * With @nowait a record whose apply would sleep is left one byte short:
 * the bytes before it are returned, or -EAGAIN (not latched).
 */
ssize_t mst_rx_write(struct mst_rx_parser *p, struct iov_iter *from,
		     bool nowait);

#endif /* MST_RX_H */
