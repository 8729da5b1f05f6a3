// SPDX-License-Identifier: MIT
/*
 * net_ctl.c - the control connection: a monitor thread that reads and
 * records the peer's frames, answers with heartbeats, and fails the session
 * when the peer is lost; senders that send whole frames with a deadline; and
 * waits for what the peer announced (net.h has the frames).
 *
 * Two locks: ctl->lock guards what arrived and the attached session and is
 * never held across I/O; ctl->tx_lock lets one frame out at a time.
 */
#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "endpoint.h"
#include "net.h"

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* A status frame (READY, ACK, ABORT): i32 status, then a message. */
static void get_status(const uint8_t *buf, uint32_t len, int *status, char *msg, size_t mlen)
{
	*status = len >= 4 ? (int32_t)get32(buf) : -EPROTO;
	snprintf(msg, mlen, "%.*s", len > 4 ? (int)(len - 4) : 0, (const char *)buf + 4);
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 32)
			*c = ' '; /* a peer's text goes to our terminal */
}

static int handle(struct ctl *c, uint16_t type, const uint8_t *buf, uint32_t len)
{
	switch (type) {
	case F_HEARTBEAT:
		return 0;
	case F_SWITCHOVER:
		if (!c->t_switchover) {
			c->t_switchover = mstream_now_ns();
			if (c->switchover_out)
				__atomic_store_n(c->switchover_out, c->t_switchover,
						 __ATOMIC_RELAXED);
		}
		return 0;
	case F_END: {
		uint32_t d, n;

		if (len < 8)
			return -EPROTO;
		d = get32(buf);
		n = get32(buf + 4);
		if (d >= c->ndev || n > MSTREAM_MAX_STREAMS || len != 8 + n * 20 || c->end_got[d])
			return -EPROTO;
		for (uint32_t k = 0; k < n; k++) {
			const uint8_t *p = buf + 8 + k * 20;

			c->end[d][k] = (struct net_end_stream){ get64(p), get64(p + 8), get32(p + 16) };
		}
		c->end_n[d] = n;
		c->end_got[d] = true;
		return 0;
	}
	case F_ACK:
		get_status(buf, len, &c->ack_status, c->ack_msg, sizeof(c->ack_msg));
		c->ack_got = true;
		return 0;
	case F_SUMS: {
		uint32_t n;

		if (len < 4)
			return -EPROTO;
		n = get32(buf);
		if (n > MSTREAM_MAX_DEVICES || len != 4 + n * 12)
			return -EPROTO;
		for (uint32_t d = 0; d < n; d++) {
			c->has_sum[d] = get32(buf + 4 + d * 12);
			c->sum[d] = get64(buf + 8 + d * 12);
		}
		c->sums_got = true;
		return 0;
	}
	case F_ABORT: {
		int status;

		get_status(buf, len, &status, c->peer_msg, sizeof(c->peer_msg));
		return status < 0 ? status : -ECONNABORTED;
	}
	default:
		return -EPROTO;
	}
}

/* The peer is gone (or broke the protocol): record why, wake every wait on
 * this connection, and fail the session if one is attached. */
static void lost(struct ctl *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lost(struct ctl *c, int err, const char *fmt, ...)
{
	uint64_t one = 1;
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	if (!c->peer_err) {
		c->peer_err = err;
		snprintf(c->peer_msg, sizeof(c->peer_msg), "%s", msg);
	}
	if (c->session)
		session_abort_msg(c->session, err, "%s", msg);
	if (write(c->wake, &one, sizeof(one)) < 0) {
		/* a saturated counter is readable anyway */
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* A heartbeat, unless a frame is being sent right now (that one tells the
 * peer we are alive). Whole frames only, so never a partial one. */
static int heartbeat(struct ctl *c, uint64_t now)
{
	int ret;

	if (pthread_mutex_trylock(&c->tx_lock))
		return 0;
	ret = net_send_frame(c->fd, F_HEARTBEAT, NULL, 0, now + c->timeout_ns, c->wake);
	pthread_mutex_unlock(&c->tx_lock);
	if (!ret) {
		pthread_mutex_lock(&c->lock);
		c->last_tx = now;
		pthread_mutex_unlock(&c->lock);
	}
	return ret;
}

static void *monitor(void *arg)
{
	struct ctl *c = arg;
	uint8_t *buf = malloc(NET_FRAME_MAX);

	while (buf) {
		struct pollfd p[3] = { { .fd = c->fd, .events = POLLIN },
				       { .fd = c->wake, .events = POLLIN },
				       { .fd = -1, .events = POLLIN } };
		uint64_t now, last_tx;
		int r;

		pthread_mutex_lock(&c->lock);
		if (!c->cancelled)
			p[2].fd = c->abort_fd;
		pthread_mutex_unlock(&c->lock);
		r = poll(p, 3, 200);
		pthread_mutex_lock(&c->lock);
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		if (r > 0 && p[2].revents && p[2].fd == c->abort_fd && c->session) {
			/* The session was aborted (^C): wake its waits here. */
			c->cancelled = true;
			pthread_cond_broadcast(&c->cond);
		}
		last_tx = c->last_tx;
		pthread_mutex_unlock(&c->lock);
		now = mstream_now_ns();
		if (r > 0 && p[0].revents) {
			uint16_t type = 0;
			uint32_t len;
			int ret;

			/* A frame, once started, must arrive within the timeout. */
			ret = net_recv_frame(c->fd, now + c->timeout_ns, c->wake, &type, buf,
					     NET_FRAME_MAX, &len);
			pthread_mutex_lock(&c->lock);
			if (c->stop) {
				pthread_mutex_unlock(&c->lock);
				break;
			}
			if (!ret)
				ret = handle(c, type, buf, len);
			c->last_rx = mstream_now_ns();
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);
			if (ret == -ENODATA) {
				lost(c, -ECONNRESET, "the %s closed the connection", c->who);
				break;
			}
			if (ret && type == F_ABORT && ret != -EPROTO) {
				lost(c, ret, "the %s aborted: %s", c->who, c->peer_msg);
				break;
			}
			if (ret) {
				lost(c, ret, "control connection to the %s: %s", c->who,
				     ret == -EPROTO ? "malformed frame" : strerror(-ret));
				break;
			}
			continue;
		}
		/* last_tx moves under other threads: it may be after `now`. */
		if (now > last_tx && now - last_tx >= NET_HEARTBEAT_NS) {
			int ret = heartbeat(c, now);

			if (ret) {
				lost(c, ret, "control connection to the %s: %s", c->who,
				     ret == -ETIMEDOUT ? "it does not read" : strerror(-ret));
				break;
			}
		}
		if (now > c->last_rx && now - c->last_rx > c->timeout_ns) {
			lost(c, -ETIMEDOUT, "the %s has been silent for %llu s", c->who,
			     (unsigned long long)(c->timeout_ns / NSEC_PER_SEC));
			break;
		}
	}
	free(buf);
	return NULL;
}

int ctl_init(struct ctl *c, int fd, uint64_t timeout_ns, const char *who)
{
	pthread_condattr_t ca;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->abort_fd = -1;
	c->timeout_ns = timeout_ns;
	c->who = who;
	c->last_rx = c->last_tx = mstream_now_ns();
	c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake < 0)
		return fail(-errno, "eventfd: %s", strerror(errno));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->tx_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

int ctl_start(struct ctl *c)
{
	c->last_rx = mstream_now_ns();
	if (pthread_create(&c->thread, NULL, monitor, c))
		return fail(-EAGAIN, "cannot start the control connection's thread");
	pthread_setname_np(c->thread, "mstream-ctl");
	c->running = true;
	return 0;
}

int ctl_send(struct ctl *c, uint16_t type, const void *payload, uint32_t len)
{
	int ret, abort_fd;

	pthread_mutex_lock(&c->lock);
	/* ABORT goes out even when the abort is ours. */
	abort_fd = type == F_ABORT ? -1 : c->abort_fd;
	pthread_mutex_unlock(&c->lock);
	/* Only senders serialize here: the monitor goes on reading (and
	 * failing the session) while a send waits for the peer. */
	pthread_mutex_lock(&c->tx_lock);
	ret = net_send_frame2(c->fd, type, payload, len, mstream_now_ns() + c->timeout_ns, c->wake,
			  abort_fd);
	pthread_mutex_unlock(&c->tx_lock);
	pthread_mutex_lock(&c->lock);
	if (!ret)
		c->last_tx = mstream_now_ns();
	if (ret == -ECANCELED && c->peer_err)
		ret = c->peer_err;
	pthread_mutex_unlock(&c->lock);
	if (ret)
		return fail(ret, "control connection to the %s: %s", c->who,
			    c->peer_msg[0] ? c->peer_msg : strerror(-ret));
	return 0;
}

int ctl_wait(struct ctl *c, bool (*ready)(struct ctl *c, void *arg), void *arg, uint64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / NSEC_PER_SEC, .tv_nsec = deadline % NSEC_PER_SEC };
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	while (!ready(c, arg) && !c->peer_err && !c->cancelled && c->running) {
		if (!deadline)
			pthread_cond_wait(&c->cond, &c->lock);
		else if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	if (!ready(c, arg))
		ret = c->peer_err ? c->peer_err : c->cancelled ? -ECANCELED :
			c->running ? -ETIMEDOUT : -ECONNRESET;
	pthread_mutex_unlock(&c->lock);
	if (ret == -ETIMEDOUT)
		return fail(ret, "the %s did not finish in time", c->who);
	if (ret == -ECANCELED)
		return fail(ret, "interrupted");
	if (ret)
		return fail(ret, "%s", c->peer_msg[0] ? c->peer_msg : "the peer went away");
	return 0;
}

void ctl_attach(struct ctl *c, struct mstream_session *s)
{
	int fd = s ? fcntl(session_abort_fd(s), F_DUPFD_CLOEXEC, 0) : -1;

	pthread_mutex_lock(&c->lock);
	c->session = s;
	close_fd(&c->abort_fd);
	c->abort_fd = fd;
	c->cancelled = false;
	pthread_mutex_unlock(&c->lock);
}

void ctl_stop(struct ctl *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	c->stop = true;
	c->session = NULL;
	if (write(c->wake, &one, sizeof(one)) < 0) {
		/* a saturated counter is readable anyway */
	}
	pthread_mutex_unlock(&c->lock);
	if (c->running) {
		pthread_join(c->thread, NULL);
		c->running = false;
	}
	close_fd(&c->abort_fd);
	close_fd(&c->wake);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->tx_lock);
	pthread_cond_destroy(&c->cond);
}
