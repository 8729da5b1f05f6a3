// SPDX-License-Identifier: GPL-2.0
/*
 * A module whose only job is to make the guest runner's kernel checks fire:
 * with warn=1 its init hits WARN_ON_ONCE(), and scripts/guest-run must fail the run;
 * with spin=1 its init never returns and keeps its CPU (a soft lockup), and
 * scripts/guest-run must stop the guest without waiting for its timeout.
 * Used by tests/runner/run.sh; never part of the product.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/bug.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "trigger a WARN_ON_ONCE() at load");

static bool spin;
module_param(spin, bool, 0444);
MODULE_PARM_DESC(spin, "never return from init, with preemption off");

static int __init mst_runner_warn_init(void)
{
	WARN_ON_ONCE(warn);
	if (spin) {
		preempt_disable();
		for (;;)
			cpu_relax();
	}
	return 0;
}

static void __exit mst_runner_warn_exit(void)
{
}

module_init(mst_runner_warn_init);
module_exit(mst_runner_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-mstream: guest runner self-test (WARN or soft lockup on demand)");
