/* sendq_test.c — unit tests of media/sendq: datagrams queued for two
 * sockets go out on flush in queue order per socket, with one sendmmsg per
 * socket; an oversized datagram keeps the order; a full queue flushes
 * itself; a refused datagram is counted; argument checks. Real UDP sockets
 * on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "media/sendq.h"

/* A UDP socket bound to 127.0.0.1 on a free port; *addr gets its address. */
static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof(*addr);
	assert_true(fd >= 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/* Receives one datagram (non-blocking) and checks it is tag, then len-1 bytes of tag. */
static void expect_dgram(int fd, uint8_t tag, size_t len)
{
	static uint8_t buf[4096];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], tag);
}

static void expect_empty(int fd)
{
	uint8_t b[8];
	assert_true(recv(fd, b, sizeof b, MSG_DONTWAIT) < 0);
}

static void push(km_sendq_t *q, int fd, const struct sockaddr_in *to, uint8_t tag, size_t len)
{
	static uint8_t buf[4096];
	memset(buf, tag, len);
	assert_int_equal(km_sendq_push(q, fd, (const struct sockaddr *)to, sizeof(*to), buf, len), 0);
}

static void test_order_and_batching(void **state)
{
	struct sockaddr_in a1, a2, r1, r2;
	int s1 = udp_socket(&a1), s2 = udp_socket(&a2), d1 = udp_socket(&r1), d2 = udp_socket(&r2);
	km_sendq_t *q = km_sendq_new();
	km_sendq_stats_t st;
	assert_non_null(q);
	/* interleaved: s1 -> d1 and s2 -> d2 */
	push(q, s1, &r1, 1, 100);
	push(q, s2, &r2, 2, 200);
	push(q, s1, &r1, 3, 300);
	push(q, s2, &r2, 4, 1200);
	push(q, s1, &r1, 5, 1500);
	assert_int_equal(km_sendq_pending(q), 5);
	expect_empty(d1); /* nothing before the flush */
	km_sendq_flush(q);
	assert_int_equal(km_sendq_pending(q), 0);
	expect_dgram(d1, 1, 100);
	expect_dgram(d1, 3, 300);
	expect_dgram(d1, 5, 1500);
	expect_empty(d1);
	expect_dgram(d2, 2, 200);
	expect_dgram(d2, 4, 1200);
	expect_empty(d2);
	km_sendq_stats(q, &st);
	assert_int_equal(st.datagrams, 5);
	assert_int_equal(st.calls, 2); /* one sendmmsg per socket */
	assert_int_equal(st.failed, 0);
	km_sendq_flush(q); /* empty: nothing happens */
	km_sendq_stats(q, &st);
	assert_int_equal(st.calls, 2);

	/* an oversized datagram goes at once, after what was queued before it */
	push(q, s1, &r1, 6, 50);
	push(q, s1, &r1, 7, KM_SENDQ_MAX + 100);
	assert_int_equal(km_sendq_pending(q), 0);
	push(q, s1, &r1, 8, 60);
	km_sendq_free(q); /* flushes */
	expect_dgram(d1, 6, 50);
	expect_dgram(d1, 7, KM_SENDQ_MAX + 100);
	expect_dgram(d1, 8, 60);
	close(s1);
	close(s2);
	close(d1);
	close(d2);
}

static void test_full_queue_flushes(void **state)
{
	struct sockaddr_in a, r;
	int s = udp_socket(&a), d = udp_socket(&r);
	int rcv = 1 << 20;
	km_sendq_t *q = km_sendq_new();
	km_sendq_stats_t st;
	setsockopt(d, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	for (unsigned i = 0; i < KM_SENDQ_SLOTS + 3; i++)
		push(q, s, &r, (uint8_t)i, 40);
	assert_int_equal(km_sendq_pending(q), 3); /* the first SLOTS went when it filled */
	km_sendq_flush(q);
	for (unsigned i = 0; i < KM_SENDQ_SLOTS + 3; i++)
		expect_dgram(d, (uint8_t)i, 40);
	km_sendq_stats(q, &st);
	assert_int_equal(st.datagrams, KM_SENDQ_SLOTS + 3);
	km_sendq_free(q);
	close(s);
	close(d);
}

static void test_refused_counted(void **state)
{
	struct sockaddr_in a, r;
	int s = udp_socket(&a), d = udp_socket(&r), dead = udp_socket(&a);
	km_sendq_t *q = km_sendq_new();
	km_sendq_stats_t st;
	close(dead); /* its descriptor number is now invalid */
	push(q, dead, &r, 9, 30);
	push(q, s, &r, 10, 30);
	km_sendq_flush(q);
	expect_dgram(d, 10, 30);
	km_sendq_stats(q, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.datagrams, 1);
	km_sendq_free(q);
	close(s);
	close(d);
}

static void test_args(void **state)
{
	struct sockaddr_in r = { .sin_family = AF_INET };
	uint8_t b[4] = { 0 };
	km_sendq_t *q = km_sendq_new();
	assert_int_equal(km_sendq_push(NULL, 3, (struct sockaddr *)&r, sizeof r, b, 4), KM_EINVAL);
	assert_int_equal(km_sendq_push(q, -1, (struct sockaddr *)&r, sizeof r, b, 4), KM_EINVAL);
	assert_int_equal(km_sendq_push(q, 3, NULL, sizeof r, b, 4), KM_EINVAL);
	assert_int_equal(km_sendq_push(q, 3, (struct sockaddr *)&r, 200, b, 4), KM_EINVAL);
	assert_int_equal(km_sendq_push(q, 3, (struct sockaddr *)&r, sizeof r, b, 0), KM_EINVAL);
	assert_int_equal(km_sendq_pending(q), 0);
	assert_int_equal(km_sendq_pending(NULL), 0);
	km_sendq_flush(NULL);
	km_sendq_free(q);
	km_sendq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_batching),
		cmocka_unit_test(test_full_queue_flushes),
		cmocka_unit_test(test_refused_counted),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
