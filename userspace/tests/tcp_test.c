// SPDX-License-Identifier: MIT
/*
 * tcp_test.c - the TCP transport on loopback, no kernel needed: a save
 * directory is sent by one session (files -> TCP) and received by another
 * (TCP -> files), so the whole path runs: hellos and tokens, layout, one
 * connection per stream, END records, ACK and checksums.
 *
 * And what must fail, quickly and with a message, never hang or load:
 * a wrong token, an unreachable receiver, hostile connections before the
 * real sender, a receiver that stops answering, a sender killed mid-way.
 */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "kselftest_harness.h"

#include "net.h"
#include "savegen.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

/* MSTREAM_TCP_* for both ends (each test runs in a process of its own):
 * TLS unless a test says MSTREAM_TCP_PLAIN. */
static unsigned int tcp_flags;

struct recv_job {
	const char *dir;
	const char *token;
	uint64_t timeout_ns, accept_ns, session_ns;
	const char *host, *allow;
	struct mstream_source *src;
	int port;
	pthread_t thread;
	int ret;
	char err[512];
	char log[1024];
	unsigned int rejects;
	pthread_mutex_t log_lock;
	void (*progress)(struct mstream_session *s, void *arg);
	void *progress_arg;
};

static void recv_log(const char *msg, void *arg)
{
	struct recv_job *j = arg;

	pthread_mutex_lock(&j->log_lock);
	j->rejects++;
	snprintf(j->log + strlen(j->log), sizeof(j->log) - strlen(j->log), "%s\n", msg);
	pthread_mutex_unlock(&j->log_lock);
}

/* Listen now (so that the port is known), receive in a thread. */
static int recv_listen(struct recv_job *j)
{
	struct mstream_tcp_params tp = {
		.token = j->token,
		.timeout_ns = j->timeout_ns,
		.accept_timeout_ns = j->accept_ns,
		.log = recv_log,
		.log_arg = j,
		.session_timeout_ns = j->session_ns,
		.flags = tcp_flags,
		.host = j->host,
		.allow_from = j->allow,
	};
	int ret;

	pthread_mutex_init(&j->log_lock, NULL);
	ret = mstream_source_create_tcp(&j->src, &tp);
	if (!ret)
		j->port = mstream_source_port(j->src);
	return ret;
}

static void *recv_main(void *arg)
{
	struct mstream_session_params sp = { .pool = { .threads = 2, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };
	struct recv_job *j = arg;
	struct mstream_session *s = NULL;
	struct mstream_sink *sink = NULL;

	sp.progress = j->progress;
	sp.progress_arg = j->progress_arg;
	j->ret = mstream_sink_create_files(&sink, j->dir);
	if (!j->ret)
		j->ret = mstream_session_create(&s, &sp);
	if (!j->ret) {
		j->ret = mstream_session_run(s, j->src, sink);
		snprintf(j->err, sizeof(j->err), "%s", mstream_session_error(s));
	} else {
		snprintf(j->err, sizeof(j->err), "%s", mstream_last_error());
	}
	mstream_session_destroy(s);
	mstream_sink_destroy(sink);
	mstream_source_destroy(j->src);
	return NULL;
}

static int send_save(const char *dir, int port, const char *token, uint64_t timeout_ns,
		     char *err, size_t errlen, void (*progress)(struct mstream_session *, void *),
		     void *arg)
{
	struct mstream_session_params sp = { .pool = { .threads = 2, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS },
					     .flags = MSTREAM_SESSION_CHECKSUM,
					     .stall_timeout_ns = 3 * 1000000000ULL,
					     .progress = progress,
					     .progress_arg = arg };
	struct mstream_tcp_params tp = { .port = port, .token = token, .timeout_ns = timeout_ns,
					 .flags = tcp_flags };
	struct mstream_source *src = NULL;
	struct mstream_session *s = NULL;
	struct mstream_sink *sink = NULL;
	int ret;

	ret = mstream_source_create_files(&src, dir, 0);
	if (!ret)
		ret = mstream_sink_create_tcp(&sink, &tp);
	if (!ret)
		ret = mstream_session_create(&s, &sp);
	if (!ret) {
		ret = mstream_session_run(s, src, sink);
		snprintf(err, errlen, "%s", mstream_session_error(s));
	} else {
		snprintf(err, errlen, "%s", mstream_last_error());
	}
	mstream_session_destroy(s);
	mstream_sink_destroy(sink);
	mstream_source_destroy(src);
	return ret;
}

FIXTURE(tcp) {
	char src[48], dst[48];
	struct manifest m;
	struct recv_job job;
};

FIXTURE_SETUP(tcp)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->src, sizeof(self->src), "/tmp/mstream-tcp-%d", getpid());
	snprintf(self->dst, sizeof(self->dst), "/tmp/mstream-tcp-%d.rx", getpid());
	make_save(self->src, &self->m);
	self->job = (struct recv_job){ .dir = self->dst, .token = TOKEN,
				       .timeout_ns = 2000000000ULL,
				       .accept_ns = 5000000000ULL };
}

FIXTURE_TEARDOWN(tcp)
{
	char cmd[128];

	manifest_free(&self->m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", self->src, self->dst);
	if (system(cmd))
		TH_LOG("cleanup failed");
}

static bool has_manifest(const char *dir)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/manifest", dir);
	return !stat(p, &st);
}

static void same_save(struct __test_metadata *_metadata, const char *dir, const struct manifest *m)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct manifest got;
	char err[256];

	ASSERT_EQ(0, manifest_read(fd, &got, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(m->ndev, got.ndev);
	for (unsigned int d = 0; d < m->ndev; d++) {
		ASSERT_EQ(m->dev[d].nstreams, got.dev[d].nstreams);
		for (unsigned int k = 0; k < m->dev[d].nstreams; k++) {
			EXPECT_EQ(m->dev[d].s[k].bytes, got.dev[d].s[k].bytes);
			EXPECT_EQ(m->dev[d].s[k].xxh64, got.dev[d].s[k].xxh64);
		}
	}
	manifest_free(&got);
	close(fd);
}

TEST_F(tcp, loopback_round_trip)
{
	char err[512];

	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	EXPECT_EQ(0, self->job.rejects);
	same_save(_metadata, self->dst, &self->m);
}

/* A session may be destroyed before its sink: once the receiver hangs up,
 * the sink's control monitor must not touch the freed session (it did:
 * a use-after-free that ASan reports). */
TEST_F(tcp, session_destroyed_before_its_sink)
{
	struct mstream_session_params sp = { .pool = { .threads = 2, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };
	struct mstream_tcp_params tp = { .token = TOKEN, .timeout_ns = 2000000000ULL };
	struct mstream_source *src = NULL;
	struct mstream_session *s = NULL;
	struct mstream_sink *sink = NULL;

	ASSERT_EQ(0, recv_listen(&self->job));
	tp.port = self->job.port;
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, mstream_source_create_files(&src, self->src, 0));
	ASSERT_EQ(0, mstream_sink_create_tcp(&sink, &tp));
	ASSERT_EQ(0, mstream_session_create(&s, &sp));
	ASSERT_EQ(0, mstream_session_run(s, src, sink)) TH_LOG("%s", mstream_session_error(s));
	mstream_session_destroy(s);
	/* The receiver closes the control connection as it ends... */
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	/* ... and the sink's monitor sees it and ends. */
	while (thread_count_of("mstream-ctl"))
		msleep(10);
	mstream_sink_destroy(sink);
	mstream_source_destroy(src);
}

TEST_F(tcp, wrong_token_is_refused)
{
	uint64_t t0 = mstream_now_ns();
	char err[512];

	self->job.accept_ns = 1500000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	EXPECT_NE(0, send_save(self->src, self->job.port, "not-the-right-token-at-all", 2000000000ULL,
			       err, sizeof(err), NULL, NULL));
	TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	EXPECT_EQ(-ETIMEDOUT, self->job.ret);
	TH_LOG("receiver: %s; it logged: %s", self->job.err, self->job.log);
	EXPECT_EQ(1, self->job.rejects);
	EXPECT_NE(NULL, strstr(self->job.log, "wrong session token"));
	EXPECT_NE(NULL, strstr(err, "wrong session token"));
	EXPECT_FALSE(has_manifest(self->dst));
	EXPECT_LT(mstream_now_ns() - t0, 5000000000ULL);
}

TEST_F(tcp, short_token_is_refused_locally)
{
	struct mstream_tcp_params tp = { .port = 1, .token = "short" };
	struct mstream_sink *sink = NULL;

	EXPECT_EQ(-EINVAL, mstream_sink_create_tcp(&sink, &tp));
	EXPECT_NE(NULL, strstr(mstream_last_error(), "token"));
}

TEST_F(tcp, unreachable_receiver_is_reported)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	uint64_t t0 = mstream_now_ns();
	char err[512];
	int fd, port;

	/* A port that was free a moment ago: nobody listens there. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (void *)&a, sizeof(a));
	getsockname(fd, (void *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	EXPECT_EQ(-ECONNREFUSED, send_save(self->src, port, TOKEN, 2000000000ULL, err, sizeof(err),
					   NULL, NULL));
	TH_LOG("sender: %s", err);
	EXPECT_NE(NULL, strstr(err, "cannot connect"));
	EXPECT_LT(mstream_now_ns() - t0, 1000000000ULL);
}

/* Garbage, then a silent connection, then the real sender: both intruders
 * are turned away, the real one gets through. */
TEST_F(tcp, hostile_connections_then_the_sender)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char junk[128], err[512];
	int bad1, bad2;

	self->job.timeout_ns = 1000000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	a.sin_port = htons(self->job.port);
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);

	memset(junk, 'A', sizeof(junk));
	bad1 = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(bad1, (void *)&a, sizeof(a)));
	ASSERT_EQ(sizeof(junk), send(bad1, junk, sizeof(junk), 0));
	bad2 = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(bad2, (void *)&a, sizeof(a)));
	msleep(50);

	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 5000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	TH_LOG("receiver logged:\n%s", self->job.log);
	EXPECT_EQ(2, self->job.rejects);
	EXPECT_NE(NULL, strstr(self->job.log, "TLS handshake"));
	/* The silent one: its own deadline, or the end of the accepting. */
	EXPECT_TRUE(strstr(self->job.log, "no hello in time") ||
		    strstr(self->job.log, "the session has all its connections"));
	same_save(_metadata, self->dst, &self->m);
	close(bad1);
	close(bad2);
}

/* "" listens on every address: IPv4 and IPv6 both reach the receiver. */
TEST_F(tcp, listen_on_every_address)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	char err[512];
	int fd4, fd6;

	self->job.host = "";
	ASSERT_EQ(0, recv_listen(&self->job)) TH_LOG("%s", mstream_last_error());
	a4.sin_port = a6.sin6_port = htons(self->job.port);
	fd4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT_EQ(0, connect(fd4, (void *)&a4, sizeof(a4)));
	EXPECT_EQ(0, connect(fd6, (void *)&a6, sizeof(a6)));
	close(fd4);
	close(fd6);
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	same_save(_metadata, self->dst, &self->m);
}

/* A source-address filter: a sender outside it is turned away. */
TEST_F(tcp, address_filter)
{
	char err[512];

	self->job.allow = "192.0.2.0/24";
	self->job.accept_ns = 1500000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	EXPECT_NE(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL));
	pthread_join(self->job.thread, NULL);
	EXPECT_EQ(-ETIMEDOUT, self->job.ret);
	EXPECT_NE(NULL, strstr(self->job.log, "address not allowed")) TH_LOG("%s", self->job.log);
	EXPECT_FALSE(has_manifest(self->dst));
}

TEST_F(tcp, address_filter_lets_its_prefix_in)
{
	char err[512];

	self->job.allow = "127.0.0.0/8";
	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	same_save(_metadata, self->dst, &self->m);
}

TEST(address_filter_syntax)
{
	struct mstream_tcp_params tp = { .token = TOKEN, .allow_from = "10.0.0.0/33" };
	struct mstream_source *src = NULL;

	EXPECT_EQ(-EINVAL, mstream_source_create_tcp(&src, &tp));
	tp.allow_from = "fd00::/8";
	ASSERT_EQ(0, mstream_source_create_tcp(&src, &tp));
	mstream_source_destroy(src);
}

/* Seventeen junk connections and a silent one, all before the sender: none
 * of them fails the session (they are not counted against it), and the
 * silent one does not hold the door: the sender, whose own timeout is
 * shorter than the receiver's hello timeout, is served at once. The log
 * gets a burst of lines and then a count. */
TEST_F(tcp, many_hostile_connections_neither_fail_nor_stall)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char junk[128], err[512];
	int bad[18];

	self->job.timeout_ns = 3000000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	a.sin_port = htons(self->job.port);
	memset(junk, 'A', sizeof(junk));
	for (int i = 0; i < 18; i++) {
		bad[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_EQ(0, connect(bad[i], (void *)&a, sizeof(a)));
		if (i < 17)
			ASSERT_EQ(sizeof(junk), send(bad[i], junk, sizeof(junk), 0));
	}
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 1000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	TH_LOG("receiver logged:\n%s", self->job.log);
	EXPECT_NE(NULL, strstr(self->job.log, "TLS handshake"));
	EXPECT_NE(NULL, strstr(self->job.log, "more connections rejected"));
	EXPECT_LT(self->job.rejects, 18);
	same_save(_metadata, self->dst, &self->m);
	for (int i = 0; i < 18; i++)
		close(bad[i]);
}

/* The receiver, in its own process, freezes as soon as the transfer has
 * begun (the first progress call comes after every connection is up; 90 MiB
 * cannot have gone by then): the sender fails on its silence within the
 * timeout instead of waiting forever. */
static void stop_child(struct mstream_session *s, void *arg)
{
	pid_t *child = arg;

	(void)s;
	if (*child > 0) {
		kill(*child, SIGSTOP);
		*child = -*child;
	}
}

TEST_F(tcp, receiver_that_stops_answering)
{
	struct manifest big;
	uint64_t t0;
	char err[512], bigdir[64];
	pid_t child;

	snprintf(bigdir, sizeof(bigdir), "%s.big", self->src);
	make_save_scaled(bigdir, &big, 64);
	ASSERT_EQ(0, recv_listen(&self->job));
	child = fork();
	if (!child) {
		recv_main(&self->job);
		_exit(self->job.ret ? 1 : 0);
	}
	mstream_source_destroy(self->job.src); /* the child's now */
	t0 = mstream_now_ns();
	EXPECT_NE(0, send_save(bigdir, self->job.port, TOKEN, 1000000000ULL, err, sizeof(err),
			       stop_child, &child));
	TH_LOG("sender: %s", err);
	EXPECT_LT(child, 0) TH_LOG("the transfer ended before the receiver was stopped");
	EXPECT_LT(mstream_now_ns() - t0, 6000000000ULL);
	kill(child < 0 ? -child : child, SIGKILL);
	waitpid(child < 0 ? -child : child, NULL, 0);
	manifest_free(&big);
	snprintf(err, sizeof(err), "rm -rf %s", bigdir);
	ASSERT_EQ(0, system(err));
}

/* The sender, in its own process, is killed once the transfer has begun:
 * the receiver fails with a message and loads nothing (no manifest). */
static void kill_sender(struct mstream_session *s, void *arg)
{
	pid_t *child = arg;

	(void)s;
	if (*child > 0) {
		kill(*child, SIGKILL);
		*child = -*child;
	}
}

TEST_F(tcp, sender_killed_midway)
{
	struct manifest big;
	char err[512], bigdir[64];
	uint64_t t0;
	pid_t child;

	snprintf(bigdir, sizeof(bigdir), "%s.big", self->src);
	make_save_scaled(bigdir, &big, 64);
	ASSERT_EQ(0, recv_listen(&self->job));
	child = fork();
	if (!child) {
		mstream_source_destroy(self->job.src);
		_exit(send_save(bigdir, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err), NULL,
				NULL) ? 1 : 0);
	}
	self->job.progress = kill_sender;
	self->job.progress_arg = &child;
	t0 = mstream_now_ns();
	recv_main(&self->job);
	EXPECT_NE(0, self->job.ret);
	TH_LOG("receiver: %s", self->job.err);
	EXPECT_LT(child, 0) TH_LOG("the transfer ended before the sender was killed");
	EXPECT_FALSE(has_manifest(self->dst));
	EXPECT_LT(mstream_now_ns() - t0, 6000000000ULL);
	waitpid(child < 0 ? -child : child, NULL, 0);
	manifest_free(&big);
	snprintf(err, sizeof(err), "rm -rf %s", bigdir);
	ASSERT_EQ(0, system(err));
}

/* The control connection, on a socketpair whose far end this test plays. */
struct ctl_send_job {
	struct ctl *c;
	pthread_t thread;
	int ret;
};

static void *ctl_send_main(void *arg)
{
	struct ctl_send_job *j = arg;

	j->ret = ctl_send(j->c, F_SWITCHOVER, NULL, 0);
	return NULL;
}

static bool never(struct ctl *c, void *arg)
{
	return false;
}

static void peer_frame(int fd, uint16_t type, const void *payload, uint32_t len)
{
	struct {
		uint32_t magic;
		uint16_t type, flags;
		uint32_t len;
	} __attribute__((packed)) hdr = { htole32(NET_FRAME_MAGIC), htole16(type), 0, htole32(len) };

	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) || (len && write(fd, payload, len) != len))
		abort();
}

/* A send stuck on a peer that does not read must not stop the monitor from
 * seeing what that peer says: its ABORT reaches a waiter at once, and ends
 * the stuck send (the timeout is an hour). */
TEST(ctl_send_stuck_does_not_block_the_monitor)
{
	struct ctl c;
	struct ctl_send_job j = { .c = &c };
	char junk[4096] = { 0 };
	uint8_t abort_msg[8] = { 0xf3, 0xff, 0xff, 0xff, 'b', 'y', 'e', 0 }; /* -13 */
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, ctl_init(&c, sv[0], 3600ULL * 1000000000ULL, "peer"));
	ASSERT_EQ(0, ctl_start(&c));
	while (send(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
		; /* the peer reads nothing: our side is full */
	pthread_create(&j.thread, NULL, ctl_send_main, &j);
	peer_frame(sv[1], F_ABORT, abort_msg, 7);
	EXPECT_EQ(-EACCES, ctl_wait(&c, never, NULL, 0));
	pthread_join(j.thread, NULL);
	EXPECT_NE(0, j.ret);
	ctl_stop(&c);
	close(sv[0]);
	close(sv[1]);
}

/* The heartbeat is a frame like any other: little-endian on every host. */
TEST(heartbeat_is_little_endian)
{
	static const uint8_t want[12] = { 'M', 'S', 'C', 'F', F_HEARTBEAT, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t got[12];
	struct ctl c;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, ctl_init(&c, sv[0], 3600ULL * 1000000000ULL, "peer"));
	ASSERT_EQ(0, ctl_start(&c));
	ASSERT_EQ(0, net_recv_exact(sv[1], got, sizeof(got), 0, -1));
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	ctl_stop(&c);
	close(sv[0]);
	close(sv[1]);
}

/* ^C while `recv` waits for its sender (an hour): the handler's abort ends
 * the wait at once. */
static struct mstream_session *sig_session;

static void on_sigusr1(int sig)
{
	mstream_session_abort(sig_session, -EINTR);
}

struct run_job {
	struct mstream_session *s;
	struct mstream_source *src;
	struct mstream_sink *sink;
	pthread_t thread;
	int ret;
};

static void *run_main(void *arg)
{
	struct run_job *j = arg;

	j->ret = mstream_session_run(j->s, j->src, j->sink);
	return NULL;
}

TEST_F(tcp, signal_interrupts_the_wait_for_a_sender)
{
	struct mstream_session_params sp = { .pool = { .threads = 1, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct run_job j = { 0 };

	self->job.accept_ns = 3600ULL * 1000000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	ASSERT_EQ(0, mstream_sink_create_files(&j.sink, self->dst));
	ASSERT_EQ(0, mstream_session_create(&j.s, &sp));
	j.src = self->job.src;
	sig_session = j.s;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&j.thread, NULL, run_main, &j);
	pthread_kill(j.thread, SIGUSR1);
	pthread_join(j.thread, NULL);
	EXPECT_EQ(-EINTR, j.ret) TH_LOG("%s", mstream_session_error(j.s));
	mstream_session_destroy(j.s);
	mstream_sink_destroy(j.sink);
	mstream_source_destroy(j.src);
}

/* A sender that connects, announces one stream, and then only heartbeats:
 * the receiver gives up at its session timeout instead of waiting forever. */
struct fake_sender {
	int port;
	bool trickle;	/* switch over, then a byte of data every 100 ms */
	bool stop;
	pthread_t thread;
};

static int fake_connect(int port, uint32_t role)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (void *)&a, sizeof(a)) ||
	    net_send_hello(fd, role, 0, 0, TOKEN, 0, -1))
		abort();
	return fd;
}

static void *fake_sender_main(void *arg)
{
	struct fake_sender *f = arg;
	uint8_t layout[4 + 72] = { 1 }, reply[512];
	uint32_t len;
	uint16_t type;
	int c, d;

	c = fake_connect(f->port, NET_ROLE_CONTROL);
	layout[8] = 1; /* one device: v2, one stream */
	if (net_send_frame(c, F_LAYOUT, layout, sizeof(layout), 0, -1) ||
	    net_recv_frame(c, 0, -1, &type, reply, sizeof(reply), &len) || type != F_READY)
		abort();
	d = fake_connect(f->port, NET_ROLE_STREAM);
	if (f->trickle && net_send_frame(c, F_SWITCHOVER, NULL, 0, 0, -1))
		abort();
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		if (net_send_frame(c, F_HEARTBEAT, NULL, 0, 0, -1))
			break; /* the receiver hung up */
		if (f->trickle && send(d, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		msleep(100);
	}
	close(d);
	close(c);
	return NULL;
}

TEST_F(tcp, sender_that_only_heartbeats)
{
	struct fake_sender f;

	self->job.session_ns = 2000000000ULL;
	tcp_flags = MSTREAM_TCP_PLAIN; /* the fake sender speaks plain TCP */
	ASSERT_EQ(0, recv_listen(&self->job));
	f = (struct fake_sender){ .port = self->job.port };
	pthread_create(&f.thread, NULL, fake_sender_main, &f);
	recv_main(&self->job);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	pthread_join(f.thread, NULL);
	EXPECT_EQ(-ETIMEDOUT, self->job.ret);
	TH_LOG("receiver: %s", self->job.err);
	EXPECT_FALSE(has_manifest(self->dst));
}

/* The same sender switched over and trickles a byte every 100 ms: data keeps
 * moving (no stall), yet the session timeout ends it. */
TEST_F(tcp, sender_that_trickles)
{
	struct fake_sender f;

	self->job.session_ns = 2000000000ULL;
	tcp_flags = MSTREAM_TCP_PLAIN; /* the fake sender speaks plain TCP */
	ASSERT_EQ(0, recv_listen(&self->job));
	f = (struct fake_sender){ .port = self->job.port, .trickle = true };
	pthread_create(&f.thread, NULL, fake_sender_main, &f);
	recv_main(&self->job);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	pthread_join(f.thread, NULL);
	EXPECT_EQ(-ETIMEDOUT, self->job.ret);
	TH_LOG("receiver: %s", self->job.err);
	EXPECT_FALSE(has_manifest(self->dst));
}

/* What a sender puts on the wire before the receiver says anything: the
 * token must not be in it (plain TCP sent it in the hello). */
struct wire_tap {
	int lfd;
	pthread_t thread;
	char bytes[65536];
	size_t len;
};

static void *tap_main(void *arg)
{
	struct wire_tap *t = arg;
	int fd = accept(t->lfd, NULL, NULL);
	ssize_t n;

	/* Until the sender gives up on us (its timeout) and closes. */
	while (fd >= 0 && t->len < sizeof(t->bytes) &&
	       (n = read(fd, t->bytes + t->len, sizeof(t->bytes) - t->len)) > 0)
		t->len += n;
	close(fd);
	return NULL;
}

TEST_F(tcp, token_never_on_the_wire)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct wire_tap t = { 0 };
	char err[512];

	t.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, bind(t.lfd, (void *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(t.lfd, 1));
	getsockname(t.lfd, (void *)&a, &alen);
	pthread_create(&t.thread, NULL, tap_main, &t);
	EXPECT_NE(0, send_save(self->src, ntohs(a.sin_port), TOKEN, 1000000000ULL, err, sizeof(err),
			       NULL, NULL));
	pthread_join(t.thread, NULL);
	close(t.lfd);
	TH_LOG("sender: %s; %zu bytes on the wire", err, t.len);
	EXPECT_LT(0, t.len);
	EXPECT_EQ(NULL, memmem(t.bytes, t.len, TOKEN, strlen(TOKEN)));
}

/* Plain TCP, on both ends, as before TLS. */
TEST_F(tcp, plain_round_trip)
{
	char err[512];

	tcp_flags = MSTREAM_TCP_PLAIN;
	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	ASSERT_EQ(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL))
		TH_LOG("sender: %s", err);
	pthread_join(self->job.thread, NULL);
	ASSERT_EQ(0, self->job.ret) TH_LOG("receiver: %s", self->job.err);
	same_save(_metadata, self->dst, &self->m);
}

/* A TLS sender and a plain receiver: both fail, with a message. */
TEST_F(tcp, tls_sender_plain_receiver)
{
	char err[512];

	tcp_flags = MSTREAM_TCP_PLAIN;
	self->job.accept_ns = 1500000000ULL;
	ASSERT_EQ(0, recv_listen(&self->job));
	pthread_create(&self->job.thread, NULL, recv_main, &self->job);
	tcp_flags = 0;
	EXPECT_NE(0, send_save(self->src, self->job.port, TOKEN, 2000000000ULL, err, sizeof(err),
			       NULL, NULL));
	TH_LOG("sender: %s", err);
	EXPECT_NE(NULL, strstr(err, "TLS"));
	pthread_join(self->job.thread, NULL);
	EXPECT_EQ(-ETIMEDOUT, self->job.ret);
	EXPECT_NE(NULL, strstr(self->job.log, "bad magic")) TH_LOG("%s", self->job.log);
	EXPECT_FALSE(has_manifest(self->dst));
}

/* An IPv6 address in a message is written in brackets: [::1]:PORT. */
TEST(ipv6_address_in_brackets)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct mstream_tcp_params tp = { .host = "::1", .token = TOKEN,
					 .timeout_ns = 2000000000ULL };
	struct mstream_session_params sp = { .pool = { .threads = 1 } };
	struct mstream_source *src = NULL;
	struct mstream_session *s = NULL;
	struct mstream_sink *sink = NULL;
	socklen_t len = sizeof(a);
	char dir[64], want[96];
	struct manifest m;
	int fd;

	/* A port that was free a moment ago: nobody listens there. */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ASSERT_EQ(0, bind(fd, (void *)&a, sizeof(a)));
	getsockname(fd, (void *)&a, &len);
	close(fd);
	tp.port = ntohs(a.sin6_port);
	snprintf(dir, sizeof(dir), "/tmp/mstream-tcp6-%d", getpid());
	make_save(dir, &m);
	ASSERT_EQ(0, mstream_source_create_files(&src, dir, 0));
	ASSERT_EQ(0, mstream_sink_create_tcp(&sink, &tp));
	ASSERT_EQ(0, mstream_session_create(&s, &sp));
	EXPECT_EQ(-ECONNREFUSED, mstream_session_run(s, src, sink));
	snprintf(want, sizeof(want), "[::1]:%u", tp.port);
	EXPECT_NE(NULL, strstr(mstream_session_error(s), want)) TH_LOG("%s", mstream_session_error(s));
	mstream_session_destroy(s);
	mstream_sink_destroy(sink);
	mstream_source_destroy(src);
	manifest_free(&m);
	snprintf(want, sizeof(want), "rm -rf %s", dir);
	ASSERT_EQ(0, system(want));
}

/* A receiver (plain TCP, played here) that takes every byte and END record
 * but never confirms, only heartbeats: the sender, whose sources are
 * stopped, gives up at its session timeout. */
struct fake_receiver {
	int lfd;
	bool stop;
	pthread_t thread;
};

static int fake_accept(int lfd)
{
	struct net_hello h;
	char why[128];
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0 || net_recv_exact(fd, &h, sizeof(h), 0, -1) ||
	    net_check_hello(&h, TOKEN, why, sizeof(why)))
		abort();
	return fd;
}

static void *fake_receiver_main(void *arg)
{
	struct fake_receiver *f = arg;
	uint8_t buf[65536], ready[4] = { 0 };
	unsigned int nstreams = 0, ndev;
	uint32_t len;
	uint16_t type;
	int c, fds[64];

	c = fake_accept(f->lfd);
	if (net_recv_frame(c, 0, -1, &type, buf, sizeof(buf), &len) || type != F_LAYOUT)
		abort();
	ndev = le32toh(*(uint32_t *)buf);
	for (unsigned int d = 0; d < ndev; d++)
		nstreams += le32toh(*(uint32_t *)(buf + 4 + d * 72 + 4));
	net_send_frame(c, F_READY, ready, sizeof(ready), 0, -1);
	for (unsigned int i = 0; i < nstreams; i++)
		fds[i] = fake_accept(f->lfd);
	for (unsigned int i = 0; i < nstreams; i++)
		while (read(fds[i], buf, sizeof(buf)) > 0)
			;
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { c, POLLIN, 0 };

		if (poll(&p, 1, 100) > 0 &&
		    net_recv_frame(c, 0, -1, &type, buf, sizeof(buf), &len))
			break; /* the sender hung up */
		if (net_send_frame(c, F_HEARTBEAT, NULL, 0, 0, -1))
			break;
	}
	for (unsigned int i = 0; i < nstreams; i++)
		close(fds[i]);
	close(c);
	return NULL;
}

TEST_F(tcp, receiver_that_never_confirms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct mstream_session_params sp = { .pool = { .threads = 1, .buf_size = 65536,
						       .flags = MSTREAM_POOL_NO_FIXED_BUFFERS } };
	struct mstream_tcp_params tp = { .token = TOKEN, .timeout_ns = 1000000000ULL,
					 .flags = MSTREAM_TCP_PLAIN,
					 .session_timeout_ns = 2000000000ULL };
	struct fake_receiver f = { 0 };
	struct mstream_source *src = NULL;
	struct mstream_session *s = NULL;
	struct mstream_sink *sink = NULL;
	socklen_t alen = sizeof(a);

	f.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, bind(f.lfd, (void *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(f.lfd, 64));
	getsockname(f.lfd, (void *)&a, &alen);
	tp.port = ntohs(a.sin_port);
	pthread_create(&f.thread, NULL, fake_receiver_main, &f);
	ASSERT_EQ(0, mstream_source_create_files(&src, self->src, 0));
	ASSERT_EQ(0, mstream_sink_create_tcp(&sink, &tp));
	ASSERT_EQ(0, mstream_session_create(&s, &sp));
	EXPECT_EQ(-ETIMEDOUT, mstream_session_run(s, src, sink));
	TH_LOG("sender: %s", mstream_session_error(s));
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	mstream_session_destroy(s);
	mstream_sink_destroy(sink);
	mstream_source_destroy(src);
	pthread_join(f.thread, NULL);
	close(f.lfd);
}

TEST_HARNESS_MAIN
