// SPDX-License-Identifier: MIT
/*
 * net.c - sockets with deadlines, hellos, control frames, and the control
 * connection's monitor thread (net.h describes the wire format).
 *
 * Every wait here has a deadline: a peer that connects and says nothing,
 * sends half a frame, or stops answering costs a timeout, not a hang.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include "endpoint.h"
#include "net.h"

/*
 * Wait for ev on fd until the deadline (0: none). wake and wake2 are
 * eventfds (or -1) whose being readable ends the wait at once with
 * -ECANCELED: the session's abort (a signal handler writes it), or a control
 * connection that is gone. EINTR retries: the handler's write is what
 * interrupts.
 */
static int poll2(int fd, short ev, uint64_t deadline, int wake, int wake2)
{
	struct pollfd p[3] = { { .fd = fd, .events = ev },
			       { .fd = wake, .events = POLLIN },
			       { .fd = wake2, .events = POLLIN } };

	for (;;) {
		int ms = -1, r;

		if (deadline) {
			uint64_t now = mstream_now_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			ms = (deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		}
		r = poll(p, 3, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[1].revents || p[2].revents)
			return -ECANCELED;
		if (r > 0)
			return 0;
	}
}

int net_wait(int fd, short ev, uint64_t deadline, int wake)
{
	return poll2(fd, ev, deadline, wake, -1);
}

static int resolve(const char *host, uint16_t port, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	char svc[8];
	int r;

	snprintf(svc, sizeof(svc), "%u", port);
	r = getaddrinfo(host ? host : "127.0.0.1", svc, &hints, res);
	if (r)
		return fail(-EHOSTUNREACH, "%s: %s", host ? host : "127.0.0.1", gai_strerror(r));
	return 0;
}

void net_format_hostport(const char *host, uint16_t port, char *buf, size_t len)
{
	bool v6;

	host = host ? host : "127.0.0.1";
	v6 = strchr(host, ':');
	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

int net_connect(const char *host, uint16_t port, uint64_t timeout_ns, int wake, int *out)
{
	uint64_t deadline = mstream_now_ns() + timeout_ns;
	struct addrinfo *res, *ai;
	int ret, fd = -1, one = 1;

	ret = resolve(host, port, &res);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t len = sizeof(ret);
		int soerr = 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			ret = -errno;
			close_fd(&fd);
			continue;
		}
		ret = net_wait(fd, POLLOUT, deadline, wake);
		if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
			soerr = errno;
		if (!ret && soerr)
			ret = -soerr;
		if (!ret)
			break;
		close_fd(&fd);
		if (ret == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		char where[300];
		const char *why = ret == -ECONNREFUSED ? " (is `mstream recv` listening there?)" :
				  ret == -ETIMEDOUT    ? " (no answer)" :
							 "";

		net_format_hostport(host, port, where, sizeof(where));
		return fail(ret, "cannot connect to %s: %s%s", where, strerror(-ret), why);
	}
	/* Blocking from here on, for the pool (io_uring polls for it); our own
	 * sends and receives here are MSG_DONTWAIT with a poll. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
}

int net_recv_exact(int fd, void *buf, size_t len, uint64_t deadline, int wake)
{
	char *p = buf;

	while (len) {
		ssize_t n;
		int ret = net_wait(fd, POLLIN, deadline, wake);

		if (ret)
			return ret;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= n;
	}
	return 0;
}

/* All of it or an error: a frame sent in part would break the framing for
 * whatever is sent next. */
static int send_all(int fd, const void *buf, size_t len, uint64_t deadline, int wake, int wake2)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0) {
			ret = poll2(fd, POLLOUT, deadline, wake, wake2);
			if (ret)
				return ret;
			continue;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int net_send_hello(int fd, uint32_t role, uint32_t dev, uint32_t stream, const char *token,
		   uint64_t deadline, int wake)
{
	struct net_hello h = { 0 };
	size_t tl = strlen(token);

	if (tl > MSTREAM_TOKEN_MAX)
		return -EINVAL;
	memcpy(h.magic, NET_HELLO_MAGIC, 8);
	h.version = htole32(NET_VERSION);
	h.role = htole32(role);
	h.dev = htole32(dev);
	h.stream = htole32(stream);
	h.token_len = htole32(tl);
	memcpy(h.token, token, tl);
	return send_all(fd, &h, sizeof(h), deadline, wake, -1);
}

int net_check_hello(struct net_hello *h, const char *token, char *why, size_t whylen)
{
	uint8_t want[MSTREAM_TOKEN_MAX] = { 0 };
	size_t tl = strlen(token);
	int bad;

	if (memcmp(h->magic, NET_HELLO_MAGIC, 8)) {
		snprintf(why, whylen, "not an mstream peer (bad magic)");
		return -EPROTO;
	}
	if (le32toh(h->version) != NET_VERSION) {
		snprintf(why, whylen, "protocol version %u, expected %u", le32toh(h->version),
			 NET_VERSION);
		return -EPROTO;
	}
	/* All 64 bytes and the length, whatever differs first: the time taken
	 * does not depend on how much of the token is right. */
	memcpy(want, token, tl);
	bad = ct_memcmp(want, h->token, sizeof(want));
	bad |= le32toh(h->token_len) != tl;
	if (bad) {
		snprintf(why, whylen, "wrong session token");
		return -EACCES;
	}
	h->role = le32toh(h->role);
	h->dev = le32toh(h->dev);
	h->stream = le32toh(h->stream);
	return 0;
}

static int send_frame2(int fd, uint16_t type, const void *payload, uint32_t len,
		       uint64_t deadline, int wake, int wake2)
{
	struct {
		uint32_t magic;
		uint16_t type, flags;
		uint32_t len;
	} __attribute__((packed)) hdr = { htole32(NET_FRAME_MAGIC), htole16(type), 0, htole32(len) };
	int ret;

	if (len > NET_FRAME_MAX)
		return -EMSGSIZE;
	ret = send_all(fd, &hdr, sizeof(hdr), deadline, wake, wake2);
	if (!ret && len)
		ret = send_all(fd, payload, len, deadline, wake, wake2);
	return ret;
}

int net_send_frame(int fd, uint16_t type, const void *payload, uint32_t len, uint64_t deadline,
		   int wake)
{
	return send_frame2(fd, type, payload, len, deadline, wake, -1);
}

int net_recv_frame(int fd, uint64_t deadline, int wake, uint16_t *type, void *buf, uint32_t max,
		   uint32_t *len)
{
	struct {
		uint32_t magic;
		uint16_t type, flags;
		uint32_t len;
	} __attribute__((packed)) hdr;
	int ret = net_recv_exact(fd, &hdr, sizeof(hdr), deadline, wake);

	if (ret)
		return ret;
	if (le32toh(hdr.magic) != NET_FRAME_MAGIC || le32toh(hdr.len) > max)
		return -EPROTO;
	*type = le16toh(hdr.type);
	*len = le32toh(hdr.len);
	return *len ? net_recv_exact(fd, buf, *len, deadline, wake) : 0;
}

/* ---- the control connection's monitor ---- */

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
	ret = send_frame2(c->fd, type, payload, len, mstream_now_ns() + c->timeout_ns, c->wake,
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
