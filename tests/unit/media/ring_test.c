/* ring_test.c — unit tests of media/ring: the per-track retransmission
 * ring. Put/get, overwrite by a later seq in the same slot, 65535 -> 0
 * wraparound, the window that keeps stale slots from being returned,
 * argument checks, the byte storage (oldest packets forgotten when the
 * bytes run out, never a half-overwritten one) and resizing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/ring.h"

/* A recognisable packet for seq: len bytes, each derived from seq. */
static size_t make_pkt(uint8_t *p, uint16_t seq)
{
	size_t len = 20 + (seq % 50);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 7u + i);
	return len;
}

static void expect_pkt(const km_ring_t *r, uint16_t seq)
{
	uint8_t want[128];
	size_t wlen = make_pkt(want, seq);
	const uint8_t *got = NULL;
	size_t glen = 0;
	assert_int_equal(km_ring_get(r, seq, &got, &glen), 0);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
}

static void put_seq(km_ring_t *r, uint16_t seq)
{
	uint8_t p[128];
	size_t len = make_pkt(p, seq);
	assert_int_equal(km_ring_put(r, seq, p, len), 0);
}

static void test_new_args(void **state)
{
	assert_null(km_ring_new(0, 1500));
	assert_null(km_ring_new(500, 1500));
	assert_null(km_ring_new(65536, 1500));
	assert_null(km_ring_new(16, 0));
	assert_null(km_ring_new(16, 70000));
	km_ring_t *r = km_ring_new(1, 100);
	assert_non_null(r);
	km_ring_free(r);
	km_ring_free(NULL);
}

static void test_put_get(void **state)
{
	km_ring_t *r = km_ring_new(512, 1500);
	assert_non_null(r);
	const uint8_t *p;
	size_t n;
	assert_int_equal(km_ring_get(r, 0, &p, &n), -1);
	for (uint16_t s = 1000; s < 1100; s++)
		put_seq(r, s);
	for (uint16_t s = 1000; s < 1100; s++)
		expect_pkt(r, s);
	assert_int_equal(km_ring_get(r, 999, &p, &n), -1);  /* never stored */
	assert_int_equal(km_ring_get(r, 1100, &p, &n), -1); /* not yet */
	/* the stored copy is independent of the caller's buffer */
	uint8_t buf[32];
	memset(buf, 0xaa, sizeof buf);
	assert_int_equal(km_ring_put(r, 1100, buf, sizeof buf), 0);
	memset(buf, 0x55, sizeof buf);
	assert_int_equal(km_ring_get(r, 1100, &p, &n), 0);
	assert_int_equal(n, sizeof buf);
	assert_int_equal(p[0], 0xaa);
	assert_int_equal(p[31], 0xaa);
	km_ring_free(r);
}

static void test_len_limits(void **state)
{
	km_ring_t *r = km_ring_new(8, 100);
	uint8_t big[101] = { 0 };
	assert_int_equal(km_ring_put(r, 1, big, 101), -1);
	assert_int_equal(km_ring_put(r, 1, big, 0), -1);
	assert_int_equal(km_ring_put(r, 1, big, 100), 0);
	const uint8_t *p;
	size_t n;
	assert_int_equal(km_ring_get(r, 1, &p, &n), 0);
	assert_int_equal(n, 100);
	km_ring_free(r);
}

static void test_overwrite(void **state)
{
	km_ring_t *r = km_ring_new(16, 1500);
	const uint8_t *p;
	size_t n;
	put_seq(r, 5);
	put_seq(r, 21); /* same slot as 5 */
	assert_int_equal(km_ring_get(r, 5, &p, &n), -1);
	expect_pkt(r, 21);
	/* a full lap: every earlier seq is gone, the last 16 are there */
	for (uint16_t s = 22; s < 22 + 40; s++)
		put_seq(r, s);
	for (uint16_t s = 5; s < 22 + 40 - 16; s++)
		assert_int_equal(km_ring_get(r, s, &p, &n), -1);
	for (uint16_t s = 22 + 40 - 16; s < 22 + 40; s++)
		expect_pkt(r, s);
	km_ring_free(r);
}

static void test_wraparound(void **state)
{
	km_ring_t *r = km_ring_new(64, 1500);
	const uint8_t *p;
	size_t n;
	for (uint32_t s = 65400; s < 65536 + 20; s++)
		put_seq(r, (uint16_t)s);
	for (uint32_t s = 65536 + 20 - 64; s < 65536 + 20; s++)
		expect_pkt(r, (uint16_t)s);
	assert_int_equal(km_ring_get(r, 65480, &p, &n), -1); /* overwritten */
	assert_int_equal(km_ring_get(r, 20, &p, &n), -1);
	/* a late packet from before the wrap still lands in the window */
	km_ring_t *r2 = km_ring_new(64, 1500);
	put_seq(r2, 3);
	put_seq(r2, 65534);
	expect_pkt(r2, 65534);
	expect_pkt(r2, 3);
	km_ring_free(r2);
	km_ring_free(r);
}

/* A slot written long ago must not answer for the same seq 65536 numbers
 * later (its slot skipped by losses all along), and a very late packet must
 * not evict a newer one. */
static void test_stale_window(void **state)
{
	km_ring_t *r = km_ring_new(16, 1500);
	const uint8_t *p;
	size_t n;
	put_seq(r, 100);
	for (uint32_t s = 101; s <= 65536 + 105; s++)
		if ((s & 15) != (100 & 15))
			put_seq(r, (uint16_t)s);
	expect_pkt(r, 105);
	expect_pkt(r, 101);
	assert_int_equal(km_ring_get(r, 100, &p, &n), -1);
	km_ring_free(r);

	/* a jump of more than a lap empties everything */
	r = km_ring_new(16, 1500);
	put_seq(r, 10);
	put_seq(r, 11);
	put_seq(r, 10 + 16 + 16 + 1);
	assert_int_equal(km_ring_get(r, 10, &p, &n), -1);
	assert_int_equal(km_ring_get(r, 11, &p, &n), -1);
	expect_pkt(r, 43);
	km_ring_free(r);

	r = km_ring_new(16, 1500);
	put_seq(r, 200);
	uint8_t pk[128];
	size_t len = make_pkt(pk, 184);
	assert_int_equal(km_ring_put(r, 184, pk, len), 1); /* 16 behind: ignored */
	expect_pkt(r, 200);
	assert_int_equal(km_ring_get(r, 184, &p, &n), -1);
	put_seq(r, 185); /* 15 behind: kept */
	expect_pkt(r, 185);
	expect_pkt(r, 200);
	km_ring_free(r);
}

static void test_reset(void **state)
{
	km_ring_t *r = km_ring_new(16, 1500);
	const uint8_t *p;
	size_t n;
	put_seq(r, 7);
	km_ring_reset(r);
	assert_int_equal(km_ring_get(r, 7, &p, &n), -1);
	put_seq(r, 40000);
	expect_pkt(r, 40000);
	km_ring_free(r);
}

/* The byte storage: packets at their exact lengths; when the bytes run out
 * the oldest are forgotten, never returned half overwritten. */
static void test_bytes_limit(void **state)
{
	/* 1024 slots but 400 bytes: packets of 20..69 bytes, about 8 fit */
	km_ring_t *r = km_ring_new_sized(1024, 100, 400);
	const uint8_t *p;
	size_t n;
	assert_non_null(r);
	assert_int_equal(km_ring_bytes(r), 400);
	for (uint16_t s = 0; s < 100; s++)
		put_seq(r, s);
	expect_pkt(r, 99);
	expect_pkt(r, 98);
	size_t held = 0, bytes = 0;
	for (uint16_t s = 0; s < 100; s++)
		if (km_ring_get(r, s, &p, &n) == 0) {
			expect_pkt(r, s); /* whatever is returned is intact */
			held++;
			bytes += n;
		}
	assert_true(held >= 4 && held < 20);
	assert_true(bytes <= 400);
	assert_int_equal(km_ring_get(r, 50, &p, &n), -1); /* long gone */
	km_ring_free(r);

	assert_null(km_ring_new_sized(16, 1500, 1499)); /* less than one packet */
	assert_null(km_ring_new_sized(16, 1500, ((size_t)64 << 20) + 1));
	/* room for one of these packets only: the newest survives */
	r = km_ring_new_sized(16, 40, 40);
	put_seq(r, 1);
	put_seq(r, 2);
	expect_pkt(r, 2);
	assert_int_equal(km_ring_get(r, 1, &p, &n), -1);
	km_ring_free(r);
}

static void test_resize(void **state)
{
	km_ring_t *r = km_ring_new_sized(64, 100, 4096);
	const uint8_t *p;
	size_t n;
	for (uint16_t s = 65500; s != 20; s++) /* across the wrap */
		put_seq(r, s);
	/* larger: everything it held is still there */
	size_t before = 0;
	for (uint16_t s = 65470; s != 21; s++)
		before += km_ring_get(r, s, &p, &n) == 0;
	assert_int_equal(km_ring_resize(r, 65536), 0);
	assert_int_equal(km_ring_bytes(r), 65536);
	size_t after = 0;
	for (uint16_t s = 65470; s != 21; s++)
		if (km_ring_get(r, s, &p, &n) == 0) {
			expect_pkt(r, s);
			after++;
		}
	assert_int_equal(after, before);
	/* now there is room for the whole window of 64 */
	for (uint16_t s = 20; s < 200; s++)
		put_seq(r, s);
	for (uint16_t s = 136; s < 200; s++)
		expect_pkt(r, s);
	/* smaller: the newest that fit stay, in order */
	assert_int_equal(km_ring_resize(r, 200), 0);
	expect_pkt(r, 199);
	assert_int_equal(km_ring_get(r, 136, &p, &n), -1);
	assert_int_equal(km_ring_resize(r, 99), -1); /* under max_packet: refused */
	expect_pkt(r, 199);
	put_seq(r, 200); /* still works after resizing */
	expect_pkt(r, 200);
	km_ring_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_args),
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_len_limits),
		cmocka_unit_test(test_overwrite),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_stale_window),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_bytes_limit),
		cmocka_unit_test(test_resize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
