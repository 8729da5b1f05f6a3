// SPDX-License-Identifier: MIT
/*
 * net_accept.c - the receiver's front door: every listening socket (one per
 * address the host name resolves to) and every connection that has not yet
 * said its hello, served together without blocking.
 *
 * A peer cannot hold the door: each pending connection has a deadline of its
 * own, a silent one costs its own slot and nothing else, and when every slot
 * is taken the oldest pending connection makes room. A rejected connection
 * is closed and logged (a burst, then a count), never counted against the
 * session: only the session's own deadlines end it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"

#define LOG_BURST 8
#define LOG_WINDOW_NS (10 * NSEC_PER_SEC)

/* "192.0.2.1:7000", "[::1]:7000". */
void net_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen)
{
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";

	getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, blen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static void flush_suppressed(struct acceptor *a)
{
	char msg[128];

	if (a->suppressed && a->log) {
		snprintf(msg, sizeof(msg), "%u more connections rejected", a->suppressed);
		a->log(msg, a->log_arg);
	}
	a->suppressed = 0;
}

static void reject(struct acceptor *a, int *fd, const char *peer, const char *why)
{
	uint64_t now = mstream_now_ns();
	char msg[384];

	close_fd(fd);
	a->rejected++;
	if (now - a->log_window >= LOG_WINDOW_NS) {
		flush_suppressed(a);
		a->log_window = now;
		a->logged = 0;
	}
	if (a->logged >= LOG_BURST) {
		a->suppressed++;
		return;
	}
	a->logged++;
	snprintf(msg, sizeof(msg), "rejected connection from %s: %s", peer, why);
	if (a->log)
		a->log(msg, a->log_arg);
}

static void drop_pending(struct acceptor *a, unsigned int i, const char *why)
{
	struct net_pending *p = &a->pend[i];

	if (p->tls)
		gnutls_deinit(p->tls);
	reject(a, &p->fd, p->peer, why);
	a->pend[i] = a->pend[--a->npend];
}

static int parse_allow(struct net_filter *f, const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	char *end;

	if (n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = 0;
	if (inet_pton(AF_INET, addr, f->addr) == 1)
		f->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, f->addr) == 1)
		f->family = AF_INET6;
	else
		return -EINVAL;
	prefix = f->family == AF_INET ? 32 : 128;
	if (slash) {
		unsigned long max = prefix;

		prefix = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1 || prefix > max)
			return -EINVAL;
	}
	f->prefix = prefix;
	f->set = true;
	return 0;
}

static bool allowed(const struct net_filter *f, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	unsigned int bits = f->prefix;

	if (!f->set)
		return true;
	if (ss->ss_family != f->family)
		return false;
	a = f->family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr :
				   (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	for (unsigned int i = 0; bits; i++) {
		unsigned int b = MIN(bits, 8u);
		uint8_t mask = 0xff << (8 - b);

		if ((a[i] ^ f->addr[i]) & mask)
			return false;
		bits -= b;
	}
	return true;
}

static int listen_one(const struct addrinfo *ai, uint16_t port, int *out)
{
	struct sockaddr_storage ss;
	int fd, one = 1;

	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" is IPv6 only: "0.0.0.0" has a socket of its own. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) || listen(fd, 128)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int acceptor_open(struct acceptor *a, const char *host, uint16_t port, const char *allow)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	const char *name = !host ? "127.0.0.1" : host[0] ? host : NULL;
	struct addrinfo *res, *ai;
	int ret;

	memset(a, 0, sizeof(*a));
	if (allow && parse_allow(&a->allow, allow))
		return fail(-EINVAL, "'%s': expected an address or ADDRESS/PREFIX", allow);
	ret = getaddrinfo(name, "0", &hints, &res);
	if (ret)
		return fail(-EHOSTUNREACH, "%s: %s", name, gai_strerror(ret));
	/* Every address the name has (localhost: 127.0.0.1 and ::1), on one
	 * port: the first one bound picks it when port is 0. */
	ret = 0;
	for (ai = res; ai && a->nlfd < NET_MAX_LISTEN; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = -1;

		ret = listen_one(ai, port, &fd);
		if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL) {
			ret = 0; /* a family this host does not have */
			continue;
		}
		if (ret)
			break;
		getsockname(fd, (struct sockaddr *)&ss, &len);
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
							((struct sockaddr_in *)&ss)->sin_port);
		a->lfd[a->nlfd++] = fd;
	}
	freeaddrinfo(res);
	if (!ret && !a->nlfd)
		ret = -EADDRNOTAVAIL;
	if (ret) {
		acceptor_close(a, NULL);
		return fail(ret, "cannot listen on %s port %u: %s", name ? name : "every address",
			    port, strerror(-ret));
	}
	a->port = port;
	return 0;
}

static void take_new(struct acceptor *a, int lfd, uint64_t hello_ns)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[NET_PEER_LEN];
		gnutls_session_t tls = NULL;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN, or an aborted connection */
		net_format_addr((struct sockaddr *)&ss, len, peer, sizeof(peer));
		if (!allowed(&a->allow, &ss)) {
			reject(a, &fd, peer, "address not allowed");
			continue;
		}
		if (a->npend == NET_MAX_PENDING) {
			unsigned int oldest = 0;

			for (unsigned int i = 1; i < a->npend; i++)
				if (a->pend[i].deadline < a->pend[oldest].deadline)
					oldest = i;
			drop_pending(a, oldest, "too many connections without a hello");
		}
		if (a->tls && tls_session_new(a->tls, fd, &tls)) {
			reject(a, &fd, peer, "out of TLS sessions");
			continue;
		}
		a->pend[a->npend++] = (struct net_pending){ .fd = fd,
							    .deadline = mstream_now_ns() + hello_ns,
							    .tls = tls,
							    .events = POLLIN };
		snprintf(a->pend[a->npend - 1].peer, NET_PEER_LEN, "%s", peer);
	}
}

/* More of pending connection p's TLS handshake and hello: 1 when the hello
 * is complete, 0 when not yet, negative (and why) to reject it. */
static int read_hello(struct net_pending *p, char *why, size_t wlen)
{
	if (p->tls && !p->handshaken) {
		int ret = tls_handshake_step(p->tls, &p->events, why, wlen);

		if (ret)
			return ret > 0 ? 0 : ret;
		p->handshaken = true;
		p->events = POLLIN;
	}
	for (;;) {
		char *dst = (char *)&p->h + p->got;
		size_t want = sizeof(p->h) - p->got;
		ssize_t n;

		if (p->tls) {
			n = gnutls_record_recv(p->tls, dst, want);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return 0;
			if (n < 0) {
				snprintf(why, wlen, "TLS: %s", gnutls_strerror(n));
				return -EPROTO;
			}
		} else {
			n = recv(p->fd, dst, want, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0) {
				snprintf(why, wlen, "%s", strerror(errno));
				return -errno;
			}
		}
		if (n == 0) {
			snprintf(why, wlen, "closed before its hello");
			return -ENODATA;
		}
		p->got += n;
		if (p->got == sizeof(p->h))
			return 1;
		/* Decrypted bytes wait in GnuTLS, not on the socket: poll
		 * would not see them. */
		if (!p->tls || !gnutls_record_check_pending(p->tls))
			return 0;
	}
}

/* Pending connection i is taken: a plain socket, or a TLS tunnel's end. */
static int take(struct acceptor *a, unsigned int i, int *out, struct tls_tunnel **tunnels)
{
	struct net_pending *p = &a->pend[i];
	int ret = 0, fd = p->fd;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (p->tls) {
		ret = tls_tunnel_start(p->tls, fd, tunnels, out);
		if (ret) {
			gnutls_deinit(p->tls);
			close(fd);
		}
	} else {
		/* Blocking from here on, for the pool (io_uring polls). */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		*out = fd;
	}
	a->pend[i] = a->pend[--a->npend];
	return ret;
}

int acceptor_next(struct acceptor *a, uint64_t deadline, uint64_t hello_ns, int wake,
		  const char *token, acceptor_want_fn want, void *arg, int *out,
		  struct net_hello *h, char *peer, size_t plen, struct tls_tunnel **tunnels)
{
	for (;;) {
		struct pollfd p[1 + NET_MAX_LISTEN + NET_MAX_PENDING];
		unsigned int np = 0, nl = a->nlfd, npend;
		uint64_t now = mstream_now_ns(), until = deadline;
		int ms = -1, r;

		for (unsigned int i = a->npend; i-- > 0;)
			if (a->pend[i].deadline <= now)
				drop_pending(a, i, "no hello in time");
		if (deadline && now >= deadline)
			return -ETIMEDOUT;
		for (unsigned int i = 0; i < a->npend; i++)
			if (!until || a->pend[i].deadline < until)
				until = a->pend[i].deadline;
		if (until)
			ms = (until - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		p[np++] = (struct pollfd){ .fd = wake, .events = POLLIN };
		for (unsigned int i = 0; i < nl; i++)
			p[np++] = (struct pollfd){ .fd = a->lfd[i], .events = POLLIN };
		npend = a->npend;
		for (unsigned int i = 0; i < npend; i++)
			p[np++] = (struct pollfd){ .fd = a->pend[i].fd, .events = a->pend[i].events };
		r = poll(p, np, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[0].revents)
			return -ECANCELED;
		/* Backwards: dropping entry i moves the last one, already seen,
		 * into its place. */
		for (unsigned int i = npend; i-- > 0;) {
			struct net_pending *pp = &a->pend[i];
			char why[128];
			int ret;

			if (!p[1 + nl + i].revents)
				continue;
			ret = read_hello(pp, why, sizeof(why));
			if (!ret)
				continue; /* not all of it yet */
			if (ret == 1)
				ret = net_check_hello(&pp->h, token, why, sizeof(why));
			if (!ret && want)
				ret = want(&pp->h, arg, why, sizeof(why));
			if (ret < 0) {
				drop_pending(a, i, why);
				continue;
			}
			*h = pp->h;
			snprintf(peer, plen, "%s", pp->peer);
			return take(a, i, out, tunnels);
		}
		for (unsigned int i = 0; i < nl; i++)
			if (p[1 + i].revents)
				take_new(a, a->lfd[i], hello_ns);
	}
}

void acceptor_close(struct acceptor *a, const char *why)
{
	while (a->npend)
		drop_pending(a, a->npend - 1, why ? why : "the receiver is closing");
	for (unsigned int i = 0; i < a->nlfd; i++)
		close_fd(&a->lfd[i]);
	a->nlfd = 0;
	flush_suppressed(a);
}
