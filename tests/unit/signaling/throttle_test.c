/* throttle_test.c — growing delays after failures, reset on success. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "signaling/throttle.h"

#include <stdio.h>

static void test_growing_delays(void **state)
{
	km_throttle_t *t = km_throttle_new(64, 3, 60000);
	int64_t now = 1000000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(km_throttle_wait(t, "ip:1", now), 0);
		km_throttle_fail(t, "ip:1", now);
	}
	assert_int_equal(km_throttle_wait(t, "ip:1", now), 0); /* three are free */
	km_throttle_fail(t, "ip:1", now);                       /* 4th: 1 s */
	assert_int_equal(km_throttle_wait(t, "ip:1", now), 1000);
	assert_int_equal(km_throttle_wait(t, "ip:1", now + 1000), 0);
	km_throttle_fail(t, "ip:1", now + 1000);                /* 5th: 2 s */
	assert_int_equal(km_throttle_wait(t, "ip:1", now + 1000), 2000);
	for (int i = 0; i < 40; i++)
		km_throttle_fail(t, "ip:1", now + 2000);
	assert_int_equal(km_throttle_wait(t, "ip:1", now + 2000), 60000); /* capped */
	assert_int_equal(km_throttle_wait(t, "ip:2", now), 0);
	km_throttle_reset(t, "ip:1");
	assert_int_equal(km_throttle_wait(t, "ip:1", now + 2000), 0);
	km_throttle_free(t);
}

static void test_bounded_table(void **state)
{
	km_throttle_t *t = km_throttle_new(16, 0, 60000);
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		km_throttle_fail(t, key, i);
	}
	/* The newest key is remembered; memory stayed bounded. */
	assert_true(km_throttle_wait(t, "k9999", 9999) > 0);
	km_throttle_free(t);
}

/* A run of refusals is reported once per failure: the note is given the
 * first time only, and again after the key's next failure. */
static void test_note_once_per_failure(void **state)
{
	km_throttle_t *t = km_throttle_new(64, 3, 60000);
	assert_int_equal(km_throttle_note(t, "i:1.2.3.4", 1000), 1);
	assert_int_equal(km_throttle_note(t, "i:1.2.3.4", 1001), 0);
	km_throttle_fail(t, "i:1.2.3.4", 1002);
	assert_int_equal(km_throttle_note(t, "i:1.2.3.4", 1003), 1);
	assert_int_equal(km_throttle_note(t, "i:1.2.3.4", 1004), 0);
	assert_int_equal(km_throttle_note(t, "i:5.6.7.8", 1004), 1); /* keys apart */
	/* Noting does not count as a failure: no delay from it. */
	assert_int_equal(km_throttle_wait(t, "i:5.6.7.8", 1005), 0);
	km_throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_once_per_failure),
		cmocka_unit_test(test_growing_delays),
		cmocka_unit_test(test_bounded_table),
	};
	return cmocka_run_group_tests_name("throttle", tests, NULL, NULL);
}
