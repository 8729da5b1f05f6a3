// SPDX-License-Identifier: MIT
/*
 * sink_tcp.c - send a migration to a receiving `mstream recv`: a control
 * connection, then one connection per stream that the pool writes into.
 * Timeline (net.h has the frames): hello + LAYOUT, wait READY, open the
 * stream connections, SWITCHOVER at the stop, END per device once its
 * streams are flushed and shut down, then ACK (downtime ends) and SUMS.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "endpoint.h"
#include "net.h"

struct sink_tcp {
	struct mstream_sink sink;
	char host[256];
	uint16_t port;
	char where[300];	/* host:port for messages */
	char token[MSTREAM_TOKEN_MAX + 1];
	uint64_t timeout_ns;
	uint64_t session_ns, deadline;	/* the receiver's answers come by then */
	int cfd;
	struct ctl ctl;
	bool ctl_ok;
	struct tls_ctx *tls;		/* NULL: plain TCP */
	struct tls_tunnel *tunnels;
};

#define KT(s) ((struct sink_tcp *)(s))

static void put32(uint8_t **p, uint32_t v)
{
	v = htole32(v);
	memcpy(*p, &v, 4);
	*p += 4;
}

static void put64(uint8_t **p, uint64_t v)
{
	v = htole64(v);
	memcpy(*p, &v, 8);
	*p += 8;
}

/* The receiver hung up on us before READY: it refused our hello (a wrong
 * token) or is serving another session; or it said nothing in time. */
static int handshake_failed(struct sink_tcp *kt, int err)
{
	if (err == -ECANCELED)
		return fail(err, "interrupted");
	if (err == -ETIMEDOUT)
		return fail(err, "receiver %s did not answer within %llu s", kt->where,
			    (unsigned long long)(kt->timeout_ns / NSEC_PER_SEC));
	if (err == -ENODATA || err == -ECONNRESET || err == -EPIPE)
		return fail(-ECONNREFUSED,
			    "receiver %s closed the connection during the handshake "
			    "(wrong session token, or busy with another session)",
			    kt->where);
	return fail(err, "receiver %s: %s", kt->where,
		    err == -EPROTO ? "not an mstream receiver" : strerror(-err));
}

/* A connection to the receiver, through TLS unless plain: *fd is what to
 * read and write (a tunnel's end with TLS). Its hello is sent. */
static int kt_connect(struct sink_tcp *kt, uint32_t role, uint32_t d, uint32_t k, int wake,
		      int *fd)
{
	uint64_t deadline = mstream_now_ns() + kt->timeout_ns;
	gnutls_session_t s;
	char why[160];
	int ret, tcp;

	ret = net_connect(kt->host, kt->port, kt->timeout_ns, wake, &tcp);
	if (ret)
		return ret;
	if (!kt->tls) {
		*fd = tcp;
		/* With TLS the token is the key and is never sent. */
		return net_send_hello(tcp, role, d, k, kt->token, deadline, wake);
	}
	ret = tls_client_handshake(kt->tls, tcp, deadline, wake, &s, why, sizeof(why));
	if (!ret)
		ret = tls_tunnel_start(s, tcp, &kt->tunnels, fd);
	else
		close(tcp);
	if (ret == -ECONNRESET || ret == -EACCES)
		return fail(ret, "receiver %s: %s%s", kt->where, why,
			    ret == -ECONNRESET ? " (TLS on both ends, or plain TCP on both?)" : "");
	if (ret)
		return ret;
	return net_send_hello(*fd, role, d, k, "", deadline, wake);
}

static int kt_open(struct mstream_sink *sink, const struct ep_dev *src, unsigned int ndev)
{
	struct sink_tcp *kt = KT(sink);
	uint8_t buf[4 + MSTREAM_MAX_DEVICES * 72], *p = buf, reply[512];
	int ret, wake = session_abort_fd(sink->session);
	uint64_t deadline;
	uint32_t len;
	uint16_t type;

	sink->dev = ep_devs_alloc(ndev);
	if (!sink->dev)
		return -ENOMEM;
	sink->ndev = ndev;
	kt->deadline = mstream_now_ns() + kt->session_ns;
	ret = kt_connect(kt, NET_ROLE_CONTROL, 0, 0, wake, &kt->cfd);
	if (ret == -EACCES)
		return ret;
	if (ret)
		return kt->cfd >= 0 ? handshake_failed(kt, ret) : ret;
	ret = ctl_init(&kt->ctl, kt->cfd, kt->timeout_ns, "receiver");
	if (ret)
		return ret;
	kt->ctl.ndev = ndev;
	kt->ctl_ok = true;
	deadline = mstream_now_ns() + kt->timeout_ns;
	put32(&p, ndev);
	for (unsigned int d = 0; d < ndev; d++) {
		char name[64] = { 0 };

		sink->dev[d].lay = src[d].lay;
		put32(&p, src[d].lay.num_dirty);
		put32(&p, src[d].lay.nstreams);
		snprintf(name, sizeof(name), "%s", src[d].lay.name);
		memcpy(p, name, 64);
		p += 64;
	}
	ret = net_send_frame(kt->cfd, F_LAYOUT, buf, p - buf, deadline, wake);
	if (ret)
		return handshake_failed(kt, ret);

	/* The receiver answers once its destinations are RESUMING. */
	deadline = mstream_now_ns() + kt->timeout_ns;
	ret = net_recv_frame(kt->cfd, deadline, wake, &type, reply, sizeof(reply) - 1, &len);
	if (ret)
		return handshake_failed(kt, ret);
	if (type == F_READY || type == F_ABORT) {
		int status = len >= 4 ? (int32_t)le32toh(*(uint32_t *)reply) : -EPROTO;

		reply[len] = 0;
		if (type == F_ABORT || status < 0)
			return fail(status < 0 ? status : -ECONNREFUSED, "receiver refused: %s",
				    len > 4 ? (char *)reply + 4 : strerror(-status));
	} else {
		return fail(-EPROTO, "receiver %s: unexpected frame %u", kt->where,
			    type);
	}

	for (unsigned int d = 0; d < ndev; d++)
		for (unsigned int k = 0; k < src[d].lay.nstreams; k++) {
			int *fd = &sink->dev[d].fds[k];

			ret = kt_connect(kt, NET_ROLE_STREAM, d, k, wake, fd);
			if (ret)
				return fail(ret, "stream %u/%u to %s: %s", d, k, kt->where,
					    strerror(-ret));
		}
	ctl_attach(&kt->ctl, sink->session);
	return ctl_start(&kt->ctl);
}

static void kt_switchover(struct mstream_sink *sink)
{
	ctl_send(&KT(sink)->ctl, F_SWITCHOVER, NULL, 0);
}

static int kt_device_done(struct mstream_sink *sink, unsigned int d,
			  const struct stream_result *res, const uint64_t *src_sum)
{
	struct ep_dev *e = &sink->dev[d];
	uint8_t buf[8 + MSTREAM_MAX_STREAMS * 20], *p = buf;

	(void)src_sum;
	/* Every byte was written: end of file for the receiver's reads. */
	for (unsigned int k = 0; k < e->lay.nstreams; k++)
		shutdown(e->fds[k], SHUT_WR);
	put32(&p, d);
	put32(&p, e->lay.nstreams);
	for (unsigned int k = 0; k < e->lay.nstreams; k++) {
		put64(&p, res[k].bytes);
		put64(&p, res[k].checksum);
		put32(&p, res[k].has_checksum);
	}
	return ctl_send(&KT(sink)->ctl, F_END, buf, p - buf);
}

static bool ack_ready(struct ctl *c, void *arg)
{
	(void)arg;
	return c->ack_got;
}

static bool sums_ready(struct ctl *c, void *arg)
{
	(void)arg;
	return c->sums_got;
}

static int kt_commit(struct mstream_sink *sink)
{
	struct sink_tcp *kt = KT(sink);
	int ret = ctl_wait(&kt->ctl, ack_ready, NULL, kt->deadline);

	if (ret)
		return ret;
	if (kt->ctl.ack_status < 0)
		return fail(kt->ctl.ack_status, "the receiver failed to load: %s",
			    kt->ctl.ack_msg[0] ? kt->ctl.ack_msg : strerror(-kt->ctl.ack_status));
	return 0;
}

static int kt_checksum(struct mstream_sink *sink, unsigned int d, uint64_t *sum)
{
	struct sink_tcp *kt = KT(sink);
	int ret = ctl_wait(&kt->ctl, sums_ready, NULL, kt->deadline);

	if (ret)
		return ret;
	if (!kt->ctl.has_sum[d])
		return -ENOENT;
	*sum = kt->ctl.sum[d];
	return 0;
}

static void kt_abort(struct mstream_sink *sink, int err, const char *msg)
{
	struct sink_tcp *kt = KT(sink);
	uint8_t buf[260];
	size_t n = msg ? strnlen(msg, 255) : 0;
	int32_t st = htole32(err);

	memcpy(buf, &st, 4);
	memcpy(buf + 4, msg, n);
	if (kt->ctl_ok)
		ctl_send(&kt->ctl, F_ABORT, buf, 4 + n);
}

/* Unblock the pool's sends; the receiver sees the streams end short. */
static void kt_cancel(struct mstream_sink *sink)
{
	for (unsigned int d = 0; d < sink->ndev; d++)
		for (unsigned int k = 0; k < MSTREAM_MAX_STREAMS; k++)
			if (sink->dev[d].fds[k] >= 0)
				shutdown(sink->dev[d].fds[k], SHUT_RDWR);
}

static void kt_detach(struct mstream_sink *sink)
{
	if (KT(sink)->ctl_ok)
		ctl_attach(&KT(sink)->ctl, NULL);
}

static void kt_destroy(struct mstream_sink *sink)
{
	struct sink_tcp *kt = KT(sink);

	if (kt->ctl_ok)
		ctl_stop(&kt->ctl);
	close_fd(&kt->cfd);
	ep_devs_close(sink->dev, sink->ndev);
	tls_tunnels_destroy(&kt->tunnels);
	tls_ctx_destroy(kt->tls);
	free(sink->dev);
	free(kt);
}

static const struct sink_ops sink_tcp_ops = {
	.kind = "tcp",
	.open = kt_open,
	.switchover = kt_switchover,
	.device_done = kt_device_done,
	.commit = kt_commit,
	.checksum = kt_checksum,
	.cancel = kt_cancel,
	.abort = kt_abort,
	.detach = kt_detach,
	.destroy = kt_destroy,
};

int check_tcp_params(const struct mstream_tcp_params *p)
{
	size_t tl = p->token ? strlen(p->token) : 0;

	if (CHECK_STRUCT("struct mstream_tcp_params", p, TCP_FLAGS))
		return -EINVAL;
	if (tl < MSTREAM_TOKEN_MIN || tl > MSTREAM_TOKEN_MAX)
		return fail(-EINVAL, "a session token of %d to %d characters is required "
				     "(mstream token makes one)",
			    MSTREAM_TOKEN_MIN, MSTREAM_TOKEN_MAX);
	return 0;
}

int mstream_sink_create_tcp(struct mstream_sink **sinkp, const struct mstream_tcp_params *p)
{
	struct sink_tcp *kt;
	int ret;

	clear_error();
	ret = check_tcp_params(p);
	if (ret)
		return ret;
	if (!p->port)
		return fail(-EINVAL, "the receiver's port is required");
	kt = calloc(1, sizeof(*kt));
	if (!kt)
		return -ENOMEM;
	snprintf(kt->host, sizeof(kt->host), "%s", p->host ? p->host : "127.0.0.1");
	kt->port = p->port;
	net_format_hostport(kt->host, kt->port, kt->where, sizeof(kt->where));
	snprintf(kt->token, sizeof(kt->token), "%s", p->token);
	kt->timeout_ns = p->timeout_ns ? p->timeout_ns : 10 * NSEC_PER_SEC;
	kt->session_ns = p->session_timeout_ns ? p->session_timeout_ns : 600 * NSEC_PER_SEC;
	kt->cfd = -1;
	kt->sink.ops = &sink_tcp_ops;
	kt->sink.wants_checksum = !(p->flags & MSTREAM_TCP_NO_CHECKSUM);
	if (!(p->flags & MSTREAM_TCP_PLAIN)) {
		ret = tls_ctx_create(&kt->tls, p->token, false);
		if (ret) {
			free(kt);
			return ret;
		}
	}
	*sinkp = &kt->sink;
	return 0;
}
