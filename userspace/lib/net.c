// SPDX-License-Identifier: MIT
/*
 * net.c - sockets with deadlines, hellos and frames (net.h describes the
 * wire format; net_ctl.c is the control connection, net_accept.c the
 * receiver's listening side, net_tls.c TLS).
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
#include <sys/socket.h>

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

int net_send_frame2(int fd, uint16_t type, const void *payload, uint32_t len,
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
	return net_send_frame2(fd, type, payload, len, deadline, wake, -1);
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
