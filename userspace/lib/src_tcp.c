// SPDX-License-Identifier: MIT
/*
 * src_tcp.c - the receiving end of a TCP migration (`mstream recv`).
 *
 * It listens where it is told (loopback unless told otherwise), takes the
 * first connection whose hello carries the session token as the control
 * connection, learns the layout from it, and then accepts exactly one
 * authenticated connection per announced stream before closing the
 * listening sockets. Any other connection is closed and reported (net_accept.c);
 * nothing from an unauthenticated peer reaches a device. The data a stream
 * delivered is checked against the sender's END record before the
 * destination is asked to load it.
 */
#include <ctype.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "endpoint.h"
#include "net.h"

struct src_tcp {
	struct mstream_source src;
	char token[MSTREAM_TOKEN_MAX + 1];
	uint64_t timeout_ns, accept_ns, session_ns;
	struct acceptor acc;
	struct tls_tunnel *tunnels;
	int cfd;
	struct ctl ctl;
	bool ctl_ok, ready_sent;
};

#define ST(s) ((struct src_tcp *)(s))

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static int read_layout(struct src_tcp *st)
{
	struct mstream_source *src = &st->src;
	uint8_t buf[4 + MSTREAM_MAX_DEVICES * 72];
	uint32_t len, n;
	uint16_t type;
	int ret;

	ret = net_recv_frame(st->cfd, mstream_now_ns() + st->timeout_ns,
			     session_abort_fd(src->session), &type, buf, sizeof(buf), &len);
	if (ret)
		return fail(ret == -ENODATA ? -ECONNRESET : ret, "sender: no layout: %s",
			    ret == -EPROTO ? "malformed frame" : strerror(-ret));
	if (type != F_LAYOUT || len < 4)
		return fail(-EPROTO, "sender: expected its layout, got frame %u", type);
	n = get32(buf);
	if (!n || n > MSTREAM_MAX_DEVICES || len != 4 + n * 72)
		return fail(-EPROTO, "sender: malformed layout (%u devices)", n);
	src->dev = ep_devs_alloc(n);
	if (!src->dev)
		return -ENOMEM;
	src->ndev = n;
	for (uint32_t d = 0; d < n; d++) {
		const uint8_t *p = buf + 4 + d * 72;
		struct dev_layout *l = &src->dev[d].lay;

		l->num_dirty = get32(p);
		l->nstreams = get32(p + 4);
		if (l->num_dirty >= MSTREAM_MAX_STREAMS || l->nstreams != l->num_dirty + 1)
			return fail(-EPROTO, "sender: malformed layout of device %u", d);
		memcpy(l->name, p + 8, sizeof(l->name) - 1);
		for (char *c = l->name; *c; c++)
			if (!isgraph((unsigned char)*c))
				*c = '_';
	}
	return 0;
}

/* With TLS the handshake proved the token: the hello carries none. */
static const char *hello_token(struct src_tcp *st)
{
	return st->acc.tls ? "" : st->token;
}

static int want_control(const struct net_hello *h, void *arg, char *why, size_t len)
{
	(void)arg;
	if (h->role == NET_ROLE_CONTROL)
		return 0;
	snprintf(why, len, "a stream connection before the session's");
	return -EPROTO;
}

static int ts_layout(struct mstream_source *src, const struct mstream_session_params *p)
{
	struct src_tcp *st = ST(src);
	uint64_t deadline = mstream_now_ns() + st->accept_ns;
	struct net_hello h;
	char peer[NET_PEER_LEN];
	int ret, fd = -1;

	(void)p; /* the sender's layout rules; its hello was authenticated */
	ret = acceptor_next(&st->acc, deadline, st->timeout_ns, session_abort_fd(src->session),
			    hello_token(st), want_control, NULL, &fd, &h, peer, sizeof(peer),
			    &st->tunnels);
	if (ret == -ETIMEDOUT)
		return fail(ret, "no sender connected to port %u within %llu s", st->acc.port,
			    (unsigned long long)(st->accept_ns / NSEC_PER_SEC));
	if (ret == -ECANCELED)
		return fail(ret, "interrupted");
	if (ret)
		return fail(ret, "accept: %s", strerror(-ret));
	st->cfd = fd;
	src->deadline = mstream_now_ns() + st->session_ns;
	ret = ctl_init(&st->ctl, fd, st->timeout_ns, "sender");
	if (ret)
		return ret;
	st->ctl.switchover_out = &src->t_switchover;
	st->ctl_ok = true;
	return read_layout(st);
}

static int want_stream(const struct net_hello *h, void *arg, char *why, size_t len)
{
	struct mstream_source *src = arg;

	if (h->role != NET_ROLE_STREAM || h->dev >= src->ndev ||
	    h->stream >= src->dev[h->dev].lay.nstreams) {
		snprintf(why, len, "a stream outside the session's layout");
		return -EPROTO;
	}
	if (src->dev[h->dev].fds[h->stream] >= 0) {
		snprintf(why, len, "stream %u/%u is already connected", h->dev, h->stream);
		return -EPROTO;
	}
	return 0;
}

static int ts_start(struct mstream_source *src)
{
	struct src_tcp *st = ST(src);
	unsigned int want = 0, got = 0;
	uint8_t ready[4] = { 0 };
	uint64_t deadline;
	int ret;

	ret = ctl_send(&st->ctl, F_READY, ready, sizeof(ready));
	if (ret)
		return ret;
	st->ready_sent = true;
	for (unsigned int d = 0; d < src->ndev; d++)
		want += src->dev[d].lay.nstreams;
	deadline = mstream_now_ns() + st->timeout_ns;
	while (got < want) {
		struct net_hello h;
		char peer[NET_PEER_LEN];
		int fd = -1;

		ret = acceptor_next(&st->acc, deadline, st->timeout_ns,
				    session_abort_fd(src->session), hello_token(st), want_stream,
				    src, &fd, &h, peer, sizeof(peer), &st->tunnels);
		if (ret == -ETIMEDOUT)
			return fail(ret, "only %u of the %u stream connections arrived", got, want);
		if (ret == -ECANCELED)
			return fail(ret, "interrupted");
		if (ret)
			return fail(ret, "accept: %s", strerror(-ret));
		src->dev[h.dev].fds[h.stream] = fd;
		got++;
	}
	/* Exactly the expected connections: nobody else gets in now. */
	acceptor_close(&st->acc, "the session has all its connections");
	st->ctl.ndev = src->ndev;
	ctl_attach(&st->ctl, src->session);
	return ctl_start(&st->ctl);
}

struct end_arg {
	unsigned int dev;
};

static bool end_ready(struct ctl *c, void *arg)
{
	return c->end_got[((struct end_arg *)arg)->dev];
}

static int ts_device_done(struct mstream_source *src, unsigned int d,
			  const struct stream_result *res)
{
	struct src_tcp *st = ST(src);
	struct end_arg a = { d };
	int ret = ctl_wait(&st->ctl, end_ready, &a, src->deadline);

	if (ret)
		return ret;
	if (st->ctl.end_n[d] != src->dev[d].lay.nstreams)
		return fail(-EPROTO, "sender: END of device %u with %u streams, expected %u", d,
			    st->ctl.end_n[d], src->dev[d].lay.nstreams);
	for (unsigned int k = 0; k < src->dev[d].lay.nstreams; k++) {
		const struct net_end_stream *e = &st->ctl.end[d][k];

		if (e->bytes != res[k].bytes)
			return fail(-ENODATA, "stream %u/%u: %llu bytes received, the sender sent %llu",
				    d, k, (unsigned long long)res[k].bytes,
				    (unsigned long long)e->bytes);
		if (e->has_xxh64 && res[k].has_checksum && e->xxh64 != res[k].checksum)
			return fail(-EBADMSG, "stream %u/%u: data differs from what was sent", d, k);
	}
	return 0;
}

static void send_status(struct src_tcp *st, uint16_t type, int status, const char *msg)
{
	uint8_t buf[260];
	size_t n = msg ? strnlen(msg, 255) : 0;
	int32_t v = htole32(status);

	memcpy(buf, &v, 4);
	if (n)
		memcpy(buf + 4, msg, n);
	ctl_send(&st->ctl, type, buf, 4 + n);
}

static void ts_committed(struct mstream_source *src, int status, const char *msg)
{
	struct src_tcp *st = ST(src);

	if (!st->ctl_ok)
		return;
	/* Before READY the sender waits for READY: ABORT is its answer. */
	send_status(st, st->ready_sent ? F_ACK : F_ABORT, status, msg);
}

static int ts_finish(struct mstream_source *src, int status, const char *msg,
		     const uint64_t *dst_sums, const bool *has_dst)
{
	struct src_tcp *st = ST(src);
	uint8_t buf[4 + MSTREAM_MAX_DEVICES * 12], *p = buf;
	uint32_t v;

	(void)msg;
	if (!st->ctl_ok || status)
		return 0;
	v = htole32(src->ndev);
	memcpy(p, &v, 4);
	p += 4;
	for (unsigned int d = 0; d < src->ndev; d++) {
		uint64_t s = htole64(dst_sums ? dst_sums[d] : 0);

		v = htole32(has_dst && has_dst[d]);
		memcpy(p, &v, 4);
		memcpy(p + 4, &s, 8);
		p += 12;
	}
	return ctl_send(&st->ctl, F_SUMS, buf, p - buf);
}

static void ts_detach(struct mstream_source *src)
{
	if (ST(src)->ctl_ok)
		ctl_attach(&ST(src)->ctl, NULL);
}

static void ts_destroy(struct mstream_source *src)
{
	struct src_tcp *st = ST(src);

	if (st->ctl_ok)
		ctl_stop(&st->ctl);
	close_fd(&st->cfd);
	acceptor_close(&st->acc, NULL);
	tls_tunnels_destroy(&st->tunnels);
	tls_ctx_destroy(st->acc.tls);
	ep_devs_close(src->dev, src->ndev);
	free(src->dev);
	free(st);
}

static const struct source_ops src_tcp_ops = {
	.kind = "tcp",
	.layout = ts_layout,
	.start = ts_start,
	.device_done = ts_device_done,
	.committed = ts_committed,
	.finish = ts_finish,
	.detach = ts_detach,
	.destroy = ts_destroy,
};

int mstream_source_create_tcp(struct mstream_source **srcp, const struct mstream_tcp_params *p)
{
	struct src_tcp *st;
	int ret;

	clear_error();
	ret = check_tcp_params(p);
	if (ret)
		return ret;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snprintf(st->token, sizeof(st->token), "%s", p->token);
	st->timeout_ns = p->timeout_ns ? p->timeout_ns : 10 * NSEC_PER_SEC;
	st->accept_ns = p->accept_timeout_ns ? p->accept_timeout_ns : 60 * NSEC_PER_SEC;
	st->session_ns = p->session_timeout_ns ? p->session_timeout_ns : 600 * NSEC_PER_SEC;
	st->cfd = -1;
	ret = acceptor_open(&st->acc, p->host, p->port, p->allow_from);
	if (ret) {
		free(st);
		return ret;
	}
	st->acc.log = p->log;
	st->acc.log_arg = p->log_arg;
	if (!(p->flags & MSTREAM_TCP_PLAIN)) {
		ret = tls_ctx_create(&st->acc.tls, p->token, true);
		if (ret) {
			acceptor_close(&st->acc, NULL);
			free(st);
			return ret;
		}
	}
	st->src.ops = &src_tcp_ops;
	st->src.wants_checksum = !(p->flags & MSTREAM_TCP_NO_CHECKSUM);
	*srcp = &st->src;
	return 0;
}

int mstream_source_port(struct mstream_source *src)
{
	if (!src || strcmp(src->ops->kind, "tcp"))
		return -EINVAL;
	return ST(src)->acc.port;
}
