// SPDX-License-Identifier: MIT
/* opts.c - the command line: each command's options, their help, their checks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <sys/stat.h>
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

/* A token file others can read gives the session away: refused, as ssh
 * refuses such a key. */
static void read_token_file(struct opts *o, const char *path)
{
	static char buf[MSTREAM_TOKEN_MAX + 2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st)) {
		err("--token-file %s: %s", path, strerror(errno));
		exit(EXIT_USAGE);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err("--token-file %s: mode %04o lets other users read or change the token: "
		    "chmod 600 %s", path, (unsigned int)(st.st_mode & 07777), path);
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
	O_PRECOPY, O_AT_STOP, O_PLAIN_TCP, O_ALLOW_FROM, O_LAST,
};

#define C_RUN (C_MIGRATE | C_SAVE | C_LOAD | C_RECV) /* run a session */
#define C_SOURCES (C_MIGRATE | C_SAVE)		     /* from local devices */
#define C_NET (C_MIGRATE | C_RECV)

/* Every option, the commands that take it, and its line of --help. */
static const struct optdef {
	const char *name;
	int id;		  /* its short letter, or O_* */
	const char *arg;  /* NULL: takes none */
	unsigned int cmds; /* C_* */
	const char *help;
} optdefs[] = {
	{ "protocol", 'p', "v2|v3", C_SOURCES, "the protocol (default v3)" },
	{ "streams", 'n', "N", C_SOURCES, "v3: dirty streams per device (default 4)" },
	{ "no-reinit", O_NO_REINIT, NULL, C_SOURCES, "v2: do not opt into PRECOPY_INFOv2" },
	{ "reader", O_READER, "pool|threads|serial", C_RUN,
	  "io_uring workers (default), a thread per stream, or one loop" },
	{ "threads", 't', "T", C_RUN, "pool workers (default: CPUs)" },
	{ "queue-depth", O_QD, "Q", C_RUN, "buffers per worker (default 8)" },
	{ "buf-size", O_BUF, "BYTES", C_RUN, "bytes per read (default 1M)" },
	{ "order", O_ORDER, "together|serial", C_RUN,
	  "STOP_COPY every device at once (default), or one after another" },
	{ "no-precopy", O_NO_PRECOPY, NULL, C_SOURCES, "stop the sources at once" },
	{ "precopy", O_PRECOPY, NULL, C_SOURCES, "precopy first (the default, but for --demo)" },
	{ "threshold", O_THRESHOLD, "BYTES", C_SOURCES,
	  "switch over at this many dirty bytes per device (1M)" },
	{ "max-iter", O_MAX_ITER, "N", C_SOURCES, "... or after N precopy passes (30)" },
	{ "max-precopy-ms", O_MAX_PRECOPY, "MS", C_SOURCES, "... or after MS of precopy (30000)" },
	{ "tick-ms", O_TICK, "MS", C_SOURCES, "how often the devices are asked (10)" },
	{ "stall-timeout", O_STALL, "S", C_RUN,
	  "fail when no data moves for S s after the switchover (60)" },
	{ "source-final", O_SOURCE_FINAL, "stop|running", C_SOURCES,
	  "a migrated source's state (stop)" },
	{ "at-stop", O_AT_STOP, "CMD", C_SOURCES,
	  "run CMD (sh -c) once the sources are in STOP_COPY (its time counts)" },
	{ "to", O_TO, "HOST:PORT", C_MIGRATE, "send to a `mstream recv` there" },
	{ "listen", O_LISTEN, "HOST:PORT", C_RECV, "listen there (127.0.0.1, a free port)" },
	{ "token-file", O_TOKEN_FILE, "FILE", C_NET,
	  "the session token, in a file only you can read" },
	{ "token", O_TOKEN, "T", C_NET, "the token itself (visible to other users: prefer a file)" },
	{ "timeout", O_TIMEOUT, "S", C_NET,
	  "connect and reply timeout, longest silence of the peer (10)" },
	{ "accept-timeout", O_ACCEPT_TIMEOUT, "S", C_RECV, "how long to wait for the sender (60)" },
	{ "plain-tcp", O_PLAIN_TCP, NULL, C_NET,
	  "no TLS, on both ends: the state crosses in clear (trusted network only)" },
	{ "allow-from", O_ALLOW_FROM, "ADDR[/LEN]", C_RECV,
	  "only accept a sender with this address or in this prefix" },
	{ "no-checksum", O_NO_CHECKSUM, NULL, C_RUN,
	  "do not compare device checksums nor hash TCP streams" },
	{ "no-verify", O_NO_VERIFY, NULL, C_LOAD, "skip the up-front hash of the stream files" },
	{ "json", O_JSON, NULL, C_INFO | C_RUN, "print one JSON object on stdout" },
	{ "quiet", 'q', NULL, C_RUN, "no notes on stdout" },
	{ "progress", O_PROGRESS, NULL, C_RUN, "a progress line on stderr (default: a terminal)" },
	{ "no-progress", O_NO_PROGRESS, NULL, C_RUN, "no progress line" },
	{ "demo", O_DEMO, NULL, C_MIGRATE,
	  "the demo: v2, then v3 N=4, on two new sample devices" },
	{ "state-size", O_STATE_SIZE, "BYTES", C_MIGRATE, "--demo: device state (32M)" },
	{ "engine-bw", O_ENGINE_BW, "MiB/s", C_MIGRATE, "--demo: per save engine (8)" },
	{ "dirty-rate", O_DIRTY_RATE, "PAGES/s", C_MIGRATE, "--demo: with --precopy (1000)" },
	{ "backing", O_BACKING, "memory|pattern", C_MIGRATE, "--demo: the state's backing" },
	{ "help", 'h', NULL, ~0u, "this help" },
};
#define NOPTS ARRAY_LEN(optdefs)

static const struct optdef *optdef_of(int id)
{
	for (unsigned int i = 0; i < NOPTS; i++)
		if (optdefs[i].id == id)
			return &optdefs[i];
	return NULL;
}

/* "-p/--protocol" or "--listen", for messages. */
static const char *opt_name(int id)
{
	static char buf[2][64];
	static int which;
	const struct optdef *d = optdef_of(id);
	char *b = buf[which ^= 1];

	if (d->id < 256)
		snprintf(b, sizeof(buf[0]), "-%c/--%s", d->id, d->name);
	else
		snprintf(b, sizeof(buf[0]), "--%s", d->name);
	return b;
}

static const char *const exit_status =
	"exit status: 0 ok, 1 failed, 2 usage, 3 checksum mismatch, 4 save refused\n";

void usage(FILE *f)
{
	fputs("usage: mstream COMMAND [OPTIONS] ARGS\n\n", f);
	for (unsigned int i = 0; i < ncommands; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n`mstream COMMAND --help` lists a command's options.\n"
	      "DEVICE is an mdev UUID, a PCI address, or a sysfs device directory.\n\n", f);
	fputs(exit_status, f);
}

void command_usage(const struct command *c, FILE *f)
{
	const char *line = c->synopsis;

	/* One "usage:" line per synopsis line. */
	for (bool first = true; *line; first = false) {
		size_t len = strcspn(line, "\n");

		fprintf(f, "%s mstream %s %.*s\n", first ? "usage:" : "      ", c->name, (int)len,
			line);
		line += len + (line[len] == '\n');
	}
	fprintf(f, "\n%s\n\noptions:\n", c->summary);
	for (unsigned int i = 0; i < NOPTS; i++) {
		const struct optdef *d = &optdefs[i];
		char left[64], shortname[8] = "    ";

		if (!(d->cmds & c->bit))
			continue;
		if (d->id < 256)
			snprintf(shortname, sizeof(shortname), "-%c, ", d->id);
		snprintf(left, sizeof(left), "%s--%s%s%s", shortname, d->name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
		fprintf(f, "  %-34s %s\n", left, d->help);
	}
	fputc('\n', f);
	fputs(exit_status, f);
}

static void usage_error(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void usage_error(const struct command *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err("%s: %s (mstream %s --help)", c->name, msg, c->name);
	exit(EXIT_USAGE);
}

/* Options that say opposite things. */
static const struct { int a, b; } conflicts[] = {
	{ O_PRECOPY, O_NO_PRECOPY }, { O_TOKEN, O_TOKEN_FILE }, { O_PROGRESS, O_NO_PROGRESS },
	{ 'q', O_PROGRESS },	     { O_DEMO, O_TO },	       { O_DEMO, 'p' },
	{ O_DEMO, 'n' },
};

/* migrate's options that mean something only with --to. */
static const int tcp_only[] = { O_TOKEN, O_TOKEN_FILE, O_TIMEOUT };

/* Options that mean something only with another one. */
static const struct { int opt, needs; } needs[] = {
	{ O_STATE_SIZE, O_DEMO }, { O_ENGINE_BW, O_DEMO }, { O_DIRTY_RATE, O_DEMO },
	{ O_BACKING, O_DEMO },
};

static void check_combinations(const struct command *c, const struct opts *o, const bool *given)
{
	for (unsigned int i = 0; i < ARRAY_LEN(conflicts); i++)
		if (given[conflicts[i].a] && given[conflicts[i].b])
			usage_error(c, "%s and %s cannot be used together", opt_name(conflicts[i].a),
				    opt_name(conflicts[i].b));
	for (unsigned int i = 0; i < ARRAY_LEN(needs); i++)
		if (given[needs[i].opt] && !given[needs[i].needs])
			usage_error(c, "%s is an option of %s", opt_name(needs[i].opt),
				    opt_name(needs[i].needs));
	if (given['n'] && o->v2)
		usage_error(c, "%s: v2 has one data stream; dirty streams are v3's",
			    opt_name('n'));
	for (unsigned int i = 0; c->bit == C_MIGRATE && !o->to && i < ARRAY_LEN(tcp_only); i++)
		if (given[tcp_only[i]])
			usage_error(c, "%s is for a migration over TCP (--to)", opt_name(tcp_only[i]));
}

/* The arguments after the options: how many the command takes. */
static void check_args(const struct command *c, const struct opts *o)
{
	int min = c->min_args, max = c->max_args;

	if (o->demo)
		min = max = 0;
	if (o->nargs > max && max <= 1)
		usage_error(c, "unexpected argument '%s'", o->args[max]);
	if (o->nargs > max)
		usage_error(c, "%d arguments: at most %d devices", o->nargs, max - (min - 1));
	if (o->nargs < min)
		usage_error(c, "missing arguments: mstream %s %.*s", c->name,
			    (int)strcspn(c->synopsis, "\n"), c->synopsis);
}

void opts_parse(struct opts *o, const struct command *c, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	char shortopts[64];
	bool given[O_LAST] = { false };
	size_t ns = 0;
	int id;

	/* A leading ':' makes a missing value ':', told apart from an unknown
	 * option ('?'). */
	shortopts[ns++] = ':';
	for (unsigned int i = 0; i < NOPTS; i++) {
		longopts[i] = (struct option){ optdefs[i].name,
					       optdefs[i].arg ? required_argument : no_argument,
					       NULL, optdefs[i].id };
		if (optdefs[i].id < 256) {
			shortopts[ns++] = optdefs[i].id;
			if (optdefs[i].arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[NOPTS] = (struct option){ 0 };
	shortopts[ns] = 0;

	o->cmd = c->name;
	o->progress = -1;
	o->precopy = -1;
	o->sp.num_dirty = 4;
	o->sp.flags = MSTREAM_SESSION_CHECKSUM | MSTREAM_SESSION_REINIT;
	o->demo_state_size = 32ULL << 20;
	o->demo_engine_bw = 8;
	o->demo_dirty_rate = 1000;
	optind = 1;
	opterr = 0;
	while ((id = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct optdef *d = optdef_of(id);

		if (id == ':')
			usage_error(c, "%s needs a value", argv[optind - 1]);
		if (id == '?' && optopt)
			usage_error(c, "-%c: unknown option", optopt);
		if (id == '?')
			usage_error(c, "'%s': unknown option", argv[optind - 1]);
		if (!(d->cmds & c->bit))
			usage_error(c, "%s is not an option of %s", opt_name(id), c->name);
		given[id] = true;
		switch (id) {
		case 'p':
			if (!strcmp(optarg, "v2") || !strcmp(optarg, "2"))
				o->v2 = true;
			else if (!strcmp(optarg, "v3") || !strcmp(optarg, "3"))
				o->v2 = false;
			else
				usage_error(c, "--protocol: '%s': v2 or v3", optarg);
			break;
		case 'n':
			o->sp.num_dirty = num("--streams", optarg, 1, 64);
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
			else
				usage_error(c, "--reader: '%s': pool, threads or serial", optarg);
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
			else
				usage_error(c, "--order: '%s': together or serial", optarg);
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
			else
				usage_error(c, "--source-final: '%s': stop or running", optarg);
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
			o->token_file = optarg;
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
			command_usage(c, stdout);
			exit(EXIT_OK);
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	check_combinations(c, o, given);
	if (o->v2)
		o->sp.num_dirty = 0;
	check_args(c, o);
	/* Read once every option is known good: a bad command line is
	 * reported as such whatever the file holds. */
	if (o->token_file)
		read_token_file(o, o->token_file);
	if (o->progress < 0)
		o->progress = !o->quiet && isatty(STDERR_FILENO);
	if (o->progress) {
		o->sp.progress = progress_cb;
		o->sp.progress_arg = o;
	}
}
