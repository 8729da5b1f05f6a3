// SPDX-License-Identifier: MIT
/*
 * report.c - what a session did, for people (a summary, a live progress line
 * on a terminal) and for scripts (--json: every time in ns, every byte count,
 * every checksum, per device and per stream).
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static int progress_width; /* columns the line took: what to blank */

static const char *human(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

/* Plain carriage returns and spaces, no escape sequence: the line works on
 * any terminal, the guest's serial console (TERM=dumb) included. */
void progress_clear(void)
{
	if (progress_width) {
		fprintf(stderr, "\r%*s\r", progress_width, "");
		fflush(stderr);
		progress_width = 0;
	}
}

/* At most five times a second: phase, time, bytes, rate, and the streams of
 * the first device (the others summed). */
void progress_cb(struct mstream_session *s, void *arg)
{
	static uint64_t last_ns, last_bytes;
	struct mstream_session_stats st;
	struct mstream_device_stats ds;
	uint64_t now = mstream_now_ns();
	char line[512], b1[32], b2[32];
	int n;

	(void)arg;
	mstream_session_get_stats(s, &st);
	if (st.phase == MSTREAM_PHASE_DONE || st.phase == MSTREAM_PHASE_FAILED) {
		progress_clear();
		last_ns = last_bytes = 0;
		return;
	}
	if (last_ns && now - last_ns < 200000000ULL)
		return;
	n = snprintf(line, sizeof(line), "%-8s %6.1fs %10s %10s/s", mstream_phase_name(st.phase),
		     (now - st.t_start_ns) / 1e9, human(st.bytes, b1, sizeof(b1)),
		     human(last_ns && now > last_ns ?
				   (st.bytes - last_bytes) * 1e9 / (now - last_ns) :
				   0,
			   b2, sizeof(b2)));
	if (st.phase == MSTREAM_PHASE_PRECOPY)
		n += snprintf(line + n, sizeof(line) - n, " pass %u", st.iterations);
	if (st.reinits)
		n += snprintf(line + n, sizeof(line) - n, " reinit %u", st.reinits);
	if (!mstream_session_get_device_stats(s, 0, &ds)) {
		n += snprintf(line + n, sizeof(line) - n, " |");
		for (unsigned int k = 0; k < ds.streams && k < 9 && n < 400; k++) {
			struct mstream_stream_stats ss;

			mstream_session_get_stream_stats(s, 0, k, &ss);
			n += snprintf(line + n, sizeof(line) - n, " s%u %s%s", k,
				      human(ss.bytes_read, b1, sizeof(b1)),
				      ss.state == MSTREAM_STREAM_DONE ? "." : "");
		}
		if (st.devices > 1)
			n += snprintf(line + n, sizeof(line) - n, " +%u dev", st.devices - 1);
	}
	fprintf(stderr, "\r%-*s", progress_width, line);
	fflush(stderr);
	progress_width = MAX(progress_width, n < (int)sizeof(line) ? n : (int)sizeof(line) - 1);
	last_ns = now;
	last_bytes = st.bytes;
}

static const char *state_name(enum mstream_stream_state s)
{
	static const char *const n[] = { "active", "parked", "done", "failed" };

	return (unsigned int)s < 4 ? n[s] : "?";
}

static const char *reader_name(unsigned int kind)
{
	return kind == MSTREAM_POOL_THREADS ? "threads" :
	       kind == MSTREAM_POOL_SERIAL  ? "serial" :
					      "pool";
}

/* 3 when a device's two checksums are known and differ. */
int checksum_verdict(struct mstream_session *s)
{
	struct mstream_session_stats st;

	mstream_session_get_stats(s, &st);
	for (unsigned int d = 0; d < st.devices; d++) {
		struct mstream_device_stats ds;

		mstream_session_get_device_stats(s, d, &ds);
		if (ds.has_src_checksum && ds.has_dst_checksum &&
		    ds.src_checksum != ds.dst_checksum)
			return EXIT_MISMATCH;
	}
	return EXIT_OK;
}

static void report_json(struct opts *o, struct mstream_session *s, int ret, FILE *f,
			struct json *outer)
{
	struct mstream_session_stats st;
	struct json jj, *j = outer ? outer : &jj;
	int match = -1;

	mstream_session_get_stats(s, &st);
	if (outer)
		json_obj(j, NULL);
	else
		json_begin(j, f);
	json_str(j, "command", o->cmd);
	json_str(j, "status", ret ? "failed" : "ok");
	if (ret) {
		json_str(j, "error", mstream_session_error(s));
		json_i64(j, "errno", -ret);
	} else {
		json_null(j, "error");
	}
	json_str(j, "protocol", st.num_dirty ? "v3" : "v2");
	json_u64(j, "num_dirty", st.num_dirty);
	json_str(j, "reader", reader_name(st.pool.kind));
	json_str(j, "order", o->sp.order == MSTREAM_ORDER_SERIAL ? "serial" : "together");
	json_str(j, "phase", mstream_phase_name(st.phase));
	json_u64(j, "downtime_ns", st.downtime_ns);
	json_u64(j, "setup_ns", st.setup_ns);
	json_u64(j, "precopy_ns", st.precopy_ns);
	json_u64(j, "stopcopy_ns", st.stopcopy_ns);
	json_u64(j, "load_ns", st.load_ns);
	json_u64(j, "total_ns", (st.t_end_ns ? st.t_end_ns : mstream_now_ns()) - st.t_start_ns);
	json_u64(j, "iterations", st.iterations);
	json_u64(j, "reinits", st.reinits);
	json_bool(j, "forced_switchover", st.forced_switchover);
	json_u64(j, "crit_pending_at_switchover", st.crit_pending_at_switchover);
	json_u64(j, "bytes", st.bytes);
	json_u64(j, "bytes_precopy", st.bytes_precopy);
	json_obj(j, "pool");
	json_str(j, "kind", reader_name(st.pool.kind));
	json_u64(j, "threads", st.pool.threads);
	json_u64(j, "queue_depth", st.pool.queue_depth);
	json_u64(j, "buf_size", st.pool.buf_size);
	json_bool(j, "fixed_buffers", st.pool.fixed_buffers);
	json_u64(j, "alloc_bytes", st.pool.alloc_bytes);
	json_u64(j, "peak_bytes", st.pool.peak_bytes);
	json_u64(j, "reads", st.pool.reads);
	json_u64(j, "writes", st.pool.writes);
	json_u64(j, "polls", st.pool.polls);
	json_u64(j, "eagains", st.pool.eagains);
	json_end(j, '}');
	json_arr(j, "devices");
	for (unsigned int d = 0; d < st.devices; d++) {
		struct mstream_device_stats ds;

		mstream_session_get_device_stats(s, d, &ds);
		json_obj(j, NULL);
		json_u64(j, "index", d);
		json_str(j, "source", ds.source_name);
		json_str(j, "destination", ds.sink_name);
		json_u64(j, "num_dirty", ds.num_dirty);
		json_u64(j, "bytes", ds.bytes);
		json_u64(j, "stop_ns", ds.t_stop_ns >= st.t_stop_ns && ds.t_stop_ns ?
					       ds.t_stop_ns - st.t_stop_ns : 0);
		json_u64(j, "stopped_ns", ds.t_stopped_ns >= st.t_stop_ns && ds.t_stopped_ns ?
						  ds.t_stopped_ns - st.t_stop_ns : 0);
		json_u64(j, "drained_ns", ds.t_drained_ns >= st.t_stop_ns && ds.t_drained_ns ?
						  ds.t_drained_ns - st.t_stop_ns : 0);
		json_u64(j, "loaded_ns", ds.t_loaded_ns >= st.t_stop_ns && ds.t_loaded_ns ?
						 ds.t_loaded_ns - st.t_stop_ns : 0);
		if (ds.has_src_checksum)
			json_hex(j, "src_checksum", ds.src_checksum);
		else
			json_null(j, "src_checksum");
		if (ds.has_dst_checksum)
			json_hex(j, "dst_checksum", ds.dst_checksum);
		else
			json_null(j, "dst_checksum");
		if (ds.has_src_checksum && ds.has_dst_checksum) {
			bool m = ds.src_checksum == ds.dst_checksum;

			json_bool(j, "checksum_match", m);
			match = match < 0 ? m : match && m;
		} else {
			json_null(j, "checksum_match");
		}
		json_arr(j, "streams");
		for (unsigned int k = 0; k < ds.streams; k++) {
			struct mstream_stream_stats ss;
			uint64_t dur;

			mstream_session_get_stream_stats(s, d, k, &ss);
			json_obj(j, NULL);
			json_u64(j, "id", k);
			json_bool(j, "critical", ss.critical);
			json_str(j, "state", state_name(ss.state));
			json_u64(j, "bytes", ss.bytes_read);
			json_u64(j, "bytes_precopy", ss.bytes_read - ss.bytes_drain);
			json_u64(j, "bytes_stopcopy", ss.bytes_drain);
			json_u64(j, "parks", ss.parks);
			json_u64(j, "first_stopcopy_byte_ns",
				 ss.t_drain_first_ns > st.t_stop_ns && st.t_stop_ns ?
					 ss.t_drain_first_ns - st.t_stop_ns : 0);
			json_u64(j, "end_ns", ss.t_end_ns > st.t_stop_ns && st.t_stop_ns ?
						      ss.t_end_ns - st.t_stop_ns : 0);
			dur = ss.t_end_ns > ss.t_drain_ns && ss.t_drain_ns ?
				      ss.t_end_ns - ss.t_drain_ns : 0;
			json_u64(j, "stopcopy_rate_bps", dur ? ss.bytes_drain * 1e9 / dur : 0);
			if (ss.has_checksum)
				json_hex(j, "xxh64", ss.checksum);
			if (ss.error)
				json_i64(j, "errno", -ss.error);
			json_end(j, '}');
		}
		json_end(j, ']');
		json_end(j, '}');
	}
	json_end(j, ']');
	if (match < 0)
		json_null(j, "checksums_match");
	else
		json_bool(j, "checksums_match", match);
	if (outer)
		json_end(j, '}');
	else
		json_finish(j);
}

void report_session_json(struct opts *o, struct mstream_session *s, int ret, struct json *j)
{
	report_json(o, s, ret, NULL, j);
}

static void report_human(struct opts *o, struct mstream_session *s, int ret, FILE *f)
{
	struct mstream_session_stats st;
	char b1[32], b2[32], b3[32];

	mstream_session_get_stats(s, &st);
	if (ret) {
		err("%s failed: %s", o->cmd, mstream_session_error(s));
		if (st.phase != MSTREAM_PHASE_SETUP && !strcmp(o->cmd, "migrate"))
			err("the source device(s) were returned to RUNNING with their state intact");
		return;
	}
	if (o->quiet)
		return;
	fprintf(f, "%s: %u device%s, %s (%u stream%s each), %s reader", o->cmd, st.devices,
		st.devices == 1 ? "" : "s", st.num_dirty ? "v3" : "v2", st.num_dirty + 1,
		st.num_dirty ? "s" : "", reader_name(st.pool.kind));
	if (st.pool.kind == MSTREAM_POOL_URING)
		fprintf(f, " (%u workers x %u x %s)", st.pool.threads, st.pool.queue_depth,
			human(st.pool.buf_size, b1, sizeof(b1)));
	fputc('\n', f);
	fprintf(f, "  downtime     %9.3f ms  (stop copy %.3f ms, load and start %.3f ms)\n",
		ms(st.downtime_ns), ms(st.stopcopy_ns), ms(st.load_ns));
	if (st.precopy_ns) {
		fprintf(f, "  precopy      %9.3f ms  ", ms(st.precopy_ns));
		if (st.iterations)
			fprintf(f, "%u pass%s, ", st.iterations, st.iterations == 1 ? "" : "es");
		fprintf(f, "%u REINIT, %s\n", st.reinits,
			st.forced_switchover ? "switchover forced by a limit" : "converged");
	}
	fprintf(f, "  moved        %s (precopy %s, stop copy %s)\n", human(st.bytes, b1, sizeof(b1)),
		human(st.bytes_precopy, b2, sizeof(b2)),
		human(st.bytes - st.bytes_precopy, b3, sizeof(b3)));
	fprintf(f, "  pool memory  peak %s of %s\n", human(st.pool.peak_bytes, b1, sizeof(b1)),
		human(st.pool.alloc_bytes, b2, sizeof(b2)));
	for (unsigned int d = 0; d < st.devices; d++) {
		struct mstream_device_stats ds;

		mstream_session_get_device_stats(s, d, &ds);
		fprintf(f, "  device %u: %s -> %s", d, ds.source_name[0] ? ds.source_name : "-",
			ds.sink_name[0] ? ds.sink_name : "-");
		if (ds.has_src_checksum && ds.has_dst_checksum)
			fprintf(f, "  checksum %016" PRIx64 " %s %016" PRIx64 "\n", ds.src_checksum,
				ds.src_checksum == ds.dst_checksum ? "==" : "!= (MISMATCH)",
				ds.dst_checksum);
		else
			fputc('\n', f);
		for (unsigned int k = 0; k < ds.streams; k++) {
			struct mstream_stream_stats ss;
			uint64_t dur;

			mstream_session_get_stream_stats(s, d, k, &ss);
			dur = ss.t_end_ns > ss.t_drain_ns && ss.t_drain_ns ?
				      ss.t_end_ns - ss.t_drain_ns : 0;
			fprintf(f, "    stream %-2u %-8s %10s  ended at +%.3f ms", k,
				ss.critical ? "critical" : "", human(ss.bytes_read, b1, sizeof(b1)),
				ss.t_end_ns > st.t_stop_ns ? ms(ss.t_end_ns - st.t_stop_ns) : 0.0);
			if (dur && ss.bytes_drain)
				fprintf(f, "  %s/s", human(ss.bytes_drain * 1e9 / dur, b2, sizeof(b2)));
			fputc('\n', f);
		}
	}
}

void report_session(struct opts *o, struct mstream_session *s, int ret, FILE *f)
{
	progress_clear();
	if (o->json)
		report_json(o, s, ret, f, NULL);
	else
		report_human(o, s, ret, f);
}
