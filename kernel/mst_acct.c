// SPDX-License-Identifier: GPL-2.0-only
/*
 * Critical-byte accounting and the REINIT rule. See mst_acct.h for what
 * @ahead must count on a v2 and on a v3 stream.
 *
 * Positions are byte positions in one stream since its session started, as
 * mst_queue_consumed() reports them; they only grow.
 */

#include <linux/overflow.h>

#include "mst_acct.h"

/**
 * mst_acct_init() - start accounting a stream
 * @a: the accounting.
 * @crit_end: stream position just past the first critical record (0 when
 *	the stream carries no critical data).
 */
void mst_acct_init(struct mst_acct *a, u64 crit_end)
{
	spin_lock_init(&a->lock);
	a->target = crit_end;
	a->reinit = false;
}

/**
 * mst_acct_reinit() - new critical data was queued behind @ahead bytes
 * @a: the accounting.
 * @pos: the reader's current stream position.
 * @ahead: bytes the stream delivers from @pos before the new critical data
 *	(v2: the whole backlog, queued and in production; v3 critical stream:
 *	older critical data not yet read).
 * @crit_len: bytes of the new critical data as the stream carries it (in
 *	the sample device, the whole CRIT record, header included).
 *
 * Re-arms the target at @pos + @ahead + @crit_len (saturating) and latches
 * the REINIT flag.
 *
 * Context: any; takes a spinlock.
 */
void mst_acct_reinit(struct mst_acct *a, u64 pos, u64 ahead, u64 crit_len)
{
	u64 target;

	if (check_add_overflow(pos, ahead, &target) ||
	    check_add_overflow(target, crit_len, &target))
		target = U64_MAX;

	spin_lock(&a->lock);
	a->target = target;
	a->reinit = true;
	spin_unlock(&a->lock);
}

/**
 * mst_acct_pending() - critical bytes left to read
 * @a: the accounting.
 * @pos: the reader's current stream position.
 *
 * Return: the bytes between @pos and the end of the newest critical data, 0
 * once the reader is past it. For a growing @pos the result never increases
 * unless mst_acct_reinit() is called in between.
 */
u64 mst_acct_pending(struct mst_acct *a, u64 pos)
{
	u64 target;

	spin_lock(&a->lock);
	target = a->target;
	spin_unlock(&a->lock);
	return target > pos ? target - pos : 0;
}

/**
 * mst_acct_take_reinit() - report a REINIT once
 * @a: the accounting.
 *
 * Return: true if mst_acct_reinit() was called since the previous call
 * (several REINITs in between are reported once); clears the flag.
 */
bool mst_acct_take_reinit(struct mst_acct *a)
{
	bool r;

	spin_lock(&a->lock);
	r = a->reinit;
	a->reinit = false;
	spin_unlock(&a->lock);
	return r;
}
