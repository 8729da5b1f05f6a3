// SPDX-License-Identifier: MIT
/*
 * mstream - migrate, save, load and receive VFIO device state over one (v2)
 * or many (v3) data streams. See mstream(1).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void on_signal(int sig)
{
	/* mstream_session_abort() is an atomic store and an eventfd write:
	 * signal safe. Network waits end at once; the session sees it within a
	 * tick and puts its sources back to RUNNING. */
	if (current_session)
		mstream_session_abort(current_session, -EINTR);
	else
		_exit(128 + sig);
}

/* At most 64 devices: save and load take DIR too. */
const struct command commands[] = {
	{ "info", cmd_info, C_INFO, 1, 64, "[--json] DEVICE...", "what each device supports" },
	{ "migrate", cmd_migrate, C_MIGRATE, 1, 64,
	  "[OPTIONS] SRC:DST...\n[OPTIONS] --to HOST:PORT --token-file FILE SRC...\n--demo [OPTIONS]",
	  "migrate devices to devices, to a `mstream recv`, or run the demo" },
	{ "save", cmd_save, C_SAVE, 2, 65, "[OPTIONS] DIR SRC...", "save devices into DIR" },
	{ "load", cmd_load, C_LOAD, 2, 65, "[OPTIONS] DIR DST...", "load a save into devices" },
	{ "recv", cmd_recv, C_RECV, 1, 64,
	  "[OPTIONS] [--listen HOST:PORT] --token-file FILE DST...",
	  "receive a migration into devices" },
	{ "token", cmd_token, C_TOKEN, 0, 1, "[FILE]",
	  "a new random session token, printed or written to a new FILE (mode 0600)" },
};
const unsigned int ncommands = ARRAY_LEN(commands);

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = { 0 };

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mstream %s\n", mstream_version());
		return EXIT_OK;
	}
	/* A peer that goes away is an EPIPE on its stream, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (unsigned int i = 0; i < ncommands; i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		opts_parse(&o, &commands[i], argc - 1, argv + 1);
		return commands[i].fn(&o);
	}
	err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
