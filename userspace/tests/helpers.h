/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what the host unit tests share: a position-dependent byte
 * pattern (so that a lost, doubled or reordered byte is caught at its
 * offset), producer threads that write it in random chunk sizes, and
 * consumer threads that check it.
 */
#ifndef MSTREAM_TEST_HELPERS_H
#define MSTREAM_TEST_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Byte `off` of the stream with `seed`. */
static inline uint8_t pat_byte(uint64_t seed, uint64_t off)
{
	return mix64(seed * 0x9E3779B97F4A7C15ULL + (off >> 3)) >> ((off & 7) * 8);
}

static inline void pat_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat_byte(seed, off + i);
}

struct producer {
	int fd;
	uint64_t seed, total;
	unsigned int max_chunk;	/* random chunks of 1..max_chunk bytes */
	unsigned int delay_us;	/* between chunks */
	bool keep_open;		/* do not close fd at the end */
	pthread_t thread;
	int err;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t off = 0, rnd = p->seed | 1;
	uint8_t *buf = malloc(p->max_chunk);

	while (buf && off < p->total) {
		size_t n;
		ssize_t w;

		rnd = mix64(rnd);
		n = 1 + rnd % p->max_chunk;
		if (n > p->total - off)
			n = p->total - off;
		pat_fill(p->seed, off, buf, n);
		for (size_t done = 0; done < n; done += w) {
			w = write(p->fd, buf + done, n - done);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				p->err = -errno;
				goto out;
			}
		}
		off += n;
		if (p->delay_us)
			usleep(p->delay_us);
	}
out:
	free(buf);
	if (!p->keep_open)
		close(p->fd);
	return NULL;
}

static inline void producer_start(struct producer *p)
{
	if (!p->max_chunk)
		p->max_chunk = 65536;
	pthread_create(&p->thread, NULL, producer_main, p);
}

struct consumer {
	int fd;
	uint64_t seed;
	unsigned int delay_us;	/* between reads: a slow sink */
	size_t read_size;
	pthread_t thread;
	uint64_t got;		/* bytes read */
	int64_t bad_off;	/* first wrong byte, or -1 */
};

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	uint8_t *buf = malloc(c->read_size);

	c->bad_off = -1;
	for (;;) {
		ssize_t n = read(c->fd, buf, c->read_size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && c->bad_off < 0; i++)
			if (buf[i] != pat_byte(c->seed, c->got + i))
				c->bad_off = c->got + i;
		c->got += n;
		if (c->delay_us)
			usleep(c->delay_us);
	}
	free(buf);
	close(c->fd);
	return NULL;
}

static inline void consumer_start(struct consumer *c)
{
	if (!c->read_size)
		c->read_size = 65536;
	pthread_create(&c->thread, NULL, consumer_main, c);
}

static inline void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The library's threads in this process whose name starts with prefix
 * (they are all named mstream-*). */
static inline unsigned int thread_count_of(const char *prefix)
{
	unsigned int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (f && !fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		if (f)
			fclose(f);
		n += !strncmp(comm, prefix, strlen(prefix));
	}
	if (d)
		closedir(d);
	return n;
}

static inline unsigned int thread_count(void)
{
	return thread_count_of("mstream-");
}

#endif
