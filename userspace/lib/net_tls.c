// SPDX-License-Identifier: MIT
/*
 * net_tls.c - TLS for the TCP transport: GnuTLS, TLS 1.3 only, the session
 * token as the pre-shared key (as QEMU's tls-creds-psk does with its key
 * file), with an (EC)DHE exchange so that a token learnt later does not
 * decrypt a recorded migration. The token itself never crosses the network:
 * the peers prove they hold it through the handshake's PSK binder.
 *
 * After the handshake a connection becomes a tunnel: a pump thread moves
 * bytes between the TCP socket (TLS records) and one end of a socketpair
 * whose other end the rest of the library uses as the connection. The control
 * code and the pool (io_uring reads and sends on plain FDs) need no change;
 * the cost is a copy and a thread per connection.
 *
 * A stream's end is TLS's close_notify, relayed as end of file; a connection
 * cut without it ends the plaintext side too, and the END record's byte count
 * and checksum (sent over the TLS control connection) catch the truncation.
 */
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"

#define PSK_USER "mstream"
/* TLS 1.3 with (EC)DHE-PSK only: no plain PSK (no forward secrecy), no
 * certificates. */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK"

struct tls_ctx {
	bool server;
	gnutls_psk_client_credentials_t ccred;
	gnutls_psk_server_credentials_t scred;
	gnutls_priority_t prio;
	uint8_t key[MSTREAM_TOKEN_MAX];
	unsigned int key_len;
};

struct tls_tunnel {
	gnutls_session_t s;
	int tcp;		/* the TLS side */
	int pair;		/* our end of the socketpair */
	pthread_t thread;
	struct tls_tunnel *next;
};

static int tls_err(int r, const char *what)
{
	return fail(-EPROTO, "TLS %s: %s", what, gnutls_strerror(r));
}

static int psk_key(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	struct tls_ctx *t = gnutls_session_get_ptr(s);

	/* One key whatever the identity: the identity is no secret. */
	(void)user;
	key->data = gnutls_malloc(t->key_len);
	if (!key->data)
		return -1;
	memcpy(key->data, t->key, t->key_len);
	key->size = t->key_len;
	return 0;
}

int tls_ctx_create(struct tls_ctx **out, const char *token, bool server)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));
	gnutls_datum_t key;
	int r;

	if (!t)
		return -ENOMEM;
	t->server = server;
	t->key_len = strlen(token);
	memcpy(t->key, token, t->key_len);
	key = (gnutls_datum_t){ t->key, t->key_len };
	r = gnutls_priority_init(&t->prio, PRIORITY, NULL);
	if (!r && server) {
		r = gnutls_psk_allocate_server_credentials(&t->scred);
		if (!r)
			gnutls_psk_set_server_credentials_function(t->scred, psk_key);
	} else if (!r) {
		r = gnutls_psk_allocate_client_credentials(&t->ccred);
		if (!r)
			r = gnutls_psk_set_client_credentials(t->ccred, PSK_USER, &key,
							      GNUTLS_PSK_KEY_RAW);
	}
	if (r) {
		tls_ctx_destroy(t);
		return tls_err(r, "setup");
	}
	*out = t;
	return 0;
}

void tls_ctx_destroy(struct tls_ctx *t)
{
	if (!t)
		return;
	if (t->scred)
		gnutls_psk_free_server_credentials(t->scred);
	if (t->ccred)
		gnutls_psk_free_client_credentials(t->ccred);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	explicit_bzero(t->key, sizeof(t->key));
	free(t);
}

int tls_session_new(struct tls_ctx *t, int fd, gnutls_session_t *out)
{
	gnutls_session_t s;
	int r;

	r = gnutls_init(&s, (t->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK);
	if (!r)
		r = gnutls_priority_set(s, t->prio);
	if (!r)
		r = gnutls_credentials_set(s, GNUTLS_CRD_PSK,
					   t->server ? (void *)t->scred : (void *)t->ccred);
	if (r) {
		gnutls_deinit(s);
		return tls_err(r, "session");
	}
	gnutls_session_set_ptr(s, t);
	gnutls_transport_set_int(s, fd);
	*out = s;
	return 0;
}

int tls_handshake_step(gnutls_session_t s, short *events, char *why, size_t wlen)
{
	int r = gnutls_handshake(s);

	if (r == GNUTLS_E_SUCCESS)
		return 0;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		*events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN;
		return 1;
	}
	if (!gnutls_error_is_fatal(r))
		return 1; /* a warning alert: go on */
	/* Tell the peer why (best effort: the socket may be full or gone). */
	gnutls_alert_send_appropriate(s, r);
	/* A wrong key shows as a binder that does not verify, or (client
	 * side) as the server's alert about it. */
	snprintf(why, wlen, "TLS handshake: %s%s", gnutls_strerror(r),
		 r == GNUTLS_E_DECRYPTION_FAILED || r == GNUTLS_E_FATAL_ALERT_RECEIVED ||
				 r == GNUTLS_E_INSUFFICIENT_CREDENTIALS ||
				 r == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER ?
			 " (wrong session token?)" :
			 "");
	return r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PUSH_ERROR ? -ECONNRESET :
										    -EACCES;
}

int tls_client_handshake(struct tls_ctx *t, int fd, uint64_t deadline, int wake,
			 gnutls_session_t *out, char *why, size_t wlen)
{
	gnutls_session_t s;
	int flags = fcntl(fd, F_GETFL), ret;

	ret = tls_session_new(t, fd, &s);
	if (ret)
		return ret;
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	for (;;) {
		short ev = 0;

		ret = tls_handshake_step(s, &ev, why, wlen);
		if (ret <= 0)
			break;
		ret = net_wait(fd, ev, deadline, wake);
		if (ret) {
			snprintf(why, wlen, "TLS handshake: %s", strerror(-ret));
			break;
		}
	}
	fcntl(fd, F_SETFL, flags);
	if (ret) {
		gnutls_deinit(s);
		return ret;
	}
	*out = s;
	return 0;
}

/* Everything to the TLS side; false when it is gone. */
static bool send_records(gnutls_session_t s, const char *p, size_t n)
{
	while (n) {
		ssize_t r = gnutls_record_send(s, p, n);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			struct pollfd pfd = { gnutls_transport_get_int(s), POLLOUT, 0 };

			poll(&pfd, 1, -1);
			continue;
		}
		if (r < 0)
			return false;
		p += r;
		n -= r;
	}
	return true;
}

static bool write_plain(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= w;
	}
	return true;
}

static void *pump(void *arg)
{
	struct tls_tunnel *t = arg;
	bool up = true, down = true; /* plaintext -> TLS, TLS -> plaintext */
	char *buf = malloc(16384);

	while (buf && (up || down)) {
		struct pollfd p[2] = { { up ? t->pair : -1, POLLIN, 0 },
				       { down ? t->tcp : -1, POLLIN, 0 } };

		/* Records already decrypted are not on the socket any more. */
		if (!(down && gnutls_record_check_pending(t->s)) && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (up && p[0].revents) {
			ssize_t n = recv(t->pair, buf, 16384, MSG_DONTWAIT);

			if (n > 0 && !send_records(t->s, buf, n))
				break;
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				/* Our side has finished writing: close_notify. */
				int r;

				while ((r = gnutls_bye(t->s, GNUTLS_SHUT_WR)) == GNUTLS_E_AGAIN ||
				       r == GNUTLS_E_INTERRUPTED) {
					struct pollfd o = { t->tcp, POLLOUT, 0 };

					poll(&o, 1, -1);
				}
				shutdown(t->tcp, SHUT_WR);
				up = false;
			}
		}
		if (down && (p[1].revents || gnutls_record_check_pending(t->s))) {
			ssize_t n = gnutls_record_recv(t->s, buf, 16384);

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n > 0 && write_plain(t->pair, buf, n))
				continue;
			/* close_notify, a cut connection, a bad record, or our
			 * side gone: no more plaintext either way. */
			shutdown(t->pair, SHUT_WR);
			down = false;
			if (n != 0)
				break;
		}
	}
	/* Whatever is left: the plaintext side sees the end at once. */
	shutdown(t->pair, SHUT_RDWR);
	shutdown(t->tcp, SHUT_RDWR);
	free(buf);
	return NULL;
}

int tls_tunnel_start(gnutls_session_t s, int tcp, struct tls_tunnel **list, int *plain)
{
	struct tls_tunnel *t = calloc(1, sizeof(*t));
	int sv[2];

	if (!t)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(t);
		return fail(-errno, "socketpair: %s", strerror(errno));
	}
	/* The pump waits with poll(); GnuTLS must not block it on a send. */
	fcntl(tcp, F_SETFL, fcntl(tcp, F_GETFL) | O_NONBLOCK);
	t->s = s;
	t->tcp = tcp;
	t->pair = sv[0];
	if (pthread_create(&t->thread, NULL, pump, t)) {
		close(sv[0]);
		close(sv[1]);
		free(t);
		return fail(-EAGAIN, "cannot start a TLS thread");
	}
	pthread_setname_np(t->thread, "mstream-tls");
	t->next = *list;
	*list = t;
	*plain = sv[1];
	return 0;
}

void tls_tunnels_destroy(struct tls_tunnel **list)
{
	while (*list) {
		struct tls_tunnel *t = *list;

		*list = t->next;
		/* Wakes a pump waiting on either side. */
		shutdown(t->tcp, SHUT_RDWR);
		shutdown(t->pair, SHUT_RDWR);
		pthread_join(t->thread, NULL);
		gnutls_deinit(t->s);
		close(t->tcp);
		close(t->pair);
		free(t);
	}
}
