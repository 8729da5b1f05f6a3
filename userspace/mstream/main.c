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

static const struct {
	const char *name;
	int (*fn)(struct opts *o);
} cmds[] = {
	{ "info", cmd_info },	  { "migrate", cmd_migrate }, { "save", cmd_save },
	{ "load", cmd_load },	  { "recv", cmd_recv },	      { "token", cmd_token },
};

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
	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		o.cmd = cmds[i].name;
		opts_parse(&o, argc - 1, argv + 1);
		return cmds[i].fn(&o);
	}
	err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
