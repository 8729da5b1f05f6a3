/* SPDX-License-Identifier: MIT */
/*
 * net.h - the TCP transport's wire format and its control connection.
 *
 * Unless both ends are plain (MSTREAM_TCP_PLAIN), every connection is first
 * a TLS 1.3 handshake keyed with the token (net_tls.c); all that follows is
 * inside TLS.
 *
 * Every connection starts with a hello (128 bytes, little-endian):
 *   magic "MSTREAM1", version 1, role (control or stream), device and stream
 *   index (stream role), token length and the token, zero-padded to 64 bytes
 *   (with TLS: no token, length 0; the handshake proved it).
 * The receiver checks it before anything else and compares all 64 token
 * bytes and the length in constant time.
 *
 * Then, on the control connection only, frames: a 12-byte header (magic
 * "MSCF", type, flags, payload length <= 64 KiB) and a payload:
 *   LAYOUT     sender -> receiver  devices, and per device num_dirty, streams, name
 *   READY      receiver -> sender  status (the destination is resuming)
 *   SWITCHOVER sender -> receiver  the sources are stopping: downtime starts
 *   END        sender -> receiver  device d: per stream bytes and xxh64
 *   ACK        receiver -> sender  status and message: destinations RUNNING
 *   SUMS       receiver -> sender  the destinations' checksums
 *   HEARTBEAT  both ways, every second
 *   ABORT      both ways: status and message
 * Data connections carry the stream's bytes until the sender's shutdown()
 * (with TLS, its close_notify); END says how many there were.
 */
#ifndef MSTREAM_NET_H
#define MSTREAM_NET_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>

#include "internal.h"

#define NET_HELLO_MAGIC "MSTREAM1"
#define NET_VERSION 1
#define NET_FRAME_MAGIC 0x4643534dU /* "MSCF" */
#define NET_FRAME_MAX 65536
#define NET_HEARTBEAT_NS (1000 * NSEC_PER_MSEC)

enum { NET_ROLE_CONTROL = 1, NET_ROLE_STREAM = 2 };

enum {
	F_LAYOUT = 1,
	F_READY,
	F_SWITCHOVER,
	F_END,
	F_ACK,
	F_SUMS,
	F_HEARTBEAT,
	F_ABORT,
};

struct net_hello {
	char magic[8];
	uint32_t version, role, dev, stream, token_len;
	uint8_t token[MSTREAM_TOKEN_MAX];
	uint8_t pad[36];
} __attribute__((packed));

_Static_assert(sizeof(struct net_hello) == 128, "hello is 128 bytes on the wire");

struct net_end_stream {
	uint64_t bytes, xxh64;
	uint32_t has_xxh64;
};

/* What arrived on a control connection; under ctl->lock. */
struct ctl {
	int fd;
	pthread_mutex_t lock;
	pthread_mutex_t tx_lock;	/* one frame at a time on fd; not the state's lock */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	pthread_t thread;
	int wake;			/* eventfd: readable once lost or stopping */
	int abort_fd;			/* the attached session's abort eventfd (dup) */
	bool running, stop, cancelled;
	uint64_t timeout_ns, last_rx, last_tx;
	int peer_err;
	char peer_msg[384];
	struct mstream_session *session; /* failed when the peer is lost */
	const char *who;		 /* "receiver" or "sender", for messages */

	uint64_t t_switchover;
	uint64_t *switchover_out;	/* also published here */
	unsigned int ndev;
	bool end_got[MSTREAM_MAX_DEVICES];
	unsigned int end_n[MSTREAM_MAX_DEVICES];
	struct net_end_stream end[MSTREAM_MAX_DEVICES][MSTREAM_MAX_STREAMS];
	bool ack_got;
	int ack_status;
	char ack_msg[256];
	bool sums_got;
	bool has_sum[MSTREAM_MAX_DEVICES];
	uint64_t sum[MSTREAM_MAX_DEVICES];
};

/*
 * Every wait below ends at its deadline (0: none) with -ETIMEDOUT, or at once
 * with -ECANCELED when `wake` (an eventfd, or -1) is readable: the session's
 * abort, which ^C and SIGTERM write.
 */
int net_connect(const char *host, uint16_t port, uint64_t timeout_ns, int wake, int *fd);
/* "host:port", "[v6addr]:port" (host NULL: 127.0.0.1), for messages. */
void net_format_hostport(const char *host, uint16_t port, char *buf, size_t len);
/* Until fd has ev (0), the deadline passes or wake is readable. */
int net_wait(int fd, short ev, uint64_t deadline, int wake);

int net_send_hello(int fd, uint32_t role, uint32_t dev, uint32_t stream, const char *token,
		   uint64_t deadline, int wake);
/* Check a received hello's magic, version and token (and put its fields in
 * host order): 0, or a negative errno and the reason in why. */
int net_check_hello(struct net_hello *h, const char *token, char *why, size_t whylen);

/* Exactly len bytes. -ENODATA on EOF. */
int net_recv_exact(int fd, void *buf, size_t len, uint64_t deadline, int wake);
/* The whole frame or an error (never a part of one). */
int net_send_frame(int fd, uint16_t type, const void *payload, uint32_t len, uint64_t deadline,
		   int wake);
/* The same, also ended by a second eventfd (-1: none). */
int net_send_frame2(int fd, uint16_t type, const void *payload, uint32_t len, uint64_t deadline,
		    int wake, int wake2);
/* A frame into buf (max bytes); *type and *len are what arrived. */
int net_recv_frame(int fd, uint64_t deadline, int wake, uint16_t *type, void *buf, uint32_t max,
		   uint32_t *len);

/* ---- net_ctl.c: the control connection ---- */

/* A monitor thread that answers heartbeats, records frames, and fails the
 * session when the peer is lost. */
int ctl_init(struct ctl *c, int fd, uint64_t timeout_ns, const char *who);
int ctl_start(struct ctl *c);
/* Send a frame within the timeout; ends early if the peer is lost or the
 * session aborted (except an ABORT frame: that one is our answer to it). */
int ctl_send(struct ctl *c, uint16_t type, const void *payload, uint32_t len);
/* Wait until ready(c, arg) holds (under the lock), or the peer is lost, the
 * session aborted, or the deadline (0: none) passed. */
int ctl_wait(struct ctl *c, bool (*ready)(struct ctl *c, void *arg), void *arg,
	     uint64_t deadline);
void ctl_attach(struct ctl *c, struct mstream_session *s);
void ctl_stop(struct ctl *c);

/* ---- net_tls.c: TLS 1.3 with the session token as pre-shared key ---- */

struct tls_ctx;
struct tls_tunnel;
typedef struct gnutls_session_int *gnutls_session_t;

int tls_ctx_create(struct tls_ctx **t, const char *token, bool server);
void tls_ctx_destroy(struct tls_ctx *t);
int tls_session_new(struct tls_ctx *t, int fd, gnutls_session_t *s);
/* One step of a non-blocking handshake: 0 done, 1 again once fd has
 * *events, or a negative errno and the reason. */
int tls_handshake_step(gnutls_session_t s, short *events, char *why, size_t wlen);
/* The client's whole handshake on fd, bounded like every other wait. */
int tls_client_handshake(struct tls_ctx *t, int fd, uint64_t deadline, int wake,
			 gnutls_session_t *s, char *why, size_t wlen);
/* From now on the session's connection is *plain (a socketpair end; the
 * caller owns it): a thread moves the bytes. The tunnel, which owns tcp and
 * s, goes on *list. */
int tls_tunnel_start(gnutls_session_t s, int tcp, struct tls_tunnel **list, int *plain);
/* Ends and frees every tunnel on the list (after their plain FDs are closed
 * or no longer used). */
void tls_tunnels_destroy(struct tls_tunnel **list);

/* ---- net_accept.c: the receiver's listening sockets and pending hellos ---- */

#define NET_MAX_LISTEN 8
#define NET_MAX_PENDING 64
#define NET_PEER_LEN 64

struct net_pending {
	int fd;
	uint64_t deadline;	/* for its whole hello (and TLS handshake) */
	gnutls_session_t tls;	/* NULL: plain TCP */
	bool handshaken;
	short events;		/* what the next step waits for */
	size_t got;
	struct net_hello h;
	char peer[NET_PEER_LEN];
};

struct net_filter {
	bool set;
	int family;
	uint8_t addr[16];
	unsigned int prefix;
};

struct acceptor {
	int lfd[NET_MAX_LISTEN];
	unsigned int nlfd;
	uint16_t port;
	struct net_pending pend[NET_MAX_PENDING];
	unsigned int npend;
	struct net_filter allow;
	struct tls_ctx *tls;	/* NULL: plain TCP */
	void (*log)(const char *msg, void *arg);
	void *log_arg;
	uint64_t log_window;
	unsigned int logged, suppressed;
	unsigned long rejected;
};

/* "192.0.2.1:7000", "[::1]:7000". */
void net_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen);

/* Listen on every address host resolves to (NULL: 127.0.0.1; "": every
 * local address, IPv4 and IPv6), one port for all (port 0: a free one, in
 * a->port). allow: NULL, or an address or ADDRESS/PREFIX that peers must
 * match. Set a->log after this to hear about rejections. */
int acceptor_open(struct acceptor *a, const char *host, uint16_t port, const char *allow);
/* 0 to take the connection whose checked hello is h, or a negative errno
 * and the reason to reject it. */
typedef int (*acceptor_want_fn)(const struct net_hello *h, void *arg, char *why, size_t len);
/* The next connection with a good hello that want() takes, as a blocking
 * socket in *fd; before the deadline (0: none), each TLS handshake and hello
 * within hello_ns of its connect. Everything else is rejected on the way.
 * With a->tls, *fd is a tunnel's plaintext end and the tunnel goes on
 * *tunnels. */
int acceptor_next(struct acceptor *a, uint64_t deadline, uint64_t hello_ns, int wake,
		  const char *token, acceptor_want_fn want, void *arg, int *fd,
		  struct net_hello *h, char *peer, size_t plen, struct tls_tunnel **tunnels);
/* Reject what is still pending (why), stop listening. */
void acceptor_close(struct acceptor *a, const char *why);

/* Token length and the like, for both TCP endpoints. */
int check_tcp_params(const struct mstream_tcp_params *p);

#endif
