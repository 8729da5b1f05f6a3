// SPDX-License-Identifier: MIT
/* util.c - small helpers: time, errors, full reads/writes, tokens. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"
#include "xxh64.h"

const char *mstream_version(void)
{
	return "0.1";
}

uint64_t mstream_xxh64(const void *buf, size_t len)
{
	return XXH64(buf, len, 0);
}

uint64_t mstream_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

const char *mstream_strerror(int err)
{
	switch (-err) {
	case EBADMSG:
		return "data does not match its checksum";
	case ENODATA:
		return "data is missing (truncated)";
	case EPROTO:
		return "protocol violation by the peer or the device";
	case EACCES:
		return "authentication failed";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

static const char *const state_names[] = {
	[MSTREAM_STATE_ERROR] = "ERROR",
	[MSTREAM_STATE_STOP] = "STOP",
	[MSTREAM_STATE_RUNNING] = "RUNNING",
	[MSTREAM_STATE_STOP_COPY] = "STOP_COPY",
	[MSTREAM_STATE_RESUMING] = "RESUMING",
	[MSTREAM_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[MSTREAM_STATE_PRE_COPY] = "PRE_COPY",
	[MSTREAM_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

const char *mstream_state_name(enum mstream_state state)
{
	if ((unsigned int)state >= ARRAY_SIZE(state_names) || !state_names[state])
		return "?";
	return state_names[state];
}

static const char *const phase_names[] = {
	[MSTREAM_PHASE_SETUP] = "setup",     [MSTREAM_PHASE_PRECOPY] = "precopy",
	[MSTREAM_PHASE_STOPCOPY] = "stopcopy", [MSTREAM_PHASE_LOAD] = "load",
	[MSTREAM_PHASE_DONE] = "done",	     [MSTREAM_PHASE_FAILED] = "failed",
};

const char *mstream_phase_name(enum mstream_phase phase)
{
	if ((unsigned int)phase >= ARRAY_SIZE(phase_names))
		return "?";
	return phase_names[phase];
}

static __thread char last_error[MSTREAM_ERRMSG];

const char *mstream_last_error(void)
{
	return last_error;
}

void clear_error(void)
{
	last_error[0] = 0;
}

int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void errmsg_set(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, MSTREAM_ERRMSG, fmt, ap);
	va_end(ap);
}

int check_struct(const char *what, const void *reserved, size_t len, unsigned int flags,
		 unsigned int known)
{
	const unsigned char *r = reserved;

	for (size_t i = 0; i < len; i++)
		if (r[i])
			return fail(-EINVAL, "%s: its reserved space is not zero (a field of a "
					     "newer libmstream, or not zeroed before use?)", what);
	if (flags & ~known)
		return fail(-EINVAL, "%s: unknown flag 0x%x", what, flags & ~known);
	return 0;
}

void close_fd(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

int ct_memcmp(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff != 0;
}

int mstream_token_generate(char *token, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[MSTREAM_TOKEN_MAX];

	if (len < MSTREAM_TOKEN_MIN || len > MSTREAM_TOKEN_MAX)
		return -EINVAL;
	if (getrandom(raw, len, 0) != (ssize_t)len)
		return -errno ? -errno : -EIO;
	for (size_t i = 0; i < len; i++)
		token[i] = hex[raw[i] & 15];
	token[len] = 0;
	return 0;
}
