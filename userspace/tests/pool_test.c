// SPDX-License-Identifier: MIT
/*
 * pool_test.c - the reader pool on pipes, socketpairs and files, no kernel
 * module needed. Every test runs against each reader: io_uring with and
 * without registered buffers, a thread per stream, and the serial loop.
 *
 * Checked: every byte delivered once and in order per stream (the pattern is
 * position-dependent), end of file, short reads (random producer chunks),
 * backpressure (a slow or stuck consumer bounds what the pool holds), a
 * failing reader and a failing writer (only that stream fails), critical
 * streams served while dirty ones are stuck, parking and arming, streams
 * added after start, cancellation that never hangs, and the memory bound.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "kselftest_harness.h"

#include "helpers.h"
#include "mstream.h"
#include "xxh64.h"

#define MAX_S 8

static uint64_t pat_xxh64(uint64_t seed, uint64_t total)
{
	uint8_t buf[4096];
	struct xxh64 st;

	xxh64_init(&st);
	for (uint64_t off = 0; off < total; off += sizeof(buf)) {
		size_t n = total - off < sizeof(buf) ? total - off : sizeof(buf);

		pat_fill(seed, off, buf, n);
		xxh64_update(&st, buf, n);
	}
	return xxh64_digest(&st);
}

/* Wait until no stream is pending, at most ms milliseconds. */
static int run_until_done(struct mstream_pool *pool, unsigned int ms)
{
	uint64_t end = mstream_now_ns() + ms * 1000000ULL;

	while (mstream_pool_pending(pool)) {
		if (mstream_now_ns() > end)
			return -ETIMEDOUT;
		mstream_pool_wait(pool, 50 * 1000000ULL);
	}
	return 0;
}

/* A TCP loopback pair; the server side gets RST-closed by reset_close(). */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	bind(l, (void *)&a, sizeof(a));
	listen(l, 1);
	getsockname(l, (void *)&a, &len);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	connect(fds[0], (void *)&a, sizeof(a));
	fds[1] = accept(l, NULL, NULL);
	close(l);
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

FIXTURE(pool) {
	struct mstream_pool *pool;
	struct mstream_pool_params params;
};

FIXTURE_VARIANT(pool) {
	unsigned int kind;
	unsigned int flags;
	unsigned int threads;
};

FIXTURE_VARIANT_ADD(pool, uring) {
	.kind = MSTREAM_POOL_URING, .threads = 2,
};

FIXTURE_VARIANT_ADD(pool, uring_unregistered) {
	.kind = MSTREAM_POOL_URING, .flags = MSTREAM_POOL_NO_FIXED_BUFFERS, .threads = 3,
};

FIXTURE_VARIANT_ADD(pool, uring_one_worker) {
	.kind = MSTREAM_POOL_URING, .threads = 1,
};

FIXTURE_VARIANT_ADD(pool, threads) {
	.kind = MSTREAM_POOL_THREADS,
};

FIXTURE_VARIANT_ADD(pool, serial) {
	.kind = MSTREAM_POOL_SERIAL,
};

FIXTURE_SETUP(pool)
{
	signal(SIGPIPE, SIG_IGN); /* the library reports EPIPE; see mstream(1) */
	self->params = (struct mstream_pool_params){
		.kind = variant->kind,
		.threads = variant->threads,
		.queue_depth = 4,
		.buf_size = 64 * 1024,
		.flags = variant->flags,
	};
	ASSERT_EQ(0, mstream_pool_create(&self->pool, &self->params));
}

FIXTURE_TEARDOWN(pool)
{
	mstream_pool_destroy(self->pool);
}

struct rig {
	unsigned int n;
	struct producer prod[MAX_S];
	struct consumer cons[MAX_S];
	struct mstream_stream *st[MAX_S];
	int in_rd[MAX_S], out_wr[MAX_S];
};

enum { PIPES, SOCKETS };

/* Stream i: producer -> in pipe/socket -> pool -> out pipe/socket -> consumer. */
static void rig_add(struct __test_metadata *_metadata, FIXTURE_DATA(pool) *self,
		    struct rig *r, int kind, uint64_t total, unsigned int flags)
{
	unsigned int i = r->n++;
	struct mstream_stream_params sp = { 0 };
	int in[2], out[2];

	if (kind == SOCKETS) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in));
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out));
	} else {
		ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	}
	r->prod[i] = (struct producer){ .fd = in[1], .seed = 100 + i, .total = total,
					.max_chunk = 1 + i * 20000 };
	r->cons[i] = (struct consumer){ .fd = out[0], .seed = 100 + i,
					.read_size = 1000 + i * 7000 };
	r->in_rd[i] = in[0];
	r->out_wr[i] = out[1];
	sp.in_fd = in[0];
	sp.out_fd = out[1];
	sp.out_offset = -1;
	sp.flags = MSTREAM_STREAM_CHECKSUM | flags;
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &r->st[i]));
}

static void rig_go(struct rig *r, unsigned int i)
{
	producer_start(&r->prod[i]);
	consumer_start(&r->cons[i]);
}

/* Close what the pool used (it never closes FDs) and join the threads. */
static void rig_finish(struct rig *r)
{
	for (unsigned int i = 0; i < r->n; i++) {
		close(r->out_wr[i]);
		close(r->in_rd[i]);
		pthread_join(r->prod[i].thread, NULL);
		pthread_join(r->cons[i].thread, NULL);
	}
}

static void expect_delivered(struct __test_metadata *_metadata, struct rig *r, unsigned int i)
{
	struct mstream_stream_stats ss;

	ASSERT_EQ(0, mstream_stream_get_stats(r->st[i], &ss));
	EXPECT_EQ(MSTREAM_STREAM_DONE, ss.state) TH_LOG("stream %u: error %d", i, ss.error);
	EXPECT_EQ(r->prod[i].total, ss.bytes_read);
	EXPECT_EQ(r->prod[i].total, ss.bytes_written);
	EXPECT_EQ(pat_xxh64(r->prod[i].seed, r->prod[i].total), ss.checksum);
	EXPECT_EQ(r->prod[i].total, r->cons[i].got) TH_LOG("stream %u", i);
	EXPECT_EQ(-1, r->cons[i].bad_off) TH_LOG("stream %u: wrong byte at %lld", i,
					       (long long)r->cons[i].bad_off);
}

static const uint64_t sizes[] = { 0, 1, 4095, (1 << 20) + 3, 3 << 20, 200000 };

static void copy_test(struct __test_metadata *_metadata, FIXTURE_DATA(pool) *self, int kind)
{
	struct mstream_pool_stats ps;
	struct rig r = { 0 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		rig_add(_metadata, self, &r, kind, sizes[i], i == 0 ? MSTREAM_STREAM_CRITICAL : 0);
	for (unsigned int i = 0; i < r.n; i++)
		rig_go(&r, i);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	ASSERT_EQ(0, run_until_done(self->pool, 20000));
	rig_finish(&r);
	for (unsigned int i = 0; i < r.n; i++)
		expect_delivered(_metadata, &r, i);
	ASSERT_EQ(0, mstream_pool_get_stats(self->pool, &ps));
	EXPECT_LE(ps.peak_bytes, ps.alloc_bytes);
	EXPECT_EQ(0, ps.in_use_bytes);
}

TEST_F(pool, pipes_every_byte_once_in_order)
{
	copy_test(_metadata, self, PIPES);
}

TEST_F(pool, socketpairs_every_byte_once_in_order)
{
	copy_test(_metadata, self, SOCKETS);
}

/* A consumer 100x slower than the producer: the pool holds at most its
 * buffers, the rest waits in the producer (backpressure), nothing is lost. */
TEST_F(pool, backpressure_bounds_memory)
{
	struct mstream_pool_stats ps;
	struct mstream_stream_stats ss;
	struct rig r = { 0 };
	uint64_t max_gap = 0;
	unsigned int i;

	for (i = 0; i < 3; i++)
		rig_add(_metadata, self, &r, PIPES, 2 << 20, 0);
	for (i = 0; i < r.n; i++) {
		r.cons[i].delay_us = 2000;
		r.cons[i].read_size = 16384;
		rig_go(&r, i);
	}
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	while (mstream_pool_pending(self->pool)) {
		mstream_pool_wait(self->pool, 20 * 1000000ULL);
		for (i = 0; i < r.n; i++) {
			ASSERT_EQ(0, mstream_stream_get_stats(r.st[i], &ss));
			if (ss.bytes_read - ss.bytes_written > max_gap)
				max_gap = ss.bytes_read - ss.bytes_written;
		}
	}
	rig_finish(&r);
	for (i = 0; i < r.n; i++)
		expect_delivered(_metadata, &r, i);
	ASSERT_EQ(0, mstream_pool_get_stats(self->pool, &ps));
	EXPECT_GT(ps.alloc_bytes, 0);
	EXPECT_LE(ps.peak_bytes, ps.alloc_bytes);
	EXPECT_LE(max_gap, ps.alloc_bytes);
	TH_LOG("alloc %llu peak %llu largest read-written gap %llu",
	       (unsigned long long)ps.alloc_bytes, (unsigned long long)ps.peak_bytes,
	       (unsigned long long)max_gap);
}

/* End of file at once, and an empty stream next to a busy one. */
TEST_F(pool, end_of_file)
{
	struct rig r = { 0 };

	rig_add(_metadata, self, &r, PIPES, 0, 0);
	rig_add(_metadata, self, &r, SOCKETS, 0, MSTREAM_STREAM_CRITICAL);
	rig_add(_metadata, self, &r, PIPES, 100000, 0);
	for (unsigned int i = 0; i < r.n; i++)
		rig_go(&r, i);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	rig_finish(&r);
	for (unsigned int i = 0; i < r.n; i++)
		expect_delivered(_metadata, &r, i);
}

/* A reader that fails mid-stream (TCP reset after 300 KB) fails that stream
 * only, with its errno; the others complete. */
TEST_F(pool, failing_reader)
{
	struct mstream_stream_params sp = { .out_fd = -1, .out_offset = -1 };
	struct mstream_stream_stats ss;
	struct mstream_stream *bad, *dir;
	struct producer p = { 0 };
	struct rig r = { 0 };
	int tcp[2], dfd;

	rig_add(_metadata, self, &r, PIPES, 1 << 20, 0);
	rig_add(_metadata, self, &r, SOCKETS, 1 << 20, MSTREAM_STREAM_CRITICAL);

	tcp_pair(tcp);
	sp.in_fd = tcp[0];
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &bad));
	/* A directory: every read fails with EISDIR at once. */
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sp.in_fd = dfd;
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &dir));

	for (unsigned int i = 0; i < r.n; i++)
		rig_go(&r, i);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	p = (struct producer){ .fd = tcp[1], .seed = 7, .total = 300000, .keep_open = true };
	producer_start(&p);
	pthread_join(p.thread, NULL);
	msleep(50);
	reset_close(tcp[1]);
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	rig_finish(&r);

	ASSERT_EQ(0, mstream_stream_get_stats(bad, &ss));
	EXPECT_EQ(MSTREAM_STREAM_FAILED, ss.state);
	EXPECT_EQ(-ECONNRESET, ss.error);
	EXPECT_LE(ss.bytes_read, 300000);
	ASSERT_EQ(0, mstream_stream_get_stats(dir, &ss));
	EXPECT_EQ(MSTREAM_STREAM_FAILED, ss.state);
	EXPECT_EQ(-EISDIR, ss.error);
	for (unsigned int i = 0; i < r.n; i++)
		expect_delivered(_metadata, &r, i);
	close(tcp[0]);
	close(dfd);
}

/* A writer whose reader went away: EPIPE for that stream, not a signal. */
TEST_F(pool, failing_writer)
{
	struct mstream_stream_params sp = { .out_offset = -1 };
	struct mstream_stream_stats ss;
	struct mstream_stream *bad;
	struct producer p = { 0 };
	struct rig r = { 0 };
	int in[2], out[2];

	rig_add(_metadata, self, &r, PIPES, 1 << 20, 0);
	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	close(out[0]);
	sp.in_fd = in[0];
	sp.out_fd = out[1];
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &bad));
	p = (struct producer){ .fd = in[1], .seed = 9, .total = 1 << 20 };
	producer_start(&p);
	rig_go(&r, 0);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	ASSERT_EQ(0, mstream_stream_get_stats(bad, &ss));
	EXPECT_EQ(MSTREAM_STREAM_FAILED, ss.state);
	EXPECT_EQ(-EPIPE, ss.error);
	close(in[0]); /* unblocks the producer */
	pthread_join(p.thread, NULL);
	close(out[1]);
	rig_finish(&r);
	expect_delivered(_metadata, &r, 0);
}

/* Inputs that never produce: cancel fails every stream with our errno,
 * promptly, and destroy does not hang. */
TEST_F(pool, cancel_never_hangs)
{
	struct mstream_stream_params sp = { .out_fd = -1, .out_offset = -1 };
	struct mstream_stream *st[4];
	int pipes[4][2];
	uint64_t t0;

	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, pipe2(pipes[i], O_CLOEXEC));
		sp.in_fd = pipes[i][0];
		sp.flags = i == 3 ? MSTREAM_STREAM_PARKED_START : 0;
		ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &st[i]));
	}
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	EXPECT_EQ(0, mstream_pool_wait(self->pool, 100 * 1000000ULL));
	EXPECT_EQ(4, mstream_pool_pending(self->pool));
	t0 = mstream_now_ns();
	ASSERT_EQ(0, mstream_pool_cancel(self->pool, -ETIMEDOUT));
	ASSERT_EQ(0, run_until_done(self->pool, 5000));
	EXPECT_LT(mstream_now_ns() - t0, 2000 * 1000000ULL);
	for (int i = 0; i < 4; i++) {
		struct mstream_stream_stats ss;

		ASSERT_EQ(0, mstream_stream_get_stats(st[i], &ss));
		EXPECT_EQ(MSTREAM_STREAM_FAILED, ss.state);
		EXPECT_EQ(-ETIMEDOUT, ss.error);
	}
	mstream_pool_destroy(self->pool);
	self->pool = NULL;
	for (int i = 0; i < 4; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

/* A parked stream reads nothing until it is armed. */
TEST_F(pool, parked_until_armed)
{
	struct mstream_stream_stats ss;
	struct rig r = { 0 };

	rig_add(_metadata, self, &r, PIPES, 300000, MSTREAM_STREAM_PARKED_START);
	rig_add(_metadata, self, &r, PIPES, 300000, 0);
	rig_go(&r, 0);
	rig_go(&r, 1);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	for (int i = 0; i < 20 && mstream_pool_pending(self->pool) > 1; i++)
		mstream_pool_wait(self->pool, 50 * 1000000ULL);
	msleep(100);
	ASSERT_EQ(0, mstream_stream_get_stats(r.st[0], &ss));
	EXPECT_EQ(MSTREAM_STREAM_PARKED, ss.state);
	EXPECT_EQ(0, ss.bytes_read);
	ASSERT_EQ(0, mstream_stream_arm(r.st[0]));
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	rig_finish(&r);
	expect_delivered(_metadata, &r, 0);
	expect_delivered(_metadata, &r, 1);
}

/* Streams added while the pool runs are served like the first ones. */
TEST_F(pool, added_after_start)
{
	struct rig r = { 0 };

	rig_add(_metadata, self, &r, PIPES, 500000, 0);
	rig_go(&r, 0);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	mstream_pool_wait(self->pool, 20 * 1000000ULL);
	rig_add(_metadata, self, &r, SOCKETS, 700000, MSTREAM_STREAM_CRITICAL);
	rig_add(_metadata, self, &r, PIPES, 10, 0);
	rig_go(&r, 1);
	rig_go(&r, 2);
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	rig_finish(&r);
	for (unsigned int i = 0; i < r.n; i++)
		expect_delivered(_metadata, &r, i);
}

/* A file as output, written at offsets from out_offset on. */
TEST_F(pool, file_output_at_offset)
{
	char path[] = "/tmp/mstream-pool-XXXXXX";
	struct mstream_stream_params sp = { 0 };
	struct producer p = { 0 };
	struct consumer c = { 0 };
	struct mstream_stream *st;
	int in[2], fd = mkstemp(path);

	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, pwrite(fd, "HEAD", 4, 0) == 4 ? 0 : -1);
	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	sp.in_fd = in[0];
	sp.out_fd = fd;
	sp.out_offset = 4;
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &st));
	p = (struct producer){ .fd = in[1], .seed = 5, .total = 777777 };
	producer_start(&p);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	ASSERT_EQ(0, run_until_done(self->pool, 10000));
	pthread_join(p.thread, NULL);
	close(in[0]);

	struct stat stt;
	ASSERT_EQ(0, fstat(fd, &stt));
	EXPECT_EQ(4 + 777777, stt.st_size);
	ASSERT_EQ(4, lseek(fd, 4, SEEK_SET));
	c = (struct consumer){ .fd = fd, .seed = 5 };
	consumer_start(&c);
	pthread_join(c.thread, NULL);
	EXPECT_EQ(777777, c.got);
	EXPECT_EQ(-1, c.bad_off);
}

/*
 * Critical first: one worker, two buffers, a dirty stream whose output is
 * stuck, and a critical stream parked meanwhile (v3's stream 0 after its
 * initial data). When the critical stream is armed again (a REINIT), it gets
 * the buffer held back for it and completes while the dirty one stays stuck.
 */
TEST_F(pool, critical_served_while_dirty_stuck)
{
	struct mstream_pool_params pp = self->params;
	struct mstream_stream_params sp = { .out_offset = -1 };
	struct mstream_stream_stats ss;
	struct mstream_stream *dirty;
	struct producer p = { 0 };
	struct rig r = { 0 };
	int in[2], out[2];

	if (variant->kind != MSTREAM_POOL_URING)
		SKIP(return, "buffers are per stream in this reader");
	mstream_pool_destroy(self->pool);
	pp.threads = 1;
	pp.queue_depth = 2;
	ASSERT_EQ(0, mstream_pool_create(&self->pool, &pp));

	rig_add(_metadata, self, &r, PIPES, 1 << 20,
		MSTREAM_STREAM_CRITICAL | MSTREAM_STREAM_PARKED_START);
	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC | O_NONBLOCK));
	sp.in_fd = in[0];
	sp.out_fd = out[1];
	ASSERT_EQ(0, mstream_pool_add(self->pool, &sp, &dirty));
	p = (struct producer){ .fd = in[1], .seed = 3, .total = 4 << 20, .keep_open = true };
	producer_start(&p);
	ASSERT_EQ(0, mstream_pool_start(self->pool));
	msleep(200); /* the dirty output pipe is full by now */
	ASSERT_EQ(0, mstream_stream_get_stats(dirty, &ss));
	EXPECT_GT(ss.bytes_read, 0);

	rig_go(&r, 0);
	ASSERT_EQ(0, mstream_stream_arm(r.st[0]));
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(0, mstream_stream_get_stats(r.st[0], &ss));
		if (ss.state == MSTREAM_STREAM_DONE)
			break;
		mstream_pool_wait(self->pool, 20 * 1000000ULL);
	}
	EXPECT_EQ(MSTREAM_STREAM_DONE, ss.state);
	ASSERT_EQ(0, mstream_stream_get_stats(dirty, &ss));
	EXPECT_EQ(MSTREAM_STREAM_ACTIVE, ss.state);
	EXPECT_LT(ss.bytes_written, 4 << 20);
	mstream_pool_cancel(self->pool, -ECANCELED);
	ASSERT_EQ(0, run_until_done(self->pool, 5000));
	close(in[0]); /* unblocks the producer */
	pthread_join(p.thread, NULL);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	rig_finish(&r);
	expect_delivered(_metadata, &r, 0);
}

TEST(xxh64_known_answers)
{
	/* Reference values of XXH64 with seed 0 (xxhsum -H1). */
	EXPECT_EQ(0xEF46DB3751D8E999ULL, mstream_xxh64("", 0));
	EXPECT_EQ(0xD24EC4F1A98C6E5BULL, mstream_xxh64("a", 1));
	EXPECT_EQ(0x44BC2CF5AD770999ULL, mstream_xxh64("abc", 3));
}

TEST(xxh64_streaming_equals_oneshot)
{
	static uint8_t buf[100003];
	struct xxh64 st;

	pat_fill(11, 0, buf, sizeof(buf));
	xxh64_init(&st);
	for (size_t off = 0, step = 1; off < sizeof(buf); off += step, step = step * 3 % 997 + 1)
		xxh64_update(&st, buf + off, off + step > sizeof(buf) ? sizeof(buf) - off : step);
	EXPECT_EQ(mstream_xxh64(buf, sizeof(buf)), xxh64_digest(&st));
}

/* The io_uring pool's default size follows the work: one stream gets one
 * worker and one worker's buffers, however many CPUs there are. */
TEST(uring_sized_by_its_streams)
{
	struct mstream_pool_params p = { .kind = MSTREAM_POOL_URING, .queue_depth = 4,
					 .buf_size = 65536, .flags = MSTREAM_POOL_NO_FIXED_BUFFERS };
	struct mstream_stream_params sp = { .out_fd = -1 };
	struct mstream_pool_stats st;
	struct mstream_pool *pool;
	int in[2];

	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, mstream_pool_create(&pool, &p));
	sp.in_fd = in[0];
	ASSERT_EQ(0, mstream_pool_add(pool, &sp, NULL));
	ASSERT_EQ(0, mstream_pool_start(pool));
	ASSERT_EQ(0, mstream_pool_get_stats(pool, &st));
	EXPECT_EQ(1, st.threads);
	EXPECT_EQ(4 * 65536, st.alloc_bytes);
	close(in[1]);
	ASSERT_EQ(0, run_until_done(pool, 10000));
	mstream_pool_destroy(pool);
	close(in[0]);
}

/* More operations in flight on one worker than its completion queue has
 * entries (every stream polls the same silent pipe): all of them end when
 * the pipe does, none lost. */
TEST(uring_more_streams_than_cq_entries)
{
	struct mstream_pool_params p = { .kind = MSTREAM_POOL_URING, .threads = 1,
					 .queue_depth = 4, .buf_size = 4096,
					 .flags = MSTREAM_POOL_NO_FIXED_BUFFERS };
	struct mstream_stream_params sp = { .out_fd = -1 };
	struct mstream_pool *pool;
	unsigned int n = 3000;
	int in[2];

	ASSERT_EQ(0, pipe2(in, O_CLOEXEC));
	ASSERT_EQ(0, mstream_pool_create(&pool, &p));
	sp.in_fd = in[0];
	for (unsigned int i = 0; i < n; i++)
		ASSERT_EQ(0, mstream_pool_add(pool, &sp, NULL));
	ASSERT_EQ(0, mstream_pool_start(pool));
	close(in[1]);
	ASSERT_EQ(0, run_until_done(pool, 20000));
	EXPECT_EQ(0, mstream_pool_pending(pool));
	mstream_pool_destroy(pool);
	close(in[0]);
}

TEST_HARNESS_MAIN
