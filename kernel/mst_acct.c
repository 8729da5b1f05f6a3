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
 * mst_acct_reinit() - a new critical record was queued behind @ahead bytes
 * @a: the accounting.
 * @pos: the reader's current stream position.
 * @ahead: bytes the stream delivers from @pos before the new critical record
 *	(v2: what is in memory; v3 critical stream: older critical data not yet
 *	read).
 * @crit_len: bytes of the new critical data as the stream carries it (in
 *	the sample device, the whole CRIT record, header included).
 *
 * The record starts at @pos + @ahead. Starting before the target, it moves
 * the target by @crit_len (the bytes before the target stay critical);
 * otherwise the target becomes its end. Saturates; latches the REINIT flag.
 *
 * Context: any; takes a spinlock.
 */
void mst_acct_reinit(struct mst_acct *a, u64 pos, u64 ahead, u64 crit_len)
{
	u64 start, end;

	if (check_add_overflow(pos, ahead, &start))
		start = U64_MAX;

	spin_lock(&a->lock);
	if (start < a->target)
		start = a->target;
	if (check_add_overflow(start, crit_len, &end))
		end = U64_MAX;
	a->target = end;
	a->reinit = true;
	spin_unlock(&a->lock);
}

/**
 * mst_acct_flag() - a REINIT that adds no record
 * @a: the accounting.
 *
 * The new content goes out in a critical record already queued and not yet
 * produced (REINITs coalesce): the target stands, only the flag is latched.
 *
 * Context: any; takes a spinlock.
 */
void mst_acct_flag(struct mst_acct *a)
{
	spin_lock(&a->lock);
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
