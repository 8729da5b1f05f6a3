// SPDX-License-Identifier: MIT
/* opts.c - the command line: options common to every command. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void err(const char *fmt, ...)
{
	va_list ap;

	progress_clear();
	fputs("mstream: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void note(struct opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	progress_clear();
	va_start(ap, fmt);
	vfprintf(o->json ? stderr : stdout, fmt, ap);
	va_end(ap);
}

void usage(FILE *f)
{
	fputs("usage: mstream COMMAND [OPTIONS] ARGS\n"
	      "\n"
	      "  info DEVICE...                       what each device supports\n"
	      "  migrate SRC:DST...                   migrate devices to devices, locally\n"
	      "  migrate --to HOST:PORT SRC...        migrate to a `mstream recv`\n"
	      "  migrate --demo                       the demo: v2, then v3 N=4, on two new instances\n"
	      "  save DIR SRC...                      save devices into DIR\n"
	      "  load DIR DST...                      load a save into devices\n"
	      "  recv [--listen HOST:PORT] DST...     receive a migration into devices\n"
	      "  token                                print a new random session token\n"
	      "\n"
	      "DEVICE is an mdev UUID, a PCI address, or a sysfs device directory.\n"
	      "\n"
	      "protocol:   -p, --protocol v2|v3     (default v3)\n"
	      "            -n, --streams N          v3 dirty streams (default 4)\n"
	      "            --no-reinit              v2: do not opt into PRECOPY_INFOv2\n"
	      "readers:    --reader pool|threads|serial  (default pool: io_uring workers)\n"
	      "            -t, --threads T          pool workers (default: CPUs)\n"
	      "            --queue-depth Q          buffers per worker (default 8)\n"
	      "            --buf-size BYTES         bytes per read (default 1M)\n"
	      "order:      --order together|serial  STOP_COPY all devices at once (default),\n"
	      "                                     or device after device\n"
	      "precopy:    --no-precopy, --threshold BYTES (1M), --max-iter N (30),\n"
	      "            --max-precopy-ms MS (30000), --tick-ms MS (10)\n"
	      "            --stall-timeout S        fail when no data moves for S s (60)\n"
	      "            --source-final stop|running  a migrated source's state (stop)\n"
	      "            --at-stop CMD            run CMD (sh -c) once the sources are in\n"
	      "                                     STOP_COPY, before draining (its time counts)\n"
	      "network:    --token T | --token-file F | $MSTREAM_TOKEN\n"
	      "            --timeout S (10), --accept-timeout S (recv, 60)\n"
	      "            --plain-tcp              no TLS, on both ends: trusted network only\n"
	      "            --allow-from ADDR[/LEN]  recv: only peers with this address or prefix\n"
	      "checks:     --no-checksum, --no-verify (load: skip the up-front hash)\n"
	      "output:     --json, -q/--quiet, --progress / --no-progress\n"
	      "demo:       --state-size BYTES (32M), --engine-bw MiB/s per engine (8),\n"
	      "            --precopy (default: all of the state in STOP_COPY),\n"
	      "            --dirty-rate PAGES/s (1000, with --precopy), --backing memory|pattern\n"
	      "\n"
	      "exit status: 0 ok, 1 failed, 2 usage, 3 checksum mismatch, 4 save refused\n",
	      f);
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (~0ULL >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static uint64_t num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_size(s, &v) || v < min || v > max) {
		err("%s: '%s' is not a number in %llu..%llu", opt, s, (unsigned long long)min,
		    (unsigned long long)max);
		exit(EXIT_USAGE);
	}
	return v;
}

int parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (!colon)
		return -EINVAL;
	if (colon - s >= (long)hlen)
		return -EINVAL;
	if (s[0] == '[' && colon > s && colon[-1] == ']') {
		memcpy(host, s + 1, colon - s - 2);
		host[colon - s - 2] = 0;
	} else {
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
	}
	p = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p > 65535)
		return -EINVAL;
	*port = p;
	return 0;
}

const char *token_get(struct opts *o)
{
	return o->token ? o->token : getenv("MSTREAM_TOKEN");
}

static void read_token_file(struct opts *o, const char *path)
{
	static char buf[MSTREAM_TOKEN_MAX + 2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		err("--token-file %s: %s", path, strerror(errno));
		exit(EXIT_USAGE);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		err("--token-file %s: %s", path, strerror(errno));
		exit(EXIT_USAGE);
	}
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	o->token = buf;
}

extern char **environ;

/* --at-stop: a benchmark's hook, run to completion (its time is downtime). */
static void at_stop(struct mstream_session *s, void *arg)
{
	struct opts *o = arg;
	char *argv[] = { "sh", "-c", (char *)o->at_stop, NULL };
	int status;
	pid_t pid;

	(void)s;
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ)) {
		err("--at-stop: cannot run /bin/sh");
		return;
	}
	if (waitpid(pid, &status, 0) == pid && (!WIFEXITED(status) || WEXITSTATUS(status)))
		err("--at-stop: '%s' failed", o->at_stop);
}

enum {
	O_READER = 256, O_QD, O_BUF, O_ORDER, O_NO_PRECOPY, O_THRESHOLD, O_MAX_ITER,
	O_MAX_PRECOPY, O_TICK, O_STALL, O_SOURCE_FINAL, O_TO, O_LISTEN, O_TOKEN, O_TOKEN_FILE,
	O_TIMEOUT, O_ACCEPT_TIMEOUT, O_NO_CHECKSUM, O_NO_VERIFY, O_JSON, O_PROGRESS,
	O_NO_PROGRESS, O_DEMO, O_STATE_SIZE, O_ENGINE_BW, O_DIRTY_RATE, O_BACKING, O_NO_REINIT,
	O_PRECOPY, O_AT_STOP,
	O_PLAIN_TCP, O_ALLOW_FROM,
};

static const struct option longopts[] = {
	{ "protocol", required_argument, NULL, 'p' },
	{ "streams", required_argument, NULL, 'n' },
	{ "threads", required_argument, NULL, 't' },
	{ "reader", required_argument, NULL, O_READER },
	{ "queue-depth", required_argument, NULL, O_QD },
	{ "buf-size", required_argument, NULL, O_BUF },
	{ "order", required_argument, NULL, O_ORDER },
	{ "no-precopy", no_argument, NULL, O_NO_PRECOPY },
	{ "precopy", no_argument, NULL, O_PRECOPY },
	{ "at-stop", required_argument, NULL, O_AT_STOP },
	{ "threshold", required_argument, NULL, O_THRESHOLD },
	{ "max-iter", required_argument, NULL, O_MAX_ITER },
	{ "max-precopy-ms", required_argument, NULL, O_MAX_PRECOPY },
	{ "tick-ms", required_argument, NULL, O_TICK },
	{ "stall-timeout", required_argument, NULL, O_STALL },
	{ "source-final", required_argument, NULL, O_SOURCE_FINAL },
	{ "no-reinit", no_argument, NULL, O_NO_REINIT },
	{ "to", required_argument, NULL, O_TO },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "token-file", required_argument, NULL, O_TOKEN_FILE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "accept-timeout", required_argument, NULL, O_ACCEPT_TIMEOUT },
	{ "plain-tcp", no_argument, NULL, O_PLAIN_TCP },
	{ "allow-from", required_argument, NULL, O_ALLOW_FROM },
	{ "no-checksum", no_argument, NULL, O_NO_CHECKSUM },
	{ "no-verify", no_argument, NULL, O_NO_VERIFY },
	{ "json", no_argument, NULL, O_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
	{ "demo", no_argument, NULL, O_DEMO },
	{ "state-size", required_argument, NULL, O_STATE_SIZE },
	{ "engine-bw", required_argument, NULL, O_ENGINE_BW },
	{ "dirty-rate", required_argument, NULL, O_DIRTY_RATE },
	{ "backing", required_argument, NULL, O_BACKING },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

void opts_parse(struct opts *o, int argc, char **argv)
{
	int c;

	o->progress = -1;
	o->precopy = -1;
	o->sp.num_dirty = 4;
	o->sp.flags = MSTREAM_SESSION_CHECKSUM | MSTREAM_SESSION_REINIT;
	o->demo_state_size = 32ULL << 20;
	o->demo_engine_bw = 8;
	o->demo_dirty_rate = 1000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:n:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!strcmp(optarg, "v2") || !strcmp(optarg, "2")) {
				o->sp.num_dirty = 0;
			} else if (!strcmp(optarg, "v3") || !strcmp(optarg, "3")) {
				if (!o->sp.num_dirty)
					o->sp.num_dirty = 4;
			} else {
				err("--protocol: '%s': v2 or v3", optarg);
				exit(EXIT_USAGE);
			}
			o->proto_set = true;
			break;
		case 'n':
			o->sp.num_dirty = num("--streams", optarg, 1, 64);
			o->streams_set = true;
			break;
		case 't':
			o->sp.pool.threads = num("--threads", optarg, 1, 64);
			break;
		case O_READER:
			if (!strcmp(optarg, "pool") || !strcmp(optarg, "uring"))
				o->sp.pool.kind = MSTREAM_POOL_URING;
			else if (!strcmp(optarg, "threads") || !strcmp(optarg, "thread"))
				o->sp.pool.kind = MSTREAM_POOL_THREADS;
			else if (!strcmp(optarg, "serial"))
				o->sp.pool.kind = MSTREAM_POOL_SERIAL;
			else {
				err("--reader: '%s': pool, threads or serial", optarg);
				exit(EXIT_USAGE);
			}
			break;
		case O_QD:
			o->sp.pool.queue_depth = num("--queue-depth", optarg, 1, 4096);
			break;
		case O_BUF:
			o->sp.pool.buf_size = num("--buf-size", optarg, 4096, 1ULL << 30);
			break;
		case O_ORDER:
			if (!strcmp(optarg, "together"))
				o->sp.order = MSTREAM_ORDER_TOGETHER;
			else if (!strcmp(optarg, "serial"))
				o->sp.order = MSTREAM_ORDER_SERIAL;
			else {
				err("--order: '%s': together or serial", optarg);
				exit(EXIT_USAGE);
			}
			break;
		case O_NO_PRECOPY:
			o->sp.policy.no_precopy = true;
			o->precopy = 0;
			break;
		case O_AT_STOP:
			o->at_stop = optarg;
			o->sp.stopped = at_stop;
			o->sp.stopped_arg = o;
			break;
		case O_PRECOPY:
			o->sp.policy.no_precopy = false;
			o->precopy = 1;
			break;
		case O_THRESHOLD:
			o->sp.policy.dirty_threshold = num("--threshold", optarg, 1, ~0ULL);
			break;
		case O_MAX_ITER:
			o->sp.policy.max_iterations = num("--max-iter", optarg, 1, 1000000);
			break;
		case O_MAX_PRECOPY:
			o->sp.policy.max_precopy_ns =
				num("--max-precopy-ms", optarg, 1, 86400000) * 1000000ULL;
			break;
		case O_TICK:
			o->sp.policy.tick_ns = num("--tick-ms", optarg, 1, 10000) * 1000000ULL;
			break;
		case O_STALL:
			o->sp.stall_timeout_ns =
				num("--stall-timeout", optarg, 1, 86400) * 1000000000ULL;
			break;
		case O_SOURCE_FINAL:
			if (!strcmp(optarg, "running"))
				o->sp.flags |= MSTREAM_SESSION_SOURCE_RUNNING;
			else if (!strcmp(optarg, "stop"))
				o->sp.flags &= ~MSTREAM_SESSION_SOURCE_RUNNING;
			else {
				err("--source-final: '%s': stop or running", optarg);
				exit(EXIT_USAGE);
			}
			break;
		case O_NO_REINIT:
			o->sp.flags &= ~MSTREAM_SESSION_REINIT;
			break;
		case O_TO:
			o->to = optarg;
			break;
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_TOKEN:
			o->token = optarg;
			break;
		case O_TOKEN_FILE:
			read_token_file(o, optarg);
			break;
		case O_TIMEOUT:
			o->timeout_ns = num("--timeout", optarg, 1, 86400) * 1000000000ULL;
			break;
		case O_ACCEPT_TIMEOUT:
			o->accept_timeout_ns =
				num("--accept-timeout", optarg, 1, 86400) * 1000000000ULL;
			break;
		case O_PLAIN_TCP:
			o->plain_tcp = true;
			break;
		case O_ALLOW_FROM:
			o->allow_from = optarg;
			break;
		case O_NO_CHECKSUM:
			o->no_checksum = true;
			o->sp.flags &= ~MSTREAM_SESSION_CHECKSUM;
			break;
		case O_NO_VERIFY:
			o->no_verify = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case O_PROGRESS:
			o->progress = 1;
			break;
		case O_NO_PROGRESS:
			o->progress = 0;
			break;
		case O_DEMO:
			o->demo = true;
			break;
		case O_STATE_SIZE:
			o->demo_state_size = num("--state-size", optarg, 4096, 1ULL << 40);
			break;
		case O_ENGINE_BW:
			o->demo_engine_bw = num("--engine-bw", optarg, 0, 1 << 20);
			break;
		case O_DIRTY_RATE:
			o->demo_dirty_rate = num("--dirty-rate", optarg, 0, 1 << 24);
			break;
		case O_BACKING:
			o->demo_backing = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (o->progress < 0)
		o->progress = !o->quiet && isatty(STDERR_FILENO);
	if (o->progress) {
		o->sp.progress = progress_cb;
		o->sp.progress_arg = o;
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
}
