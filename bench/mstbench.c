// SPDX-License-Identifier: MIT
/*
 * mstbench.c - what the benchmark needs beyond the mstream CLI (bench/run.sh):
 *
 *   mstbench copybw [--threads T] [--size BYTES] [--reps R]
 *       memcpy bandwidth of the machine over T threads (default: online CPUs),
 *       each copying its own BYTES buffer R times. One JSON line. The one-copy
 *       lower bound of a migration is state_size / this bandwidth.
 *
 *   mstbench pipe [--threads T] [--size BYTES] [--buf-size B] [--via memfd|pipe]
 *       the pipeline bound of a migration of BYTES: the same bytes through read()
 *       and write() with no device work. T threads (default: online CPUs, the
 *       reader pool's default) each move their share, B bytes (default 1 MiB, the
 *       pool's read size) per call, two copies per byte as a migration's read()
 *       and write(): --via socket (default) write()s B bytes into an AF_UNIX
 *       stream socket and read()s them back out (kernel buffers in 32 KiB page
 *       fragments); --via pipe the same through a pipe of B bytes' capacity (4 KiB
 *       pipe pages); --via memfd pread()s a memfd holding the bytes and pwrite()s
 *       them into a second, preallocated one (the page cache, 4 KiB pages). Under
 *       TCG each kernel page operation is costly, so the socket, with the fewest,
 *       comes closest to the device's own chunk copies. One JSON line with the
 *       seconds taken.
 *
 *   mstbench reinit [options] SRC DST
 *       critical-data latency: migrate SRC to DST with libmstream and, once the
 *       source has delivered --at BYTES of the save (its sysfs bytes_saved),
 *       write 1 to its `reinit` knob; time from that write until DST's sysfs
 *       crit_gen shows the new generation (the destination holds the new
 *       critical data). One JSON line with the latency, the downtime and where
 *       the REINIT fell. Options: -p v2|v3, -n N, --reader pool|threads|serial,
 *       -t T, --buf-size B, --at BYTES, --precopy (REINIT during the precopy
 *       pass instead of STOP_COPY), --threshold BYTES (the precopy policy's dirty
 *       threshold: the session switches over once the critical data is out and
 *       at most this much dirty data is pending), --poll-us US (default 500),
 *       --stall-timeout S (default the library's, 60 s).
 *
 *   mstbench now
 *       print CLOCK_MONOTONIC as seconds.nanoseconds (perf report --time windows
 *       of a perf record -k CLOCK_MONOTONIC).
 *
 *   mstbench rss [-o FILE] -- COMMAND [ARG...]
 *       run COMMAND, then write one JSON line to FILE (default stderr) with its
 *       peak resident memory (ru_maxrss), the lowest MemAvailable of the
 *       machine seen while it ran (sampled every 20 ms) against the value
 *       before it started, its CPU time (user, system) and the CPU time the
 *       whole machine spent busy meanwhile (/proc/stat: the device's engines and
 *       kernel threads included). Exits with COMMAND's status.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mstream.h"
#include "mstream_sample.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mstbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	}
	if (end == s || *end || v < 0)
		die("bad size '%s'", s);
	return (uint64_t)v;
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ copybw */

struct cbw {
	pthread_barrier_t *bar;
	size_t size;
	unsigned int reps;
	char *src, *dst;
	uint64_t t0, t1;
};

static void *cbw_thread(void *arg)
{
	struct cbw *c = arg;

	c->src = malloc(c->size);
	c->dst = malloc(c->size);
	if (!c->src || !c->dst)
		die("copybw: out of memory");
	memset(c->src, 0x5a, c->size);
	memset(c->dst, 0xa5, c->size);
	memcpy(c->dst, c->src, c->size); /* warm */
	pthread_barrier_wait(c->bar);
	c->t0 = mstream_now_ns();
	for (unsigned int r = 0; r < c->reps; r++) {
		c->src[r % c->size] = (char)r;
		memcpy(c->dst, c->src, c->size);
		__asm__ volatile("" ::"r"(c->dst) : "memory");
	}
	c->t1 = mstream_now_ns();
	free(c->src);
	free(c->dst);
	return NULL;
}

static int cmd_copybw(int argc, char **argv)
{
	unsigned int threads = sysconf(_SC_NPROCESSORS_ONLN), reps = 8;
	size_t size = 64 << 20;
	static const struct option lo[] = {
		{ "threads", 1, 0, 't' }, { "size", 1, 0, 's' }, { "reps", 1, 0, 'r' }, { 0 }
	};
	pthread_barrier_t bar;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int c;

	while ((c = getopt_long(argc, argv, "t:s:r:", lo, NULL)) != -1) {
		switch (c) {
		case 't': threads = atoi(optarg); break;
		case 's': size = parse_size(optarg); break;
		case 'r': reps = atoi(optarg); break;
		default: die("copybw: bad usage");
		}
	}
	if (!threads || !reps || size < 4096)
		die("copybw: bad parameters");
	struct cbw *w = calloc(threads, sizeof(*w));
	pthread_t *th = calloc(threads, sizeof(*th));

	pthread_barrier_init(&bar, NULL, threads);
	for (unsigned int i = 0; i < threads; i++) {
		w[i] = (struct cbw){ .bar = &bar, .size = size, .reps = reps };
		pthread_create(&th[i], NULL, cbw_thread, &w[i]);
	}
	for (unsigned int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	double bytes = (double)size * reps * threads, sec = (t1 - t0) / 1e9;

	printf("{\"threads\":%u,\"size\":%zu,\"reps\":%u,\"bytes\":%.0f,\"seconds\":%.6f,"
	       "\"mib_s\":%.1f}\n",
	       threads, size, reps, bytes, sec, bytes / sec / (1 << 20));
	return 0;
}

/* ------------------------------------------------------------------ pipe */

enum { VIA_MEMFD, VIA_PIPE, VIA_SOCKET };

struct pw {
	pthread_barrier_t *bar;
	int via;	/* VIA_* */
	int src, dst;
	uint64_t off, len;
	size_t buf_size;
	uint64_t t0, t1;
};

static void *pw_thread(void *arg)
{
	struct pw *w = arg;
	char *buf = malloc(w->buf_size);

	if (!buf)
		die("pipe: out of memory");
	memset(buf, 0, w->buf_size);
	if (w->via == VIA_PIPE) {
		int p[2];

		if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, (int)w->buf_size) < (int)w->buf_size)
			die("pipe: a pipe of %zu bytes: %s", w->buf_size, strerror(errno));
		w->src = p[0];
		w->dst = p[1];
	} else if (w->via == VIA_SOCKET) {
		int p[2], sz = 4 * (int)w->buf_size;

		/* room for a whole buffer in flight; SO_SNDBUFFORCE needs CAP_NET_ADMIN */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) ||
		    (setsockopt(p[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) &&
		     setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz))))
			die("pipe: socketpair: %s", strerror(errno));
		w->src = p[0];
		w->dst = p[1];
	}
	pthread_barrier_wait(w->bar);
	w->t0 = mstream_now_ns();
	for (uint64_t done = 0; w->via != VIA_MEMFD && done < w->len;) {
		size_t n = w->len - done < w->buf_size ? w->len - done : w->buf_size;

		if (write(w->dst, buf, n) != (ssize_t)n)
			die("pipe: write: %s", strerror(errno));
		for (size_t got = 0; got < n;) {
			ssize_t r = read(w->src, buf + got, n - got);

			if (r <= 0)
				die("pipe: read: %s", r ? strerror(errno) : "EOF");
			got += r;
		}
		done += n;
	}
	for (uint64_t done = 0; w->via == VIA_MEMFD && done < w->len;) {
		size_t n = w->len - done < w->buf_size ? w->len - done : w->buf_size;
		ssize_t r = pread(w->src, buf, n, w->off + done);

		if (r <= 0)
			die("pipe: read: %s", r ? strerror(errno) : "short");
		if (pwrite(w->dst, buf, r, w->off + done) != r)
			die("pipe: write: %s", strerror(errno));
		done += r;
	}
	w->t1 = mstream_now_ns();
	free(buf);
	return NULL;
}

/* A memfd of size bytes whose pages exist (written once), so that the timed
 * copies neither fault pages in nor allocate them. */
static int filled_memfd(const char *name, uint64_t size, int byte)
{
	int fd = memfd_create(name, 0);
	char *buf = malloc(1 << 20);

	if (fd < 0 || !buf || ftruncate(fd, size))
		die("pipe: memfd: %s", strerror(errno));
	memset(buf, byte, 1 << 20);
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? size - off : (1 << 20);

		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			die("pipe: fill: %s", strerror(errno));
	}
	free(buf);
	return fd;
}

static int cmd_pipe(int argc, char **argv)
{
	unsigned int threads = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t size = 256 << 20;
	size_t buf_size = 1 << 20;
	int via = VIA_SOCKET;
	static const char *const via_name[] = { "memfd", "pipe", "socket" };
	static const struct option lo[] = {
		{ "threads", 1, 0, 't' }, { "size", 1, 0, 's' }, { "buf-size", 1, 0, 'b' },
		{ "via", 1, 0, 'v' }, { 0 }
	};
	pthread_barrier_t bar;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int c;

	while ((c = getopt_long(argc, argv, "t:s:b:v:", lo, NULL)) != -1) {
		switch (c) {
		case 't': threads = atoi(optarg); break;
		case 's': size = parse_size(optarg); break;
		case 'b': buf_size = parse_size(optarg); break;
		case 'v':
			via = !strcmp(optarg, "pipe") ? VIA_PIPE :
			      !strcmp(optarg, "memfd") ? VIA_MEMFD : VIA_SOCKET;
			break;
		default: die("pipe: bad usage");
		}
	}
	if (!threads || !buf_size || size < threads)
		die("pipe: bad parameters");
	int src = via != VIA_MEMFD ? -1 : filled_memfd("mstbench-src", size, 0x5a);
	int dst = via != VIA_MEMFD ? -1 : filled_memfd("mstbench-dst", size, 0xa5);
	struct pw *w = calloc(threads, sizeof(*w));
	pthread_t *th = calloc(threads, sizeof(*th));
	/* slices of whole buffers, the last one takes the rest */
	uint64_t per = size / threads / buf_size * buf_size;

	pthread_barrier_init(&bar, NULL, threads);
	for (unsigned int i = 0; i < threads; i++) {
		w[i] = (struct pw){ .bar = &bar, .via = via, .src = src, .dst = dst,
				    .off = per * i,
				    .len = i + 1 < threads ? per : size - per * i,
				    .buf_size = buf_size };
		pthread_create(&th[i], NULL, pw_thread, &w[i]);
	}
	for (unsigned int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	double sec = (t1 - t0) / 1e9;

	printf("{\"command\":\"pipe\",\"status\":\"ok\",\"via\":\"%s\",\"threads\":%u,"
	       "\"size\":%" PRIu64 ",\"buf_size\":%zu,\"seconds\":%.6f,\"mib_s\":%.1f}\n",
	       via_name[via], threads, size, buf_size, sec, size / sec / (1 << 20));
	return 0;
}

/* ------------------------------------------------------------------ reinit */

struct mon {
	const char *src, *dst;
	uint64_t at;
	unsigned int poll_us;
	volatile int done;	/* the session returned */
	/* results */
	bool injected, delivered;
	int err;
	uint64_t g_before, g_new, g_dst_final;
	uint64_t t_inject, t_deliver, saved_at_inject, polls;
};

static int attr_u64(const char *uuid, const char *attr, uint64_t *v)
{
	char buf[64];
	int ret = mstream_sample_attr_read(uuid, attr, buf, sizeof(buf));

	if (ret < 0)
		return ret;
	*v = strtoull(buf, NULL, 0);
	return 0;
}

static void *mon_thread(void *arg)
{
	struct mon *m = arg;
	uint64_t v;

	/* wait for the save to reach m->at bytes */
	for (;;) {
		if (m->done)
			return NULL;
		if (!attr_u64(m->src, "bytes_saved", &v) && v >= m->at)
			break;
		sleep_us(m->poll_us);
	}
	m->saved_at_inject = v;
	m->t_inject = mstream_now_ns();
	m->err = mstream_sample_attr_write(m->src, "reinit", "1");
	if (m->err)
		return NULL;
	m->injected = true;
	if (attr_u64(m->src, "crit_gen", &m->g_new)) {
		m->err = -EIO;
		return NULL;
	}
	for (;;) {
		bool last = m->done;

		m->polls++;
		if (!attr_u64(m->dst, "crit_gen", &v) && v >= m->g_new) {
			m->t_deliver = mstream_now_ns();
			m->delivered = true;
			return NULL;
		}
		if (last)
			return NULL;
		sleep_us(m->poll_us);
	}
}

static int cmd_reinit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "protocol", 1, 0, 'p' }, { "streams", 1, 0, 'n' }, { "reader", 1, 0, 'r' },
		{ "threads", 1, 0, 't' },  { "buf-size", 1, 0, 'b' }, { "at", 1, 0, 'a' },
		{ "precopy", 0, 0, 'P' },  { "poll-us", 1, 0, 'u' },  { "stall-timeout", 1, 0, 's' },
		{ "threshold", 1, 0, 'T' }, { 0 }
	};
	struct mstream_session_params sp = { 0 };
	const char *proto = "v3", *reader = "pool";
	unsigned int n = 4;
	bool precopy = false;
	struct mon m = { .poll_us = 500, .at = UINT64_MAX };
	int c, ret;

	while ((c = getopt_long(argc, argv, "p:n:r:t:b:a:Pu:s:T:", lo, NULL)) != -1) {
		switch (c) {
		case 'p': proto = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'r': reader = optarg; break;
		case 't': sp.pool.threads = atoi(optarg); break;
		case 'b': sp.pool.buf_size = parse_size(optarg); break;
		case 'a': m.at = parse_size(optarg); break;
		case 'P': precopy = true; break;
		case 'u': m.poll_us = atoi(optarg); break;
		case 's': sp.stall_timeout_ns = strtoull(optarg, NULL, 0) * 1000000000ULL; break;
		case 'T': sp.policy.dirty_threshold = parse_size(optarg); break;
		default: die("reinit: bad usage");
		}
	}
	if (argc - optind != 2)
		die("reinit: SRC DST expected");
	m.src = argv[optind];
	m.dst = argv[optind + 1];
	if (!strcmp(proto, "v2"))
		sp.num_dirty = 0;
	else if (!strcmp(proto, "v3"))
		sp.num_dirty = n;
	else
		die("reinit: protocol v2 or v3");
	if (!strcmp(reader, "pool"))
		sp.pool.kind = MSTREAM_POOL_URING;
	else if (!strcmp(reader, "threads"))
		sp.pool.kind = MSTREAM_POOL_THREADS;
	else if (!strcmp(reader, "serial"))
		sp.pool.kind = MSTREAM_POOL_SERIAL;
	else
		die("reinit: reader pool, threads or serial");
	sp.policy.no_precopy = !precopy;
	sp.flags = MSTREAM_SESSION_REINIT | MSTREAM_SESSION_SOURCE_RUNNING;
	if (m.at == UINT64_MAX) {
		uint64_t size;

		if (attr_u64(m.src, "state_size", &size))
			die("reinit: cannot read %s's state_size", m.src);
		m.at = size / 4;
	}

	struct mstream_device *sdev, *ddev;
	struct mstream_source *src;
	struct mstream_sink *sink;
	struct mstream_session *s;
	struct mstream_session_stats st;
	pthread_t th;

	if ((ret = mstream_device_open(&sdev, m.src)) || (ret = mstream_device_open(&ddev, m.dst)))
		die("reinit: open: %s", mstream_last_error());
	if ((ret = mstream_source_create_devices(&src, &sdev, 1)) ||
	    (ret = mstream_sink_create_devices(&sink, &ddev, 1)) ||
	    (ret = mstream_session_create(&s, &sp)))
		die("reinit: %s", mstream_last_error());
	attr_u64(m.src, "crit_gen", &m.g_before);
	pthread_create(&th, NULL, mon_thread, &m);
	ret = mstream_session_run(s, src, sink);
	m.done = 1;
	pthread_join(th, NULL);
	mstream_session_get_stats(s, &st);
	attr_u64(m.dst, "crit_gen", &m.g_dst_final);

	uint64_t ssum = 0, dsum = 0;
	bool sums = !mstream_sample_checksum(sdev, &ssum, NULL) && !mstream_sample_checksum(ddev, &dsum, NULL);
	const char *err = ret ? mstream_session_error(s) : "";
	double lat_ms = m.delivered ? (m.t_deliver - m.t_inject) / 1e6 : -1;

	printf("{\"command\":\"reinit\",\"status\":\"%s\",\"error\":\"", ret ? "failed" : "ok");
	for (const char *p = err; *p; p++)
		printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p >= 32 ? *p : ' ');
	printf("\",\"protocol\":\"%s\",\"num_dirty\":%u,\"reader\":\"%s\",\"phase\":\"%s\","
	       "\"at_bytes\":%" PRIu64 ",\"injected\":%s,\"inject_error\":%d,"
	       "\"saved_at_inject\":%" PRIu64 ",\"crit_gen_before\":%" PRIu64
	       ",\"crit_gen_new\":%" PRIu64 ",\"dst_crit_gen_final\":%" PRIu64
	       ",\"delivered\":%s,\"latency_ms\":%.3f,\"inject_after_stop_ms\":%.3f,"
	       "\"deliver_before_end_ms\":%.3f,\"polls\":%" PRIu64 ",\"poll_us\":%u,"
	       "\"downtime_ns\":%" PRIu64 ",\"stopcopy_ns\":%" PRIu64 ",\"load_ns\":%" PRIu64
	       ",\"precopy_ns\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"reinits\":%u,"
	       "\"checksums_match\":%s,\"threshold\":%" PRIu64 ",\"precopy_bytes\":%" PRIu64
	       ",\"forced_switchover\":%s}\n",
	       proto, sp.num_dirty, reader, precopy ? "precopy" : "stopcopy", m.at,
	       m.injected ? "true" : "false", m.err, m.saved_at_inject, m.g_before, m.g_new,
	       m.g_dst_final, m.delivered ? "true" : "false", lat_ms,
	       m.injected && st.t_stop_ns ? ((double)m.t_inject - (double)st.t_stop_ns) / 1e6 : 0,
	       m.delivered && st.t_end_ns ? ((double)st.t_end_ns - (double)m.t_deliver) / 1e6 : 0,
	       m.polls, m.poll_us, st.downtime_ns, st.stopcopy_ns, st.load_ns, st.precopy_ns,
	       st.bytes, st.reinits, sums ? (ssum == dsum ? "true" : "false") : "null",
	       sp.policy.dirty_threshold, st.bytes_precopy, st.forced_switchover ? "true" : "false");
	mstream_session_destroy(s);
	mstream_source_destroy(src);
	mstream_sink_destroy(sink);
	mstream_device_close(sdev);
	mstream_device_close(ddev);
	return ret ? 1 : 0;
}

/* ------------------------------------------------------------------ rss */

static uint64_t mem_available_kib(void)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Jiffies the machine spent busy (user, nice, system, irq, softirq) over all CPUs. */
static uint64_t busy_ticks(void)
{
	uint64_t u = 0, n = 0, sy = 0, idle = 0, io = 0, irq = 0, sirq = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		      " %" SCNu64, &u, &n, &sy, &idle, &io, &irq, &sirq) != 7)
		u = n = sy = irq = sirq = 0;
	fclose(f);
	return u + n + sy + irq + sirq;
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static int cmd_rss(int argc, char **argv)
{
	const char *out = NULL;
	int i = 1;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			break;
	}
	if (i >= argc)
		die("rss: COMMAND expected");

	uint64_t base = mem_available_kib(), low = base, busy0 = busy_ticks();
	pid_t pid = fork();

	if (pid < 0)
		die("rss: fork: %s", strerror(errno));
	if (!pid) {
		execvp(argv[i], argv + i);
		fprintf(stderr, "mstbench: rss: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	struct rusage ru;
	int status;

	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, &ru);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			die("rss: wait: %s", strerror(errno));
		uint64_t a = mem_available_kib();

		if (a && a < low)
			low = a;
		sleep_us(20000);
	}
	FILE *f = out ? fopen(out, "w") : stderr;

	if (!f)
		die("rss: %s: %s", out, strerror(errno));
	double busy_s = (double)(busy_ticks() - busy0) / sysconf(_SC_CLK_TCK);

	fprintf(f, "{\"maxrss_kib\":%ld,\"memavail_before_kib\":%" PRIu64
		   ",\"memavail_low_kib\":%" PRIu64 ",\"mem_used_peak_kib\":%" PRIu64
		   ",\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"machine_busy_s\":%.3f}\n",
		ru.ru_maxrss, base, low, base > low ? base - low : 0, tv_s(ru.ru_utime),
		tv_s(ru.ru_stime), busy_s);
	if (out)
		fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mstbench copybw|pipe|reinit|rss|now ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "copybw"))
		return cmd_copybw(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pipe"))
		return cmd_pipe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "reinit"))
		return cmd_reinit(argc - 1, argv + 1);
	if (!strcmp(argv[1], "rss"))
		return cmd_rss(argc - 1, argv + 1);
	if (!strcmp(argv[1], "now")) {
		uint64_t t = mstream_now_ns();

		printf("%" PRIu64 ".%09" PRIu64 "\n", t / UINT64_C(1000000000), t % UINT64_C(1000000000));
		return 0;
	}
	fprintf(stderr, "mstbench: unknown command %s\n", argv[1]);
	return 2;
}
