/* SPDX-License-Identifier: MIT */
/* cli.h - what the mstream command's files share. */
#ifndef MSTREAM_CLI_H
#define MSTREAM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mstream.h"

/* Exit codes (mstream(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	   /* the operation failed; sources left running */
	EXIT_USAGE = 2,	   /* bad command line */
	EXIT_MISMATCH = 3, /* done, but a destination's checksum differs */
	EXIT_REFUSED = 4,  /* a save was refused on load (truncated, corrupt) */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The version of the --json documents' layout (their "schema_version"): a
 * key that changes meaning or goes away bumps it, a new key does not. */
#define JSON_SCHEMA_VERSION 1

/* The commands, as bits: which take an option (opts.c). */
enum {
	C_INFO = 1 << 0, C_MIGRATE = 1 << 1, C_SAVE = 1 << 2, C_LOAD = 1 << 3, C_RECV = 1 << 4,
	C_TOKEN = 1 << 5,
};

struct opts;

struct command {
	const char *name;
	int (*fn)(struct opts *o);
	unsigned int bit;	/* C_* */
	int min_args, max_args; /* after the options */
	const char *synopsis;	/* after "mstream NAME", a line per form */
	const char *summary;
};
extern const struct command commands[];
extern const unsigned int ncommands;

struct opts {
	const char *cmd;
	struct mstream_session_params sp;
	bool v2;		/* -p v2 */
	bool json, quiet;
	int progress;		/* -1 auto (a terminal), 0 off, 1 on */
	bool no_verify, no_checksum, no_reinit;
	const char *to;		/* migrate: host:port of a receiver */
	const char *listen;	/* recv: host:port */
	const char *token;
	const char *token_file;
	const char *at_stop;	/* --at-stop: run once the sources stopped */
	uint64_t timeout_ns, accept_timeout_ns;
	bool plain_tcp;		/* --plain-tcp: no TLS */
	const char *allow_from;	/* --allow-from: recv's peer filter */
	bool demo;
	int precopy;		/* --precopy 1, --no-precopy 0, unset -1 */
	uint64_t demo_state_size, demo_engine_bw, demo_dirty_rate;
	const char *demo_backing;
	char **args;
	int nargs;
};

/* Parse argv after the command word; exits with EXIT_USAGE on error (an
 * option of another command, options that conflict, too few or too many
 * arguments) and with EXIT_OK after --help. */
void opts_parse(struct opts *o, const struct command *c, int argc, char **argv);
/* The commands; one command's synopsis and options. */
void usage(FILE *f);
void command_usage(const struct command *c, FILE *f);
int parse_size(const char *s, uint64_t *out);
/* "host:port", "[v6]:port" or ":port"; host NULL when omitted. */
int parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port);
/* The token from --token, --token-file, or $MSTREAM_TOKEN. */
const char *token_get(struct opts *o);

void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The session being run, for the signal handler. */
extern struct mstream_session *current_session;

struct json;

/* report.c */
void progress_cb(struct mstream_session *s, void *arg);
void progress_clear(void);
void report_session(struct opts *o, struct mstream_session *s, int ret, FILE *f);
/* One session as an object inside an open JSON document (the demo's runs). */
void report_session_json(struct opts *o, struct mstream_session *s, int ret, struct json *j);
int checksum_verdict(struct mstream_session *s);

/* json.c: a small streaming writer with automatic commas. */
struct json {
	FILE *f;
	int depth;
	bool first[32];
	bool after_key;
};
void json_begin(struct json *j, FILE *f);
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
void json_end(struct json *j, char close);
void json_str(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_dbl(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_hex(struct json *j, const char *key, uint64_t v);
void json_finish(struct json *j);

/* Commands. */
int cmd_info(struct opts *o);
int cmd_migrate(struct opts *o);
int cmd_save(struct opts *o);
int cmd_load(struct opts *o);
int cmd_recv(struct opts *o);
int cmd_token(struct opts *o);
int cmd_demo(struct opts *o);

/* run.c: open devices by name, each with the sample device's checksum (a
 * device without its knob has none), closing them all on failure. */
int open_devices(char **names, int n, struct mstream_device **devs);
void close_devices(struct mstream_device **devs, int n);
/* Create, run, report and destroy a session from src to sink. */
int run_session(struct opts *o, struct mstream_source *src, struct mstream_sink *sink,
		struct mstream_session **keep);

#endif
