/* ratelimit_test.c — token buckets and connection counts per address. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "signaling/ratelimit.h"

#include <stdio.h>

static void test_bucket_refills(void **state)
{
	km_ratelimit_t *rl = km_ratelimit_new(64, 2.0, 4.0, 10);
	for (int i = 0; i < 4; i++)
		assert_int_equal(km_ratelimit_take(rl, "10.0.0.1", 1000), 0);
	long wait = km_ratelimit_take(rl, "10.0.0.1", 1000);
	assert_true(wait > 0 && wait <= 501);
	assert_true(km_ratelimit_peek(rl, "10.0.0.1", 1000) > 0);
	assert_int_equal(km_ratelimit_peek(rl, "10.0.0.9", 1000), 0); /* unknown: allowed */
	/* Another address has its own bucket. */
	assert_int_equal(km_ratelimit_take(rl, "10.0.0.2", 1000), 0);
	/* 500 ms at 2/s gives one token back. */
	assert_int_equal(km_ratelimit_take(rl, "10.0.0.1", 1500), 0);
	assert_true(km_ratelimit_take(rl, "10.0.0.1", 1500) > 0);
	/* A long pause refills only up to the burst. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(km_ratelimit_take(rl, "10.0.0.1", 100000), 0);
	assert_true(km_ratelimit_take(rl, "10.0.0.1", 100000) > 0);
	km_ratelimit_free(rl);
}

static void test_connection_counts(void **state)
{
	km_ratelimit_t *rl = km_ratelimit_new(64, 1.0, 1.0, 2);
	assert_int_equal(km_ratelimit_conn_open(rl, "::1", 1), 0);
	assert_int_equal(km_ratelimit_conn_open(rl, "::1", 1), 0);
	assert_int_equal(km_ratelimit_conn_open(rl, "::1", 1), -1);
	assert_int_equal(km_ratelimit_conns(rl, "::1"), 2);
	km_ratelimit_conn_close(rl, "::1");
	assert_int_equal(km_ratelimit_conns(rl, "::1"), 1);
	assert_int_equal(km_ratelimit_conn_open(rl, "::1", 2), 0);
	km_ratelimit_conn_close(rl, "not-counted");
	assert_int_equal(km_ratelimit_conns(rl, "not-counted"), 0);
	km_ratelimit_free(rl);
}

static void test_bounded_table_keeps_busy_entries(void **state)
{
	km_ratelimit_t *rl = km_ratelimit_new(16, 1.0, 1.0, 5);
	assert_int_equal(km_ratelimit_conn_open(rl, "192.0.2.1", 1), 0);
	char ip[48];
	/* Thousands of other addresses pass through a 16-slot table. */
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof ip, "198.51.%d.%d", i / 256, i % 256);
		km_ratelimit_take(rl, ip, (uint64_t)i + 2);
	}
	/* The entry with an open connection was never evicted. */
	assert_int_equal(km_ratelimit_conns(rl, "192.0.2.1"), 1);
	km_ratelimit_free(rl);
}

/* Keys longer than an address (a hash of an account, 66 characters) are
 * kept whole: their bucket empties like an address's. */
static void test_long_keys(void **state)
{
	km_ratelimit_t *rl = km_ratelimit_new(64, 1.0 / 3600.0, 3.0, 1);
	const char *k1 = "a:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *k2 = "a:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee";
	for (int i = 0; i < 3; i++)
		assert_int_equal(km_ratelimit_take(rl, k1, 1000), 0);
	assert_true(km_ratelimit_take(rl, k1, 1000) > 0);
	assert_int_equal(km_ratelimit_take(rl, k2, 1000), 0); /* differs in the last character */
	km_ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_refills),
		cmocka_unit_test(test_connection_counts),
		cmocka_unit_test(test_bounded_table_keeps_busy_entries),
		cmocka_unit_test(test_long_keys),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
