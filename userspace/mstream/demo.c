// SPDX-License-Identifier: MIT
/*
 * demo.c - `mstream migrate --demo`, the job behind `make demo`: create a
 * source and a destination instance of the sample device, migrate with v2
 * (today's one data_fd), then with v3 and 4 dirty streams, print both
 * downtimes and whether the destination's checksum equals the source's, and
 * remove the instances whatever happened.
 *
 * The device is set up so that its save engines, not the guest's two vCPUs,
 * bound the transfer (each engine limited to --engine-bw MiB/s, so that four
 * of them stay well under what an emulated guest can copy): the case v3 is
 * for, one engine per stream instead of one per device. By default the whole
 * state moves in STOP_COPY (a stopped VM, or a device without PRE_COPY), so
 * the downtime is the transfer; --precopy shows the converged case, where
 * both protocols leave only the last dirty pages for the downtime.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mstream_sample.h"


struct demo_run {
	const char *label;
	unsigned int num_dirty;
	int ret;
	uint64_t downtime_ns;
	bool has_sums, match;
};

static int knob_str(const char *uuid, const char *name, const char *value)
{
	int ret = mstream_sample_attr_write(uuid, name, value);

	if (ret)
		err("%s: knob %s <- '%s': %s", uuid, name, value, mstream_strerror(ret));
	return ret ? -1 : 0;
}

static int knob(const char *uuid, const char *name, const char *fmt, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), fmt, v);
	return knob_str(uuid, name, buf);
}

static int setup(struct opts *o, const char *uuid, bool source)
{
	const char *backing = o->demo_backing ? o->demo_backing : "memory";

	return knob_str(uuid, "backing", backing) ||
	       knob(uuid, "state_size", "%" PRIu64, o->demo_state_size) ||
	       knob(uuid, "engine_bw", "%" PRIu64, o->demo_engine_bw) ||
	       knob(uuid, "dirty_rate", "%" PRIu64, source ? o->demo_dirty_rate : 0) ||
	       knob(uuid, "reinit_period_ms", "%" PRIu64, 0);
}

static int create_instance(char uuid[37])
{
	int ret = mstream_sample_mdev_create(NULL, uuid);

	if (ret) {
		err("cannot create a sample device: %s", mstream_strerror(ret));
		uuid[0] = 0;
	}
	return ret;
}

static void remove_instance(const char *uuid)
{
	int ret = uuid[0] ? mstream_sample_mdev_remove(uuid) : 0;

	if (ret)
		err("cannot remove %s: %s", uuid, mstream_strerror(ret));
}

static int run_one(struct opts *o, struct demo_run *r, struct mstream_device *src_dev,
		   struct mstream_device *dst_dev, struct json *j)
{
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;
	struct mstream_session *s = NULL;
	struct mstream_session_stats st;
	struct mstream_device_stats ds;
	int ret;

	o->sp.num_dirty = r->num_dirty;
	/* The source runs on after each migration, so that the next one
	 * starts from RUNNING like the first. */
	o->sp.flags |= MSTREAM_SESSION_SOURCE_RUNNING | MSTREAM_SESSION_CHECKSUM;
	ret = mstream_source_create_devices(&src, &src_dev, 1);
	if (!ret)
		ret = mstream_sink_create_devices(&sink, &dst_dev, 1);
	if (ret) {
		err("%s", mstream_last_error());
		r->ret = ret;
		goto out;
	}
	r->ret = run_session(o, src, sink, &s);
	progress_clear();
	if (!s)
		goto out;
	mstream_session_get_stats(s, &st);
	mstream_session_get_device_stats(s, 0, &ds);
	r->downtime_ns = st.downtime_ns;
	r->has_sums = ds.has_src_checksum && ds.has_dst_checksum;
	r->match = r->has_sums && ds.src_checksum == ds.dst_checksum;
	if (o->json) {
		report_session_json(o, s, r->ret, j);
	} else if (r->ret) {
		err("%s migration failed: %s", r->label, mstream_session_error(s));
	} else {
		printf("%-16s downtime %9.3f ms", r->label, st.downtime_ns / 1e6);
		if (st.precopy_ns)
			printf("  (after %.0f ms of precopy)", st.precopy_ns / 1e6);
		printf("  moved %" PRIu64 " MiB  destination checksum %s\n", st.bytes >> 20,
		       !r->has_sums ? "n/a" : r->match ? "== source" : "DIFFERS from the source");
	}
	mstream_session_destroy(s);
out:
	mstream_source_destroy(src);
	mstream_sink_destroy(sink);
	return r->ret;
}

int cmd_demo(struct opts *o)
{
	struct demo_run runs[] = {
		{ .label = "v2 (1 data FD)", .num_dirty = 0 },
		{ .label = "v3 (1 + 4 FDs)", .num_dirty = 4 },
	};
	struct mstream_device *src_dev = NULL, *dst_dev = NULL;
	char src_uuid[37] = "", dst_uuid[37] = "";
	int ret = EXIT_FAIL;
	struct json j;
	struct stat st;

	o->cmd = "demo";
	o->sp.policy.no_precopy = o->precopy != 1;
	if (stat(MSTREAM_SAMPLE_TYPE_PATH, &st)) {
		err("%s: not found: the vfio_mstream module is not loaded "
		    "(`make demo` loads it in a guest)",
		    MSTREAM_SAMPLE_TYPE_PATH);
		return EXIT_FAIL;
	}
	if (create_instance(src_uuid) || create_instance(dst_uuid))
		goto out;
	if (setup(o, src_uuid, true) || setup(o, dst_uuid, false))
		goto out;
	if (!o->json) {
		printf("== mstream demo: migrate one sample device, with v2 and with v3\n");
		printf("   state %" PRIu64 " MiB (%s), save engines limited to %" PRIu64
		       " MiB/s each; ",
		       o->demo_state_size >> 20, o->demo_backing ? o->demo_backing : "memory",
		       o->demo_engine_bw);
		if (o->sp.policy.no_precopy)
			printf("no precopy: the whole state moves during the downtime\n");
		else
			printf("precopy, the guest dirtying %" PRIu64 " pages/s\n",
			       o->demo_dirty_rate);
		printf("   source %s -> destination %s\n", src_uuid, dst_uuid);
		fflush(stdout);
	}
	if (open_devices((char *[]){ src_uuid }, 1, &src_dev) ||
	    open_devices((char *[]){ dst_uuid }, 1, &dst_dev))
		goto out;
	if (o->json) {
		json_begin(&j, stdout);
		json_str(&j, "command", "demo");
		json_str(&j, "source", src_uuid);
		json_str(&j, "destination", dst_uuid);
		json_u64(&j, "state_size", o->demo_state_size);
		json_u64(&j, "engine_bw_mibps", o->demo_engine_bw);
		json_arr(&j, "runs");
	}
	for (unsigned int i = 0; i < 2; i++)
		run_one(o, &runs[i], src_dev, dst_dev, &j);
	if (o->json) {
		json_end(&j, ']');
		json_finish(&j);
	}
	ret = runs[0].ret || runs[1].ret ? EXIT_FAIL :
	      !runs[0].match || !runs[1].match ? EXIT_MISMATCH :
						 EXIT_OK;
	if (!o->json && !runs[0].ret && !runs[1].ret && runs[0].downtime_ns)
		printf("== v3 downtime = %.2f x v2's; destination checksums %s\n",
		       (double)runs[1].downtime_ns / runs[0].downtime_ns,
		       ret == EXIT_OK ? "match the source's" : "DO NOT all match");
out:
	mstream_device_close(src_dev);
	mstream_device_close(dst_dev);
	remove_instance(src_uuid);
	remove_instance(dst_uuid);
	return ret;
}
