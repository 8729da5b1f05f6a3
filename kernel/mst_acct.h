/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Critical-byte accounting and the REINIT rule, for both protocols.
 *
 * A stream carrying critical data has a position: the bytes its reader has
 * consumed. Critical bytes are "the bytes to read before the destination
 * holds the newest critical data", i.e. target - position, where target is
 * the stream position just past the newest critical record.
 *
 * A REINIT inserts a new critical record at stream position @pos + @ahead,
 * where @ahead is what the stream will deliver before it:
 * - v2 on one ordered stream: every byte in memory, queued or in the chunk
 *   being filled (the flush PRECOPY_INFOv2 describes: "previously dirty bytes
 *   in memory are treated as initial bytes");
 * - v3 critical stream: only older critical data not yet read, which is at
 *   most one critical region; dirty data is on other FDs and never counts.
 * A record inserted before the target (inside v2's first image, which is
 * initial data too) moves the target by its length; one inserted at or past
 * it becomes the new target.
 *
 * Critical bytes only decrease as the reader advances, and rise again only
 * through mst_acct_reinit() or mst_acct_flag(), which latch a flag reported
 * once.
 */
#ifndef MST_ACCT_H
#define MST_ACCT_H

#include <linux/spinlock.h>
#include <linux/types.h>

/**
 * struct mst_acct - critical-byte accounting of one stream
 * @lock: protects @target and @reinit.
 * @target: stream position just past the newest critical data.
 * @reinit: a REINIT happened and was not reported yet.
 */
struct mst_acct {
	spinlock_t lock;		/* protects target and reinit */
	u64 target;
	bool reinit;
};

/* Session start: the first critical record ends at @crit_end. */
void mst_acct_init(struct mst_acct *a, u64 crit_end);
/* A new critical record of @crit_len bytes after @ahead more bytes from @pos. */
void mst_acct_reinit(struct mst_acct *a, u64 pos, u64 ahead, u64 crit_len);
/* A REINIT whose content joins a critical record already queued. */
void mst_acct_flag(struct mst_acct *a);
/* Critical bytes left to read at stream position @pos. */
u64 mst_acct_pending(struct mst_acct *a, u64 pos);
/* Returns and clears the REINIT flag. */
bool mst_acct_take_reinit(struct mst_acct *a);

#endif /* MST_ACCT_H */
