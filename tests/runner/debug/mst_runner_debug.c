// SPDX-License-Identifier: GPL-2.0
/*
 * A module whose only job is to make the debug kernel's checks fire, so that
 * tests/runner/run.sh can show that scripts/guest-run --kernel debug fails a run for
 * each of them, with the report in its log:
 *   lockdep=1  takes two mutexes in one order, then in the other (no deadlock
 *              happens: lockdep reports the inversion from the two orders alone);
 *   oob=1      writes one byte past a kmalloc'd buffer (KASAN);
 *   leak=1     allocates a buffer and forgets its only pointer (kmemleak, on the
 *              scan that scripts/guest-init.sh runs after the command).
 * Never part of the product.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static bool lockdep;
module_param(lockdep, bool, 0444);
MODULE_PARM_DESC(lockdep, "take two locks in opposite orders at load");

static bool oob;
module_param(oob, bool, 0444);
MODULE_PARM_DESC(oob, "write past the end of a kmalloc'd buffer at load");

static bool leak;
module_param(leak, bool, 0444);
MODULE_PARM_DESC(leak, "leak an allocation at load");

static DEFINE_MUTEX(mst_runner_a);
static DEFINE_MUTEX(mst_runner_b);

/* Written and then cleared, so that the allocation cannot be optimised away. */
static void *mst_runner_leaked;

static void mst_runner_invert_locks(void)
{
	mutex_lock(&mst_runner_a);
	mutex_lock(&mst_runner_b);
	mutex_unlock(&mst_runner_b);
	mutex_unlock(&mst_runner_a);

	mutex_lock(&mst_runner_b);
	mutex_lock(&mst_runner_a);
	mutex_unlock(&mst_runner_a);
	mutex_unlock(&mst_runner_b);
}

static void mst_runner_write_past_end(void)
{
	size_t len = 16;
	char *buf = kmalloc(len, GFP_KERNEL);

	if (!buf)
		return;
	/* Hide the length from the compiler, which would warn at build time instead. */
	OPTIMIZER_HIDE_VAR(len);
	buf[len] = 1;
	kfree(buf);
}

static void mst_runner_leak(void)
{
	WRITE_ONCE(mst_runner_leaked, kmalloc(1024, GFP_KERNEL));
	WRITE_ONCE(mst_runner_leaked, NULL);
}

static int __init mst_runner_debug_init(void)
{
	if (lockdep)
		mst_runner_invert_locks();
	if (oob)
		mst_runner_write_past_end();
	if (leak)
		mst_runner_leak();
	return 0;
}

static void __exit mst_runner_debug_exit(void)
{
}

module_init(mst_runner_debug_init);
module_exit(mst_runner_debug_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-mstream: guest runner self-test (lockdep, KASAN, kmemleak on demand)");
