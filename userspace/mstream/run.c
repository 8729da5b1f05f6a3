// SPDX-License-Identifier: MIT
/*
 * run.c - the commands that move device state: migrate (to devices or to a
 * receiver), save, load, recv; and info and token. Each builds a source and
 * a sink from the command line and hands them to one session.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mstream_sample.h"

struct mstream_session *current_session;

int open_devices(char **names, int n, struct mstream_device **devs)
{
	for (int i = 0; i < n; i++) {
		int ret = mstream_device_open(&devs[i], names[i]);

		if (ret) {
			const char *why = mstream_last_error();

			err("cannot open %s: %s", names[i], why[0] ? why : mstream_strerror(ret));
			close_devices(devs, i);
			return ret;
		}
		/* Devices without the sample's checksum knob simply have none. */
		mstream_device_set_checksum(devs[i], mstream_sample_checksum, NULL);
	}
	return 0;
}

void close_devices(struct mstream_device **devs, int n)
{
	for (int i = 0; i < n; i++) {
		mstream_device_close(devs[i]);
		devs[i] = NULL;
	}
}

int run_session(struct opts *o, struct mstream_source *src, struct mstream_sink *sink,
		struct mstream_session **keep)
{
	struct mstream_session *s;
	int ret;

	ret = mstream_session_create(&s, &o->sp);
	if (ret) {
		err("%s", mstream_last_error());
		return EXIT_USAGE;
	}
	current_session = s;
	ret = mstream_session_run(s, src, sink);
	current_session = NULL;
	if (keep) {
		*keep = s;
		return ret;
	}
	report_session(o, s, ret, stdout);
	ret = ret ? EXIT_FAIL : checksum_verdict(s);
	if (ret == EXIT_MISMATCH)
		err("a destination's checksum differs from its source's");
	mstream_session_destroy(s);
	return ret;
}

/*
 * The end of every command that moves state: run the session if its source
 * and sink were made (@ret == 0), then release them and the @n devices.
 */
static int run_and_release(struct opts *o, int ret, struct mstream_source *src,
			   struct mstream_sink *sink, struct mstream_device **devs, int n)
{
	if (ret) {
		err("%s", mstream_last_error());
		ret = EXIT_FAIL;
	} else {
		ret = run_session(o, src, sink, NULL);
	}
	mstream_source_destroy(src);
	mstream_sink_destroy(sink);
	close_devices(devs, n);
	return ret;
}

static void log_cb(const char *msg, void *arg)
{
	(void)arg;
	err("%s", msg);
}

static int tcp_params(struct opts *o, const char *hostport, struct mstream_tcp_params *tp,
		      char *host, size_t hlen, bool need_port)
{
	memset(tp, 0, sizeof(*tp));
	if (hostport && parse_hostport(hostport, host, hlen, &tp->port)) {
		err("'%s': expected HOST:PORT", hostport);
		return EXIT_USAGE;
	}
	if (need_port && !tp->port) {
		err("a port is required (HOST:PORT)");
		return EXIT_USAGE;
	}
	/* "HOST:PORT"; ":PORT": every local address for a receiver, loopback
	 * for a sender; no option: loopback. */
	tp->host = hostport && (host[0] || !need_port) ? host : NULL;
	tp->token = token_get(o);
	if (!tp->token) {
		err("a session token is required: --token-file FILE, --token T or $MSTREAM_TOKEN "
		    "(`mstream token` makes one; give the same to both ends)");
		return EXIT_USAGE;
	}
	tp->timeout_ns = o->timeout_ns;
	tp->accept_timeout_ns = o->accept_timeout_ns;
	tp->flags = (o->no_checksum ? MSTREAM_TCP_NO_CHECKSUM : 0) |
		    (o->plain_tcp ? MSTREAM_TCP_PLAIN : 0);
	tp->allow_from = o->allow_from;
	tp->log = log_cb;
	return 0;
}

/* "SRC=DST", or "SRC:DST" when the names themselves have no colon. */
static int split_pair(char *arg, char **src, char **dst)
{
	char *sep = strchr(arg, '=');

	if (!sep) {
		sep = strchr(arg, ':');
		if (!sep || strchr(sep + 1, ':'))
			return -1;
	}
	*sep = 0;
	*src = arg;
	*dst = sep + 1;
	return **src && **dst ? 0 : -1;
}

int cmd_migrate(struct opts *o)
{
	struct mstream_device *srcs[64] = { 0 }, *dsts[64] = { 0 };
	char *sn[64], *dn[64], host[256] = "";
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;
	int n = o->nargs, ret;

	if (o->demo)
		return cmd_demo(o);
	if (o->to) {
		struct mstream_tcp_params tp;

		ret = tcp_params(o, o->to, &tp, host, sizeof(host), true);
		if (ret)
			return ret;
		if (open_devices(o->args, n, srcs))
			return EXIT_FAIL;
		ret = mstream_sink_create_tcp(&sink, &tp);
	} else {
		for (int i = 0; i < n; i++)
			if (split_pair(o->args[i], &sn[i], &dn[i])) {
				err("'%s': expected SRC:DST (or SRC=DST when names contain ':')",
				    o->args[i]);
				return EXIT_USAGE;
			}
		if (open_devices(sn, n, srcs))
			return EXIT_FAIL;
		if (open_devices(dn, n, dsts)) {
			close_devices(srcs, n);
			return EXIT_FAIL;
		}
		ret = mstream_sink_create_devices(&sink, dsts, n);
	}
	if (!ret)
		ret = mstream_source_create_devices(&src, srcs, n);
	ret = run_and_release(o, ret, src, sink, srcs, n);
	close_devices(dsts, o->to ? 0 : n);
	return ret;
}

int cmd_save(struct opts *o)
{
	struct mstream_device *devs[64] = { 0 };
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;
	int n, ret;

	n = o->nargs - 1;
	if (open_devices(o->args + 1, n, devs))
		return EXIT_FAIL;
	ret = mstream_sink_create_files(&sink, o->args[0]);
	if (!ret)
		ret = mstream_source_create_devices(&src, devs, n);
	return run_and_release(o, ret, src, sink, devs, n);
}

int cmd_load(struct opts *o)
{
	struct mstream_device *devs[64] = { 0 };
	struct stat st;
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;
	int n, ret;

	n = o->nargs - 1;
	/* A directory that cannot be opened is a failure (exit 1); one that is
	 * not an acceptable save is refused (exit 4). */
	if (stat(o->args[0], &st)) {
		err("load: %s: %s", o->args[0], strerror(errno));
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		err("load: %s: not a directory", o->args[0]);
		return EXIT_FAIL;
	}
	/* The save is checked before any device is opened: a bad one is
	 * refused without touching a device. */
	ret = mstream_source_create_files(&src, o->args[0], o->no_verify ? MSTREAM_FILES_NO_VERIFY : 0);
	if (ret) {
		err("refusing to load: %s", mstream_last_error());
		return EXIT_REFUSED;
	}
	if (open_devices(o->args + 1, n, devs)) {
		mstream_source_destroy(src);
		return EXIT_FAIL;
	}
	ret = mstream_sink_create_devices(&sink, devs, n);
	return run_and_release(o, ret, src, sink, devs, n);
}

int cmd_recv(struct opts *o)
{
	struct mstream_device *devs[64] = { 0 };
	struct mstream_tcp_params tp;
	struct mstream_source *src = NULL;
	struct mstream_sink *sink = NULL;
	char host[256] = "";
	int n = o->nargs, ret;

	ret = tcp_params(o, o->listen, &tp, host, sizeof(host), false);
	if (ret)
		return ret;
	if (open_devices(o->args, n, devs))
		return EXIT_FAIL;
	ret = mstream_source_create_tcp(&src, &tp);
	if (!ret) {
		/* On stderr, flushed: a script may wait for this line. */
		const char *h = !tp.host ? "127.0.0.1" : tp.host[0] ? tp.host : "*";
		bool v6 = strchr(h, ':');

		fprintf(stderr, "mstream: listening on %s%s%s:%d\n", v6 ? "[" : "", h, v6 ? "]" : "",
			mstream_source_port(src));
		fflush(stderr);
		ret = mstream_sink_create_devices(&sink, devs, n);
	}
	return run_and_release(o, ret, src, sink, devs, n);
}

/* Written to a new file, mode 0600 from its creation: never readable by
 * others, never through a link, never over an existing file. */
static int write_token(const char *path, const char *tok)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0) {
		err("token: %s: %s", path, errno == EEXIST ? "exists (not overwritten)" :
							    strerror(errno));
		return EXIT_FAIL;
	}
	ret = dprintf(fd, "%s\n", tok) < 0 || fsync(fd) ? -errno : 0;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		err("token: %s: %s", path, strerror(-ret));
		unlink(path);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_token(struct opts *o)
{
	char tok[33];
	int ret = mstream_token_generate(tok, 32);

	if (ret) {
		err("cannot make a token: %s", mstream_strerror(ret));
		return EXIT_FAIL;
	}
	if (o->nargs)
		return write_token(o->args[0], tok);
	puts(tok);
	return EXIT_OK;
}

static void info_human(const char *name, const struct mstream_caps *c)
{
	char sz[32] = "-";

	if (c->data_size)
		snprintf(sz, sizeof(sz), "%" PRIu64 " bytes", c->stop_copy_length);
	printf("%s\n", name);
	if (!c->migration) {
		printf("  migration      not supported\n");
		return;
	}
	printf("  state          %s\n", mstream_state_name(c->state));
	printf("  migration      %s%s%s\n", c->stop_copy ? "STOP_COPY" : "",
	       c->p2p ? " P2P" : "", c->pre_copy ? " PRE_COPY" : "");
	printf("  v2 REINIT      %s\n", c->precopy_info_v2 ? "yes (PRECOPY_INFOv2)" : "no");
	if (c->multistream)
		printf("  v3             yes: up to %u dirty streams (selected: %u)\n", c->max_dirty,
		       c->num_dirty);
	else
		printf("  v3             no\n");
	printf("  stop-copy size %s\n", sz);
}

int cmd_info(struct opts *o)
{
	struct json j;
	int ret = 0;

	if (o->json) {
		json_begin(&j, stdout);
		json_arr(&j, "devices");
	}
	for (int i = 0; i < o->nargs; i++) {
		struct mstream_device *dev;
		struct mstream_caps c;
		uint64_t sum;
		bool has_sum;

		if (open_devices(&o->args[i], 1, &dev)) {
			if (o->json) {
				json_obj(&j, NULL);
				json_str(&j, "name", o->args[i]);
				json_str(&j, "error", mstream_last_error());
				json_end(&j, '}');
			}
			ret = EXIT_FAIL;
			continue;
		}
		mstream_device_probe(dev, &c);
		has_sum = !mstream_sample_checksum(dev, &sum, NULL);
		if (o->json) {
			json_obj(&j, NULL);
			json_str(&j, "name", mstream_device_name(dev));
			json_str(&j, "sysfs", mstream_device_sysfs_path(dev));
			json_bool(&j, "migration", c.migration);
			json_str(&j, "state", mstream_state_name(c.state));
			json_bool(&j, "stop_copy", c.stop_copy);
			json_bool(&j, "p2p", c.p2p);
			json_bool(&j, "pre_copy", c.pre_copy);
			json_bool(&j, "precopy_info_v2", c.precopy_info_v2);
			json_bool(&j, "v3", c.multistream);
			json_u64(&j, "max_dirty", c.max_dirty);
			json_u64(&j, "num_dirty", c.num_dirty);
			if (c.data_size)
				json_u64(&j, "stop_copy_length", c.stop_copy_length);
			else
				json_null(&j, "stop_copy_length");
			if (has_sum)
				json_hex(&j, "checksum", sum);
			else
				json_null(&j, "checksum");
			json_end(&j, '}');
		} else {
			info_human(mstream_device_name(dev), &c);
			if (has_sum)
				printf("  checksum       %016" PRIx64 "\n", sum);
		}
		mstream_device_close(dev);
	}
	if (o->json) {
		json_end(&j, ']');
		json_finish(&j);
	}
	return ret;
}
